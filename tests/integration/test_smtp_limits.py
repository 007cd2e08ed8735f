"""Limits and hostile input (issue part 7): one test per attack, named after it.

Each test checks three things: the right reply code, nothing accepted is lost or
corrupted, and the server keeps serving other sessions.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.rawsmtp import RawSMTP
from tests.integration.server import MailServer, find_message, stored_messages

ALICE = "alice@example.test"
MAX_SIZE = 20000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    srv = MailServer.create(
        tmp_path_factory.mktemp("limits"),
        max_message_size=MAX_SIZE,
        idle_timeout=2,
        max_errors=5,
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


def still_serving(server: MailServer) -> None:
    """Another session can still deliver mail."""
    tag = f"alive-{time.monotonic_ns()}"
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.sendmail("x@example.org", [ALICE], f"Subject: {tag}\r\n\r\nok\r\n")
    assert find_message(server.dir, ALICE, tag) is not None


def open_data(t: RawSMTP) -> None:
    t.reply()
    assert t.cmd("EHLO attacker")[0] == 250
    assert t.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert t.cmd(f"RCPT TO:<{ALICE}>")[0] == 250
    assert t.cmd("DATA")[0] == 354


def count(directory: Path) -> int:
    return len(stored_messages(directory, ALICE))


def test_command_line_too_long(server: MailServer) -> None:
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        code, lines = t.cmd("EHLO " + "a" * 20000)
        assert code == 500, lines
        assert t.cmd("NOOP")[0] == 250  # the session goes on
    still_serving(server)


def test_data_line_over_1000_octets_rejected(server: MailServer) -> None:
    before = count(server.dir)
    with RawSMTP(server.ports["smtp"]) as t:
        open_data(t)
        t.send(b"Subject: long line\r\n\r\n" + b"x" * 1200 + b"\r\n.\r\n")
        code, lines = t.reply()
        assert code == 554 and "5.6.0" in lines[0]
        assert t.cmd("NOOP")[0] == 250
    assert count(server.dir) == before
    still_serving(server)


def test_message_over_size_limit(server: MailServer) -> None:
    before = count(server.dir)
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        code, lines = t.cmd("EHLO big")
        assert f"250-SIZE {MAX_SIZE}" in lines
        # announced size over the limit: refused at MAIL (RFC 1870 §6.1)
        assert t.cmd(f"MAIL FROM:<a@example.org> SIZE={MAX_SIZE + 1}")[0] == 552
        assert t.cmd("MAIL FROM:<a@example.org>")[0] == 250
        assert t.cmd(f"RCPT TO:<{ALICE}>")[0] == 250
        assert t.cmd("DATA")[0] == 354
        line = b"y" * 98 + b"\r\n"
        t.send(b"Subject: big\r\n\r\n" + line * (MAX_SIZE // 100 + 50) + b".\r\n")
        code, lines = t.reply()
        assert code == 552 and "5.3.4" in lines[0]
        assert t.cmd("NOOP")[0] == 250
    assert count(server.dir) == before
    still_serving(server)


def test_too_many_recipients(server: MailServer) -> None:
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        t.cmd("EHLO many")
        t.cmd("MAIL FROM:<a@example.org>")
        for _ in range(100):
            assert t.cmd(f"RCPT TO:<{ALICE}>")[0] == 250
        code, lines = t.cmd(f"RCPT TO:<{ALICE}>")
        assert code == 452 and "4.5.3" in lines[0]
        assert t.cmd("DATA")[0] == 354
        t.send(b"Subject: hundred rcpts 9d1e\r\n\r\nhi\r\n.\r\n")
        assert t.reply()[0] == 250
    # one copy per distinct local user, not one per RCPT line
    found = [m for m in stored_messages(server.dir, ALICE) if b"hundred rcpts 9d1e" in m]
    assert len(found) == 1


def test_too_many_errors_disconnects(server: MailServer) -> None:
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        codes = [t.cmd(f"BOGUS{i}")[0] for i in range(4)]
        assert codes == [500] * 4
        t.line("BOGUS5")
        assert t.reply()[0] == 500
        code, lines = t.reply()
        assert code == 421 and "4.7.0" in lines[0]
        assert t.closed()
    still_serving(server)


def test_idle_timeout_closes_slow_client(server: MailServer) -> None:
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        t.cmd("EHLO slow")
        started = time.monotonic()
        code, lines = t.reply()  # says nothing; the server gives up after 2 s
        assert code == 421 and "4.4.2" in lines[0]
        assert time.monotonic() - started < 10
        assert t.closed()
    still_serving(server)


SMUGGLING_PAYLOADS = [
    b"\n.\n",  # bare LF dot bare LF
    b"\r\n.\n",  # CRLF dot LF
    b"\n.\r\n",  # LF dot CRLF
    b"\r.\r\n",  # bare CR dot
    b"\r\n.\r",  # CRLF dot bare CR
]
SMUGGLING_IDS = ["lf-dot-lf", "crlf-dot-lf", "lf-dot-crlf", "cr-dot-crlf", "crlf-dot-cr"]


def _header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


@pytest.mark.parametrize("smuggled", SMUGGLING_PAYLOADS, ids=SMUGGLING_IDS)
def test_smtp_smuggling_bare_newline_dot(server: MailServer, smuggled: bytes) -> None:
    """A second message hidden behind a non-standard end-of-data must not appear.

    From loopback a bare LF is read as CRLF (Postfix's `normalize`): the carrier is
    accepted with the would-be second transaction as its own content; a bare CR is
    refused.  Either way only CRLF "." CRLF ends DATA, so no second message exists."""
    before = count(server.dir)
    payload = (
        b"Subject: carrier\r\n\r\nhello\r\n"
        + smuggled
        + b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
        + b"Subject: smuggled\r\n\r\nforged\r\n.\r\n"
    )
    with RawSMTP(server.ports["smtp"]) as t:
        open_data(t)
        t.send(payload)
        code, lines = t.reply()
        if b"\r" in smuggled.replace(b"\r\n", b""):
            assert code == 554 and "5.6.0" in lines[0]  # RFC 5321 §2.3.8: bare CR
            expected = before
        else:
            assert code == 250
            expected = before + 1
        assert t.cmd("NOOP")[0] == 250  # nothing left over is taken as a command
    assert count(server.dir) == expected
    for raw in stored_messages(server.dir, ALICE):
        assert b"Subject: smuggled" not in _header_block(raw)
    still_serving(server)


def test_starttls_command_injection_discarded(server: MailServer) -> None:
    """Commands pipelined after STARTTLS in the clear must not run inside TLS."""
    before = count(server.dir)
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        t.cmd("EHLO inject")
        t.send(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<alice@example.test>\r\n")
        code, _ = t.reply()
        assert code == 220
        t.starttls()
        # If the injected MAIL had been kept, this would be a nested MAIL (503).
        assert t.cmd("EHLO inject")[0] == 250
        assert t.cmd("MAIL FROM:<good@example.org>")[0] == 250
        assert t.cmd("DATA")[0] == 503  # the injected RCPT did not count either
    assert count(server.dir) == before


def test_binary_junk(server: MailServer) -> None:
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        # every byte value; the LF inside splits it into two junk lines
        t.send(bytes(range(256)) + b"\r\n")
        assert [t.reply()[0], t.reply()[0]] == [500, 500]
        assert t.cmd("NOOP")[0] == 250
    still_serving(server)


def test_bare_lf_from_loopback_is_read_as_crlf(server: MailServer) -> None:
    """A script on this machine that writes LF-only lines (smtplib with bytes) gets its
    message stored with CRLF; peers elsewhere get 554 5.6.0 (tests/proto/smtp)."""
    with RawSMTP(server.ports["smtp"]) as t:
        open_data(t)
        t.send(b"Subject: lf-normalised\n\nline one\n..dotted\nline two\r\n.\r\n")
        assert t.reply()[0] == 250
    raw = find_message(server.dir, ALICE, "lf-normalised")
    assert raw is not None
    assert raw.endswith(b"Subject: lf-normalised\r\n\r\nline one\r\n.dotted\r\nline two\r\n")


def test_client_that_never_reads_replies_is_dropped(server: MailServer) -> None:
    """Pipelined commands whose replies are never read must not pile up in memory
    or hold a connection slot forever: the server drops the client."""
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        t.sock.settimeout(1)
        sent = 0
        started = time.monotonic()
        try:
            while sent < 20_000_000 and time.monotonic() - started < 15:
                t.sock.send(b"HELP\r\n" * 10000)
                sent += 60000
        except (TimeoutError, OSError):
            pass  # the server stopped reading: flow control works
        assert sent < 20_000_000, "the server kept reading without anyone reading replies"
        time.sleep(4)  # still not reading; the server gives up after idle_timeout (2 s)
        assert t.closed(wait=15)
    still_serving(server)
