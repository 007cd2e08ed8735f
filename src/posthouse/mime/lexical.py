"""The two RFC 5322 §3.2 constructs that header readers share: quoted strings
(§3.2.4) and comments (§3.2.2), each read leniently from an offset."""

from __future__ import annotations

import re

# Possessive, so a long run of quoted-pairs costs no backtracking state.
_QUOTED_BODY = re.compile(rb'(?:[^"\\]++|\\.?)*+', re.DOTALL)


def unescape(text: bytes) -> bytes:
    """Quoted-pairs resolved (RFC 5322 §3.2.1): each backslash stands for the octet
    after it."""
    i = text.find(b"\\")
    if i < 0:
        return text
    out = bytearray()
    start = 0
    while i >= 0:
        out += text[start:i]
        out += text[i + 1 : i + 2]
        start = i + 2
        i = text.find(b"\\", start)
    out += text[start:]
    return bytes(out)


def read_quoted(s: bytes, i: int) -> tuple[bytes, int]:
    """(content, offset after the closing quote) of the quoted string opening at
    s[i]; an unterminated one runs to the end."""
    m = _QUOTED_BODY.match(s, i + 1)
    assert m is not None
    return unescape(m.group(0)), min(m.end() + 1, len(s))


def read_comment(s: bytes, i: int) -> tuple[bytes, int]:
    """(content without the outer parentheses, offset after it) of the possibly
    nested comment opening at s[i]; an unterminated one runs to the end."""
    n = len(s)
    depth = 0
    out = bytearray()
    while i < n:
        c = s[i]
        i += 1
        if c == 0x5C:  # "\\" quoted-pair
            if i < n:
                out.append(s[i])
                i += 1
        elif c == 0x28:  # "("
            if depth:
                out.append(c)
            depth += 1
        elif c == 0x29:  # ")"
            depth -= 1
            if depth == 0:
                break
            out.append(c)
        else:
            out.append(c)
    return bytes(out).strip(b" \t\r\n"), i
