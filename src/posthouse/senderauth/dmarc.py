"""DMARC (RFC 7489): does the header From domain's owner vouch for this message?

The policy record is found at _dmarc.<From domain>, else at _dmarc.<organizational
domain> (§6.6.3) and parsed by the `dmarc` package.  Alignment (§3.1) is computed here:
the package's relaxed check treats any parent domain as aligned (a d= of a bare
top-level domain would align with every domain under it), so both sides are reduced to
their organizational domains instead.

Organizational domain (§3.2): without a public suffix list, the last two labels of the
name, or the last three when the last two are one of the common two-label public
suffixes in `TWO_LABEL_SUFFIXES` (co.uk, com.au, ...).  That is exact for lab names
such as alpha.test or mail.beta.example and for most real domains; a full public
suffix list would be needed for every registry's rules.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import dmarc as dmarclib

from posthouse.resolver import NXDomain, Resolver, ResolverError, TempFail
from posthouse.senderauth.dkim import DKIMResult
from posthouse.senderauth.spf import SPFResult

TWO_LABEL_SUFFIXES = frozenset(
    f"{second}.{tld}"
    for tld, seconds in {
        "uk": ("co", "org", "ac", "gov", "ltd", "plc", "net", "me", "nhs", "sch"),
        "au": ("com", "net", "org", "edu", "gov", "asn", "id"),
        "nz": ("co", "net", "org", "ac", "govt", "school"),
        "jp": ("co", "ne", "or", "ac", "go", "ad", "ed", "gr", "lg"),
        "br": ("com", "net", "org", "gov", "edu"),
        "cn": ("com", "net", "org", "gov", "edu", "ac"),
        "in": ("co", "net", "org", "gov", "ac", "edu", "firm", "gen", "ind"),
        "za": ("co", "net", "org", "gov", "ac", "edu"),
        "kr": ("co", "ne", "or", "re", "go", "ac"),
        "il": ("co", "net", "org", "ac", "gov", "muni"),
        "mx": ("com", "net", "org", "gob", "edu"),
        "tr": ("com", "net", "org", "gov", "edu", "gen"),
    }.items()
    for second in seconds
)

DISPOSITIONS = ("accept", "quarantine", "reject")


@dataclass(frozen=True)
class DMARCResult:
    result: str  # RFC 8601 §2.7.2 / RFC 7489 §11.2: pass, fail, none, temperror, permerror
    domain: str = ""  # the header From domain (header.from)
    policy: str = ""  # the published p (or sp): none, quarantine, reject; "" without one
    disposition: str = "accept"  # what the receiver does: accept, quarantine, reject
    policy_domain: str = ""  # where the record was found
    spf_aligned: bool = False
    dkim_aligned: bool = False
    reason: str = ""

    def to_json(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None)}


def organizational_domain(name: str) -> str:
    """RFC 7489 §3.2, with the simple suffix rule described above."""
    labels = [x for x in name.lower().rstrip(".").split(".") if x]
    if len(labels) <= 2:
        return ".".join(labels)
    if ".".join(labels[-2:]) in TWO_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def aligned(from_domain: str, auth_domain: str, mode: str) -> bool:
    """RFC 7489 §3.1.1, §3.1.2: strict needs the same name, relaxed the same
    organizational domain."""
    a = from_domain.lower().rstrip(".")
    b = auth_domain.lower().rstrip(".")
    if not a or not b:
        return False
    if a == b:
        return True
    return mode != "s" and organizational_domain(a) == organizational_domain(b)


_RUA = re.compile(r"(?:^|;)\s*rua\s*=\s*mailto:[^;\s]+@", re.I)


def parse_policy(record: str, domain: str, *, org_fallback: bool) -> dmarclib.Policy | None:
    """The dmarc package's parse of a record; None when it gives no usable policy.
    RFC 7489 §6.6.3: a record without a valid p but with a valid rua acts as p=none."""
    org = organizational_domain(domain) if org_fallback else None
    try:
        return _parsed(record, domain, org)
    except dmarclib.RecordSyntaxError:
        if _RUA.search(record) and record.lstrip().startswith("v=DMARC1"):
            stripped = re.sub(r"(?i)(^|;)\s*s?p\s*=[^;]*", r"\1", record)
            try:
                return _parsed(stripped.rstrip("; ") + "; p=none", domain, org)
            except dmarclib.Error:
                return None
        return None
    except (dmarclib.Error, ValueError):
        return None


def _parsed(record: str, domain: str, org: str | None) -> dmarclib.Policy:
    policy = dmarclib.Policy("DMARC1", domain, org)
    policy.parse_record(record, strict=False)
    return policy


async def _records(resolver: Resolver, name: str) -> list[str] | None:
    """DMARC records at a name (RFC 7489 §6.6.3 step 3); None if the name does not exist.
    TempFail propagates."""
    try:
        txts = await resolver.txt(name)
    except NXDomain:
        return None
    except TempFail:
        raise
    except ResolverError:
        return None
    out = []
    for raw in txts:
        text = raw.decode("utf-8", "replace")
        if re.match(r"v\s*=\s*DMARC1\s*(;|$)", text):
            out.append(text.strip())
    return out


async def find_policy(
    resolver: Resolver, from_domain: str
) -> tuple[dmarclib.Policy | None, str, str]:
    """(policy, domain it was found at, reason); TempFail propagates."""
    domain = from_domain.lower().rstrip(".")
    org = organizational_domain(domain)
    candidates = [(domain, False)]
    if org != domain:
        candidates.append((org, True))  # RFC 7489 §6.6.3 step 4
    reason = "no DMARC record"
    for name, fallback in candidates:
        records = await _records(resolver, f"_dmarc.{name}")
        if not records:
            continue
        if len(records) > 1:
            # RFC 7489 §6.6.3 step 5: more than one record -> no DMARC processing
            reason = f"several DMARC records at _dmarc.{name}"
            continue
        policy = parse_policy(records[0], domain, org_fallback=fallback)
        if policy is not None:
            return policy, name, ""
        reason = f"unusable DMARC record at _dmarc.{name}"
    return None, "", reason


async def check_dmarc(
    resolver: Resolver,
    *,
    from_domain: str,
    spf: SPFResult | None,
    dkim: list[DKIMResult],
    rng: random.Random | None = None,
) -> DMARCResult:
    """The DMARC result for one header From domain; never raises."""
    domain = from_domain.lower().rstrip(".")
    if not domain:
        return DMARCResult("none", reason="no From domain")
    try:
        policy, where, reason = await find_policy(resolver, domain)
    except TempFail as e:
        return DMARCResult("temperror", domain, reason=f"DMARC lookup failed: {e}")
    except Exception as e:  # a broken resolver gives a result, not a crash
        return DMARCResult("temperror", domain, reason=f"DMARC lookup failed: {e!r}")
    if policy is None:
        return DMARCResult("none", domain, reason=reason)
    aspf = "s" if policy.aspf is dmarclib.DMARCAlignment.STRICT else "r"
    adkim = "s" if policy.adkim is dmarclib.DMARCAlignment.STRICT else "r"
    # RFC 7489 §4.2: a pass of either authentication with an aligned identifier
    spf_ok = bool(spf and spf.result == "pass" and aligned(domain, spf.domain, aspf))
    dkim_ok = any(d.result == "pass" and aligned(domain, d.domain, adkim) for d in dkim)
    requested = policy.p
    if where != domain and policy.sp is not dmarclib.DMARCDisposition.UNSPECIFIED:
        requested = policy.sp  # RFC 7489 §6.3: sp for subdomains of the organizational domain
    published = requested.value or "none"
    if spf_ok or dkim_ok:
        return DMARCResult("pass", domain, published, "accept", where, spf_ok, dkim_ok)
    disposition = {"reject": "reject", "quarantine": "quarantine"}.get(published, "accept")
    pct = max(0, min(100, policy.pct))
    if disposition != "accept" and pct < 100 and (rng or random).randrange(100) >= pct:
        # RFC 7489 §6.6.4: a message not sampled gets the next less strict treatment
        disposition = "quarantine" if disposition == "reject" else "accept"
    return DMARCResult(
        "fail", domain, published, disposition, where, False, False, "no aligned pass"
    )
