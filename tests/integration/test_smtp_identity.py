"""Sender identity: a logged-in user sends only as themselves, whatever the port,
the header trick or the order of commands.  One test per trick, named after it."""

from __future__ import annotations

import base64
import time

import pytest

from tests.integration.rawsmtp import RawSMTP
from tests.integration.server import USERS, MailServer, find_message, message_meta

ALICE = "alice@example.test"
BOB = "bob@example.test"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def login(t: RawSMTP, port_name: str = "submission") -> None:
    t.reply()
    assert t.cmd("EHLO me")[0] == 250
    code, lines = t.cmd(f"AUTH PLAIN {b64(chr(0) + ALICE + chr(0) + USERS[ALICE])}")
    assert code == 235, lines


def submit(server: MailServer, header: str, port: str = "submission") -> tuple[int, list[str]]:
    tag = f"tok{time.monotonic_ns()}"
    with RawSMTP(server.ports[port]) as t:
        login(t)
        assert t.cmd(f"MAIL FROM:<{ALICE}>")[0] == 250
        assert t.cmd(f"RCPT TO:<{BOB}>")[0] == 250
        assert t.cmd("DATA")[0] == 354
        t.send(header.encode() + f"Subject: {tag}\r\n\r\nbody\r\n.\r\n".encode())
        code, lines = t.reply()
    if code == 250:
        assert find_message(server.dir, BOB, tag) is not None
    else:
        assert find_message(server.dir, BOB, tag) is None
    return code, lines


def test_own_from_accepted(server: MailServer) -> None:
    assert submit(server, f"From: Alice <{ALICE}>\r\n")[0] == 250


@pytest.mark.parametrize(
    "header",
    [
        "From : victim@bank.example\r\n",  # obsolete space before the colon
        f"From: {ALICE}\r\nFrom : victim@bank.example\r\n",  # second From
        "X-Junk\r\nFrom: victim@bank.example\r\n",  # a non-field line hides the rest
        f"From: {ALICE} <victim@bank.example>\r\n",  # parser would drop the second
        f"From: {ALICE} victim@bank.example\r\n",
        f"From: {ALICE}\r\nSender: victim@bank.example\r\n",
        f"From: {ALICE}\r\nResent-From: victim@bank.example\r\n",
        f"From: {ALICE}, victim@bank.example\r\n",
        "From: =?utf-8?q?Alice?= <victim@bank.example>\r\n",
        "From: Friends: victim@bank.example;\r\n",  # group syntax
    ],
    ids=[
        "space-before-colon",
        "second-from",
        "non-field-line",
        "addr-then-angle",
        "two-bare-addrs",
        "sender",
        "resent-from",
        "list",
        "encoded-display-name",
        "group",
    ],
)
def test_forged_originator_refused(server: MailServer, header: str) -> None:
    code, lines = submit(server, header)
    assert code in (550, 553), lines


def test_mta_port_auth_also_enforces_identity(server: MailServer) -> None:
    """AUTH on port 2525 lets a user relay; it must not let them relay as someone else."""
    with RawSMTP(server.ports["smtp"]) as t:
        login(t)
        code, _ = t.cmd(f"MAIL FROM:<{BOB}>")
        assert code == 553
    code, _ = submit(server, "From: ceo@example.test\r\n", port="smtp")
    assert code == 553


def test_auth_forgotten_after_starttls(server: MailServer) -> None:
    """RFC 3207 §4.2: nothing learnt before TLS survives it, authentication included."""
    with RawSMTP(server.ports["submission"]) as t:
        login(t)
        assert t.cmd("STARTTLS")[0] == 220
        t.starttls()
        assert t.cmd("EHLO me")[0] == 250
        code, _ = t.cmd(f"MAIL FROM:<{ALICE}>")
        assert code == 530


def test_client_auth_parameter_replaced(server: MailServer) -> None:
    tag = f"authparam{time.monotonic_ns()}"
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        t.cmd("EHLO me")
        assert t.cmd("MAIL FROM:<x@example.org> AUTH=<ceo@example.test>")[0] == 250
        t.cmd(f"RCPT TO:<{ALICE}>")
        t.cmd("DATA")
        t.send(f"Subject: {tag}\r\n\r\nhi\r\n.\r\n".encode())
        assert t.reply()[0] == 250
    meta = message_meta(server.dir, ALICE, tag)
    assert meta["smtp"]["mail_params"]["AUTH"] == "<>"


