"""LSUB (RFC 3501 §6.3.9, kept by RFC 9051 for IMAP4rev1 clients)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import unique
from tests.integration.imap.rawimap import RawImap


def test_lsub_lists_subscribed(raw: Callable[..., RawImap]) -> None:
    c = raw()
    top = unique()
    c.cmd(f"CREATE {top}/a")
    c.cmd(f"CREATE {top}/b")
    c.cmd(f"UNSUBSCRIBE {top}/a")  # new mailboxes start subscribed
    r = c.cmd(f'LSUB "" "{top}/*"')
    assert r.untagged == [f'* LSUB () "/" {top}/b']


def test_lsub_percent_shows_noselect_parent(raw: Callable[..., RawImap]) -> None:
    """RFC 3501 §6.3.9: "%" matching an unsubscribed level with subscribed children
    returns it with \\Noselect."""
    c = raw()
    top = unique()
    c.cmd(f"CREATE {top}/kid")
    c.cmd(f"UNSUBSCRIBE {top}")
    r = c.cmd(f'LSUB "" "{top}"')
    assert r.untagged == []
    r = c.cmd(f'LSUB "" "{top[:-2]}%"')
    assert r.untagged == [f'* LSUB (\\Noselect) "/" {top}']


def test_lsub_keeps_subscription_of_deleted(raw: Callable[..., RawImap]) -> None:
    """Nothing subscribed remains listed once the mailbox is gone in this server;
    LSUB never errors on it."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    c.cmd(f"SUBSCRIBE {name}")
    c.cmd(f"DELETE {name}")
    assert c.cmd(f'LSUB "" "{name}"').status == "OK"


def test_lsub_delimiter(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd('LSUB "" ""').untagged == ['* LSUB (\\Noselect) "/" ""']


def test_lsub_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("LSUB").status == "BAD"
    assert c.cmd('LSUB ""').status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_lsub_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd('LSUB "" "*"').status == "BAD"
