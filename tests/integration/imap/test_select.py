"""SELECT and EXAMINE (RFC 9051 §6.3.2-3, RFC 3501 §6.3.1 for IMAP4rev1 clients)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap, message


def test_select_responses(raw: Callable[..., RawImap]) -> None:
    """RFC 3501 §6.3.1: FLAGS, EXISTS, RECENT, UIDVALIDITY, UIDNEXT, PERMANENTFLAGS,
    and UNSEEN (first unseen) for an IMAP4rev1 client; [READ-WRITE] on the OK."""
    c = raw()
    name = fill(c, 3, select=False)
    r = c.cmd(f'SELECT "{name}"')
    assert (r.status, r.code) == ("OK", "READ-WRITE")
    assert r.untagged[0].startswith("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft")
    assert "* 3 EXISTS" in r.untagged
    assert "* 0 RECENT" in r.untagged
    codes = r.codes()
    assert any(re.fullmatch(r"PERMANENTFLAGS \(.*\\\*\)", x) for x in codes)
    assert any(re.fullmatch(r"UIDVALIDITY \d+", x) for x in codes)
    assert "UIDNEXT 4" in codes
    assert "UNSEEN 1" in codes
    assert any(x.startswith("HIGHESTMODSEQ ") for x in codes)


def test_select_imap4rev2(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.2: no RECENT, no UNSEEN; a LIST response for the mailbox instead."""
    c = raw()
    name = fill(c, 1, select=False)
    c.cmd("ENABLE IMAP4rev2")
    r = c.cmd(f'SELECT "{name}"')
    assert r.status == "OK"
    assert not r.starting("* 0 RECENT")
    assert not [x for x in r.codes() if x.startswith("UNSEEN")]
    assert f'* LIST () "/" {name}' in r.untagged or f'* LIST () "/" "{name}"' in r.untagged


def test_examine_is_read_only(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.3: [READ-ONLY]; no permanent flags; FETCH BODY does not set \\Seen."""
    c = raw()
    name = fill(c, 1, select=False)
    r = c.cmd(f'EXAMINE "{name}"')
    assert (r.status, r.code) == ("OK", "READ-ONLY")
    assert "PERMANENTFLAGS ()" in r.codes()
    c.cmd("FETCH 1 BODY[]")
    r = c.cmd("FETCH 1 FLAGS")
    assert r.untagged == ["* 1 FETCH (FLAGS ())"]
    r = c.cmd("STORE 1 +FLAGS (\\Seen)")
    assert (r.status, r.code) == ("NO", "READ-ONLY")


def test_select_missing_mailbox(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.1: NONEXISTENT; a failed SELECT leaves no mailbox selected."""
    c = raw()
    fill(c, 1)
    r = c.cmd('SELECT "no-such-box"')
    assert (r.status, r.code) == ("NO", "NONEXISTENT")
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"


def test_reselect_sends_closed(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2.11 / RFC 9051 §6.3.2: "* OK [CLOSED]" before the new mailbox."""
    c = raw()
    fill(c, 1)
    r = c.cmd("SELECT INBOX")
    assert r.untagged[0].startswith("* OK [CLOSED]")


def test_select_inbox_any_case(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §5.1: INBOX is case-insensitive."""
    c = raw()
    assert c.cmd("SELECT inbox").status == "OK"
    assert c.cmd('EXAMINE "InBoX"').status == "OK"


def test_select_condstore(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.1.8: SELECT (CONDSTORE) turns CONDSTORE on; STORE's FETCH responses
    then carry MODSEQ (§3.1.3)."""
    c = raw()
    name = fill(c, 1, select=False)
    r = c.cmd(f'SELECT "{name}" (CONDSTORE)')
    assert r.status == "OK"
    r = c.cmd("STORE 1 +FLAGS (\\Flagged)")
    assert re.fullmatch(r"\* 1 FETCH \(FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", r.untagged[0])


def test_select_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("SELECT").status == "BAD"
    assert c.cmd("SELECT INBOX (UNKNOWN-PARAM)").status == "BAD"
    assert c.cmd("SELECT INBOX extra").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_select_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("SELECT INBOX").status == "BAD"


def test_uidnext_after_append(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    r = c.cmd(f"SELECT {name}")
    assert "UIDNEXT 1" in r.codes()
    assert "* 0 EXISTS" in r.untagged
    assert not [x for x in r.codes() if x.startswith("UNSEEN")]
    # RFC 9051 §6.3.12: appending to the selected mailbox announces EXISTS at once.
    r = c.append(name, message())
    assert r.untagged == ["* 1 EXISTS"]
