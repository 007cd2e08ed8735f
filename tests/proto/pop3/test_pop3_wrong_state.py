"""Every command in a state where RFC 1939 (and its extensions) does not allow it is
rejected by the core with -ERR and a reason, and the session carries on."""

from __future__ import annotations

import pytest
from tests.proto.pop3.pop3_app import GREETING, Maildrop, drive, logged_in

from posthouse.proto.pop3 import (
    CommandRejected,
    ConnectionClosed,
    Err,
    Ok,
    Pop3Server,
    State,
    Stls,
)

TRANSACTION_ONLY = [
    b"STAT",
    b"LIST",
    b"LIST 1",
    b"UIDL",
    b"UIDL 1",
    b"RETR 1",
    b"TOP 1 0",
    b"DELE 1",
    b"RSET",
    b"NOOP",
]
AUTHORIZATION_ONLY = [
    b"USER alice",
    b"PASS alicepw",
    b"APOP alice c4c9334bac560ecc979e58001b3e22fb",
    b"AUTH PLAIN",
    b"AUTH",
    b"STLS",
    b"UTF8",
]


def _rejected(server: Pop3Server, line: bytes) -> CommandRejected:
    server.receive_data(line + b"\r\n")
    event = server.next_event()
    assert isinstance(event, CommandRejected), event
    return event


@pytest.mark.parametrize("line", TRANSACTION_ONLY)
def test_transaction_command_before_login(line: bytes) -> None:
    # RFC 1939 §4: in AUTHORIZATION only USER/PASS/APOP/QUIT (and extensions) count.
    server = Pop3Server()
    server.send(GREETING)
    event = _rejected(server, line)
    verb = line.split()[0].decode()
    assert event.response == Err(
        f"Not logged in: {verb} is valid only after USER/PASS, APOP or AUTH"
    )
    assert server.send(event.response).startswith(b"-ERR Not logged in: ")
    assert server.state is State.AUTHORIZATION


@pytest.mark.parametrize("line", AUTHORIZATION_ONLY)
def test_authorization_command_after_login(line: bytes) -> None:
    server, _ = logged_in()
    event = _rejected(server, line)
    verb = line.split()[0].decode()
    assert event.response == Err(f"Already logged in: {verb} is valid only before login")
    server.send(event.response)
    assert server.state is State.TRANSACTION


def test_pass_without_user() -> None:
    # RFC 1939 §7: PASS only after a successful USER.
    server = Pop3Server()
    server.send(GREETING)
    event = _rejected(server, b"PASS alicepw")
    assert server.send(event.response) == b"-ERR PASS must follow a successful USER\r\n"
    assert event.line == b"PASS [redacted]"


def test_pass_after_failed_user() -> None:
    server = Pop3Server()
    server.send(GREETING)
    events, out = drive(server, [b"USER mallory\r\nPASS x\r\n"], Maildrop().respond)
    assert out == (b"-ERR [AUTH] unknown user\r\n-ERR PASS must follow a successful USER\r\n")
    assert isinstance(events[1], CommandRejected)


def test_pass_after_failed_pass_needs_user_again() -> None:
    server = Pop3Server()
    server.send(GREETING)
    _, out = drive(server, [b"USER alice\r\nPASS wrong\r\nPASS alicepw\r\n"], Maildrop().respond)
    assert out.splitlines()[-1] == b"-ERR PASS must follow a successful USER"
    assert server.state is State.AUTHORIZATION


def test_user_again_replaces_name() -> None:
    server = Pop3Server()
    server.send(GREETING)
    drive(server, [b"USER bob\r\n"], lambda s, e: Ok())
    assert server.user == "bob"
    drive(server, [b"USER alice\r\n"], lambda s, e: Ok())
    assert server.user == "alice"


def test_stls_with_tls_active() -> None:
    # RFC 2595 §4: STLS when TLS is already active (implicit TLS port, or a second STLS).
    server = Pop3Server(tls_active=True)
    server.send(GREETING)
    event = _rejected(server, b"STLS")
    assert server.send(event.response) == b"-ERR TLS is already active\r\n"


def test_second_stls_after_first_succeeded() -> None:
    server = Pop3Server()
    server.send(GREETING)
    server.receive_data(b"STLS\r\n")
    assert server.next_event() == Stls()
    server.send(Ok("Begin TLS"))
    assert server.tls_active
    event = _rejected(server, b"STLS")
    assert event.response.text == "TLS is already active"


def test_capa_and_quit_valid_in_both_states() -> None:
    maildrop = Maildrop()
    server = Pop3Server()
    server.send(GREETING)
    events, _ = drive(server, [b"CAPA\r\n"], maildrop.respond)
    assert not isinstance(events[0], CommandRejected)
    server, maildrop = logged_in()
    events, _ = drive(server, [b"CAPA\r\nQUIT\r\n"], maildrop.respond)
    assert not any(isinstance(e, CommandRejected) for e in events)
    assert events[-1] == ConnectionClosed()


def test_nothing_after_quit() -> None:
    # The session is over once QUIT is answered; later input is never parsed.
    server, maildrop = logged_in()
    events, _ = drive(server, [b"QUIT\r\nSTAT\r\n"], maildrop.respond)
    assert events[-1] == ConnectionClosed()
    assert server.next_event() == ConnectionClosed()


def test_rejected_greeting_ends_session() -> None:
    # RFC 2449 §8.1 / RFC 3206: a server may refuse the connection, e.g. [SYS/TEMP].
    server = Pop3Server()
    assert server.send(Err("too many connections", code="SYS/TEMP")) == (
        b"-ERR [SYS/TEMP] too many connections\r\n"
    )
    server.receive_data(b"USER alice\r\n")
    assert server.next_event() == ConnectionClosed()
