"""ENABLE (RFC 5161): only newly enabled extensions are reported."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import fill
from tests.integration.imap.rawimap import RawImap


def test_enable_reports_newly_enabled(raw: Callable[..., RawImap]) -> None:
    """RFC 5161 §3.1: "* ENABLED" lists what this command turned on."""
    c = raw()
    r = c.cmd("ENABLE CONDSTORE")
    assert r.untagged == ["* ENABLED CONDSTORE"]
    assert r.status == "OK"
    r = c.cmd("ENABLE CONDSTORE QRESYNC")
    assert r.untagged == ["* ENABLED QRESYNC"]


def test_enable_unknown_is_ignored(raw: Callable[..., RawImap]) -> None:
    """RFC 5161 §3.1: unknown or unsupported names are not an error."""
    c = raw()
    r = c.cmd("ENABLE X-UNKNOWN")
    assert r.status == "OK"
    assert r.untagged == ["* ENABLED"]


def test_enable_imap4rev2_and_utf8(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd("ENABLE IMAP4rev2 UTF8=ACCEPT")
    assert r.status == "OK"
    # Capability names are case-insensitive (RFC 9051 §7.2.2).
    assert [u.upper() for u in r.untagged] == ["* ENABLED IMAP4REV2 UTF8=ACCEPT"]


def test_enable_before_login_is_bad(raw: Callable[..., RawImap]) -> None:
    """RFC 5161 §3.1: ENABLE is valid only in the authenticated state."""
    c = raw(None)
    assert c.cmd("ENABLE CONDSTORE").status == "BAD"


def test_enable_without_arguments_is_bad(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("ENABLE").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_enable_qresync_in_selected_state(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2.3: once QRESYNC is on, expunges are VANISHED, not EXPUNGE."""
    c = raw()
    fill(c, 2)
    c.cmd("ENABLE QRESYNC")
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("EXPUNGE")
    assert r.starting("* VANISHED ")
    assert not r.starting("* 1 EXPUNGE")
