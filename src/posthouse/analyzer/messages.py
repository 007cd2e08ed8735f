"""Messages carried by a session: a summary (From, To, Subject with RFC 2047 words
decoded, attachments) and the .eml files written for them."""

from __future__ import annotations

import email
import email.header
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
    """Fill the header fields and the attachment list of `msg` (never raises)."""
    try:
        parsed = email.message_from_bytes(msg.raw, policy=email.policy.compat32)
    except Exception:  # a damaged message still gets its bytes written
        return
    msg.header_from = decode_header(_get(parsed, "From"))
    msg.header_to = decode_header(_get(parsed, "To"))
    msg.subject = decode_header(_get(parsed, "Subject"))
    msg.date = _get(parsed, "Date")
    msg.message_id = _get(parsed, "Message-ID").strip()
    attachments: list[Attachment] = []
    try:
        for part in parsed.walk():
            if part.is_multipart():
                continue
            filename = part.get_filename()
            disposition = (part.get("Content-Disposition") or "").lower()
            if filename is None and not disposition.startswith("attachment"):
                continue
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            attachments.append(
                Attachment(
                    decode_header(filename) if filename else None,
                    part.get_content_type(),
                    size,
                )
            )
    except Exception:
        pass
    msg.attachments = attachments


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
