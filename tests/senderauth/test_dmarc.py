from __future__ import annotations

import random

import pytest

from posthouse.resolver import StaticResolver
from posthouse.senderauth.dkim import DKIMResult
from posthouse.senderauth.dmarc import aligned, check_dmarc, organizational_domain
from posthouse.senderauth.spf import SPFResult


def spf(result: str, domain: str) -> SPFResult:
    return SPFResult(result, domain, "mailfrom", f"x@{domain}")


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver(
        {
            "_dmarc.alpha.test": {"TXT": ["v=DMARC1; p=reject; rua=mailto:d@alpha.test"]},
            "_dmarc.strict.test": {"TXT": ["v=DMARC1; p=quarantine; aspf=s; adkim=s"]},
            "_dmarc.sub.test": {"TXT": ["v=DMARC1; p=reject; sp=quarantine"]},
            "_dmarc.two.test": {"TXT": ["v=DMARC1; p=reject", "v=DMARC1; p=none"]},
            "_dmarc.nop.test": {"TXT": ["v=DMARC1; rua=mailto:r@nop.test"]},
            "_dmarc.junk.test": {"TXT": ["v=DMARC1; p=bogus", "some other text"]},
            "_dmarc.half.test": {"TXT": ["v=DMARC1; p=reject; pct=0"]},
            "_dmarc.other.test": {"TXT": ["spf1 is not dmarc"]},
            "_dmarc.down.test": {"TEMPFAIL": True},
            "_dmarc.example.co.uk": {"TXT": ["v=DMARC1; p=quarantine"]},
        }
    )


def test_organizational_domain() -> None:
    assert organizational_domain("mail.alpha.test") == "alpha.test"
    assert organizational_domain("alpha.test.") == "alpha.test"
    assert organizational_domain("a.b.example.co.uk") == "example.co.uk"
    assert organizational_domain("test") == "test"


def test_alignment_modes() -> None:
    assert aligned("alpha.test", "alpha.test", "s")
    assert aligned("alpha.test", "mail.alpha.test", "r")
    assert aligned("news.alpha.test", "bounce.alpha.test", "r")
    assert not aligned("alpha.test", "mail.alpha.test", "s")
    assert not aligned("alpha.test", "test", "r")  # a bare TLD vouches for nothing
    assert not aligned("alpha.test", "beta.test", "r")
    assert not aligned("x.co.uk", "y.co.uk", "r")
    assert not aligned("", "alpha.test", "r")


async def test_pass_by_spf_or_dkim(resolver: StaticResolver) -> None:
    r = await check_dmarc(
        resolver, from_domain="alpha.test", spf=spf("pass", "alpha.test"), dkim=[]
    )
    assert (r.result, r.policy, r.disposition, r.spf_aligned) == ("pass", "reject", "accept", True)
    r = await check_dmarc(
        resolver,
        from_domain="alpha.test",
        spf=spf("pass", "evil.test"),
        dkim=[DKIMResult("pass", domain="mail.alpha.test")],
    )
    assert (r.result, r.dkim_aligned, r.spf_aligned) == ("pass", True, False)


async def test_fail_reject_and_quarantine(resolver: StaticResolver) -> None:
    r = await check_dmarc(
        resolver,
        from_domain="alpha.test",
        spf=spf("pass", "evil.test"),
        dkim=[DKIMResult("fail", domain="alpha.test")],
    )
    assert (r.result, r.disposition) == ("fail", "reject")
    r = await check_dmarc(
        resolver, from_domain="strict.test", spf=spf("pass", "mail.strict.test"), dkim=[]
    )
    assert (r.result, r.policy, r.disposition) == ("fail", "quarantine", "quarantine")


async def test_subdomain_uses_org_policy_and_sp(resolver: StaticResolver) -> None:
    r = await check_dmarc(resolver, from_domain="news.sub.test", spf=None, dkim=[])
    assert (r.result, r.policy_domain, r.policy, r.disposition) == (
        "fail",
        "sub.test",
        "quarantine",
        "quarantine",
    )
    r = await check_dmarc(resolver, from_domain="a.b.example.co.uk", spf=None, dkim=[])
    assert (r.policy_domain, r.disposition) == ("example.co.uk", "quarantine")


async def test_no_policy_cases(resolver: StaticResolver) -> None:
    for domain in ("beta.test", "two.test", "junk.test", "other.test", ""):
        r = await check_dmarc(resolver, from_domain=domain, spf=None, dkim=[])
        assert (r.result, r.disposition) == ("none", "accept"), domain


async def test_invalid_p_with_rua_acts_as_none(resolver: StaticResolver) -> None:
    r = await check_dmarc(resolver, from_domain="nop.test", spf=None, dkim=[])
    assert (r.result, r.policy, r.disposition) == ("fail", "none", "accept")


async def test_pct_sampling_softens(resolver: StaticResolver) -> None:
    r = await check_dmarc(
        resolver, from_domain="half.test", spf=None, dkim=[], rng=random.Random(1)
    )
    assert (r.result, r.disposition) == ("fail", "quarantine")


async def test_tempfail(resolver: StaticResolver) -> None:
    r = await check_dmarc(resolver, from_domain="down.test", spf=None, dkim=[])
    assert r.result == "temperror"
