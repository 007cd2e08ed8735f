"""SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.7-8)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import unique
from tests.integration.imap.rawimap import RawImap


def subscribed(c: RawImap, name: str) -> bool:
    r = c.cmd(f'LIST (SUBSCRIBED) "" "{name}"')
    return any("\\Subscribed" in line for line in r.untagged)


def test_subscribe_unsubscribe(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    assert c.cmd(f"SUBSCRIBE {name}").tagged == "a3 OK SUBSCRIBE completed"
    assert subscribed(c, name)
    assert c.cmd(f"UNSUBSCRIBE {name}").tagged == "a5 OK UNSUBSCRIBE completed"
    assert not subscribed(c, name)


def test_subscribe_missing_mailbox(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd(f"SUBSCRIBE {unique()}")
    assert r.status == "NO"


def test_subscription_survives_session(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    c.cmd(f"SUBSCRIBE {name}")
    assert subscribed(raw(), name)


def test_subscribe_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("SUBSCRIBE").status == "BAD"
    assert c.cmd("UNSUBSCRIBE").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_subscribe_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("SUBSCRIBE INBOX").status == "BAD"
