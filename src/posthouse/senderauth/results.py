"""All sender checks of one received message, and what to do about them.

`check_message()` runs SPF (on the envelope), DKIM (on the message) and DMARC (on the
header From domain) and returns a `Verdict`: each result, the Authentication-Results
field to prepend (RFC 8601), the DMARC disposition, and whether the From looks forged.
It never raises: broken headers and broken DNS answers become results.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from posthouse.mime.addresses import MISSING_DOMAIN, SYNTAX_ERROR, parse_address_list
from posthouse.mime.headerblock import fields, unfold
from posthouse.mime.headers import split_message
from posthouse.resolver import Resolver
from posthouse.senderauth.authres import (
    AuthenticationResults,
    MethodResult,
    find_in_message,
    format_header,
    format_value,
    parse_value,
    remove_ours,
)
from posthouse.senderauth.dkim import DKIMResult, verify
from posthouse.senderauth.dmarc import DMARCResult, aligned, check_dmarc
from posthouse.senderauth.spf import SPFResult, check_spf

__all__ = [
    "AuthenticationResults",
    "MethodResult",
    "Verdict",
    "check_message",
    "find_in_message",
    "format_header",
    "format_value",
    "from_domains",
    "parse_value",
    "remove_ours",
]


@dataclass(frozen=True)
class Verdict:
    spf: SPFResult
    dkim: tuple[DKIMResult, ...]
    dmarc: DMARCResult
    from_domain: str  # the header From domain DMARC judged ("" when there is none)
    header: bytes  # the Authentication-Results field (ending in CRLF) to prepend
    disposition: str = "accept"  # accept, quarantine or reject (from DMARC)
    forged: bool = False  # the From is not vouched for by an aligned SPF or DKIM pass
    forged_reason: str = ""
    results: tuple[MethodResult, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        """A plain dict for message meta (meta["auth"])."""
        return {
            "spf": {k: v for k, v in self.spf.__dict__.items() if v},
            "dkim": [d.to_json() for d in self.dkim],
            "dmarc": self.dmarc.to_json(),
            "from_domain": self.from_domain,
            "disposition": self.disposition,
            "forged": self.forged,
            "forged_reason": self.forged_reason,
            "header": self.header.decode("ascii"),
        }


def from_domains(raw: bytes) -> tuple[list[str], int]:
    """(distinct domains of the header From addresses in order, number of From fields)."""
    header, _ = split_message(raw)
    domains: list[str] = []
    count = 0
    for name, value in fields(header):
        if name != b"from":
            continue
        count += 1
        for _, _, mailbox, host in parse_address_list(unfold(value)):
            if mailbox is None or host is None or host in (MISSING_DOMAIN, SYNTAX_ERROR):
                continue
            domain = host.decode("utf-8", "replace").strip().strip("[]").lower().rstrip(".")
            if domain and domain not in domains:
                domains.append(domain)
    return domains, count


_SPF_WORDS = {
    "pass": "{domain} designates {ip} as permitted sender",
    "fail": "{domain} does not designate {ip} as permitted sender",
    "softfail": "{domain} does not designate {ip} as permitted sender (softfail)",
    "neutral": "{domain} neither permits nor denies {ip}",
    "none": "{domain} publishes no SPF record",
    "temperror": "{domain}: temporary error",
    "permerror": "{domain}: permanent error in the SPF record",
}


def _spf_method(spf: SPFResult, client_ip: str) -> MethodResult:
    prop = "smtp.helo" if spf.identity == "helo" else "smtp.mailfrom"
    value = spf.domain if spf.identity == "helo" else spf.sender
    comment = _SPF_WORDS.get(spf.result, "{ip}: {result}").format(
        domain=spf.domain or "?", ip=client_ip, result=spf.result
    )
    if spf.problem:
        comment += f": {spf.problem}"
    return MethodResult("spf", spf.result, comment=comment, properties=((prop, value),))


def _dkim_methods(dkim: tuple[DKIMResult, ...]) -> list[MethodResult]:
    if not dkim:
        return [MethodResult("dkim", "none", comment="no signature")]
    out = []
    for d in dkim:
        props = []
        if d.domain:
            props.append(("header.d", d.domain))
        if d.selector:
            props.append(("header.s", d.selector))
        if d.identity:
            props.append(("header.i", d.identity))
        if d.algorithm:
            props.append(("header.a", d.algorithm))
        if d.signature:
            props.append(("header.b", d.signature))  # RFC 6008
        out.append(MethodResult("dkim", d.result, comment=d.reason, properties=tuple(props)))
    return out


def _dmarc_method(dmarc: DMARCResult) -> MethodResult:
    comment = ""
    if dmarc.policy:
        comment = f"p={dmarc.policy} dis={dmarc.disposition}"
    elif dmarc.reason:
        comment = dmarc.reason
    props = (("header.from", dmarc.domain),) if dmarc.domain else ()
    return MethodResult("dmarc", dmarc.result, comment=comment, properties=props)


async def check_message(
    resolver: Resolver,
    *,
    client_ip: str,
    helo: str,
    mail_from: str,
    raw: bytes,
    authserv_id: str,
    rng: random.Random | None = None,
) -> Verdict:
    """SPF, DKIM and DMARC for one received message; never raises."""
    spf = await check_spf(
        resolver, ip=client_ip, mail_from=mail_from, helo=helo, receiver=authserv_id
    )
    try:
        dkim = tuple(await verify(resolver, raw))
    except Exception as e:  # verify() handles its own failures; this is a last guard
        dkim = (DKIMResult("permerror", reason=f"verification error: {e!r}"),)
    try:
        domains, count = from_domains(raw)
    except Exception:
        domains, count = [], 0

    forged_reason = ""
    if count == 0:
        forged_reason = "no From header field"
    elif not domains:
        forged_reason = "no usable From address"
    elif len(domains) > 1:
        forged_reason = "From addresses from several domains: " + ", ".join(domains)
    from_domain = domains[0] if domains else ""

    dmarc = await check_dmarc(resolver, from_domain=from_domain, spf=spf, dkim=list(dkim), rng=rng)
    if len(domains) > 1 and dmarc.result == "pass":
        # RFC 7489 §6.6.1: several author domains cannot all be vouched for by one pass
        disposition = dmarc.policy if dmarc.policy in ("quarantine", "reject") else "accept"
        dmarc = replace(
            dmarc, result="fail", disposition=disposition, reason="several From domains"
        )

    if not forged_reason and not _vouched(from_domain, spf, dkim, dmarc):
        forged_reason = f"no SPF or DKIM pass aligned with the From domain {from_domain}"

    results = (_spf_method(spf, client_ip), *_dkim_methods(dkim), _dmarc_method(dmarc))
    return Verdict(
        spf=spf,
        dkim=dkim,
        dmarc=dmarc,
        from_domain=from_domain,
        header=format_header(authserv_id, results),
        disposition=dmarc.disposition,
        forged=bool(forged_reason),
        forged_reason=forged_reason,
        results=results,
    )


def _vouched(
    from_domain: str,
    spf: SPFResult,
    dkim: tuple[DKIMResult, ...],
    dmarc: DMARCResult,
) -> bool:
    """Is the From domain authenticated: DMARC pass, or, where the domain publishes no
    DMARC policy, an SPF or DKIM pass aligned in relaxed mode (RFC 7489 §3.1)."""
    if dmarc.result == "pass":
        return True
    if dmarc.result != "none":
        return False
    spf_ok = spf.result == "pass" and aligned(from_domain, spf.domain, "r")
    return spf_ok or any(d.result == "pass" and aligned(from_domain, d.domain, "r") for d in dkim)
