"""MOVE (RFC 6851) and UID MOVE."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap


def test_move(raw: Callable[..., RawImap]) -> None:
    """RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGEs, then the tagged OK."""
    c = raw()
    fill(c, 3)
    target = unique()
    c.cmd(f"CREATE {target}")
    r = c.cmd(f"MOVE 1:2 {target}")
    assert r.status == "OK"
    assert re.fullmatch(r"\* OK \[COPYUID \d+ 1:2 1:2\].*", r.untagged[0])
    assert r.untagged[1:] in (["* 2 EXPUNGE", "* 1 EXPUNGE"], ["* 1 EXPUNGE", "* 1 EXPUNGE"])
    assert c.cmd("FETCH 1:* UID").untagged == ["* 1 FETCH (UID 3)"]
    assert c.cmd(f"STATUS {target} (MESSAGES)").untagged[0].endswith("(MESSAGES 2)")


def test_uid_move(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 3)
    target = unique()
    c.cmd(f"CREATE {target}")
    r = c.cmd(f"UID MOVE 2 {target}")
    assert r.status == "OK"
    assert "* 2 EXPUNGE" in r.untagged


def test_move_with_qresync_sends_vanished(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2.10 / RFC 6851 §4.3: VANISHED instead of EXPUNGE once QRESYNC is on."""
    c = raw()
    c.cmd("ENABLE QRESYNC")
    fill(c, 2)
    target = unique()
    c.cmd(f"CREATE {target}")
    r = c.cmd(f"MOVE 1 {target}")
    assert "* VANISHED 1" in r.untagged


def test_move_trycreate(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 1)
    r = c.cmd(f"MOVE 1 {unique()}")
    assert (r.status, r.code) == ("NO", "TRYCREATE")
    assert c.cmd("FETCH 1 UID").untagged == ["* 1 FETCH (UID 1)"]


def test_move_read_only(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 1)
    c.cmd(f"EXAMINE {name}")
    r = c.cmd("MOVE 1 INBOX")
    assert (r.status, r.code) == ("NO", "READ-ONLY")


def test_uid_move_nothing(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.4.9: a UID set naming no messages is not an error."""
    c = raw()
    fill(c, 1)
    r = c.cmd("UID MOVE 99 INBOX")
    assert (r.status, r.untagged) == ("OK", [])


def test_move_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 1)
    assert c.cmd("MOVE").status == "BAD"
    assert c.cmd("MOVE 1").status == "BAD"
    assert c.cmd("MOVE 7 INBOX").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_move_not_selected(raw: Callable[..., RawImap]) -> None:
    assert raw().cmd("MOVE 1 INBOX").status == "BAD"
