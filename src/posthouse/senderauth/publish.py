"""The DNS records an operator publishes for a mail domain served by this instance:
MX, SPF, DKIM, DMARC, client SRV records (RFC 6186, RFC 8314) and the autoconfig /
autodiscover names.  Pure: it reads the configuration and the stored keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from posthouse.config import Config
from posthouse.senderauth.keys import list_keys

TXT_CHUNK = 255  # RFC 1035 §3.3.14: one character-string holds at most 255 octets

# (SRV service, listener names in preference order) — RFC 6186 §3.1, RFC 8314 §5.1
SRV_SERVICES = (
    ("_submissions._tcp", ("submissions",)),
    ("_submission._tcp", ("submission",)),
    ("_imaps._tcp", ("imaps",)),
    ("_imap._tcp", ("imap",)),
    ("_pop3s._tcp", ("pop3s",)),
    ("_pop3._tcp", ("pop3",)),
)


@dataclass(frozen=True)
class DnsRecord:
    name: str  # fully qualified, with the trailing dot
    kind: str  # MX, TXT, SRV, CNAME, A, AAAA
    value: str  # presentation form without quoting (TXT: the joined text)
    comment: str = ""

    def zone_line(self) -> str:
        """The record as a line of a zone file (RFC 1035 §5.1)."""
        value = self.value
        if self.kind == "TXT":
            chunks = [value[i : i + TXT_CHUNK] for i in range(0, len(value), TXT_CHUNK)] or [""]
            value = " ".join(_quoted(c) for c in chunks)
        line = f"{self.name} IN {self.kind} {value}"
        return f"{line}  ; {self.comment}" if self.comment else line


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def records(
    config: Config,
    domain: str,
    *,
    addresses: tuple[str, ...] = (),
    dmarc_policy: str = "quarantine",
) -> list[DnsRecord]:
    domain = domain.lower().rstrip(".")
    host = config.hostname.rstrip(".") + "."
    out = [
        DnsRecord(f"{domain}.", "MX", f"10 {host}", "RFC 5321 §5.1: mail for the domain"),
    ]
    for address in addresses:
        kind = "AAAA" if ":" in address else "A"
        out.append(DnsRecord(host, kind, address, "the mail server's public address"))
    spf = "v=spf1 mx -all"  # RFC 7208 §5.4: the MX hosts may send for the domain
    out.append(DnsRecord(f"{domain}.", "TXT", spf, "SPF (RFC 7208)"))
    keys = list_keys(config.dir, domain)
    for key in keys:
        note = f"DKIM {key.kind} key (RFC 6376 §3.6.2)"
        if key is keys[-1]:
            note += ", signing"
        out.append(DnsRecord(f"{key.selector}._domainkey.{domain}.", "TXT", key.record, note))
    dmarc = f"v=DMARC1; p={dmarc_policy}; adkim=r; aspf=r; rua=mailto:postmaster@{domain}"
    out.append(DnsRecord(f"_dmarc.{domain}.", "TXT", dmarc, "DMARC (RFC 7489 §6.3)"))
    for service, names in SRV_SERVICES:
        listener = next((li for n in names if (li := config.listener(n)) is not None), None)
        if listener is None:
            # RFC 6186 §4: a target of "." says the service is not offered
            out.append(DnsRecord(f"{service}.{domain}.", "SRV", "0 0 0 .", "not offered"))
        else:
            out.append(
                DnsRecord(f"{service}.{domain}.", "SRV", f"0 1 {listener.port} {host}", "RFC 6186")
            )
    https = config.listener("https")
    out.append(DnsRecord(f"autoconfig.{domain}.", "CNAME", host, "Thunderbird autoconfig"))
    out.append(DnsRecord(f"autodiscover.{domain}.", "CNAME", host, "Outlook autodiscover"))
    if https is not None:
        out.append(
            DnsRecord(f"_autodiscover._tcp.{domain}.", "SRV", f"0 1 {https.port} {host}", "")
        )
    return out


def static_table(recs: list[DnsRecord]) -> dict[str, dict[str, list[Any]]]:
    """The records as a StaticResolver / `[dns]` table (MX, A, AAAA, TXT only)."""
    table: dict[str, dict[str, list[Any]]] = {}
    for r in recs:
        name = r.name.rstrip(".")
        if r.kind == "MX":
            pref, exchange = r.value.split(None, 1)
            table.setdefault(name, {}).setdefault("MX", []).append([int(pref), exchange])
        elif r.kind in ("A", "AAAA", "TXT"):
            table.setdefault(name, {}).setdefault(r.kind, []).append(r.value)
    return table
