"""What a message list, a thread view and a full-text search need from a message,
computed once when the message is stored: a few header fields, a thread key, whether
it has attachments, and its text for the FTS5 index.

Pure functions over the raw bytes (stdlib `email`, policy.default); the store keeps
one summary per blob, so copies and moves share it.
"""

from __future__ import annotations

import email.utils
import html as html_lib
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32
from typing import Any

# Text kept for searching: enough for any real letter, bounded for giant messages.
MAX_INDEXED_TEXT = 256 * 1024
PREVIEW_LENGTH = 160
_MSGID = re.compile(r"<[^<>\s]+>")
_TAGS = re.compile(r"<[^>]*>")
# Elements whose content is not text a reader sees (code, styles, metadata).
_HIDDEN = re.compile(r"<(script|style|head|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Summary:
    from_name: str
    from_addr: str
    to_addrs: tuple[str, ...]  # To and Cc addr-specs, lower-case
    to_text: str  # To and Cc as displayed
    subject: str
    date: int  # microseconds since the epoch; 0 when absent or unreadable
    message_id: str  # "<...>" or ""
    in_reply_to: str
    references: tuple[str, ...]
    thread_key: str  # the first message-id of the conversation
    has_attachment: bool
    preview: str
    body_text: str  # for the full-text index


def _text(value: str) -> str:
    """Raw 8-bit header octets come out of the parser as surrogate escapes, which
    SQLite cannot store: read them as the UTF-8 they are (RFC 6532 §3), replacing
    what is not."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _header(msg: Message | _Fields, name: str) -> str:
    """A header's text with RFC 2047 encoded words decoded, on one line."""
    value = msg.get(name)
    if value is None:
        return ""
    text = str(value)
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except (ValueError, LookupError, UnicodeError):
            pass
    return _SPACE.sub(" ", text).strip()


# One mailbox in its plainest forms (RFC 5322 §3.4: `local@domain`, `<local@domain>` or
# `Words <local@domain>`), as nearly every client writes it.
_WORD = r"[A-Za-z0-9_%+-]+"
PLAIN_ADDRESS = rf"({_WORD}(?:\.{_WORD})*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
PLAIN_MAILBOX = re.compile(
    rf"{PLAIN_ADDRESS}|([A-Za-z0-9]+(?: [A-Za-z0-9]+)*) ?<{PLAIN_ADDRESS}>|<{PLAIN_ADDRESS}>"
)


def _plain_addresses(values: list[str]) -> list[tuple[str, str]] | None:
    """What getaddresses() gives for fields that list only plain mailboxes, or None."""
    found = []
    for value in values:
        for item in value.split(","):
            m = PLAIN_MAILBOX.fullmatch(item.strip(" \t\r\n"))
            if m is None:
                return None
            if m.group(1) is not None:
                found.append(("", f"{m.group(1)}@{m.group(2)}".lower()))
            elif m.group(3) is not None:
                found.append((m.group(3), f"{m.group(4)}@{m.group(5)}".lower()))
            else:
                found.append(("", f"{m.group(6)}@{m.group(7)}".lower()))
    return found


def _addresses(msg: Message | _Fields, name: str) -> list[tuple[str, str]]:
    """(display name, lower-case addr-spec) pairs, for showing and searching only.
    getaddresses() is lenient (CVE-2023-27043 makes it unfit for deciding who may
    send); nothing here decides anything, and it is several times faster than the
    structured parser, which matters on every accepted message. Plain mailboxes are
    read without it, to the same pairs."""
    values = msg.get_all(name, [])
    if not values:
        return []
    if all(isinstance(v, str) for v in values):
        plain = _plain_addresses(values)
        if plain is not None:
            return plain
    decoded = [_header_text(str(v)) for v in values]
    return [
        (display, spec.lower())
        for display, spec in email.utils.getaddresses(decoded)
        if spec or display
    ]


def _header_text(text: str) -> str:
    if "=?" in text:
        try:
            return str(make_header(decode_header(text)))
        except (ValueError, LookupError, UnicodeError):
            return text
    return text


def message_ids(value: str) -> tuple[str, ...]:
    """Every `<id>` of a References / In-Reply-To value (RFC 5322 §3.6.4)."""
    return tuple(_MSGID.findall(value))


def _date(msg: Message | _Fields) -> int:
    value = _header(msg, "date")
    if not value:
        return 0
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0
    if parsed is None:
        return 0
    try:
        return int(parsed.timestamp() * 1_000_000)
    except (OverflowError, ValueError, OSError):
        return 0


def _part_text(part: Any) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", "replace")


def text_and_attachments(msg: Message) -> tuple[str, bool]:
    """The readable text of a message (plain parts, else HTML stripped of tags) and
    whether any part is an attachment."""
    plain: list[str] = []
    html: list[str] = []
    has_attachment = False
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        ctype = part.get_content_type()
        if disposition == "attachment" or (
            disposition != "inline" and part.get_filename() and not ctype.startswith("text/")
        ):
            has_attachment = True
            continue
        if ctype == "text/plain":
            plain.append(_part_text(part))
        elif ctype == "text/html":
            html.append(_part_text(part))
    if plain:
        text = "\n".join(plain)
    else:
        text = html_lib.unescape(_TAGS.sub(" ", _HIDDEN.sub(" ", "\n".join(html))))
    return text[:MAX_INDEXED_TEXT], has_attachment


def summarize(raw: bytes) -> Summary:
    # compat32: the plain parser, without header objects; much faster than
    # policy.default, and the fields are decoded here as needed.
    msg = BytesParser(policy=compat32).parsebytes(raw)
    sender = _addresses(msg, "from")
    recipients = _addresses(msg, "to") + _addresses(msg, "cc")
    to_text = ", ".join(name or addr for name, addr in recipients)
    message_id = next(iter(message_ids(_header(msg, "message-id"))), "")
    in_reply_to = next(iter(message_ids(_header(msg, "in-reply-to"))), "")
    references = message_ids(_header(msg, "references"))
    # The root of the conversation: the first of References (RFC 5322 §3.6.4 keeps
    # the original first), else the parent, else the message itself.
    thread_key = references[0] if references else in_reply_to or message_id
    body, has_attachment = text_and_attachments(msg)
    preview = _SPACE.sub(" ", body).strip()[:PREVIEW_LENGTH]
    return Summary(
        from_name=sender[0][0] if sender else "",
        from_addr=sender[0][1] if sender else "",
        to_addrs=tuple(dict.fromkeys(addr for _, addr in recipients)),
        to_text=to_text,
        subject=_header(msg, "subject"),
        date=_date(msg),
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        thread_key=thread_key,
        has_attachment=has_attachment,
        preview=preview,
        body_text=body,
    )


class _Fields:
    """The header fields of a plain header block, as `Message.get` and `get_all` give
    them under compat32 (`Compat32.header_source_parse`): the value after the colon
    with leading blanks dropped, folding kept, the final line end dropped."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        values = self._values.get(name)
        return values[0] if values else None

    def get_all(self, name: str, failobj: list[str]) -> list[str]:
        return self._values.get(name) or failobj


# A field's first line as the email package's feedparser takes it: a name of printable
# ASCII but ":" (RFC 5322 §2.2), then the colon.
_FIELD_START = re.compile(r"[\x21-\x39\x3b-\x7e]+:")


def plain_fields(header: bytes) -> _Fields | None:
    """The fields of a header block of ASCII with one kind of line end, each line a
    field or its continuation, split as BytesHeaderParser(policy=compat32) splits them;
    None for anything else (8-bit octets, bare CR, a line that is neither, an mbox
    "From " line), which that parser reads instead."""
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        return None
    eol = "\n"
    if "\r" in text:
        crlf = text.count("\r\n")
        if text.count("\r") != crlf or text.count("\n") != crlf:
            return None
        eol = "\r\n"
    lines = text.split(eol)
    ended = len(lines) - 1  # lines that had a line end; the last is "" when all had
    if not lines[-1]:
        lines.pop()
    values: dict[str, list[str]] = {}
    name = ""
    parts: list[str] = []
    for n, line in enumerate(lines):
        ending = eol if n < ended else ""
        if line[:1] in (" ", "\t"):
            if not parts:
                return None  # a continuation before any field
            parts.append(line + ending)
            continue
        match = _FIELD_START.match(line)
        if match is None:
            return None
        if parts:
            values.setdefault(name, []).append("".join(parts).rstrip("\r\n"))
        name = line[: match.end() - 1].lower()
        parts = [line[match.end() :].lstrip(" \t") + ending]
    if parts:
        values.setdefault(name, []).append("".join(parts).rstrip("\r\n"))
    return _Fields(values)


def summarize_headers(raw: bytes) -> Summary:
    """What the header block alone tells (no preview, no attachments, no text): cheap
    enough for every accepted message; the rest is filled in by `summarize` later.
    A plain header block is split here, every other one by the email package; the
    fields are read by the same code either way."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    header = raw if end < 0 else raw[: end + 2]
    msg: Message | _Fields | None = plain_fields(header)
    if msg is None:
        msg = BytesHeaderParser(policy=compat32).parsebytes(header)
    sender = _addresses(msg, "from")
    recipients = _addresses(msg, "to") + _addresses(msg, "cc")
    message_id = next(iter(message_ids(_header(msg, "message-id"))), "")
    in_reply_to = next(iter(message_ids(_header(msg, "in-reply-to"))), "")
    references = message_ids(_header(msg, "references"))
    return Summary(
        from_name=sender[0][0] if sender else "",
        from_addr=sender[0][1] if sender else "",
        to_addrs=tuple(dict.fromkeys(addr for _, addr in recipients)),
        to_text=", ".join(name or addr for name, addr in recipients),
        subject=_header(msg, "subject"),
        date=_date(msg),
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        thread_key=references[0] if references else in_reply_to or message_id,
        has_attachment=False,
        preview="",
        body_text="",
    )


def summarize_headers_safely(raw: bytes) -> Summary:
    try:
        return summarize_headers(raw)
    except Exception:
        return EMPTY


def summarize_safely(raw: bytes) -> Summary:
    """`summarize`, or an empty summary for bytes the parser chokes on: storing a
    message must never fail because its headers are odd."""
    try:
        return summarize(raw)
    except Exception:
        return EMPTY


EMPTY = Summary("", "", (), "", "", 0, "", "", (), "", False, "", "")
