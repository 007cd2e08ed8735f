"""Each command, byte-level: the line a client sends → the event the server core reports,
and the same event → the octets the client core sends."""

from __future__ import annotations

import pytest
from tests.proto.pop3.pop3_app import GREETING, Maildrop, drive, logged_in

from posthouse.proto.pop3 import (
    NEED_DATA,
    PAUSED,
    Apop,
    Auth,
    AuthList,
    Capa,
    Command,
    ConnectionClosed,
    Dele,
    List,
    Noop,
    Ok,
    Pass,
    Pop3Client,
    Pop3Server,
    Quit,
    Retr,
    Rset,
    Stat,
    State,
    Stls,
    Top,
    Uidl,
    User,
    Utf8,
    encode_command,
)

AUTHORIZATION_COMMANDS: list[tuple[bytes, Command]] = [
    (b"USER alice\r\n", User("alice")),
    (b"USER alice@example.test\r\n", User("alice@example.test")),
    (
        b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
        Apop("mrose", "c4c9334bac560ecc979e58001b3e22fb"),
    ),
    (b"AUTH PLAIN\r\n", Auth("PLAIN")),
    (b"AUTH PLAIN AGFsaWNlAGFsaWNlcHc=\r\n", Auth("PLAIN", b"\x00alice\x00alicepw")),
    (b"AUTH PLAIN =\r\n", Auth("PLAIN", b"")),
    (b"AUTH\r\n", AuthList()),
    (b"STLS\r\n", Stls()),
    (b"UTF8\r\n", Utf8()),
    (b"CAPA\r\n", Capa()),
    (b"QUIT\r\n", Quit()),
]

TRANSACTION_COMMANDS: list[tuple[bytes, Command]] = [
    (b"STAT\r\n", Stat()),
    (b"LIST\r\n", List()),
    (b"LIST 1\r\n", List(1)),
    (b"UIDL\r\n", Uidl()),
    (b"UIDL 2\r\n", Uidl(2)),
    (b"RETR 1\r\n", Retr(1)),
    (b"TOP 1 0\r\n", Top(1, 0)),
    (b"TOP 1 99999999\r\n", Top(1, 99999999)),  # fetchmail
    (b"DELE 3\r\n", Dele(3)),
    (b"RSET\r\n", Rset()),
    (b"NOOP\r\n", Noop()),
    (b"CAPA\r\n", Capa()),
    (b"QUIT\r\n", Quit()),
]


def _first_event(server: Pop3Server, line: bytes) -> object:
    server.receive_data(line)
    return server.next_event()


@pytest.mark.parametrize(("line", "event"), AUTHORIZATION_COMMANDS)
def test_authorization_command_parses(line: bytes, event: Command) -> None:
    server = Pop3Server()
    server.send(GREETING)
    assert _first_event(server, line) == event


@pytest.mark.parametrize(("line", "event"), TRANSACTION_COMMANDS)
def test_transaction_command_parses(line: bytes, event: Command) -> None:
    server, _ = logged_in()
    assert _first_event(server, line) == event


def test_pass_after_user_parses_with_spaces_kept() -> None:
    # RFC 1939 §7: PASS has one argument, so spaces are part of the password.
    server = Pop3Server()
    server.send(GREETING)
    assert _first_event(server, b"USER alice\r\n") == User("alice")
    server.send(Ok())
    assert _first_event(server, b"PASS correct horse  battery \r\n") == Pass(
        "correct horse  battery "
    )
    assert server.user == "alice"


@pytest.mark.parametrize(
    ("line", "event"),
    [(b"stat\r\n", Stat()), (b"List 1\r\n", List(1)), (b"tOp 2 5\r\n", Top(2, 5))],
)
def test_keywords_are_case_insensitive(line: bytes, event: Command) -> None:
    # RFC 1939 §3: keywords are case-insensitive; Python's poplib sends upper case, a
    # student in telnet may not.
    server, _ = logged_in()
    assert _first_event(server, line) == event


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"LIST  1\r\n", List(1)),
        (b"LIST 1 \r\n", List(1)),
        (b"STAT \r\n", Stat()),
        (b"TOP 1  3\r\n", Top(1, 3)),
        (b"RETR 007\r\n", Retr(7)),
        (b"RETR 1\n", Retr(1)),
    ],
)
def test_hand_typed_spacing_and_line_ends_tolerated(line: bytes, event: Command) -> None:
    server, _ = logged_in()
    assert _first_event(server, line) == event


def test_apop_digest_is_lowercased() -> None:
    server = Pop3Server()
    server.send(GREETING)
    event = _first_event(server, b"APOP bob C4C9334BAC560ECC979E58001B3E22FB\r\n")
    assert event == Apop("bob", "c4c9334bac560ecc979e58001b3e22fb")


def test_auth_mechanism_is_uppercased() -> None:
    server = Pop3Server()
    server.send(GREETING)
    assert _first_event(server, b"auth plain\r\n") == Auth("PLAIN")


def test_paused_until_response_sent_then_need_data() -> None:
    server, _ = logged_in()
    server.receive_data(b"STAT\r\nNOOP\r\n")
    assert server.next_event() == Stat()
    assert server.next_event() is PAUSED
    assert server.send(Ok("0 0")) == b"+OK 0 0\r\n"
    assert server.next_event() == Noop()
    assert server.send(Ok()) == b"+OK\r\n"
    assert server.next_event() is NEED_DATA


def test_paused_before_greeting() -> None:
    server = Pop3Server()
    server.receive_data(b"CAPA\r\n")
    assert server.next_event() is PAUSED
    assert server.state is State.GREETING
    server.send(GREETING)
    assert server.next_event() == Capa()


def test_partial_line_needs_data() -> None:
    server, _ = logged_in()
    server.receive_data(b"RE")
    assert server.next_event() is NEED_DATA
    server.receive_data(b"TR 1\r")
    assert server.next_event() is NEED_DATA
    server.receive_data(b"\n")
    assert server.next_event() == Retr(1)


@pytest.mark.parametrize(("line", "event"), AUTHORIZATION_COMMANDS + TRANSACTION_COMMANDS)
def test_client_core_encodes_what_the_server_core_parses(line: bytes, event: Command) -> None:
    assert Pop3Client().send(event) == line
    assert encode_command(event) == line


def test_client_encodes_pass() -> None:
    assert encode_command(Pass("pw with spaces")) == b"PASS pw with spaces\r\n"


def test_quit_in_authorization_closes_without_update() -> None:
    server = Pop3Server()
    server.send(GREETING)
    events, out = drive(server, [b"QUIT\r\n"], Maildrop().respond)
    assert events == [Quit(), ConnectionClosed()]  # the session is over after QUIT
    assert out == b"+OK bye\r\n"
    # RFC 1939 §5: before login, QUIT closes without entering UPDATE.
    assert server.state is State.CLOSED
    assert server.next_event() == ConnectionClosed()


def test_quit_in_transaction_enters_update() -> None:
    server, maildrop = logged_in(Maildrop(messages=[b"a\r\n", b"b\r\n"]))
    _, out = drive(server, [b"DELE 1\r\nQUIT\r\n"], maildrop.respond)
    assert out == b"+OK message 1 deleted\r\n+OK bye\r\n"
    assert server.state is State.UPDATE
    assert maildrop.committed == [1]
