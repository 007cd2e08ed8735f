"""Replays of what a networking lab types into telnet."""

from __future__ import annotations

import base64

from tests.integration.rawsmtp import RawSMTP
from tests.integration.server import USERS, MailServer, find_message

ALICE = "alice@example.test"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_telnet_lab_session_with_auth_login(server: MailServer) -> None:
    with RawSMTP(server.ports["submission"]) as t:
        code, lines = t.reply()
        assert code == 220 and "ESMTP" in lines[0]
        code, lines = t.cmd("helo lab-pc")
        assert code == 250
        code, lines = t.cmd("auth login")
        assert (code, lines) == (334, ["334 VXNlcm5hbWU6"])  # "Username:"
        code, lines = t.cmd(b64(ALICE))
        assert (code, lines) == (334, ["334 UGFzc3dvcmQ6"])  # "Password:"
        code, lines = t.cmd(b64(USERS[ALICE]))
        assert code == 235, lines
        assert t.cmd(f"mail from:<{ALICE}>")[0] == 250
        assert t.cmd("rcpt to:<bob@example.test>")[0] == 250
        assert t.cmd("data")[0] == 354
        for line in (
            f"From: Alice <{ALICE}>",
            "To: bob@example.test",
            "Subject: telnet lab 7f3a",
            "",
            "Typed by hand.",
            ".",
        ):
            t.line(line)
        code, lines = t.reply()
        assert code == 250, lines
        assert t.cmd("quit")[0] == 221
    raw = find_message(server.dir, "bob@example.test", "telnet lab 7f3a")
    assert raw is not None
    assert b"\r\nFrom: Alice <alice@example.test>\r\n" in raw
    assert b"\r\nSubject: telnet lab 7f3a\r\n" in raw
    assert raw.endswith(b"\r\n\r\nTyped by hand.\r\n")
    assert b"Received: from lab-pc ([127.0.0.1])" in raw
    assert b"with SMTPA" in raw or b"with ESMTPA" in raw


def test_telnet_mta_session_without_angle_brackets(server: MailServer) -> None:
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        assert t.cmd("HELO me")[0] == 250
        assert t.cmd("MAIL FROM: you@example.org")[0] == 250
        assert t.cmd("RCPT TO: alice@example.test")[0] == 250
        assert t.cmd("DATA")[0] == 354
        t.send(b"Subject: no brackets 51c2\r\n\r\nhi\r\n.\r\n")
        assert t.reply()[0] == 250
        assert t.cmd("QUIT")[0] == 221
    assert find_message(server.dir, ALICE, "no brackets 51c2") is not None


def test_help_vrfy_noop_rset(server: MailServer) -> None:
    with RawSMTP(server.ports["smtp"]) as t:
        t.reply()
        code, lines = t.cmd("help")
        assert code == 214 and len(lines) > 1
        assert t.cmd("ehlo x")[0] == 250
        assert t.cmd("vrfy alice")[0] == 252
        assert t.cmd("noop")[0] == 250
        assert t.cmd("rset")[0] == 250
        assert t.cmd("quit")[0] == 221
