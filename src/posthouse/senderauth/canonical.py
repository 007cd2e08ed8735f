"""DKIM's view of a message (RFC 6376 §3.4, §5.3): its header fields, its body with CRLF
line ends, and the canonical forms of the body — the same bytes dkimpy computes, found
without running regular expressions over every line on the common path.

dkimpy splits the whole message at every line end and rewrites the body through three
regular expressions.  Here only the header block goes through dkimpy's parser; the body
is cut off at the first empty line and its line ends are rewritten only when it has a
bare LF.  A body with no tab, no run of spaces and no space before a line end (nearly
every body) is its own relaxed form except for trailing empty lines; any other body
takes dkimpy's own code, so both paths give identical bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from dkim import rfc822_parse
from dkim.canonicalization import Relaxed, Simple, correct_empty_body, strip_trailing_lines

Headers = list[list[bytes]]  # [name, value with its line ends], as dkimpy keeps them

# The first empty line: a line end at the start or right after another line end.
_EMPTY_LINE = re.compile(rb"(?:\A|\n)(\r?\n)")


def parse(raw: bytes) -> tuple[Headers, bytes]:
    """(header fields, body with CRLF line ends): what `dkim.rfc822_parse` returns,
    and like it raising for a header block it cannot read."""
    match = _EMPTY_LINE.search(raw)
    if match is None:  # no body at all: rare enough for dkimpy's own parser
        headers, body = rfc822_parse(raw)
        return headers, body
    end = match.end(1)
    headers, _ = rfc822_parse(raw[:end])
    body = raw[end:]
    if body.count(b"\n") != body.count(b"\r\n"):
        # dkimpy reads a bare LF as a line end, and its body has CRLF throughout.
        body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return headers, body


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 §3.4.4: trailing white space removed, runs of it made one space, empty
    lines at the end dropped."""
    if b"\t" in body or b"  " in body or b" \r\n" in body:
        canonical: bytes = Relaxed.canonicalize_body(body)
        return canonical
    stripped: bytes = correct_empty_body(strip_trailing_lines(body))
    return stripped


_LINE_END = re.compile(rb"\r?\n")
_WSP_RUN = re.compile(rb"[\t ]+")


def _relaxed_value(value: bytes) -> bytes:
    if b"\n" in value:
        value = _LINE_END.sub(b"", value)
    if b"\t" in value or b"  " in value:  # else every run of white space is one space
        value = _WSP_RUN.sub(b" ", value)
    return value.strip() + b"\r\n"


def canonical_headers(headers: Iterable[Sequence[bytes]], algorithm: bytes) -> list[Any]:
    """The header fields in the c= header algorithm `algorithm`: what dkimpy's
    `canonicalize_headers` returns, its expressions compiled once instead of looked up
    per field (RFC 6376 §3.4.2: names lower case, values unfolded, runs of white space
    one space, none at either end)."""
    if algorithm == Relaxed.name:
        return [(name.lower().rstrip(), _relaxed_value(value)) for name, value in headers]
    if algorithm == Simple.name:
        return list(headers)
    raise ValueError(f"unknown header canonicalization {algorithm!r}")


def canonical_body(body: bytes, algorithm: bytes) -> bytes:
    """The body in the c= body algorithm `algorithm` (b"relaxed" or b"simple")."""
    if algorithm == Relaxed.name:
        return relaxed_body(body)
    if algorithm == Simple.name:
        simple: bytes = strip_trailing_lines(body)
        return simple
    raise ValueError(f"unknown body canonicalization {algorithm!r}")
