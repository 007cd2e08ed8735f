"""Routing: static routes, smarthost, MX preference and fallback, null MX, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from posthouse.queue.routes import RouteError, Target, addresses_of, find_route, parse_hostport
from posthouse.resolver import StaticResolver
from tests.queue.conftest import make_config

DNS = StaticResolver(
    {
        "beta.test": {"MX": [(20, "mx2.beta.test"), (10, "mx1.beta.test")]},
        "mx1.beta.test": {"A": ["127.0.0.3"]},
        "mx2.beta.test": {"A": ["127.0.0.4"], "AAAA": ["::1"]},
        "nomx.test": {"A": ["127.0.0.5"]},
        "null.test": {"MX": [(0, ".")]},
        "down.test": {"TEMPFAIL": True},
    }
)


def relay(tmp_path: Path, **settings: object):  # type: ignore[no-untyped-def]
    return make_config(tmp_path, **settings).relay


async def test_mx_in_preference_order(tmp_path: Path) -> None:
    route = await find_route("beta.test", relay(tmp_path, port=2525), DNS)
    assert route.targets == (Target("mx1.beta.test", 2525), Target("mx2.beta.test", 2525))
    assert route.key == "mx:beta.test" and route.tls == "may"
    assert await addresses_of(route.targets[1], DNS) == ["127.0.0.4", "::1"]


async def test_no_mx_falls_back_to_the_domain(tmp_path: Path) -> None:
    # RFC 5321 §5.1: the implicit MX.
    route = await find_route("nomx.test", relay(tmp_path), DNS)
    assert route.targets == (Target("nomx.test", 25),)
    assert await addresses_of(route.targets[0], DNS) == ["127.0.0.5"]


async def test_null_mx_is_permanent(tmp_path: Path) -> None:
    with pytest.raises(RouteError) as err:
        await find_route("null.test", relay(tmp_path), DNS)
    assert err.value.permanent and err.value.status == "5.1.10"


async def test_nxdomain_is_permanent_tempfail_is_not(tmp_path: Path) -> None:
    with pytest.raises(RouteError) as err:
        await find_route("nowhere.test", relay(tmp_path), DNS)
    assert err.value.permanent and err.value.status == "5.1.2"
    with pytest.raises(RouteError) as err:
        await find_route("down.test", relay(tmp_path), DNS)
    assert not err.value.permanent and err.value.status.startswith("4.")


async def test_static_route_wins_over_mx_and_smarthost(tmp_path: Path) -> None:
    settings = relay(
        tmp_path,
        routes={"beta.test": "127.0.0.3:2525"},
        smarthost="relay.example:587",
        tls_policy={"beta.test": "verify"},
    )
    route = await find_route("beta.test", settings, DNS)
    assert route.targets == (Target("127.0.0.3", 2525),) and route.tls == "verify"
    other = await find_route("gamma.test", settings, DNS)
    assert other.smarthost and other.targets == (Target("relay.example", 587),)
    assert other.tls == "encrypt"  # credentials never travel in the clear


async def test_address_literal(tmp_path: Path) -> None:
    route = await find_route("[127.0.0.9]", relay(tmp_path, port=2525), DNS)
    assert route.targets == (Target("127.0.0.9", 2525),)
    with pytest.raises(RouteError):
        await find_route("[not-an-ip]", relay(tmp_path), DNS)


def test_parse_hostport() -> None:
    assert parse_hostport("mx.example", 25) == Target("mx.example", 25)
    assert parse_hostport("mx.example.:2525", 25) == Target("mx.example", 2525)
    assert parse_hostport("[::1]:2525", 25) == Target("::1", 2525)
    assert parse_hostport("::1", 25) == Target("::1", 25)
    for bad in ("", ":25", "host:port", "host:70000"):
        with pytest.raises(ValueError):
            parse_hostport(bad, 25)


async def test_unreachable_mx_routes_are_deferred_not_lost(tmp_path: Path) -> None:
    dns = StaticResolver({"beta.test": {"MX": [(10, "gone.beta.test")]}})
    route = await find_route("beta.test", relay(tmp_path), dns)
    assert await addresses_of(route.targets[0], dns) == []
