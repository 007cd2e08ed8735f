"""CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN, AUTHENTICATE (SASL-IR), ENABLE."""

from __future__ import annotations

import pytest
from tests.proto.imap.imap_script import bad, commands, one

from posthouse.proto.imap import (
    Authenticate,
    Capability,
    CommandParser,
    Enable,
    Id,
    Login,
    Logout,
    Noop,
    SaslAbort,
    SaslResponse,
    StartTls,
    Tagged,
)


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"a CAPABILITY\r\n", Capability("a")),
        (b"a capability\r\n", Capability("a")),
        (b"x1 NOOP\r\n", Noop("x1")),
        (b"A001 LOGOUT\r\n", Logout("A001")),
        (b"s STARTTLS\r\n", StartTls("s")),
        (b"t ID NIL\r\n", Id("t", None)),
        (b't ID ("name" "mutt" "version" NIL)\r\n', Id("t", (("name", "mutt"), ("version", None)))),
        (b"t ENABLE UTF8=ACCEPT condstore\r\n", Enable("t", ("UTF8=ACCEPT", "CONDSTORE"))),
        (b'a LOGIN bob "bobpw"\r\n', Login("a", "bob", "bobpw")),
        (b'a LOGIN "b\\"o" "p\\\\w"\r\n', Login("a", 'b"o', "p\\w")),
        (b"a LOGIN {3}\r\nbob {5}\r\nbobpw\r\n", Login("a", "bob", "bobpw")),
        (b"a AUTHENTICATE PLAIN\r\n", Authenticate("a", "PLAIN")),
        (b"a AUTHENTICATE plain AGJvYgBwdw==\r\n", Authenticate("a", "PLAIN", b"\0bob\0pw")),
        (b"a AUTHENTICATE PLAIN =\r\n", Authenticate("a", "PLAIN", b"")),
    ],
)
def test_command(line: bytes, event: object) -> None:
    assert one(line) == event


@pytest.mark.parametrize(
    "line",
    [
        b"a CAPABILITY now\r\n",
        b"a LOGIN bob\r\n",
        b"a LOGIN bob pw extra\r\n",
        b"a AUTHENTICATE PLAIN !!!\r\n",
        b"a AUTHENTICATE PL@IN\r\n",
        b"a ENABLE\r\n",
        b'a ID ("name")\r\n',
        b'a LOGIN "b\xc3\xb6b" pw\r\n',  # 8-bit quoted without UTF8=ACCEPT
        b"a FROBNICATE\r\n",
    ],
)
def test_syntax_errors_are_tagged_bad(line: bytes) -> None:
    event = bad(line)
    assert event.tag == "a"
    assert isinstance(event.response, Tagged)
    assert event.response.to_bytes().startswith(b"a BAD ")


def test_utf8_quoted_login_after_enable() -> None:
    parser = CommandParser(utf8=True)
    assert one(b'a LOGIN "b\xc3\xb6b" pw\r\n', parser) == Login("a", "b\xf6b", "pw")


def test_login_is_redacted_in_repr_and_logs() -> None:
    assert "bobpw" not in repr(one(b"a LOGIN bob bobpw\r\n"))
    event = bad(b"a LOGIN bob secret extra\r\n")
    assert b"secret" not in event.line


def test_sasl_exchange_lines() -> None:
    parser = CommandParser()
    assert one(b"a AUTHENTICATE PLAIN\r\n", parser) == Authenticate("a", "PLAIN")
    parser.expect_sasl_response("a")
    assert one(b"AGJvYgBwdw==\r\n", parser) == SaslResponse("a", b"\0bob\0pw")
    parser.expect_sasl_response("a")
    assert one(b"*\r\n", parser) == SaslAbort("a")
    parser.expect_sasl_response("a")
    event = bad(b"not base64!\r\n", parser)
    assert event.response == Tagged("a", "BAD", "Invalid base64 in SASL response")
    assert one(b"b NOOP\r\n", parser) == Noop("b")


def test_untagged_bad_without_a_tag() -> None:
    for line in (b"\r\n", b"(junk\r\n", b"*\r\n", b"+ x\r\n"):
        event = bad(line)
        assert event.tag is None
        assert event.response.to_bytes().startswith(b"* BAD ")


def test_pipelined_commands_come_out_in_order() -> None:
    events = commands(b"1 NOOP\r\n2 CAPABILITY\r\n3 LOGOUT\r\n")
    assert events == [Noop("1"), Capability("2"), Logout("3")]
