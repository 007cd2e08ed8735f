"""Comparing values with the IMAP text expected on the wire."""

from __future__ import annotations

from dataclasses import dataclass

from posthouse.mime.imapvalue import run
from posthouse.proto.imap.response import Value, encode_value


def crlf(text: str) -> bytes:
    """A test message written with \\n, stored with CRLF as the server stores mail."""
    return text.replace("\n", "\r\n").encode("utf-8")


def wire(value: Value) -> bytes:
    return encode_value(value)


def expected(text: str | bytes) -> bytes:
    """IMAP text in the RFC 9051 form, where bodies of a multipart and addresses of
    an envelope member follow each other with no space.  While the codec writes
    such runs as ordinary list members, they come out separated by one space."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(run([None, None])) == 2:
        data = data.replace(b")(", b") (")
    return data


@dataclass(frozen=True)
class Run:
    """Stands in for a codec value written back to back (what `imapvalue.run` uses
    once the codec offers one)."""

    items: tuple[Value, ...]


def wire_with_runs(value: Value) -> bytes:
    """What the codec writes once it knows runs: items of a Run with no space."""
    if isinstance(value, Run):
        return b"".join(wire_with_runs(item) for item in value.items)
    if isinstance(value, (tuple, list)):
        return b"(" + b" ".join(wire_with_runs(item) for item in value) + b")"
    return encode_value(value)
