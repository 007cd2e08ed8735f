"""Trust and transport of one message: who sent it, who signed it, how it travelled,
and whether the visible sender looks forged — what "show original" shows.

Authentication-Results fields (RFC 8601) are believed only when their authserv-id
is this server's host name: anyone can write such a field into a message, and
RFC 8601 §5 tells a receiver to remove or ignore those it did not add itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from posthouse.mime.display import header_text

_METHOD = re.compile(r"\b(spf|dkim|dmarc|arc|auth)\s*=\s*([a-z]+)([^;]*)", re.IGNORECASE)
_PROP = re.compile(r"\b([a-z]+\.[a-z-]+)\s*=\s*([^\s;]+)", re.IGNORECASE)
_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Verdict:
    method: str  # spf, dkim, dmarc
    result: str  # pass, fail, softfail, neutral, none, temperror, permerror
    properties: dict[str, str]


@dataclass
class Trust:
    from_addr: str
    from_name: str
    envelope_sender: str | None
    mailed_by: str  # the envelope sender's domain
    signed_by: list[str]  # DKIM d= of each signature
    verdicts: list[Verdict]
    ignored_results: int  # Authentication-Results from other hosts, not believed
    tls: dict[str, Any] | None
    remote_ip: str
    helo: str
    authenticated: str | None  # the submitting user, when sent by one of ours
    transcript: list[str]
    received: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def forged(self) -> bool:
        return bool(self.warnings)


def _domain(address: str | None) -> str:
    if not address or "@" not in address:
        return ""
    return address.rsplit("@", 1)[1].lower().rstrip(".>")


def organizational_domain(domain: str) -> str:
    """An approximation of RFC 7489 §3.2 without the public suffix list: the last
    two labels (three when the second-level label is short, as in co.uk)."""
    labels = domain.lower().strip(".").split(".")
    if len(labels) >= 3 and len(labels[-2]) <= 3 and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def aligned(a: str, b: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1): same organizational domain."""
    return bool(a and b) and organizational_domain(a) == organizational_domain(b)


def dkim_domains(msg: EmailMessage) -> list[str]:
    domains = []
    for value in msg.get_all("dkim-signature", []) or []:
        for tag in str(value).split(";"):
            name, _, tag_value = tag.strip().partition("=")
            if name.strip() == "d":
                domains.append("".join(tag_value.split()).lower())
    return domains


def parse_results(value: str, hostname: str) -> list[Verdict] | None:
    """The verdicts of one Authentication-Results field, or None when another host
    wrote it (RFC 8601 §2.2: the field starts with the authserv-id)."""
    authserv = value.split(";", 1)[0].strip().split()[0].lower() if value.strip() else ""
    if authserv != hostname.lower():
        return None
    verdicts = []
    for part in value.split(";")[1:]:
        m = _METHOD.search(part)
        if m is None:
            continue
        props = {k.lower(): v for k, v in _PROP.findall(m.group(3))}
        verdicts.append(Verdict(m.group(1).lower(), m.group(2).lower(), props))
    return verdicts


def assess(
    msg: EmailMessage, meta: dict[str, Any], *, hostname: str, local_domains: set[str]
) -> Trust:
    smtp = meta.get("smtp") or {}
    web = meta.get("web") or {}
    from_name, from_addr = "", ""
    try:
        header = msg.get("from")
        addresses = getattr(header, "addresses", ()) if header is not None else ()
        if addresses:
            from_name = str(addresses[0].display_name or "")
            from_addr = addresses[0].addr_spec.lower()
    except Exception:
        pass
    envelope = smtp.get("sender", web.get("sender"))
    if envelope is None:
        return_path = header_text(msg, "return-path").strip("<>")
        envelope = return_path or None
    verdicts: list[Verdict] = []
    ignored = 0
    for value in msg.get_all("authentication-results", []) or []:
        parsed = parse_results(str(value), hostname)
        if parsed is None:
            ignored += 1
        else:
            verdicts.extend(parsed)
    trust = Trust(
        from_addr=from_addr,
        from_name=from_name,
        envelope_sender=envelope,
        mailed_by=_domain(envelope),
        signed_by=dkim_domains(msg),
        verdicts=verdicts,
        ignored_results=ignored,
        tls=smtp.get("tls"),
        remote_ip=str(smtp.get("remote_ip", "")),
        helo=str(smtp.get("helo", "")),
        authenticated=smtp.get("authenticated") or web.get("authenticated"),
        transcript=[str(line) for line in smtp.get("transcript", [])],
        received=[" ".join(str(v).split()) for v in msg.get_all("received", []) or []],
    )
    checked = meta.get("auth") or {}  # the SMTP server's own SPF/DKIM/DMARC verdict
    trust.warnings = _warnings(trust, local_domains, server_checked=bool(checked))
    if checked.get("forged") and not trust.authenticated:
        reason = str(checked.get("forged_reason") or "no aligned SPF or DKIM pass")
        trust.warnings.insert(0, f"The server's sender checks failed for this From: {reason}.")
    return trust


def _warnings(t: Trust, local_domains: set[str], *, server_checked: bool = False) -> list[str]:
    warnings: list[str] = []
    from_domain = _domain(t.from_addr)
    if t.authenticated:
        return warnings  # written by one of our users, whose From the server checked
    results = {v.method: v.result for v in t.verdicts}
    if results.get("dmarc") == "fail":
        warnings.append(f"DMARC failed: {from_domain} does not vouch for this message.")
    if from_domain in local_domains and t.remote_ip:
        warnings.append(
            f"The sender claims to be from {from_domain}, a domain of this server, but the "
            "message came from outside without signing in."
        )
    passing_dkim = [
        v.properties.get("header.d", "") for v in t.verdicts if v.method == "dkim"
        and v.result == "pass"
    ]
    dkim_aligned = any(aligned(d, from_domain) for d in passing_dkim)
    if (
        not server_checked  # then the server's DMARC-style verdict decides, above
        and from_domain
        and t.mailed_by
        and not aligned(t.mailed_by, from_domain)
        and not dkim_aligned
        and "dmarc" not in results
    ):
        warnings.append(
            f"The visible sender ({from_domain}) is not the domain that sent it "
            f"({t.mailed_by}) and no signature of {from_domain} vouches for it."
        )
    for m in _EMAIL_IN_TEXT.finditer(t.from_name):
        if m.group(1).lower() != from_domain:
            warnings.append(
                f"The sender's name shows the address {m.group(0)!r}, but the message is "
                f"really from {t.from_addr}."
            )
            break
    return warnings
