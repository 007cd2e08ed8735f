"""EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import fill
from tests.integration.imap.rawimap import RawImap


def test_expunge_numbers_descend_correctly(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.5.1: each EXPUNGE renumbers; the numbers must be right when read."""
    c = raw()
    fill(c, 5)
    c.cmd("STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("EXPUNGE")
    assert r.status == "OK"
    # Either order is valid as long as every number is right when it is read.
    assert r.untagged in (
        ["* 5 EXPUNGE", "* 4 EXPUNGE", "* 2 EXPUNGE"],
        ["* 2 EXPUNGE", "* 3 EXPUNGE", "* 3 EXPUNGE"],
    )
    r = c.cmd("FETCH 1:* (UID)")
    assert r.untagged == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]


def test_expunge_nothing(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 2)
    r = c.cmd("EXPUNGE")
    assert (r.status, r.untagged) == ("OK", [])


def test_uid_expunge_only_named(raw: Callable[..., RawImap]) -> None:
    """RFC 4315 §2.1: only \\Deleted messages in the UID set go."""
    c = raw()
    fill(c, 3)
    c.cmd("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("UID EXPUNGE 2")
    assert r.untagged == ["* 2 EXPUNGE"]
    r = c.cmd("FETCH 1:* (UID)")
    assert r.untagged == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]


def test_expunge_read_only(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 1)
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.cmd(f"EXAMINE {name}")
    r = c.cmd("EXPUNGE")
    assert (r.status, r.code) == ("NO", "READ-ONLY")


def test_expunge_not_selected(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("EXPUNGE").status == "BAD"


def test_expunge_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 1)
    assert c.cmd("EXPUNGE 1").status == "BAD"
    assert c.cmd("UID EXPUNGE").status == "BAD"
    assert c.cmd("UID EXPUNGE x").status == "BAD"
    assert c.cmd("NOOP").status == "OK"
