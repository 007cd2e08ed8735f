"""Header-block work that the servers do on every message, without parsing bodies."""

from __future__ import annotations

import email.utils
import re
import secrets
import time
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)


def split_message(raw: bytes) -> tuple[bytes, bytes]:
    """(header block including its final CRLF, body) — RFC 5322 §2.1: the header
    ends at the first empty line.  A message with no empty line is all header."""
    if raw.startswith((b"\r\n", b"\n")):
        return b"", raw
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = raw.find(sep)
        if i >= 0:
            cut = i + len(sep) // 2
            return raw[:cut], raw[cut:]
    return raw, b""


def field_names(header: bytes) -> set[str]:
    """Lower-cased names of the fields present in a header block."""
    return {m.group(1).decode("ascii").lower() for m in _FIELD_NAME.finditer(header)}


def header_addresses(header: bytes, name: str) -> list[str] | None:
    """The addr-specs in every `name` field, lower-cased domain kept as written.

    Returns None when the field is absent; [] when present but unparseable.
    Uses the email package's structured parser (policy.default), which does not have
    the getaddresses() weakness of CVE-2023-27043.
    """
    try:
        msg = BytesHeaderParser(policy=default_policy).parsebytes(header)
        values = msg.get_all(name)
    except Exception:
        return []
    if values is None:
        return None
    found: list[str] = []
    for value in values:
        try:
            addresses: tuple[Address, ...] = value.addresses
        except Exception:
            return []
        for a in addresses:
            if a.username is None or not a.domain:
                return []
            found.append(f"{a.username}@{a.domain}")
    return found


def new_message_id(hostname: str) -> str:
    # RFC 5322 §3.6.4: globally unique; time + 128 random bits, right side our host.
    return f"<{int(time.time())}.{secrets.token_hex(16)}@{hostname}>"


def format_date(timestamp: float | None = None) -> str:
    return email.utils.formatdate(timestamp, localtime=True)


def fold_received(parts: list[str]) -> bytes:
    """Join the clauses of a trace field, folded to stay well under 78 columns."""
    lines: list[str] = []
    current = "Received:"
    for part in parts:
        if len(current) + 1 + len(part) > 76 and current != "Received:":
            lines.append(current)
            current = "\t" + part
        else:
            current = f"{current} {part}"
    lines.append(current)
    text = "\r\n".join(lines) + "\r\n"
    if "\r" in "".join(parts) or "\n" in "".join(parts):
        raise ValueError("trace field parts must not contain CR or LF")
    return text.encode("utf-8")
