"""FETCH BODY[section] (RFC 9051 §6.4.5) and BINARY[part] / BINARY.SIZE[part]
(RFC 3516 §4.2).

A section naming a part that does not exist gives b"" (the server then sends an
empty string).  <origin.length> partial fetches are the server's business.
"""

from __future__ import annotations

from posthouse.mime.headerblock import header_end, select_fields
from posthouse.mime.mimefields import transfer_encoding
from posthouse.mime.transfer import UnknownTransferEncoding, decode
from posthouse.mime.tree import Part, find_part, parse
from posthouse.proto.imap.events import Section, SectionText

__all__ = [
    "UnknownTransferEncoding",
    "binary",
    "binary_in",
    "binary_size",
    "binary_size_in",
    "section",
    "section_in",
]


def _message_text(header: bytes, body: bytes, spec: Section) -> bytes:
    """HEADER, HEADER.FIELDS(.NOT), TEXT or the whole of one message."""
    text = spec.text
    if text is None:
        return header + body
    if text is SectionText.HEADER:
        return header
    if text is SectionText.HEADER_FIELDS:
        return select_fields(header, spec.fields, exclude=False)
    if text is SectionText.HEADER_FIELDS_NOT:
        return select_fields(header, spec.fields, exclude=True)
    if text is SectionText.TEXT:
        return body
    return b""  # MIME needs a part number (RFC 9051 §6.4.5)


def section(raw: bytes, spec: Section) -> bytes:
    """BODY[spec] of a raw message; sections of the top level need no MIME parse."""
    if not spec.part:
        cut = header_end(raw)
        if spec.text is None:
            return raw
        return _message_text(raw[:cut], raw[cut:], spec)
    return section_in(parse(raw), spec)


def section_in(root: Part, spec: Section) -> bytes:
    """BODY[spec] of a parsed message."""
    if not spec.part:
        if spec.text is None:
            return root.raw
        return _message_text(root.header, root.body, spec)
    part = find_part(root, spec.part)
    if part is None:
        return b""
    text = spec.text
    if text is None:
        return part.body
    if text is SectionText.MIME:
        return part.header  # RFC 9051 §6.4.5: the part's MIME header
    # HEADER and TEXT after a part number belong to a message/rfc822 part, or to
    # the message itself when it is its own part 1 (not multipart), as mox reads it.
    message = part.message if part.message is not None else part
    if not message.is_message:
        return b""
    return _message_text(message.header, message.body, spec)


def _encoding(part: Part) -> bytes | None:
    value = part.fields.get(b"content-transfer-encoding")
    return transfer_encoding(value) if value is not None else None


def binary_in(root: Part, path: tuple[int, ...]) -> bytes:
    """BINARY[path]: the part's body with its Content-Transfer-Encoding undone.
    Raises UnknownTransferEncoding for an encoding it cannot undo."""
    if not path:
        return root.raw
    part = find_part(root, path)
    if part is None:
        return b""
    return decode(part.body, _encoding(part))


def binary_size_in(root: Part, path: tuple[int, ...]) -> int:
    """BINARY.SIZE[path] (RFC 3516 §4.2): the decoded size."""
    if not path:
        return len(root.raw)
    part = find_part(root, path)
    if part is None:
        return 0
    encoding = _encoding(part)
    if encoding is None or encoding.lower() in (b"7bit", b"8bit", b"binary"):
        return part.size
    return len(decode(part.body, encoding))


def binary(raw: bytes, part: tuple[int, ...]) -> bytes:
    return raw if not part else binary_in(parse(raw), part)


def binary_size(raw: bytes, part: tuple[int, ...]) -> int:
    return len(raw) if not part else binary_size_in(parse(raw), part)
