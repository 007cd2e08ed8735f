"""The [relay] table of posthouse.toml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from posthouse.config import ConfigError, RelaySettings, parse_config


def relay(**table: Any) -> RelaySettings:
    return parse_config(Path("/tmp"), {"domain": "alpha.test", "relay": table}).relay


def test_defaults() -> None:
    r = relay()
    assert r.port == 25 and r.tls == "may" and r.concurrency == 20
    assert r.max_age == 5 * 24 * 3600  # RFC 5321 §4.5.4.1: 4-5 days
    assert r.retry_schedule[0] == 60 and r.routes == {} and r.smarthost == ""


def test_routes_smarthost_policy() -> None:
    r = relay(
        routes={"Beta.Test": "127.0.0.3:2525"},
        smarthost="relay.example:587",
        smarthost_username="u",
        smarthost_password="p",
        tls_policy={"beta.test": "verify"},
        retry_schedule=[1, 2.5],
        max_age=60,
    )
    assert r.routes == {"beta.test": "127.0.0.3:2525"}
    assert r.tls_policy == {"beta.test": "verify"}
    assert r.retry_schedule == (1.0, 2.5) and r.max_age == 60.0


@pytest.mark.parametrize(
    "table",
    [
        {"tls": "sometimes"},
        {"tls_policy": {"x.test": "maybe"}},
        {"smarthost_tls": "ssl"},
        {"retry_schedule": []},
        {"retry_schedule": [0]},
        {"retry_schedule": "60"},
        {"max_age": 0},
        {"concurrency": 0},
        {"port": 70000},
        {"routes": {"x.test": 25}},
        {"poll_interval": -1},
    ],
)
def test_bad_values(table: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        relay(**table)
