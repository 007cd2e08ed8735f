"""Multi-line bodies: dot-stuffing, line ends and TOP (RFC 1939 §3, §7).

These work on whole messages with a handful of C-level bytes operations (count,
replace, find), never a Python loop per line, because RETR of a 50 MB message must
not cost a second of CPU.  8-bit content passes through untouched: POP3 moves octets.
"""

from __future__ import annotations

import re

_BARE_LF = re.compile(rb"(?<!\r)\n")
_BLANK_LINE = re.compile(rb"\n\r?\n")

TERMINATOR = b".\r\n"


def crlf_lines(raw: bytes) -> bytes:
    """`raw` with every line ending in CRLF: a bare LF becomes CRLF and a last line
    without an end gets one.  A bare CR inside a line is left alone: it is content,
    and only CRLF "." CRLF frames a multi-line response (RFC 1939 §3)."""
    if raw.count(b"\n") != raw.count(b"\r\n"):
        raw = _BARE_LF.sub(b"\r\n", raw)
    if raw and not raw.endswith(b"\n"):
        raw += b"\r\n"
    return raw


def encode_message(raw: bytes | bytearray | memoryview) -> bytes:
    """The octets of a multi-line body for RETR or TOP: line ends made CRLF, each line
    that starts with "." stuffed with another ".", and the closing "." CRLF.

    RFC 1939 §3: "If any line of the multi-line response begins with the termination
    octet, the line is 'byte-stuffed' by pre-pending the termination octet to that
    line of the response."
    """
    return b"".join(encode_message_parts(raw))


def encode_message_parts(raw: bytes | bytearray | memoryview) -> tuple[bytes, ...]:
    """`encode_message` as parts to write one after the other, so that a message that
    needs no change (CRLF already, no line starting with ".": what the store holds)
    is sent as the very object read, without a copy.  One pass to stuff: after
    `crlf_lines` every LF ends a CRLF, so CRLF "." finds each line to stuff."""
    data = raw if type(raw) is bytes else bytes(raw)
    data = crlf_lines(data).replace(b"\r\n.", b"\r\n..")  # no copy when nothing to stuff
    if data.startswith(b"."):
        return b".", data, TERMINATOR
    return data, TERMINATOR


def message_top(raw: bytes, lines: int) -> bytes:
    """The part of `raw` that TOP sends, before stuffing: the header, the blank line
    that ends it, and the first `lines` lines of the body (RFC 1939 §7, TOP).

    A count beyond the body's end gives the whole message; fetchmail downloads with
    `TOP n 99999999` instead of RETR.  A message without a blank line is all header
    and comes back whole.
    """
    if lines < 0:
        raise ValueError("TOP line count must not be negative")
    if raw.startswith(b"\n"):
        body = 1
    elif raw.startswith(b"\r\n"):
        body = 2
    else:
        match = _BLANK_LINE.search(raw)
        if match is None:
            return raw
        body = match.end()
    body_lines = raw.count(b"\n", body) + (0 if raw.endswith(b"\n") else 1)
    if lines >= body_lines:
        return raw
    end = body
    for _ in range(lines):
        end = raw.index(b"\n", end) + 1
    return raw[:end]


def encode_top(raw: bytes, lines: int) -> bytes:
    """`encode_message` of `message_top`: the body of a TOP response, ready to send."""
    return encode_message(message_top(raw, lines))


def unstuff(body: bytes) -> bytes:
    """Undo `encode_message` for a body framed by the client (first line and closing
    "." line already removed; every line ends in LF).  RFC 1939 §3: a line that starts
    with the termination octet loses that octet.  Line ends come back as CRLF even
    from a server that sent bare LF."""
    if body.startswith(b"."):
        body = body[1:]
    return crlf_lines(body.replace(b"\n.", b"\n"))
