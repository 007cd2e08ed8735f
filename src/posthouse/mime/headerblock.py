"""Finding and reading a header block inside raw message bytes, by offsets.

CRLF is the line ending (RFC 5322 §2.1); bare LF is tolerated everywhere because
stored mail and test fixtures carry it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# RFC 5322 §2.1: the header ends at the first empty line.
_BLANK_LINE = re.compile(rb"\n\r?\n")
# RFC 5322 §2.2 field name, §4.5.3 obsolete WSP before the colon, and §2.2.3
# continuation lines (a line starting with WSP belongs to the field above).
_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:([^\n]*+(?:\n[ \t][^\n]*+)*+)", re.MULTILINE)
# The same, but including the field's line ending, for copying fields exactly.
_FIELD_LINES = re.compile(rb"^([!-9;-~]+)[ \t]*:[^\n]*+(?:\n[ \t][^\n]*+)*+\n?", re.MULTILINE)


def header_end(raw: bytes, start: int = 0, end: int | None = None) -> int:
    """Offset where the body of the entity starting at `start` begins: just past the
    empty line that closes its header, or `end` when there is no empty line."""
    if end is None:
        end = len(raw)
    if raw.startswith(b"\n", start, end):
        return start + 1
    if raw.startswith(b"\r\n", start, end):
        return start + 2
    m = _BLANK_LINE.search(raw, start, end)
    return end if m is None else m.end()


def unfold(value: bytes) -> bytes:
    """RFC 5322 §2.2.3: unfolding removes the CRLF before each WSP; outer WSP goes.
    NUL cannot travel in an IMAP string, so it becomes U+FFFD as in Dovecot."""
    if b"\n" in value:
        value = value.replace(b"\r\n", b"").replace(b"\n", b"")
    if b"\x00" in value:
        value = value.replace(b"\x00", "\ufffd".encode())
    return value.strip(b" \t\r")


def fields(header: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(lower-case name, raw folded value) of every well-formed field; lines that are
    neither fields nor continuations are skipped."""
    for m in _FIELD.finditer(header):
        yield m.group(1).lower(), m.group(2)


def wanted_fields(
    header: bytes,
    first: frozenset[bytes],
    last: frozenset[bytes] = frozenset(),
    joined: frozenset[bytes] = frozenset(),
) -> dict[bytes, bytes]:
    """Unfolded values of the named fields (lower-case names).  Names in `first` keep
    their first occurrence, names in `last` their last one, names in `joined` all
    of them joined by ", " (Dovecot's choices: a message should carry each of these
    fields once, and when it does not, every address is shown)."""
    found: dict[bytes, bytes] = {}
    for name, value in _FIELD.findall(header):
        name = name.lower()
        if name in joined and name in found:
            found[name] += b", " + unfold(value)
        elif name in last or name in joined or (name in first and name not in found):
            found[name] = unfold(value)
    return found


def select_fields(header: bytes, names: Iterable[str], *, exclude: bool) -> bytes:
    """HEADER.FIELDS / HEADER.FIELDS.NOT (RFC 9051 §6.4.5): the matching fields
    exactly as they stand, folding included, then the empty line.  Names match
    case-insensitively."""
    wanted = {name.lower().encode("ascii", "replace") for name in names}
    eol = _line_ending(header)
    out = bytearray()
    for m in _FIELD_LINES.finditer(header):
        if (m.group(1).lower() in wanted) != exclude:
            line = m.group(0)
            out += line
            if not line.endswith(b"\n"):
                out += eol
    out += eol
    return bytes(out)


def _line_ending(header: bytes) -> bytes:
    """The header's own line ending: bare LF if its first line has one, else CRLF."""
    i = header.find(b"\n")
    return b"\n" if i == 0 or (i > 0 and header[i - 1] != 0x0D) else b"\r\n"
