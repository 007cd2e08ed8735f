"""CLOSE (RFC 9051 §6.4.1) and UNSELECT (RFC 3691, RFC 9051 §6.4.2)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import fill
from tests.integration.imap.rawimap import RawImap


def test_close_expunges_silently(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.4.1: \\Deleted messages are removed, no EXPUNGE responses."""
    c = raw()
    name = fill(c, 3)
    c.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("CLOSE")
    assert r.tagged == f"a{c.next_tag} OK CLOSE completed"
    assert r.untagged == []
    assert c.cmd(f"STATUS {name} (MESSAGES)").untagged[0].endswith("(MESSAGES 2)")
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"  # back in authenticated state


def test_unselect_keeps_deleted(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 2)
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("UNSELECT")
    assert (r.status, r.untagged) == ("OK", [])
    assert c.cmd(f"STATUS {name} (MESSAGES)").untagged[0].endswith("(MESSAGES 2)")
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"


def test_close_on_examine_does_not_expunge(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.4.1: no expunge when the mailbox was opened with EXAMINE."""
    c = raw()
    name = fill(c, 1)
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.cmd(f"EXAMINE {name}")
    assert c.cmd("CLOSE").status == "OK"
    assert c.cmd(f"STATUS {name} (MESSAGES)").untagged[0].endswith("(MESSAGES 1)")


def test_close_without_selected(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("CLOSE").status == "BAD"
    assert c.cmd("UNSELECT").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_close_with_argument(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 1)
    assert c.cmd("CLOSE now").status == "BAD"
    assert c.cmd("FETCH 1 FLAGS").status == "OK"  # still selected


def test_check(raw: Callable[..., RawImap]) -> None:
    """RFC 3501 §6.4.1: CHECK is a NOOP-like checkpoint in the selected state."""
    c = raw()
    assert c.cmd("CHECK").status == "BAD"
    fill(c, 1)
    assert c.cmd("CHECK").status == "OK"
