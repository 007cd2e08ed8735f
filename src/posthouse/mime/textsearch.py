"""The searchable text of a message, for IMAP SEARCH: decoded header fields and the
decoded text of its text parts, case-folded once and computed only when asked for.

Header fields are found by a byte search in a lower-cased copy of the header block,
so asking for one field of a message does not parse the rest; bodies are walked
without the email package (RFC 2045, RFC 2046), decoding only text/* and message/*
parts, which is what Dovecot searches too.
"""

from __future__ import annotations

import datetime
import email.utils
import html
import re
from email.utils import getaddresses
from urllib.parse import unquote_to_bytes

from posthouse.mime.encoded_words import decode_bytes, decode_transfer, decode_words

_MAX_PARSED = 65536  # longer address fields are searched as text only
MAX_DEPTH = 32  # nested multiparts and messages deeper than this are not searched
# RFC 5322 §3.6.8: ftext is %d33-57 / %d59-126
_FIELD_NAME = re.compile(rb"[!-9;-~]+")
# RFC 5322 §2.2.3: unfolding removes the line break before white space
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_QUOTED_PAIR = re.compile(r"\\(.)")
_TYPE = re.compile(r"[^\s;(]*")
_TAG = re.compile(r"<[^<>]*>")
_FLOWED_BREAK = re.compile(r" \r?\n")
# RFC 5322 §2.1: the header ends at the first empty line (bare LF tolerated)
_BLANK_LINE = re.compile(rb"\n\r?\n")


def split_entity(entity: bytes) -> tuple[bytes, bytes]:
    """(header block with its last line break, body after the empty line); an entity
    with no empty line is all header, one starting with an empty line all body."""
    if entity.startswith(b"\n"):
        return b"", entity[1:]
    if entity.startswith(b"\r\n"):
        return b"", entity[2:]
    m = _BLANK_LINE.search(entity)
    if m is None:
        return entity, b""
    return entity[: m.start() + 1], entity[m.end() :]


def _unfold(value: bytes) -> bytes:
    return _FOLD.sub(b"", value).replace(b"\t", b" ").strip(b" \r\n")


def field_values(header: bytes, lowered: bytes, name: bytes) -> list[bytes]:
    """The raw values of every `name` field (lower-case bytes) in `header`, unfolded.
    `lowered` is b"\\n" + header.lower(): the same offsets, shifted by one, so a
    field at the start of a line is found with one bytes.find per occurrence."""
    values: list[bytes] = []
    needle = b"\n" + name
    size = len(lowered)
    start = 0
    while (at := lowered.find(needle, start)) >= 0:
        start = at + len(needle)
        colon = start
        while colon < size and lowered[colon] in b" \t":  # RFC 5322 §4.5.3 "Name :"
            colon += 1
        if colon >= size or lowered[colon] != 0x3A:
            continue
        end = colon
        while True:  # the field runs to a line break not followed by white space
            end = lowered.find(b"\n", end + 1)
            if end < 0 or end + 1 >= size or lowered[end + 1] not in b" \t":
                break
        stop = size if end < 0 else end
        values.append(_unfold(header[colon : stop - 1]))
        start = stop
    return values


def content_type(value: str) -> tuple[str, dict[str, str]]:
    """("type/subtype" lower-case, {parameter: value}) of a Content-Type value
    (RFC 2045 §5.1), with RFC 2231 §4 extended values undone."""
    head, _, rest = value.partition(";")
    match = _TYPE.match(head.strip())
    ctype = match.group(0).lower() if match else ""
    params: dict[str, str] = {}
    for m in _PARAM.finditer(";" + rest):
        name, raw = m.group(1).lower(), m.group(2)
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = _QUOTED_PAIR.sub(r"\1", raw[1:-1])
        if name.endswith("*"):
            name = name[:-1]
            parts = raw.split("'", 2)
            if len(parts) == 3:
                raw = decode_bytes(unquote_to_bytes(parts[2]), parts[0])
        params.setdefault(name, raw)
    return ctype, params


def header_text(header: bytes) -> str:
    """A whole header block as text: unfolded, encoded-words decoded, one field a line."""
    return decode_words(decode_bytes(_FOLD.sub(b"", header).replace(b"\t", b" "), None))


def html_text(markup: str) -> str:
    """What a reader of an HTML part sees: tags dropped, character references decoded.
    The tag pattern cannot span a "<", which keeps it linear on broken markup."""
    return html.unescape(_TAG.sub(" ", markup))


def unflow(text: str, delsp: bool) -> str:
    """format=flowed text as the paragraphs it stands for (RFC 3676 §4.2: a line
    ending in a space continues on the next; §4.3 DelSp=yes drops that space), so a
    phrase wrapped across lines is found."""
    return _FLOWED_BREAK.sub("" if delsp else " ", text)


