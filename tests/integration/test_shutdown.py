"""SIGTERM stops the server cleanly: idle sessions get 421, a transaction in flight
finishes and its message is stored, and the process exits 0."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from tests.integration.rawsmtp import RawSMTP
from tests.integration.server import MailServer, find_message

ALICE = "alice@example.test"


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_in_flight_transaction(tmp_path: Path, workers: int) -> None:
    server = MailServer.create(tmp_path / "instance", workers=workers).start()
    try:
        idle = RawSMTP(server.ports["smtp"])
        idle.reply()
        assert idle.cmd("EHLO idle")[0] == 250
        busy = RawSMTP(server.ports["smtp"])
        busy.reply()
        busy.cmd("EHLO busy")
        busy.cmd("MAIL FROM:<a@example.org>")
        busy.cmd(f"RCPT TO:<{ALICE}>")
        assert busy.cmd("DATA")[0] == 354
        busy.send(b"Subject: in flight 42\r\n\r\nfirst half\r\n")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)

        code, lines = idle.reply()  # woken at once, not after its idle timeout
        assert code == 421 and "4.3.2" in lines[0]
        assert idle.closed()

        time.sleep(0.3)
        busy.send(b"second half\r\n.\r\n")
        code, _ = busy.reply()
        assert code == 250
        assert busy.closed() or busy.cmd("QUIT")[0] in (221, 421)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=1).close()
            except OSError:
                break  # no longer accepting
            assert time.monotonic() < deadline, "still accepting connections"
            time.sleep(0.1)
        assert server.proc.wait(30) == 0
    finally:
        server.stop()
    raw = find_message(server.dir, ALICE, "in flight 42")
    assert raw is not None and raw.endswith(b"first half\r\nsecond half\r\n")
