"""The searchable text of a message, for IMAP SEARCH: decoded header fields and the
decoded text of its text parts, case-folded once and computed only when asked for.

Header fields are found by a byte search in a lower-cased copy of the header block,
so asking for one field of a message does not parse the rest; bodies are walked on
the MIME tree of `mime.tree`, decoding only text/* and message/* parts, which is
what Dovecot searches too.
"""

from __future__ import annotations

import datetime
import email.utils
import html
import re
import unicodedata
from email.utils import getaddresses

from posthouse.mime.encoded_words import decode_bytes, decode_words
from posthouse.mime.headerblock import header_end
from posthouse.mime.mimefields import transfer_encoding
from posthouse.mime.transfer import UnknownTransferEncoding
from posthouse.mime.transfer import decode as decode_transfer
from posthouse.mime.tree import Part
from posthouse.mime.tree import parse as parse_tree

_MAX_PARSED = 65536  # longer address fields are searched as text only
# RFC 5322 §3.6.8: ftext is %d33-57 / %d59-126
_FIELD_NAME = re.compile(rb"[!-9;-~]+")
# RFC 5322 §2.2.3: unfolding removes the line break before white space
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_TAG = re.compile(r"<[^<>]*>")
_FLOWED_BREAK = re.compile(r" \r?\n")


def fold(text: str) -> str:
    """The form both sides of a SEARCH string comparison take: case-folded (RFC 9051
    §6.4.4), then NFKC, so composed and decomposed accents and compatibility forms
    compare equal (the aim of RFC 5051 i;unicode-casemap, which Dovecot uses)."""
    folded = text.casefold()
    return folded if folded.isascii() else unicodedata.normalize("NFKC", folded)


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


def _decoded_body(part: Part) -> bytes:
    value = part.fields.get(b"content-transfer-encoding")
    encoding = transfer_encoding(value) if value is not None else None
    try:
        return decode_transfer(part.body, encoding)
    except UnknownTransferEncoding:
        return part.body  # x-uuencode and friends: searched as they stand


def _part_texts(part: Part, with_headers: bool, out: list[str]) -> None:
    """Append the searchable texts of one MIME entity and its children to `out`:
    the bodies of text/* and message/* leaves (as Dovecot searches), and with
    `with_headers` every header block, the message's own and each part's."""
    if with_headers and part.body_start > part.start:
        out.append(header_text(part.header))
    if part.children:
        for child in part.children:
            _part_texts(child, with_headers, out)
        return
    if part.message is not None:
        _part_texts(part.message, with_headers, out)
        return
    major = part.ctype.lower()
    if major not in (b"text", b"message", b"multipart"):
        return  # images, applications, audio, and parts nested too deep: not text
    charset = part.param(b"charset")
    text = decode_bytes(_decoded_body(part), charset.decode("latin-1") if charset else None)
    subtype = part.subtype.lower()
    if major == b"text" and subtype == b"html":
        text = html_text(text)
    elif (part.param(b"format") or b"").lower() == b"flowed":
        text = unflow(text, (part.param(b"delsp") or b"").lower() == b"yes")
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
            self._header = self._raw[: header_end(self._raw)]
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
            found = [fold(decode_words(decode_bytes(raw, None))) for raw in self._raw_fields(key)]
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
                found.append(fold(decode_words(value)))
                if ('"' in value or "(" in value or "\\" in value) and len(value) < _MAX_PARSED:
                    for display, addr in getaddresses([value]):
                        found.append(fold(f"{decode_words(display)} <{addr}>"))
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
            _part_texts(parse_tree(self._raw), False, out)
            self._body = fold("\n".join(out))
        return self._body

    def text(self) -> str:
        """Headers of the message and of its parts, and its text parts (TEXT)."""
        if self._text is None:
            out: list[str] = []
            _part_texts(parse_tree(self._raw), True, out)
            self._text = fold("\n".join(out))
        return self._text
