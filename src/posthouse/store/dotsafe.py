"""Whether stored message octets can go into a dot-terminated body as they are.

POP3's RETR and TOP (RFC 1939 §3) and SMTP's DATA (RFC 5321 §4.5.2) send a message as
lines that each end in CRLF, with a "." put before every line that begins with one,
and "." CRLF after the last.  A message whose every line already ends in CRLF and
none begins with "." needs neither change: the store notes that once, when the
message arrives, so a server sending it a thousand times does not look again.
"""

from __future__ import annotations


def dot_safe(raw: bytes) -> bool:
    """True when every line of `raw` ends in CRLF (the last one too) and no line
    begins with "."; empty octets are safe.  A few C-level scans, no Python loop."""
    if not raw:
        return True
    return (
        raw.endswith(b"\r\n")
        and not raw.startswith(b".")
        and raw.count(b"\n") == raw.count(b"\r\n")
        and b"\n." not in raw
    )
