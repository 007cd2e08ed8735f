"""Several sessions on one mailbox (issue part 4, RFC 9051 §5.2, §7.5.1): each sees the
others' changes as untagged responses at the moments the RFC allows; IDLE hears of an
SMTP delivery within a second, also across worker processes; UIDVALIDITY and UIDs are
never reused."""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.imap.conftest import ALICE, copy_server, deliver, fill, unique
from tests.integration.imap.rawimap import RawImap, message
from tests.integration.server import USERS, MailServer


def pair(raw: Callable[..., RawImap], count: int) -> tuple[RawImap, RawImap, str]:
    a, b = raw(), raw()
    name = fill(a, count)
    assert b.cmd(f"SELECT {name}").status == "OK"
    return a, b, name


def test_flag_change_seen_on_noop(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.5.2: another session's flag change arrives as an unsolicited FETCH."""
    a, b, _ = pair(raw, 3)
    a.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)")
    r = b.cmd("NOOP")
    assert r.untagged == ["* 2 FETCH (FLAGS (\\Flagged) UID 2)"]
    assert b.cmd("NOOP").untagged == []  # said once


def test_keyword_from_another_session_updates_flags_list(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.3.5: a keyword new to the mailbox changes * FLAGS, which comes
    before the FETCH that shows it."""
    a, b, _ = pair(raw, 2)
    a.cmd("STORE 1 +FLAGS.SILENT ($Important)")
    r = b.cmd("NOOP")
    assert r.untagged[0].startswith("* FLAGS (") and "$Important" in r.untagged[0]
    assert r.untagged[1] == "* 1 FETCH (FLAGS ($Important) UID 1)"


def test_new_message_seen_on_noop(raw: Callable[..., RawImap]) -> None:
    a, b, name = pair(raw, 1)
    a.append(name, message("new"))
    assert b.cmd("NOOP").untagged == ["* 2 EXISTS"]


def test_expunge_waits_for_noop(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.5.1: no EXPUNGE while answering FETCH, STORE or SEARCH by sequence
    number; the client's numbers stay stable until a command that allows it."""
    a, b, _ = pair(raw, 4)
    a.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert a.cmd("EXPUNGE").untagged == ["* 2 EXPUNGE"]

    r = b.cmd("FETCH 3:4 (UID)")
    assert r.status == "OK"
    assert r.untagged == ["* 3 FETCH (UID 3)", "* 4 FETCH (UID 4)"]

    r = b.cmd("SEARCH ALL")
    assert not [x for x in r.untagged if "EXPUNGE" in x]
    assert r.starting("* SEARCH") == ["* SEARCH 1 3 4"]

    r = b.cmd("STORE 4 +FLAGS (\\Seen)")
    assert r.status == "OK"
    assert not [x for x in r.untagged if "EXPUNGE" in x]
    assert "* 4 FETCH (FLAGS (\\Seen))" in r.untagged

    r = b.cmd("FETCH 2 (FLAGS)")
    # RFC 9051 §7.1: the message is gone but not yet announced.
    assert (r.status, r.code) == ("NO", "EXPUNGEISSUED")
    assert not [x for x in r.untagged if "EXPUNGE" in x]

    r = b.cmd("NOOP")
    assert r.untagged == ["* 2 EXPUNGE"]
    assert b.cmd("FETCH 1:* (UID)").untagged == [
        "* 1 FETCH (UID 1)",
        "* 2 FETCH (UID 3)",
        "* 3 FETCH (UID 4)",
    ]


def test_uid_commands_may_announce_expunge(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.5.1: UID FETCH/STORE/SEARCH may send EXPUNGE (UIDs do not shift)."""
    a, b, _ = pair(raw, 3)
    a.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.cmd("EXPUNGE")
    r = b.cmd("UID FETCH 1:* (UID)")
    assert r.status == "OK"
    assert r.untagged == ["* 1 EXPUNGE", "* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)"]


def test_store_on_expunged_message(raw: Callable[..., RawImap]) -> None:
    a, b, _ = pair(raw, 2)
    a.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.cmd("EXPUNGE")
    r = b.cmd("STORE 1 +FLAGS (\\Seen)")
    assert r.status in ("OK", "NO")
    assert not [x for x in r.untagged if "EXPUNGE" in x]
    assert b.cmd("NOOP").untagged == ["* 1 EXPUNGE"]


def test_copy_announces_pending_expunge(raw: Callable[..., RawImap]) -> None:
    """COPY is not one of FETCH/STORE/SEARCH: pending expunges may go out first."""
    a, b, _ = pair(raw, 2)
    target = unique()
    a.cmd(f"CREATE {target}")
    a.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.cmd("EXPUNGE")
    r = b.cmd(f"COPY 1 {target}")
    assert r.untagged[0] == "* 1 EXPUNGE"
    assert r.status == "OK"


def subjects(c: RawImap, name: str) -> list[str]:
    c.cmd(f"EXAMINE {name}")
    r = c.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    return [line.split("Subject: ")[1].split("\r\n")[0] for line in r.untagged if "Subject" in line]


@pytest.mark.parametrize("verb", ["MOVE", "COPY"])
def test_copy_move_by_number_after_foreign_expunge(raw: Callable[..., RawImap], verb: str) -> None:
    """The sequence numbers of COPY/MOVE are the ones the client knew when it sent the
    command (RFC 9051 §7.5.1): announcing a pending EXPUNGE first must not shift them
    onto another message.  (B's "MOVE 1" once moved m2 after m1 was expunged.)"""
    a, b, name = pair(raw, 3)
    target = unique()
    a.cmd(f"CREATE {target}")
    a.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.cmd("EXPUNGE")
    r = b.cmd(f"{verb} 1:2 {target}")
    assert r.status == "OK", r
    assert "* 1 EXPUNGE" in r.untagged
    # Only m2 (B's number 2) was named and still exists.
    assert subjects(a, target) == ["m2"]
    expected = ["m3"] if verb == "MOVE" else ["m2", "m3"]
    assert subjects(a, name) == expected


def test_both_sessions_see_the_same_state(raw: Callable[..., RawImap]) -> None:
    a, b, _ = pair(raw, 5)
    a.cmd("STORE 1:3 +FLAGS.SILENT (\\Seen)")
    b.cmd("STORE 3:5 +FLAGS.SILENT (\\Answered)")
    a.cmd("STORE 5 +FLAGS.SILENT (\\Deleted)")
    a.cmd("EXPUNGE")
    a.cmd("NOOP")
    b.cmd("NOOP")
    assert a.cmd("FETCH 1:* (UID FLAGS)").untagged == b.cmd("FETCH 1:* (UID FLAGS)").untagged


def test_idle_delivery_under_a_second(imap_server: MailServer, raw: Callable[..., RawImap]) -> None:
    c = raw()
    exists = int(c.cmd("SELECT INBOX").starting("* ")[2].split()[1])
    tag = c.idle_start()
    deliver(imap_server, ALICE)
    _, elapsed = c.wait_for(rf"\* {exists + 1} EXISTS", timeout=5)
    assert elapsed < 1.0, elapsed
    assert c.idle_done(tag).status == "OK"


# --- two worker processes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory, imap_template: Path
) -> Iterator[MailServer]:
    directory = tmp_path_factory.mktemp("imap-workers") / "instance"
    server = copy_server(imap_template, directory, workers=2).start()
    try:
        assert server.proc is not None
        children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
        assert len(children.read_text().split()) == 2  # two processes share the sockets
        yield server
    finally:
        server.stop()


def connect(server: MailServer, clients: list[RawImap]) -> RawImap:
    c = RawImap(server.ports["imap"])
    clients.append(c)
    c.login(ALICE, USERS[ALICE])
    return c


def test_idle_across_processes(two_workers: MailServer) -> None:
    """With two workers, IDLE-ing sessions spread over both processes; every one hears
    of an SMTP delivery (handled by either) in under a second."""
    clients: list[RawImap] = []
    try:
        idlers = []
        for _ in range(6):
            c = connect(two_workers, clients)
            r = c.cmd("SELECT INBOX")
            exists = int(next(x for x in r.untagged if x.endswith(" EXISTS")).split()[1])
            idlers.append((c, c.idle_start(), exists))
        for round_ in range(3):
            deliver(two_workers, ALICE)
            start = time.monotonic()
            for c, _, exists in idlers:
                c.wait_for(rf"\* {exists + round_ + 1} EXISTS", timeout=5)
            elapsed = time.monotonic() - start
            assert elapsed < 1.0, (round_, elapsed)
        for c, tag, _ in idlers:
            assert c.idle_done(tag).status == "OK"
    finally:
        for c in clients:
            c.close()


def test_flags_and_expunge_across_processes(two_workers: MailServer) -> None:
    clients: list[RawImap] = []
    try:
        sessions = [connect(two_workers, clients) for _ in range(4)]
        name = fill(sessions[0], 3)
        for s in sessions[1:]:
            s.cmd(f"SELECT {name}")
        sessions[0].cmd("STORE 1 +FLAGS.SILENT (\\Flagged)")
        sessions[0].cmd("STORE 3 +FLAGS.SILENT (\\Deleted)")
        sessions[0].cmd("EXPUNGE")
        for s in sessions[1:]:
            r = s.cmd("NOOP")
            assert "* 1 FETCH (FLAGS (\\Flagged) UID 1)" in r.untagged
            assert "* 3 EXPUNGE" in r.untagged
    finally:
        for c in clients:
            c.close()


# --- UIDVALIDITY and UIDs -----------------------------------------------------------------


def status(c: RawImap, name: str, item: str) -> int:
    line = c.cmd(f"STATUS {name} ({item})").untagged[0]
    m = re.search(rf"{item} (\d+)", line)
    assert m is not None, line
    return int(m.group(1))


def test_recreated_mailbox_gets_new_uidvalidity(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §2.3.1.1: a mailbox deleted and created again must not reuse the
    UIDVALIDITY (the old UIDs would name other messages)."""
    c = raw()
    name = fill(c, 2, select=False)
    old = status(c, name, "UIDVALIDITY")
    c.cmd(f"DELETE {name}")
    c.cmd(f"CREATE {name}")
    assert status(c, name, "UIDVALIDITY") != old
    r = c.append(name, message())
    new_validity = status(c, name, "UIDVALIDITY")
    assert r.code == f"APPENDUID {new_validity} 1"


def test_renamed_over_name_gets_new_uidvalidity(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 1, select=False)
    old = status(c, name, "UIDVALIDITY")
    c.cmd(f"RENAME {name} {unique()}")
    c.cmd(f"CREATE {name}")
    assert status(c, name, "UIDVALIDITY") != old


def test_uids_never_reused_after_expunge(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §2.3.1.1: UIDs strictly ascend; expunging the last message does not
    free its UID."""
    c = raw()
    name = fill(c, 3)
    c.cmd("STORE 3 +FLAGS.SILENT (\\Deleted)")
    c.cmd("EXPUNGE")
    assert status(c, name, "UIDNEXT") == 4
    r = c.append(name, message())
    assert r.code is not None and r.code.endswith(" 4")
    c.cmd("STORE 1:* +FLAGS.SILENT (\\Deleted)")
    c.cmd("EXPUNGE")
    r = c.append(name, message())
    assert r.code is not None and r.code.endswith(" 5")


def test_uids_not_reused_after_restart(tmp_path: Path, imap_template: Path) -> None:
    server = copy_server(imap_template, tmp_path / "instance").start()
    try:
        c = RawImap(server.ports["imap"])
        c.login(ALICE, USERS[ALICE])
        name = fill(c, 2)
        validity = status(c, name, "UIDVALIDITY")
        c.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
        c.cmd("EXPUNGE")
        c.close()
    finally:
        server.stop()
    server.start()
    try:
        c = RawImap(server.ports["imap"])
        c.login(ALICE, USERS[ALICE])
        assert status(c, name, "UIDVALIDITY") == validity
        r = c.append(name, message())
        assert r.code == f"APPENDUID {validity} 3"
        c.close()
    finally:
        server.stop()


def test_parallel_appends_across_processes(two_workers: MailServer) -> None:
    """Many sessions (spread over both workers) append at once: every APPENDUID is
    distinct, the count adds up, and a watching session hears of all of them."""
    clients: list[RawImap] = []
    try:
        setup = connect(two_workers, clients)
        name = unique("parallel")
        setup.cmd(f"CREATE {name}")
        watcher = connect(two_workers, clients)
        watcher.cmd(f"SELECT {name}")
        tag = watcher.idle_start()
        writers = [connect(two_workers, clients) for _ in range(6)]

        def append_many(c: RawImap) -> list[int]:
            uids = []
            for i in range(15):
                r = c.append(name, message(f"parallel {i}"))
                assert r.status == "OK", r
                uids.append(int((r.code or "").split()[-1]))
            return uids

        with concurrent.futures.ThreadPoolExecutor(len(writers)) as pool:
            results = list(pool.map(append_many, writers))
        every = [u for uids in results for u in uids]
        assert len(set(every)) == len(every) == 90
        assert sorted(every) == list(range(1, 91))
        deadline = time.monotonic() + 5
        seen = 0
        while seen < 90 and time.monotonic() < deadline:
            line, _ = watcher.wait_for(r"\* \d+ EXISTS", timeout=5)
            seen = int(line.split()[1])
        assert seen == 90
        watcher.idle_done(tag)
    finally:
        for c in clients:
            c.close()


def test_racing_moves_of_the_same_messages(two_workers: MailServer) -> None:
    """Two sessions MOVE the same messages at the same moment: each message lands in
    the target exactly once."""
    clients: list[RawImap] = []
    try:
        a = connect(two_workers, clients)
        b = connect(two_workers, clients)
        name = fill(a, 20)
        target = unique("target")
        a.cmd(f"CREATE {target}")
        b.cmd(f"SELECT {name}")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(lambda c: c.cmd(f"UID MOVE 1:* {target}"), (a, b)))
        assert all(r.status == "OK" for r in replies), replies
        status = a.cmd(f"STATUS {target} (MESSAGES)").untagged[0]
        assert status.endswith("(MESSAGES 20)"), status
        assert a.cmd(f"STATUS {name} (MESSAGES)").untagged[0].endswith("(MESSAGES 0)")
    finally:
        for c in clients:
            c.close()
