from __future__ import annotations

from pathlib import Path

import pytest

from posthouse.resolver import NXDomain, StaticResolver, TempFail, reverse_name


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver(
        {
            "Beta.Test.": {
                "MX": [(10, "mx.beta.test"), (20, "MX2.beta.test.")],
                "A": ["127.0.0.3"],
                "TXT": ["v=spf1 ip4:127.0.0.3 -all", ["part one ", "part two"]],
            },
            "mx.beta.test": {"A": ["127.0.0.3"], "AAAA": ["::1"]},
            "nomail.test": {"MX": [(0, ".")]},
            "alias.test": {"CNAME": "beta.test"},
            "loop1.test": {"CNAME": "loop2.test"},
            "loop2.test": {"CNAME": "loop1.test"},
            "deep.sub.zone.test": {"A": ["192.0.2.1"]},
            "3.0.0.127.in-addr.arpa": {"PTR": ["mx.beta.test."]},
            "127.0.0.9": {"PTR": ["nine.test"]},
        },
        tempfail=["broken.test"],
    )


async def test_records_by_type(resolver: StaticResolver) -> None:
    assert await resolver.mx("beta.test") == [(10, "mx.beta.test"), (20, "mx2.beta.test")]
    assert await resolver.a("BETA.test.") == ["127.0.0.3"]
    assert await resolver.aaaa("mx.beta.test") == ["::1"]
    assert await resolver.txt("beta.test") == [
        b"v=spf1 ip4:127.0.0.3 -all",
        b"part one part two",  # RFC 7208 §3.3: strings of one record are joined
    ]


async def test_nodata_is_an_empty_list(resolver: StaticResolver) -> None:
    assert await resolver.aaaa("beta.test") == []
    assert await resolver.mx("mx.beta.test") == []


async def test_missing_name_is_nxdomain(resolver: StaticResolver) -> None:
    with pytest.raises(NXDomain):
        await resolver.a("gamma.test")
    with pytest.raises(NXDomain):
        await resolver.txt("_dmarc.beta.test")


async def test_empty_non_terminal_exists(resolver: StaticResolver) -> None:
    assert await resolver.a("sub.zone.test") == []
    assert await resolver.a("zone.test") == []


async def test_null_mx(resolver: StaticResolver) -> None:
    assert await resolver.mx("nomail.test") == [(0, ".")]
    assert await StaticResolver({"x.test": {"MX": [[0, ""]]}}).mx("x.test") == [(0, ".")]


async def test_tempfail(resolver: StaticResolver) -> None:
    with pytest.raises(TempFail):
        await resolver.mx("broken.test")
    resolver.fail("beta.test")
    with pytest.raises(TempFail):
        await resolver.a("beta.test")
    resolver.fail("beta.test", False)
    assert await resolver.a("beta.test") == ["127.0.0.3"]


async def test_cname_followed_and_loop_fails(resolver: StaticResolver) -> None:
    assert await resolver.a("alias.test") == ["127.0.0.3"]
    with pytest.raises(TempFail):
        await resolver.a("loop1.test")


async def test_ptr(resolver: StaticResolver) -> None:
    assert reverse_name("127.0.0.3") == "3.0.0.127.in-addr.arpa"
    assert await resolver.ptr("127.0.0.3") == ["mx.beta.test"]
    assert await resolver.ptr("127.0.0.9") == ["nine.test"]
    with pytest.raises(NXDomain):
        await resolver.ptr("192.0.2.55")


async def test_queries_are_recorded(resolver: StaticResolver) -> None:
    await resolver.a("beta.test")
    await resolver.mx("Beta.test")
    assert resolver.queries == [("A", "beta.test"), ("MX", "beta.test")]


async def test_from_config_forms() -> None:
    r = StaticResolver.from_config(
        {
            "beta.test": {"mx": ["10 mx.beta.test", "mx3.beta.test"], "a": "127.0.0.3"},
            "gamma.test": {"MX": [5, "mx.gamma.test"]},
        }
    )
    assert await r.mx("beta.test") == [(10, "mx.beta.test"), (10, "mx3.beta.test")]
    assert await r.a("beta.test") == ["127.0.0.3"]
    assert await r.mx("gamma.test") == [(5, "mx.gamma.test")]


@pytest.mark.parametrize(
    "table",
    [
        {"beta.test": "127.0.0.3"},
        {"beta.test": {"SRV": ["x"]}},
        {"beta.test": {"MX": [["ten", "mx"]]}},
        {"beta.test": {"MX": ["a b c"]}},
        {"beta.test": {"A": [1]}},
        {"beta.test": {"CNAME": ["a.test", "b.test"]}},
    ],
)
def test_from_config_rejects_bad_tables(table: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StaticResolver.from_config(table)


def test_config_dns_table(tmp_path: Path) -> None:
    from posthouse.config import ConfigError, load_config
    from posthouse.resolver import DnsResolver, for_config

    (tmp_path / "posthouse.toml").write_text(
        'domain = "alpha.test"\n'
        '[dns."beta.test"]\n'
        'MX = [[10, "mx.beta.test"]]\n'
        'TXT = ["v=spf1 ip4:127.0.0.3 -all"]\n'
        '[dns."mx.beta.test"]\n'
        'A = ["127.0.0.3"]\n'
    )
    config = load_config(tmp_path)
    assert config.dns is not None
    assert isinstance(for_config(config), StaticResolver)

    (tmp_path / "posthouse.toml").write_text('domain = "alpha.test"\n')
    assert isinstance(for_config(load_config(tmp_path)), DnsResolver)

    (tmp_path / "posthouse.toml").write_text('domain = "alpha.test"\n[dns."x.test"]\nSOA = 1\n')
    with pytest.raises(ConfigError):
        load_config(tmp_path)


async def test_config_resolver_answers(tmp_path: Path) -> None:
    from posthouse.config import load_config
    from posthouse.resolver import for_config

    (tmp_path / "posthouse.toml").write_text(
        'domain = "alpha.test"\n[dns."beta.test"]\nMX = [[10, "mx.beta.test"]]\n'
    )
    r = for_config(load_config(tmp_path))
    assert await r.mx("beta.test") == [(10, "mx.beta.test")]


async def test_tempfail_by_type() -> None:
    r = StaticResolver({"x.test": {"A": ["192.0.2.1"], "TEMPFAIL": ["TXT"]}})
    assert await r.a("x.test") == ["192.0.2.1"]
    with pytest.raises(TempFail):
        await r.txt("x.test")
    r.fail("x.test", False, types=["TXT"])
    assert await r.txt("x.test") == []
    r.fail("x.test", types=["A"])
    with pytest.raises(TempFail):
        await r.a("x.test")
