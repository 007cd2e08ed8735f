"""Hostile input: over-long lines, binary junk, too many arguments.  Each is one
BadCommand, nothing is buffered without bound, and the next command parses."""

from __future__ import annotations

from tests.proto.imap.imap_script import commands

from posthouse.proto.imap import NEED_DATA, BadCommand, CommandParser, Noop, Tagged, Untagged


def test_over_long_line_is_framed_without_being_buffered() -> None:
    parser = CommandParser(max_line=1000)
    parser.receive_data(b"a SEARCH TEXT ")
    for _ in range(100):
        parser.receive_data(b"x" * 1000)
        assert parser.next_command() is NEED_DATA
        assert len(parser._framer.buffer) < 2000
    parser.receive_data(b"\r\nb NOOP\r\n")
    event = parser.next_command()
    assert event == BadCommand("a", Tagged("a", "BAD", "Line too long"))
    assert parser.next_command() == Noop("b")


def test_over_long_line_ending_in_a_non_synchronising_literal() -> None:
    parser = CommandParser(max_line=100)
    data = b"a APPEND " + b"x" * 500 + b" {5+}\r\n)\r\n(x\r\nb NOOP\r\n"
    events = commands(data, parser)
    assert events == [BadCommand("a", Tagged("a", "BAD", "Line too long")), Noop("b")]


def test_over_long_line_without_a_tag_is_untagged_bad() -> None:
    events = commands([b"(" * 70000, b"\r\nb NOOP\r\n"])
    assert events == [BadCommand(None, Untagged("BAD", text="Line too long")), Noop("b")]


def test_binary_junk() -> None:
    junk = bytes(range(256)) * 4
    events = commands(junk + b"\r\nb NOOP\r\n")
    assert events[-1] == Noop("b")
    assert all(isinstance(e, BadCommand) for e in events[:-1])
    for event in events[:-1]:
        assert isinstance(event, BadCommand)
        assert event.response.to_bytes().endswith(b"\r\n")


def test_too_many_arguments() -> None:
    parser = CommandParser(max_arguments=100)
    line = b"a FETCH 1 (" + b" ".join([b"UID"] * 200) + b")\r\n"
    events = commands(line + b"b NOOP\r\n", parser)
    assert events == [BadCommand("a", Tagged("a", "BAD", "Too many arguments")), Noop("b")]


def test_bare_lf_is_tolerated() -> None:
    assert commands(b"a NOOP\nb NOOP\n") == [Noop("a"), Noop("b")]


def test_nul_in_a_command() -> None:
    events = commands(b"a NO\x00OP\r\nb NOOP\r\n")
    assert isinstance(events[0], BadCommand)
    assert events[1] == Noop("b")