def split_multipart(body: bytes, boundary: str) -> list[bytes]:
    """The body parts of a multipart body (RFC 2046 §5.1.1): between "--boundary"
    lines, the line break before a delimiter belonging to it; preamble and epilogue
    dropped; an unterminated last part runs to the end."""
    marker = re.escape(boundary.encode("utf-8", "replace"))
    delimiter = re.compile(rb"(?:\A|\n)--" + marker + rb"(--)?[ \t]*\r?(?=\n|\Z)")
    parts: list[bytes] = []
    start: int | None = None
    for m in delimiter.finditer(body):
        if start is not None:
            part = body[start : m.start()]
            parts.append(part[:-1] if part.endswith(b"\r") else part)
        if m.group(1):
            return parts
        start = m.end() + 1
    if start is not None:
        parts.append(body[start:])
    return parts


def _entity_texts(
    entity: bytes, default_type: str, with_headers: bool, depth: int, out: list[str]
) -> None:
    """Append the searchable texts of one MIME entity and its children to `out`."""
    header, body = split_entity(entity)
    if with_headers and header:
        out.append(header_text(header))
    lowered = b"\n" + header.lower()
    ctypes = field_values(header, lowered, b"content-type")
    ctype, params = content_type(decode_bytes(ctypes[0], None)) if ctypes else ("", {})
    if "/" not in ctype:
        ctype, params = default_type, {}  # RFC 2045 §5.2
    encodings = field_values(header, lowered, b"content-transfer-encoding")
    encoding = decode_bytes(encodings[0], None) if encodings else ""
    major = ctype.split("/", 1)[0]
    if depth < MAX_DEPTH:
        if major == "multipart" and params.get("boundary"):
            # RFC 2046 §5.1.5: in a digest the parts are messages unless they say not
            child = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
            for part in split_multipart(body, params["boundary"]):
                _entity_texts(part, child, with_headers, depth + 1, out)
            return
        if ctype in ("message/rfc822", "message/global"):
            inner = decode_transfer(body, encoding)
            _entity_texts(inner, "text/plain", with_headers, depth + 1, out)
            return
    if major not in ("text", "message", "multipart"):
        return  # images, applications, audio...: not text
    text = decode_bytes(decode_transfer(body, encoding), params.get("charset"))
    if ctype == "text/html":
        text = html_text(text)
    elif params.get("format", "").lower() == "flowed":
        text = unflow(text, params.get("delsp", "").lower() == "yes")
    out.append(text)


class MessageText:
    """One message's searchable text; each piece is computed on first use and kept.
    Strings it returns are case-folded (RFC 9051 §6.4.4: case-insensitive)."""

    __slots__ = ("_body", "_dated", "_fields", "_header", "_lowered", "_raw", "_sent", "_text")

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._header: bytes | None = None
        self._lowered = b""
        self._fields: dict[str, list[str]] = {}
        self._body: str | None = None
        self._text: str | None = None
        self._sent: datetime.date | None = None
        self._dated = False

    def _raw_fields(self, name: str) -> list[bytes]:
        if self._header is None:
            self._header = split_entity(self._raw)[0]
            self._lowered = b"\n" + self._header.lower()
        if not name.isascii():
            return []
        key = name.lower().encode("ascii")
        if _FIELD_NAME.fullmatch(key) is None:
            return []
        return field_values(self._header, self._lowered, key)

    def field(self, name: str) -> list[str]:
        """Every `name` field's value, decoded; [] when the message has none."""
        key = name.lower()
        found = self._fields.get(key)
        if found is None:
            found = [
                decode_words(decode_bytes(raw, None)).casefold() for raw in self._raw_fields(key)
            ]
            self._fields[key] = found
        return found

    def addresses(self, name: str) -> list[str]:
        """An address field as searched: its decoded value, plus "name <addr>" for each
        address when quoting or comments make the value differ from that form."""
        key = "\0" + name.lower()
        found = self._fields.get(key)
        if found is None:
            found = []
            for raw in self._raw_fields(name):
                value = decode_bytes(raw, None)
                found.append(decode_words(value).casefold())
                if ('"' in value or "(" in value or "\\" in value) and len(value) < _MAX_PARSED:
                    for display, addr in getaddresses([value]):
                        found.append(f"{decode_words(display)} <{addr}>".casefold())
            self._fields[key] = found
        return found

    def sent_date(self) -> datetime.date | None:
        """The calendar date of the first Date field in its own zone (RFC 9051 §6.4.4:
        time and timezone disregarded), None when absent or unreadable."""
        if not self._dated:
            self._dated = True
            values = self._raw_fields("date")
            if values:
                try:
                    parsed = email.utils.parsedate_tz(decode_bytes(values[0], None))
                    if parsed is not None:
                        self._sent = datetime.date(parsed[0], parsed[1], parsed[2])
                except (ValueError, TypeError, IndexError, OverflowError):
                    self._sent = None
        return self._sent

    def body(self) -> str:
        """The decoded text parts, without any header (what BODY searches)."""
        if self._body is None:
            out: list[str] = []
            _entity_texts(self._raw, "text/plain", False, 0, out)
            self._body = "\n".join(out).casefold()
        return self._body

    def text(self) -> str:
        """Headers of the message and of its parts, and its text parts (TEXT)."""
        if self._text is None:
            out: list[str] = []
            _entity_texts(self._raw, "text/plain", True, 0, out)
            self._text = "\n".join(out).casefold()
        return self._text
