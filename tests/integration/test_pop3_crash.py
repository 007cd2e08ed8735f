"""Deletions happen only in UPDATE, after QUIT (RFC 1939 §6): a server killed or shut
down between DELE and QUIT deletes nothing, and comes back without a stale lock."""

from __future__ import annotations

import poplib
import signal
import smtplib
import time
from pathlib import Path

from tests.integration.server import USERS, MailServer, stored_messages

ALICE = "alice@example.test"


def deliver(server: MailServer, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        for i in range(count):
            s.sendmail("x@example.org", [ALICE], f"Subject: crash {i}\r\n\r\nbody {i}\r\n")


def logged_in(server: MailServer) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    client.user(ALICE)
    client.pass_(USERS[ALICE])
    return client


def test_sigkill_between_dele_and_quit_deletes_nothing(tmp_path: Path) -> None:
    server = MailServer.create(tmp_path / "instance").start()
    try:
        deliver(server, 5)
        before = stored_messages(server.dir, ALICE)
        client = logged_in(server)
        for n in (1, 3, 5):
            assert client.dele(n).startswith(b"+OK")
        server.kill()  # SIGKILL: no QUIT, no UPDATE, no chance to clean up
        client.close()
        assert stored_messages(server.dir, ALICE) == before
        server.start()
        client = logged_in(server)  # no lock survives the process
        assert client.stat()[0] == 5
        assert client.dele(2).startswith(b"+OK")
        assert client.quit().endswith(b"(1 message deleted, 4 left)")
        client.close()
    finally:
        server.stop()
    assert stored_messages(server.dir, ALICE) == [before[0], *before[2:]]


def test_graceful_shutdown_tells_idle_sessions_and_deletes_nothing(tmp_path: Path) -> None:
    server = MailServer.create(tmp_path / "instance").start()
    try:
        deliver(server, 2)
        before = stored_messages(server.dir, ALICE)
        client = logged_in(server)
        assert client.dele(1).startswith(b"+OK")
        started = time.monotonic()
        assert server.stop(signal.SIGTERM) == 0
        # The idle session heard about it at once instead of holding up the shutdown.
        assert time.monotonic() - started < 10
        assert client.file.readline() == (
            b"-ERR [SYS/TEMP] Server shutting down; nothing was deleted, log in again later\r\n"
        )
        assert client.file.readline() == b""
        client.close()
    finally:
        server.stop()
    assert stored_messages(server.dir, ALICE) == before


def test_in_use_across_worker_processes(tmp_path: Path) -> None:
    """With two worker processes, a second session is refused whichever worker
    accepts it."""
    server = MailServer.create(tmp_path / "instance", workers=2).start()
    try:
        deliver(server, 1)
        first = logged_in(server)
        refusals = 0
        for _ in range(8):
            other = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
            other.user(ALICE)
            try:
                other.pass_(USERS[ALICE])
            except poplib.error_proto as e:
                assert e.args[0].startswith(b"-ERR [IN-USE] ")
                refusals += 1
            finally:
                other.close()
        assert refusals == 8
        assert first.quit().startswith(b"+OK")
        first.close()
        again = logged_in(server)
        assert again.stat()[0] == 1
        again.quit()
        again.close()
    finally:
        server.stop()
