"""Building a message from what a person typed into a form, safely.

Every field is checked before it becomes a header: no CR or LF anywhere (a header
value with a line break would start a new header: "header injection"), addresses
parsed strictly with the email package's structured parser (not getaddresses(),
CVE-2023-27043) and rejected on any defect.  The message is then written by
`email` with the SMTP policy (CRLF, RFC 2047 encoded words, MIME for attachments).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.policy import default as default_policy

from posthouse.mime.headers import format_date, new_message_id

MAX_SUBJECT = 998  # RFC 5322 §2.1.1: a line is at most 998 characters
MAX_RECIPIENTS = 100
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw)\s*:\s*", re.IGNORECASE)
_FORWARD_PREFIX = re.compile(r"^\s*(fwd?|wg)\s*:\s*", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]+@[^<>\s]+>")


class ComposeError(ValueError):
    """A field the user typed cannot go into a message as it is."""


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Draft:
    """What a compose form holds."""

    from_addr: str
    from_name: str = ""
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    text: str = ""
    html: str | None = None
    in_reply_to: str = ""
    references: str = ""
    attachments: list[Upload] = field(default_factory=list)


def check_line(value: str, what: str, limit: int = MAX_SUBJECT) -> str:
    """A single-line header value: no CR, LF or NUL (RFC 5322 §2.2: a field body
    holds no CR or LF except in folding, which the writer adds itself)."""
    if any(c in value for c in "\r\n\x00"):
        raise ComposeError(f"{what} must be a single line")
    if len(value) > limit:
        raise ComposeError(f"{what} is longer than {limit} characters")
    return value.strip()


def parse_addresses(text: str, what: str = "address") -> list[Address]:
    """A comma-separated list as typed: `Name <a@b>, c@d`.  Strict: every entry must
    be one mailbox with a local part and a domain, with no parser defects."""
    check_line(text, what, limit=20_000)
    if not text.strip():
        return []
    try:
        header = default_policy.header_factory("to", text)
    except Exception as e:
        raise ComposeError(f"cannot read the {what} list") from e
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if header.defects or not addresses:
        raise ComposeError(f"cannot read the {what} list")
    if len(addresses) > MAX_RECIPIENTS:
        raise ComposeError(f"more than {MAX_RECIPIENTS} addresses")
    for a in addresses:
        if not a.username or not a.domain or any(c in a.addr_spec for c in ' \t"<>()'):
            raise ComposeError(f"not an address: {a.addr_spec!r}")
    return list(addresses)


def message_ids(text: str) -> list[str]:
    return _MSGID.findall(text)


def build(draft: Draft, *, hostname: str, message_id: str | None = None) -> tuple[bytes, str]:
    """(the message as bytes with CRLF line ends, its Message-ID).  Bcc never
    becomes a header (RFC 5322 §3.6.3 allows either; leaving it out hides it)."""
    msg = EmailMessage(policy=SMTP)
    name = check_line(draft.from_name, "name", 200)
    addr = parse_addresses(draft.from_addr, "From")
    if len(addr) != 1:
        raise ComposeError("exactly one From address")
    msg["From"] = Address(display_name=name, addr_spec=addr[0].addr_spec)
    to = parse_addresses(draft.to, "To")
    cc = parse_addresses(draft.cc, "Cc")
    if to:
        msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = check_line(draft.subject, "subject")
    msg["Date"] = format_date()
    mid = message_id or new_message_id(hostname)
    msg["Message-ID"] = mid
    parent = message_ids(check_line(draft.in_reply_to, "In-Reply-To", 2000))
    refs = message_ids(check_line(draft.references, "References", 20_000))
    if parent:
        # RFC 5322 §3.6.4: In-Reply-To is the parent; References its References + it.
        msg["In-Reply-To"] = parent[0]
    if refs:
        msg["References"] = " ".join(refs)
    msg["MIME-Version"] = "1.0"
    text = draft.text.replace("\r\n", "\n")
    msg.set_content(text)
    if draft.html is not None:
        msg.add_alternative(draft.html, subtype="html")
    for upload in draft.attachments:
        maintype, _, subtype = guess_type(upload).partition("/")
        msg.add_attachment(
            upload.data,
            maintype=maintype,
            subtype=subtype,
            filename=check_line(upload.filename, "file name", 255) or "attachment",
        )
    return msg.as_bytes(), mid


def guess_type(upload: Upload) -> str:
    ctype = upload.content_type.strip().lower()
    if re.fullmatch(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*", ctype) is None:
        ctype = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
    if ctype.startswith(("multipart/", "message/")):
        ctype = "application/octet-stream"
    return ctype


def recipients(draft: Draft) -> list[str]:
    """Envelope recipients: To, Cc and Bcc, each address once."""
    found: dict[str, None] = {}
    for text, what in ((draft.to, "To"), (draft.cc, "Cc"), (draft.bcc, "Bcc")):
        for a in parse_addresses(text, what):
            found.setdefault(a.addr_spec, None)
    return list(found)


def reply_subject(subject: str) -> str:
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def forward_subject(subject: str) -> str:
    return subject if _FORWARD_PREFIX.match(subject) else f"Fwd: {subject}"


def reply_references(references: Sequence[str], message_id: str) -> str:
    """RFC 5322 §3.6.4: the parent's References (or In-Reply-To) followed by the
    parent's Message-ID."""
    ids = [*references, message_id] if message_id else list(references)
    return " ".join(dict.fromkeys(i for i in ids if i))
