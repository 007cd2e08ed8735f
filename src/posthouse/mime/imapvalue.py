"""Building the IMAP values of ENVELOPE and BODYSTRUCTURE.

RFC 9051 §9 writes two lists without a space between their items: the addresses of
an envelope member ("(" 1*address ")") and the bodies of a multipart (1*body SP
media-subtype).  The codec writes such a run with its `Run` value when it offers one;
otherwise the items become ordinary list members, separated by spaces, which every
tolerant client reads the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from posthouse.proto.imap import response
from posthouse.proto.imap.response import Value

_RUN: Callable[[tuple[Value, ...]], Value] | None = getattr(response, "Run", None)


def run(items: Sequence[Value]) -> tuple[Value, ...]:
    """Items to splice into a list, written back to back."""
    if _RUN is None:
        return tuple(items)
    return (_RUN(tuple(items)),)
