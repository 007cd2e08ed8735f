"""Accepted means durable: SIGKILL the server while 20 sessions send, restart it,
and every message that got its 250 is there."""

from __future__ import annotations

import smtplib
import threading
import time
from pathlib import Path

import pytest

from tests.integration.server import MailServer, stored_messages

ALICE = "alice@example.test"
SESSIONS = 20


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_during_20_sessions_loses_nothing(tmp_path: Path, workers: int) -> None:
    server = MailServer.create(tmp_path / "instance", workers=workers).start()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    started = threading.Barrier(SESSIONS + 1)

    def sender(n: int) -> None:
        started.wait()
        i = 0
        while not stop.is_set():
            token = f"durable-{n}-{i}-x"
            try:
                with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
                    s.sendmail(
                        "load@example.org",
                        [ALICE],
                        f"Subject: {token}\r\n\r\n" + ("z" * 70 + "\r\n") * 30,
                    )
            except (OSError, smtplib.SMTPException):
                return  # the server died mid-transaction: not acknowledged
            with lock:
                acknowledged.append(token)
            i += 1

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(SESSIONS)]
    try:
        for th in threads:
            th.start()
        started.wait()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill_all()  # SIGKILL, workers included: no chance to flush anything
        stop.set()
        for th in threads:
            th.join(30)
        assert len(acknowledged) >= 200, "the load did not get going"
        server.start()  # it must come back up on the same data
    finally:
        stop.set()
        server.stop()

    stored = b"\n".join(stored_messages(server.dir, ALICE))
    missing = [t for t in acknowledged if f"Subject: {t}\r\n".encode() not in stored]
    assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged messages lost"
