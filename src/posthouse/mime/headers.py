"""Header-block work that the servers do on every message, without parsing bodies."""

from __future__ import annotations

import email.utils
import re
import secrets
import time
from email.headerregistry import Address
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


class HeaderError(ValueError):
    """A header block that cannot be read unambiguously."""


# Fields that name who wrote or sent a message (RFC 5322 §3.6.2, §3.6.6).
ORIGINATOR_FIELDS = ("from", "sender", "resent-from", "resent-sender")
_FIELD_START = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*)$", re.DOTALL)


def unfolded_fields(header: bytes) -> list[tuple[str, str]]:
    """(lower-case name, unfolded value) of every field, strictly: a line that is
    neither a field nor a continuation (RFC 5322 §2.2, §2.2.3; `Name :` is the
    obsolete form of §4.5.3 and counts) makes the whole block unreadable, because
    readers disagree on what follows it."""
    fields: list[tuple[str, bytearray]] = []
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise HeaderError("header starts with a continuation line")
            fields[-1][1].extend(b" " + line.strip(b" \t"))
            continue
        m = _FIELD_START.match(line)
        if m is None:
            raise HeaderError("header line is neither a field nor a continuation")
        fields.append((m.group(1).decode("ascii").lower(), bytearray(m.group(2).strip(b" \t"))))
    return [(name, bytes(value).decode("utf-8", "replace")) for name, value in fields]


def originators(header: bytes) -> dict[str, list[str]]:
    """The addr-specs of each originator field present (From, Sender, Resent-*).

    Strict, for deciding whether a sender may use them: exactly one From and at
    most one Sender (RFC 5322 §3.6), and any parse defect (an address the parser
    would silently drop, as in `a@x <b@y>`) is an error.  Uses the email package's
    structured parser (policy.default), not getaddresses() (CVE-2023-27043)."""
    found: dict[str, list[str]] = {}
    for name, value in unfolded_fields(header):
        if name not in ORIGINATOR_FIELDS:
            continue
        if name in ("from", "sender") and name in found:
            raise HeaderError(f"more than one {name.title()} field")
        try:
            parsed = default_policy.header_factory(name, value)
            addresses: tuple[Address, ...] = parsed.addresses  # type: ignore[attr-defined]
        except Exception as e:
            raise HeaderError(f"unparseable {name.title()} field") from e
        if parsed.defects or not addresses:
            raise HeaderError(f"unparseable {name.title()} field")
        specs = []
        for a in addresses:
            if not a.username or not a.domain:
                raise HeaderError(f"unparseable {name.title()} field")
            specs.append(f"{a.username}@{a.domain}")
        found.setdefault(name, []).extend(specs)
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
