"""IDLE (RFC 2177, RFC 9051 §6.3.13)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.imap.conftest import ALICE, copy_server, deliver, fill
from tests.integration.imap.rawimap import RawImap, message
from tests.integration.server import USERS, MailServer


def test_idle_done(raw: Callable[..., RawImap]) -> None:
    """RFC 2177 §3: "+ idling", then DONE ends it with the tagged OK."""
    c = raw()
    fill(c, 1)
    tag = c.idle_start()
    r = c.idle_done(tag)
    assert r.tagged == f"{tag} OK IDLE terminated"
    assert c.cmd("NOOP").status == "OK"


def test_idle_sees_append_from_other_session(raw: Callable[..., RawImap]) -> None:
    c, other = raw(), raw()
    name = fill(c, 1)
    tag = c.idle_start()
    other.append(name, message("new"))
    line, _ = c.wait_for("* 2 EXISTS", timeout=3)
    assert line == "* 2 EXISTS"
    assert c.idle_done(tag).status == "OK"


def test_idle_sees_flags_and_expunge(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.5.1: during IDLE, EXPUNGE may be sent (no command is in progress)."""
    c, other = raw(), raw()
    name = fill(c, 2)
    other.cmd(f"SELECT {name}")
    tag = c.idle_start()
    other.cmd("STORE 1 +FLAGS (\\Flagged)")
    line, _ = c.wait_for(r"\* 1 FETCH", timeout=3)
    assert line.startswith("* 1 FETCH (FLAGS (\\Flagged)")
    other.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
    other.cmd("EXPUNGE")
    line, _ = c.wait_for(r"\* 2 EXPUNGE", timeout=3)
    assert c.idle_done(tag).status == "OK"


def test_idle_sees_smtp_delivery(imap_server: MailServer, raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd("SELECT INBOX")
    exists = int(next(x for x in r.untagged if x.endswith(" EXISTS")).split()[1])
    tag = c.idle_start()
    deliver(imap_server, ALICE)
    _, elapsed = c.wait_for(rf"\* {exists + 1} EXISTS", timeout=5)
    assert elapsed < 1.0, elapsed
    c.idle_done(tag)


def test_idle_without_selected_mailbox(raw: Callable[..., RawImap]) -> None:
    """IDLE is valid in the authenticated state too (nothing to report)."""
    c = raw()
    tag = c.idle_start()
    assert c.idle_done(tag).status == "OK"


def test_idle_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("IDLE").status == "BAD"


def test_idle_wrong_continuation(raw: Callable[..., RawImap]) -> None:
    """RFC 2177 §3: anything but DONE ends the IDLE with BAD; the session goes on."""
    c = raw()
    fill(c, 1)
    tag = c.idle_start()
    c.send("x1 NOOP\r\n")
    line = c.response()
    assert line.startswith(f"{tag} BAD") or line.startswith("x1 BAD"), line
    assert c.cmd("NOOP").status == "OK"


def test_done_without_idle(raw: Callable[..., RawImap]) -> None:
    c = raw()
    c.send("DONE\r\n")
    assert " BAD " in c.response()
    assert c.cmd("NOOP").status == "OK"


def test_idle_with_argument_is_bad(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("IDLE now").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_autologout(tmp_path: Path, imap_template: Path) -> None:
    """RFC 9051 §5.4: a session idle past the autologout timer gets BYE and is closed;
    an IDLE that outlives it too (RFC 2177 §3: clients re-issue IDLE well before)."""
    server = copy_server(imap_template, tmp_path / "instance", imap={"idle_timeout": 1}).start()
    try:
        quiet = RawImap(server.ports["imap"])
        idler = RawImap(server.ports["imap"])
        idler.login(ALICE, USERS[ALICE])
        idler.cmd("SELECT INBOX")
        idler.idle_start()
        time.sleep(1.5)
        assert quiet.response().startswith("* BYE ")
        assert quiet.closed()
        assert idler.response().startswith("* BYE ")
        assert idler.closed()
    finally:
        server.stop()


def test_shutdown_says_bye_to_idlers(tmp_path: Path, imap_template: Path) -> None:
    """RFC 9051 §7.1.5: a server going down sends BYE to its sessions, IDLE-ing or not,
    before closing them."""
    server = copy_server(imap_template, tmp_path / "instance").start()
    try:
        idler = RawImap(server.ports["imap"])
        idler.login(ALICE, USERS[ALICE])
        idler.cmd("SELECT INBOX")
        idler.idle_start()
        waiting = RawImap(server.ports["imap"])
        waiting.login(ALICE, USERS[ALICE])
        server.stop()
        assert idler.response().startswith("* BYE ")
        assert waiting.response().startswith("* BYE ")
    finally:
        server.stop()
