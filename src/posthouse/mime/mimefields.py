"""The MIME fields of RFC 2045/2183/3282 read from unfolded values, leniently.

Parameter names and values are kept as sent (RFC 2231 continuations and charsets
included, as IMAP passes them through); quoted values lose their quoting.
"""

from __future__ import annotations

import re

from posthouse.mime.lexical import read_comment, read_quoted, unescape

Params = list[tuple[bytes, bytes]]

# RFC 2045 §5.1: token = 1*<any CHAR except SPACE, CTLs, or tspecials>; 8-bit
# octets are let in so that a sloppy header still reads.
_TOKEN_CHARS = rb"!#$%&'*+\-.0-9A-Z^_`a-z{|}~\x80-\xff"
_TOKEN = re.compile(rb"[" + _TOKEN_CHARS + rb"]+")
_SIMPLE_TYPE = re.compile(
    rb"[ \t]*([" + _TOKEN_CHARS + rb"]+)[ \t]*/[ \t]*([" + _TOKEN_CHARS + rb"]+)[ \t]*"
)
_SIMPLE_PARAM = re.compile(
    rb";[ \t]*([" + _TOKEN_CHARS + rb"]+)[ \t]*=[ \t]*"
    # An unquoted value runs up to ";" or white space, so that the common unquoted
    # boundary=----=_Part_1 (tspecials inside a token) still reads whole.
    rb'(?:([^\x00-\x20;"()\x7f]+)|"((?:[^"\\]++|\\.)*+)")[ \t]*',
    re.DOTALL,
)

_TOKEN_KIND, _QUOTED_KIND, _SPECIAL_KIND = 0, 1, 2


def _lex(value: bytes) -> list[tuple[int, bytes]]:
    """Tokens, quoted strings and single special characters; comments and white
    space dropped (RFC 2045 §5.1 allows comments anywhere)."""
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c in b" \t\r\n":
            i += 1
        elif c == 0x28:  # "("
            i = read_comment(value, i)[1]
        elif c == 0x22:  # '"'
            quoted, i = read_quoted(value, i)
            out.append((_QUOTED_KIND, quoted))
        else:
            m = _TOKEN.match(value, i)
            if m is None:
                out.append((_SPECIAL_KIND, value[i : i + 1]))
                i += 1
            else:
                out.append((_TOKEN_KIND, m.group(0)))
                i = m.end()
    return out


def _params(tokens: list[tuple[int, bytes]], i: int) -> Params:
    """`*(";" attribute "=" value)` from token index i; a broken parameter is
    skipped up to the next ";"."""
    params: Params = []
    n = len(tokens)
    while i < n:
        if tokens[i] != (_SPECIAL_KIND, b";"):
            i += 1
            continue
        if (
            i + 3 < n
            and tokens[i + 1][0] == _TOKEN_KIND
            and tokens[i + 2] == (_SPECIAL_KIND, b"=")
            and tokens[i + 3][0] in (_TOKEN_KIND, _QUOTED_KIND)
        ):
            params.append((tokens[i + 1][1], tokens[i + 3][1]))
            i += 4
        else:
            i += 1
    return params


def _quick_params(value: bytes, pos: int) -> Params | None:
    """Parameters of the common shape without comments; None to use the lexer."""
    params: Params = []
    n = len(value)
    while pos < n:
        m = _SIMPLE_PARAM.match(value, pos)
        if m is None:
            rest = value[pos:].strip(b" \t;")
            return params if not rest else None
        quoted = m.group(3)
        if quoted is not None:
            params.append((m.group(1), unescape(quoted)))
        else:
            params.append((m.group(1), m.group(2)))
        pos = m.end()
    return params


def _without_comments(value: bytes) -> bytes:
    """The value with each comment replaced by one space (quoted strings kept)."""
    out = bytearray()
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c == 0x22:
            _, end = read_quoted(value, i)
            out += value[i:end]
            i = end
        elif c == 0x28:
            i = read_comment(value, i)[1]
            out += b" "
        else:
            out.append(c)
            i += 1
    return bytes(out)


def content_type(value: bytes) -> tuple[bytes, bytes, Params] | None:
    """RFC 2045 §5.1 type "/" subtype *(";" parameter); None when no type/subtype."""
    for text in (value, _without_comments(value)) if b"(" in value else (value,):
        m = _SIMPLE_TYPE.match(text)
        if m is not None:
            params = _quick_params(text, m.end())
            if params is not None:
                return m.group(1), m.group(2), params
    tokens = _lex(value)
    if (
        len(tokens) >= 3
        and tokens[0][0] == _TOKEN_KIND
        and tokens[1] == (_SPECIAL_KIND, b"/")
        and tokens[2][0] == _TOKEN_KIND
    ):
        return tokens[0][1], tokens[2][1], _params(tokens, 3)
    return None


def disposition(value: bytes) -> tuple[bytes, Params] | None:
    """RFC 2183 §2: disposition-type *(";" disposition-parm)."""
    m = _TOKEN.match(value)
    if m is not None:
        params = _quick_params(value, m.end())
        if params is not None:
            return m.group(0), params
    tokens = _lex(value)
    if not tokens or tokens[0][0] != _TOKEN_KIND:
        return None
    return tokens[0][1], _params(tokens, 1)


def languages(value: bytes) -> list[bytes]:
    """RFC 3282 §2: 1#Language-tag; reading stops at the first thing that is not."""
    tags: list[bytes] = []
    tokens = _lex(value)
    for i, (kind, text) in enumerate(tokens):
        if i % 2 == 0:
            if kind != _TOKEN_KIND:
                break
            tags.append(text)
        elif (kind, text) != (_SPECIAL_KIND, b","):
            break
    return tags


def transfer_encoding(value: bytes) -> bytes | None:
    """RFC 2045 §6.1 mechanism: one token, or None (then 7bit applies, §6.1)."""
    if _TOKEN.fullmatch(value):
        return value
    tokens = _lex(value)
    if len(tokens) == 1 and tokens[0][0] == _TOKEN_KIND:
        return tokens[0][1]
    return None
