"""STORE (RFC 9051 §6.4.6; UNCHANGEDSINCE RFC 7162 §3.1.3 is in test_condstore_qresync)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import fill
from tests.integration.imap.rawimap import RawImap


def test_add_remove_replace(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 2)
    r = c.cmd("STORE 1 +FLAGS (\\Seen \\Flagged)")
    assert r.untagged == ["* 1 FETCH (FLAGS (\\Flagged \\Seen))"]
    r = c.cmd("STORE 1 -FLAGS (\\Seen)")
    assert r.untagged == ["* 1 FETCH (FLAGS (\\Flagged))"]
    r = c.cmd("STORE 1:2 FLAGS (\\Answered)")
    assert r.untagged == ["* 1 FETCH (FLAGS (\\Answered))", "* 2 FETCH (FLAGS (\\Answered))"]


def test_silent(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.4.6: .SILENT suppresses the FETCH responses."""
    c = raw()
    fill(c, 1)
    r = c.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
    assert (r.status, r.untagged) == ("OK", [])
    assert c.cmd("FETCH 1 FLAGS").untagged == ["* 1 FETCH (FLAGS (\\Seen))"]


def test_flag_list_without_parentheses(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §9: store-att-flags allows a bare flag list."""
    c = raw()
    fill(c, 1)
    r = c.cmd("STORE 1 +FLAGS \\Seen \\Draft")
    assert r.untagged == ["* 1 FETCH (FLAGS (\\Seen \\Draft))"]


def test_new_keyword_updates_flags(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.3.5: a keyword new to the mailbox is announced in * FLAGS."""
    c = raw()
    fill(c, 1)
    r = c.cmd("STORE 1 +FLAGS ($Important)")
    assert any(line.startswith("* FLAGS (") and "$Important" in line for line in r.untagged)
    assert "* 1 FETCH (FLAGS ($Important))" in r.untagged


def test_system_flag_case(raw: Callable[..., RawImap]) -> None:
    """Flags are case-insensitive; system flags are returned in their usual spelling."""
    c = raw()
    fill(c, 1)
    assert c.cmd("STORE 1 +FLAGS (\\SEEN)").untagged == ["* 1 FETCH (FLAGS (\\Seen))"]


def test_recent_refused(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §2.3.2: \\Recent cannot be stored."""
    c = raw()
    fill(c, 1)
    assert c.cmd("STORE 1 +FLAGS (\\Recent)").status == "BAD"
    assert c.cmd("STORE 1 +FLAGS (\\Bogus)").status == "BAD"
    assert c.cmd("FETCH 1 FLAGS").untagged == ["* 1 FETCH (FLAGS ())"]


def test_store_read_only(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 1)
    c.cmd(f"EXAMINE {name}")
    r = c.cmd("STORE 1 +FLAGS (\\Seen)")
    assert (r.status, r.code) == ("NO", "READ-ONLY")


def test_store_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 1)
    for bad in (
        "STORE",
        "STORE 1",
        "STORE 1 +FLAGS",
        "STORE 1 FLAGZ (\\Seen)",
        "STORE 5 +FLAGS (\\Seen)",
        "STORE 1 +FLAGS (\\Seen",
    ):
        assert c.cmd(bad).status == "BAD", bad
    assert c.cmd("NOOP").status == "OK"


def test_store_not_selected(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("STORE 1 +FLAGS (\\Seen)").status == "BAD"


def test_keyword_case_and_removal_do_not_redefine(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §2.3.2: keywords are case-insensitive; "$label" after "$Label" is the
    same keyword, and -FLAGS defines none.  (The * FLAGS list once grew a copy per
    spelling, removals included.)"""
    c = raw()
    fill(c, 1)
    r = c.cmd("STORE 1 +FLAGS ($Label)")
    system = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"
    assert r.starting("* FLAGS") == [f"* FLAGS ({system} $Label)"]
    r = c.cmd("STORE 1 +FLAGS ($label)")
    assert r.untagged == ["* 1 FETCH (FLAGS ($Label))"]
    r = c.cmd("STORE 1 -FLAGS ($LABEL $Never)")
    assert r.untagged == ["* 1 FETCH (FLAGS ())"]
