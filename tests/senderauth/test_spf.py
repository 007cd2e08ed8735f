from __future__ import annotations

import pytest

from posthouse.resolver import StaticResolver
from posthouse.senderauth.spf import check_host, check_spf


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver(
        {
            "alpha.test": {
                "TXT": ["v=spf1 mx a:relay.alpha.test ip6:2001:db8::/32 -all"],
                "MX": [(10, "mx.alpha.test")],
            },
            "mx.alpha.test": {"A": ["127.0.0.2"]},
            "relay.alpha.test": {"A": ["192.0.2.10"]},
            "helo.alpha.test": {"TXT": ["v=spf1 a -all"], "A": ["127.0.0.2"]},
            "soft.test": {"TXT": ["v=spf1 ~all exp=why.soft.test"]},
            "hard.test": {"TXT": ["v=spf1 -all exp=why.hard.test"]},
            "why.hard.test": {"TXT": ["%{i} may not send for %{d} (%{c})"]},
            "loop.test": {"TXT": ["v=spf1 include:loop.test"]},
            "many.test": {"TXT": ["v=spf1 " + " ".join(f"a:h{i}.many.test" for i in range(12))]},
            **{f"h{i}.many.test": {"A": ["192.0.2.99"]} for i in range(12)},
            "void.test": {"TXT": ["v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test +all"]},
            "down.test": {"TEMPFAIL": True},
        }
    )


async def test_mx_a_ip6_pass_and_fail(resolver: StaticResolver) -> None:
    for ip in ("127.0.0.2", "192.0.2.10", "2001:db8::5", "::ffff:127.0.0.2"):
        r = await check_spf(resolver, ip=ip, mail_from="a@alpha.test", helo="x")
        assert r.result == "pass", ip
    r = await check_spf(resolver, ip="198.51.100.1", mail_from="<a@alpha.test>", helo="x")
    assert (r.result, r.mechanism, r.domain) == ("fail", "-all", "alpha.test")


async def test_null_sender_checks_helo(resolver: StaticResolver) -> None:
    r = await check_spf(resolver, ip="127.0.0.2", mail_from="", helo="helo.alpha.test")
    assert (r.result, r.identity, r.sender) == ("pass", "helo", "postmaster@helo.alpha.test")


async def test_explanation_macros(resolver: StaticResolver) -> None:
    r = await check_host(resolver, "192.0.2.1", "hard.test", "x@hard.test")
    assert r.result == "fail"
    assert r.explanation == "192.0.2.1 may not send for hard.test (192.0.2.1)"
    r = await check_host(resolver, "192.0.2.1", "soft.test", "x@soft.test")
    assert (r.result, r.explanation) == ("softfail", "")


async def test_limits(resolver: StaticResolver) -> None:
    assert (await check_host(resolver, "192.0.2.1", "loop.test", "x@loop.test")).result == (
        "permerror"
    )
    r = await check_host(resolver, "192.0.2.1", "many.test", "x@many.test")
    assert r.result == "permerror" and "10" in r.problem
    r = await check_host(resolver, "192.0.2.1", "void.test", "x@void.test")
    assert r.result == "permerror" and "void" in r.problem


async def test_none_temperror_and_bad_input(resolver: StaticResolver) -> None:
    assert (await check_host(resolver, "192.0.2.1", "nx.test", "x@nx.test")).result == "none"
    assert (await check_host(resolver, "192.0.2.1", "down.test", "x@down.test")).result == (
        "temperror"
    )
    assert (await check_host(resolver, "not-an-ip", "alpha.test", "x")).result == "permerror"


async def test_a_resolver_that_raises_anything_gives_temperror() -> None:
    class Broken(StaticResolver):
        async def txt(self, name: str) -> list[bytes]:
            raise RuntimeError("boom")

    r = await check_host(Broken(), "192.0.2.1", "alpha.test", "x@alpha.test")
    assert r.result == "temperror"
