"""Syntax errors, unknown commands, over-long lines and binary junk: each is one
CommandRejected with a clear -ERR, and the next line is parsed normally."""

from __future__ import annotations

import pytest
from tests.proto.pop3.pop3_app import GREETING, b64, logged_in

from posthouse.proto.pop3 import (
    MAX_AUTH_LINE,
    NEED_DATA,
    Auth,
    CommandRejected,
    ConnectionClosed,
    Err,
    Noop,
    Ok,
    Pop3Server,
    Stat,
    State,
    User,
)


def _transaction() -> Pop3Server:
    server, _ = logged_in()
    return server


def _authorization() -> Pop3Server:
    server = Pop3Server()
    server.send(GREETING)
    return server


def _reject_then_noop(server: Pop3Server, data: bytes) -> CommandRejected:
    """Feed `data` + NOOP; the bad line is rejected and NOOP still parses after it."""
    server.receive_data(data + b"NOOP\r\n")
    event = server.next_event()
    assert isinstance(event, CommandRejected), event
    assert server.send(event.response).startswith(b"-ERR ")
    assert server.next_event() == Noop()
    server.send(Ok())
    return event


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"RETR\r\n", "RETR needs one message number"),
        (b"RETR 1 2\r\n", "RETR needs one message number"),
        (b"RETR x\r\n", "Invalid message number: expected a decimal number"),
        (b"RETR -1\r\n", "Invalid message number: expected a decimal number"),
        (b"RETR +1\r\n", "Invalid message number: expected a decimal number"),
        (b"RETR 1.0\r\n", "Invalid message number: expected a decimal number"),
        (b"RETR 0\r\n", "Invalid message number: messages are numbered from 1"),
        (b"RETR \xc2\xb2\r\n", "Invalid message number: expected a decimal number"),
        (b"RETR \xd9\xa1\r\n", "Invalid message number: expected a decimal number"),
        (b"DELE\r\n", "DELE needs one message number"),
        (b"DELE 0\r\n", "Invalid message number: messages are numbered from 1"),
        (b"DELE 1 1\r\n", "DELE needs one message number"),
        (b"LIST 1 2\r\n", "LIST takes at most one message number"),
        (b"LIST a\r\n", "Invalid message number: expected a decimal number"),
        (b"UIDL 1 2\r\n", "UIDL takes at most one message number"),
        (b"UIDL -3\r\n", "Invalid message number: expected a decimal number"),
        (b"TOP 1\r\n", "TOP needs a message number and a line count"),
        (b"TOP\r\n", "TOP needs a message number and a line count"),
        (b"TOP 1 2 3\r\n", "TOP needs a message number and a line count"),
        (b"TOP 1 -1\r\n", "Invalid line count: expected a decimal number"),
        (b"TOP 0 1\r\n", "Invalid message number: messages are numbered from 1"),
        (b"STAT 1\r\n", "STAT takes no argument"),
        (b"NOOP now\r\n", "NOOP takes no argument"),
        (b"RSET all\r\n", "RSET takes no argument"),
        (b"QUIT now\r\n", "QUIT takes no argument"),
        (b"CAPA x\r\n", "CAPA takes no argument"),
    ],
)
def test_transaction_syntax_errors(line: bytes, text: str) -> None:
    event = _reject_then_noop(_transaction(), line)
    assert event.response == Err(text)


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"USER\r\n", "USER needs a name"),
        (b"USER   \r\n", "USER needs a name"),
        (b"APOP alice\r\n", "APOP needs a name and a 32-digit hex digest"),
        (b"APOP alice xyz\r\n", "APOP needs a name and a 32-digit hex digest"),
        (b"APOP alice " + b"g" * 32 + b"\r\n", "APOP needs a name and a 32-digit hex digest"),
        (b"AUTH PLAIN a b\r\n", "AUTH takes a mechanism and an optional initial response"),
        (b"AUTH PL@IN\r\n", "Invalid SASL mechanism name"),
        (b"AUTH " + b"X" * 21 + b"\r\n", "Invalid SASL mechanism name"),
        (b"AUTH PLAIN AGFsaWNl!\r\n", "Invalid base64 in initial response"),
        (b"AUTH PLAIN YQ\r\n", "Invalid base64 in initial response"),
        (b"AUTH PLAIN \xc3\xa9\r\n", "Invalid base64 in initial response"),
        (b"STLS now\r\n", "STLS takes no argument"),
        (b"UTF8 on\r\n", "UTF8 takes no argument"),
    ],
)
def test_authorization_syntax_errors(line: bytes, text: str) -> None:
    event = _reject_then_noop_before_login(line)
    assert event.response == Err(text)


def _reject_then_noop_before_login(data: bytes) -> CommandRejected:
    server = _authorization()
    server.receive_data(data + b"CAPA\r\n")
    event = server.next_event()
    assert isinstance(event, CommandRejected), event
    server.send(event.response)
    assert server.next_event().__class__.__name__ == "Capa"
    return event


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"XYZZY\r\n", "Unknown command"),
        (b"STATS\r\n", "Unknown command"),
        (b"HELO there\r\n", "Unknown command"),
        (b"GET / HTTP/1.1\r\n", "Unknown command"),
        (b"\r\n", "Empty command"),
        (b"\n", "Empty command"),
        (b" STAT\r\n", "Empty command"),
        # U+017F LATIN SMALL LETTER LONG S upper-cases to "S": not a keyword.
        ("\u017ftat\r\n".encode(), "Unknown command"),
    ],
)
def test_unknown_commands(line: bytes, text: str) -> None:
    event = _reject_then_noop(_transaction(), line)
    assert event.response == Err(text)


