"""Messages carried by a session: a summary (From, To, Subject with RFC 2047 words
decoded, attachments) and the .eml files written for them."""

from __future__ import annotations

import email
import email.header
import email.message
import email.parser
import email.policy
import re
from pathlib import Path

from posthouse.analyzer.model import Attachment, Message

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def decode_header(value: str | None) -> str:
    """RFC 2047 encoded words decoded; undecodable parts kept as they are."""
    if not value:
        return ""
    try:
        parts = email.header.decode_header(value)
    except (ValueError, LookupError):
        return value
    out: list[str] = []
    for data, charset in parts:
        if isinstance(data, str):
            out.append(data)
            continue
        for cs in (charset or "ascii", "utf-8", "latin-1"):
            try:
                out.append(data.decode(cs))
                break
            except (LookupError, UnicodeDecodeError):
                continue
    # decode_header keeps the folding whitespace between words of different kinds.
    return re.sub(r"\s*\r?\n\s+", " ", "".join(out)).strip()


def summarize(msg: Message) -> None:
    """Fill the header fields and the attachment list of `msg` (never raises).

    Only header blocks are parsed (RFC 5322 §2.1: the header ends at the first empty
    line); MIME parts are found by their boundaries (RFC 2046 §5.1.1) without decoding
    bodies, so a capture full of large messages stays fast to summarise."""
    header = _header(msg.raw)
    msg.header_from = decode_header(_get(header, "From"))
    msg.header_to = decode_header(_get(header, "To"))
    msg.subject = decode_header(_get(header, "Subject"))
    msg.date = _get(header, "Date")
    msg.message_id = _get(header, "Message-ID").strip()
    attachments: list[Attachment] = []
    try:
        _walk(header, _body(msg.raw), attachments, 0)
    except Exception:  # a damaged MIME structure still leaves the headers
        pass
    msg.attachments = attachments


_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)
_BLANK = re.compile(rb"\r?\n\r?\n")


def _split(raw: bytes) -> tuple[bytes, bytes]:
    m = _BLANK.search(raw)
    if m is None:
        return raw, b""
    return raw[: m.start() + 1], raw[m.end() :]


def _header(raw: bytes) -> email.message.Message:
    try:
        return _PARSER.parsebytes(_split(raw)[0])
    except Exception:
        return email.message.Message()


def _body(raw: bytes) -> bytes:
    return _split(raw)[1]


def _parts(body: bytes, delimiter: bytes) -> list[bytes]:
    """The text after each delimiter line (RFC 2046 §5.1.1: CRLF "--" boundary)."""
    out: list[bytes] = []
    starts: list[int] = []
    pos = 0 if body.startswith(delimiter) else body.find(b"\n" + delimiter)
    while pos >= 0:
        start = pos if body.startswith(delimiter, pos) else pos + 1
        starts.append(start + len(delimiter))
        pos = body.find(b"\n" + delimiter, start + len(delimiter))
    for i, start in enumerate(starts):
        end = starts[i + 1] - len(delimiter) if i + 1 < len(starts) else len(body)
        out.append(body[start:end])
    return out


def _walk(header: email.message.Message, body: bytes, out: list[Attachment], depth: int) -> None:
    ctype = header.get_content_type()
    if ctype.startswith("multipart/") and depth < 20:
        boundary = header.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            return
        delimiter = b"--" + boundary.encode("utf-8", "replace")
        for part in _parts(body, delimiter):
            if part.startswith(b"--"):
                break  # the close-delimiter
            part = part.split(b"\n", 1)[1] if b"\n" in part else b""
            head, content = _split(part)
            _walk(_header(head + b"\n"), content, out, depth + 1)
        return
    filename = header.get_filename()
    disposition = (header.get("Content-Disposition") or "").lower()
    if filename is None and not disposition.startswith("attachment"):
        return
    encoding = (header.get("Content-Transfer-Encoding") or "").strip().lower()
    size = len(body)
    if encoding == "base64":
        # RFC 2045 §6.8: four characters carry three octets; line ends do not count.
        newlines = body.count(b"\n")
        chars = len(body) - newlines * (2 if b"\r\n" in body[:200] else 1)
        size = chars * 3 // 4 - body[-8:].count(b"=")
    out.append(Attachment(decode_header(filename) if filename else None, ctype, size))


def _get(parsed: email.message.Message, name: str) -> str:
    value = parsed.get(name)
    if value is None:
        return ""
    return str(value)


def eml_name(session: int, number: int, msg: Message) -> str:
    subject = _UNSAFE.sub("_", msg.subject)[:40].strip("_")
    return (
        f"session{session:03d}-{number:02d}-{msg.source.replace(' ', '_').lower()}"
        + (f"-{subject}" if subject else "")
        + ".eml"
    )


def write_eml(directory: Path, session: int, number: int, msg: Message) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / eml_name(session, number, msg)
    path.write_bytes(msg.raw)
    msg.path = str(path)
    return path
