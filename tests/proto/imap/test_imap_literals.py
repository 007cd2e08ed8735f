"""Literals: synchronising (RFC 9051 §4.3), non-synchronising (LITERAL+, RFC 7888),
literal8 (RFC 3516), split anywhere; and the limits on them (TOOBIG)."""

from __future__ import annotations

from tests.proto.imap.imap_script import bad, commands, one

from posthouse.proto.imap import (
    NEED_DATA,
    Append,
    AppendMessage,
    BadCommand,
    CommandParser,
    LiteralPending,
    Login,
    Noop,
    Tagged,
)
from posthouse.proto.imap.response import TOOBIG


def test_synchronising_literal_waits_for_the_continuation() -> None:
    parser = CommandParser()
    parser.receive_data(b"a LOGIN {3}\r\n")
    assert parser.next_command() == LiteralPending("a", "LOGIN", 3)
    assert parser.needs_continuation
    parser.accept_literal()
    assert not parser.needs_continuation
    assert parser.next_command() is NEED_DATA
    parser.receive_data(b"bob {2}\r\n")
    assert parser.next_command() == LiteralPending("a", "LOGIN", 2)
    parser.accept_literal()
    parser.receive_data(b"pw\r\n")
    assert parser.next_command() == Login("a", "bob", "pw")


def test_rejected_literal_ends_the_command() -> None:
    parser = CommandParser()
    parser.receive_data(b"a APPEND INBOX {50}\r\n")
    assert isinstance(parser.next_command(), LiteralPending)
    parser.reject_literal()  # the server answers "a NO [OVERQUOTA] ..."
    parser.receive_data(b"b NOOP\r\n")
    assert parser.next_command() == Noop("b")


def test_non_synchronising_literal_needs_no_continuation() -> None:
    events = commands(b"a LOGIN {3+}\r\nbob {2+}\r\npw\r\nb NOOP\r\n")
    assert events == [Login("a", "bob", "pw"), Noop("b")]


def test_literal8_in_append() -> None:
    event = one(b"a APPEND INBOX ~{4+}\r\n\x00\x01\r\n\r\n")
    assert event == Append("a", "INBOX", (AppendMessage(b"\x00\x01\r\n", binary=True),))


def test_literal8_is_refused_outside_append() -> None:
    assert bad(b"a LOGIN ~{3+}\r\nbob pw\r\n").tag == "a"


def test_literal_octets_may_hold_crlf_and_braces() -> None:
    data = b"line {5}\r\nnext\r\n"
    event = one(b"a APPEND INBOX {%d+}\r\n" % len(data) + data + b"\r\n")
    assert isinstance(event, Append)
    assert event.messages[0].data == data


def test_split_anywhere_gives_the_same_command() -> None:
    data = b'a APPEND INBOX (\\Seen) "07-Feb-2024 10:00:00 +0100" {5}\r\nhello\r\nb NOOP\r\n'
    expected = [e for e in commands(data) if not isinstance(e, LiteralPending)]
    for cut in range(1, len(data)):
        events = commands([data[:cut], data[cut:]])
        assert [e for e in events if not isinstance(e, LiteralPending)] == expected
    one_by_one = commands([data[i : i + 1] for i in range(len(data))])
    assert [e for e in one_by_one if not isinstance(e, LiteralPending)] == expected


def test_huge_synchronising_literal_is_refused_before_the_octets() -> None:
    parser = CommandParser(max_literal=1000)
    parser.receive_data(b"a APPEND INBOX {4294967296}\r\n")
    event = parser.next_command()
    assert isinstance(event, BadCommand)
    assert event.response == Tagged("a", "NO", "Literal too big", TOOBIG)
    assert event.response.to_bytes() == b"a NO [TOOBIG] Literal too big\r\n"
    assert not parser.needs_continuation
    parser.receive_data(b"b NOOP\r\n")
    assert parser.next_command() == Noop("b")


def test_huge_non_synchronising_literal_is_read_and_thrown_away() -> None:
    parser = CommandParser(max_literal=100)
    parser.receive_data(b"a APPEND INBOX {1000+}\r\n")
    assert parser.next_command() is NEED_DATA
    for _ in range(10):
        parser.receive_data(b"x" * 100)
        assert parser.next_command() is NEED_DATA
    parser.receive_data(b"\r\nb NOOP\r\n")
    event = parser.next_command()
    assert isinstance(event, BadCommand)
    assert event.response == Tagged("a", "BAD", "Literal too big", TOOBIG)
    assert parser.next_command() == Noop("b")


def test_literal_minus_caps_non_synchronising_literals_at_4096() -> None:
    parser = CommandParser(literal_minus=True)
    data = b"x" * 5000
    event = one(b"a APPEND INBOX {5000+}\r\n" + data + b"\r\n", parser)
    assert isinstance(event, BadCommand)
    assert event.response.to_bytes() == b"a BAD [TOOBIG] Literal too big\r\n"
    ok = one(b"a APPEND INBOX {4096+}\r\n" + data[:4096] + b"\r\n", parser)
    assert isinstance(ok, Append)


def test_too_many_literals() -> None:
    parser = CommandParser(max_literals=2)
    data = b"a APPEND INBOX {1+}\r\nx {1+}\r\ny {1+}\r\nz\r\nb NOOP\r\n"
    events = commands(data, parser)
    assert isinstance(events[0], BadCommand)
    assert events[0].response.to_bytes() == b"a BAD Too many literals\r\n"
    assert events[1] == Noop("b")


def test_literal_marker_inside_a_line_is_not_a_literal() -> None:
    assert bad(b"a LOGIN {3}bob pw\r\n").tag == "a"


def test_eof_mid_literal() -> None:
    parser = CommandParser()
    parser.receive_data(b"a APPEND INBOX {10+}\r\nabc")
    parser.receive_data(b"")
    assert type(parser.next_command()).__name__ == "ConnectionClosed"