@pytest.mark.parametrize(
    "line",
    [
        b"STAT\x00\r\n",
        b"\x00\x01\x02\x03\r\n",
        b"RETR\t1\r\n",
        b"US\x08ER alice\r\n",
        b"STAT\rNOOP\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n",  # a TLS ClientHello
        b"NOOP\x7f\r\n",
    ],
)
def test_control_characters_rejected(line: bytes) -> None:
    event = _reject_then_noop(_transaction(), line)
    assert event.response == Err("Command contains control characters")


@pytest.mark.parametrize("line", [b"USER \xff\xfe\r\n", b"\xc3\r\n", b"USER \xed\xa0\x80\r\n"])
def test_invalid_utf8_rejected(line: bytes) -> None:
    event = _reject_then_noop_before_login(line)
    assert event.response == Err("Command is not valid UTF-8")


def test_utf8_user_name_accepted() -> None:
    # RFC 6856 §2: user names and passwords may be UTF-8.
    server = _authorization()
    server.receive_data("USER jörg@例え.jp\r\n".encode())
    assert server.next_event() == User("jörg@例え.jp")


# --- line length (RFC 2449 §4) -----------------------------------------------------


def test_command_of_255_octets_accepted() -> None:
    server = _authorization()
    line = b"USER " + b"a" * 248 + b"\r\n"
    assert len(line) == 255
    server.receive_data(line)
    assert server.next_event() == User("a" * 248)


def test_command_of_256_octets_rejected_in_one_piece() -> None:
    # RFC 2449 §4: 255 octets including CRLF is the most a command may take.
    line = b"USER " + b"a" * 249 + b"\r\n"
    event = _reject_then_noop_before_login(line)
    assert event.response == Err("Command line too long")
    assert event.line == b"USER " + b"a" * 95


def test_overlong_line_discarded_without_buffering() -> None:
    server = _transaction()
    server.receive_data(b"NOOP " + b"x" * 1000)
    assert server.next_event() is NEED_DATA
    assert len(server._buffer) == 0  # thrown away, not kept
    for _ in range(100):
        server.receive_data(b"y" * 10_000)
        assert server.next_event() is NEED_DATA
        assert len(server._buffer) == 0
    server.receive_data(b"zzz\r\nSTAT\r\n")
    event = server.next_event()
    assert event == CommandRejected(Err("Command line too long"), b"NOOP " + b"x" * 95)
    server.send(event.response)
    assert server.next_event() == Stat()


def test_overlong_line_then_close() -> None:
    server = _transaction()
    server.receive_data(b"x" * 5000)
    assert server.next_event() is NEED_DATA
    server.receive_data(b"")
    assert server.next_event() == ConnectionClosed()


def test_auth_line_may_exceed_255_octets() -> None:
    # An XOAUTH2-sized initial response: longer than RFC 5034 §4 wants, still accepted.
    token = b"user=alice\x01auth=Bearer " + b"t" * 2000 + b"\x01\x01"
    server = _authorization()
    server.receive_data(b"AUTH XOAUTH2 " + b64(token) + b"\r\n")
    assert server.next_event() == Auth("XOAUTH2", token)


def test_auth_line_capped() -> None:
    server = _authorization()
    server.receive_data(b"AUTH XOAUTH2 " + b"A" * MAX_AUTH_LINE)
    assert server.next_event() is NEED_DATA
    assert len(server._buffer) == 0
    server.receive_data(b"\r\n")
    event = server.next_event()
    assert isinstance(event, CommandRejected)
    assert event.response == Err("Command line too long")
    assert event.line == b"AUTH XOAUTH2 [redacted]"


def test_custom_line_limit() -> None:
    server = Pop3Server(max_command_line=512)
    server.send(GREETING)
    server.receive_data(b"USER " + b"a" * 400 + b"\r\n")
    assert server.next_event() == User("a" * 400)


def test_close_mid_line_drops_partial_command() -> None:
    server = _transaction()
    server.receive_data(b"DELE 1")
    server.receive_data(b"")
    assert server.next_event() == ConnectionClosed()
    assert server.state is State.CLOSED


def test_receive_after_close_is_a_local_error() -> None:
    from posthouse.proto.pop3 import LocalProtocolError

    server = _transaction()
    server.receive_data(b"")
    server.receive_data(b"")  # harmless
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"STAT\r\n")


def test_rejected_pass_line_is_redacted() -> None:
    server = _authorization()
    server.receive_data(b"USER alice\r\n")
    server.next_event()
    server.send(Ok())
    server.receive_data(b"PASS secret\x00\r\n")
    event = server.next_event()
    assert isinstance(event, CommandRejected)
    assert b"secret" not in event.line
    assert b"secret" not in repr(event).encode()