def test_transcript_redacts_credentials_and_content(server: MailServer) -> None:
    tag = f"transcript{time.monotonic_ns()}"
    secret = b64(chr(0) + ALICE + chr(0) + USERS[ALICE])
    with RawSMTP(server.ports["submission"]) as t:
        t.reply()
        t.cmd("EHLO me")
        # pipelined AUTH LOGIN, tab-separated AUTH: nothing secret may be kept
        t.send(f"AUTH\tPLAIN\t{secret}\r\n".encode())
        t.reply()
        t.send(f"AUTH LOGIN\r\n{b64(ALICE)}\r\n{b64(USERS[ALICE])}\r\n".encode())
        for _ in range(3):
            t.reply()
        assert t.cmd(f"MAIL FROM:<{ALICE}>")[0] == 250
        t.cmd(f"RCPT TO:<{BOB}>")
        body = f"Subject: {tag}\r\n\r\n{'x' * 20}\r\n".encode()
        t.send(f"BDAT {len(body)} LAST\r\n".encode() + body)
        code, lines = t.reply()
        assert code == 250, lines
    transcript = "\n".join(message_meta(server.dir, BOB, tag)["smtp"]["transcript"])
    assert USERS[ALICE] not in transcript
    assert secret not in transcript
    assert b64(USERS[ALICE]) not in transcript
    assert "xxxx" not in transcript  # message content
    assert "C: MAIL FROM:<alice@example.test>" in transcript


def test_pipelined_transactions_keep_their_own_transcripts(server: MailServer) -> None:
    """A relay writing whole transactions ahead (RSET, MAIL, RCPT, BDAT LAST, RFC 3030
    §4.2) gets every reply in order, and no message carries the RSETs or the lines of
    the transactions before it."""
    tags = [f"ahead{n}x{time.monotonic_ns()}" for n in range(3)]
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        t.cmd("EHLO relay.example.org")
        out = b""
        for tag in tags:
            body = f"From: <x@example.org>\r\nSubject: {tag}\r\n\r\nhi\r\n".encode()
            out += f"RSET\r\nMAIL FROM:<x@example.org>\r\nRCPT TO:<{ALICE}>\r\n".encode()
            out += f"BDAT {len(body)} LAST\r\n".encode() + body
        t.send(out)
        codes = [t.reply()[0] for _ in range(4 * len(tags))]
        assert codes == [250, 250, 250, 250] * len(tags)
    for tag in tags:
        transcript = message_meta(server.dir, ALICE, tag)["smtp"]["transcript"]
        assert not any("RSET" in line or "Reset" in line for line in transcript), transcript
        assert sum(line.startswith("C: MAIL FROM") for line in transcript) == 1, transcript


def test_bdat_bare_lf_refused(server: MailServer) -> None:
    """BDAT content obeys the same text rules as DATA (smuggling through a relay)."""
    body = b"Subject: bdat lf\r\n\r\nline\n.\nline2\r\n"
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        t.cmd("EHLO me")
        t.cmd("MAIL FROM:<x@example.org>")
        t.cmd(f"RCPT TO:<{ALICE}>")
        t.send(f"BDAT {len(body)} LAST\r\n".encode() + body)
        code, lines = t.reply()
        assert code == 554 and "5.6.0" in lines[0]
        assert t.cmd("NOOP")[0] == 250


def test_bdat_zero_without_last_refused(server: MailServer) -> None:
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        t.cmd("EHLO me")
        t.cmd("MAIL FROM:<x@example.org>")
        t.cmd(f"RCPT TO:<{ALICE}>")
        assert t.cmd("BDAT 0")[0] == 501


def test_unknown_recipients_do_not_end_the_transaction(server: MailServer) -> None:
    tag = f"stale{time.monotonic_ns()}"
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        t.cmd("EHLO relay.example.org")
        t.cmd("MAIL FROM:<list@example.org>")
        assert t.cmd(f"RCPT TO:<{ALICE}>")[0] == 250
        for i in range(15):
            assert t.cmd(f"RCPT TO:<gone{i}@example.test>")[0] == 550
        assert t.cmd("DATA")[0] == 354
        t.send(f"Subject: {tag}\r\n\r\nhi\r\n.\r\n".encode())
        assert t.reply()[0] == 250
    assert find_message(server.dir, ALICE, tag) is not None
