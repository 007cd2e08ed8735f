"""Response rendering (RFC 1939 §3, RFC 2449 §8, RFC 5034 §4), CAPA (RFC 2449 §5)
and the checks send() makes so a bug in the app cannot desynchronise a client."""

from __future__ import annotations

import pytest
from tests.proto.pop3.pop3_app import GREETING, Maildrop, drive, logged_in

from posthouse.proto.pop3 import (
    IN_USE,
    SYS_TEMP,
    Continuation,
    Err,
    LocalProtocolError,
    MultiLine,
    Ok,
    Pop3Server,
    capa_lines,
)


@pytest.mark.parametrize(
    ("response", "wire"),
    [
        (Ok(), b"+OK\r\n"),
        (Ok("2 320"), b"+OK 2 320\r\n"),
        (Err("no such message"), b"-ERR no such message\r\n"),
        (Err("maildrop locked", code=IN_USE), b"-ERR [IN-USE] maildrop locked\r\n"),
        (Err("try later", code=SYS_TEMP), b"-ERR [SYS/TEMP] try later\r\n"),
        (Err(code="AUTH"), b"-ERR [AUTH]\r\n"),
        (Ok("héllo"), "+OK héllo\r\n".encode()),
        (Continuation(), b"+ \r\n"),
        (Continuation(b"Username:"), b"+ VXNlcm5hbWU6\r\n"),
        (MultiLine(Ok(), lines=()), b"+OK\r\n.\r\n"),
        (MultiLine(Ok("x"), lines=["TOP", ".hidden"]), b"+OK x\r\nTOP\r\n..hidden\r\n.\r\n"),
        (MultiLine(Ok(), data=b""), b"+OK\r\n.\r\n"),
        (MultiLine(Ok(), data=b"a\n.b\n"), b"+OK\r\na\r\n..b\r\n.\r\n"),
        # The store vouches for the octets: sent as they are, with the terminator.
        (MultiLine(Ok(), data=b"a\r\nb\r\n", dot_safe=True), b"+OK\r\na\r\nb\r\n.\r\n"),
    ],
)
def test_render(response: Ok | Err | MultiLine | Continuation, wire: bytes) -> None:
    assert response.to_bytes() == wire


@pytest.mark.parametrize(
    "response",
    [
        Ok("two\r\nlines"),
        Err("a\nb"),
        Ok("nul\x00"),
        Err("x", code="IN USE"),
        Err("x", code="[IN-USE]"),
        Err("x", code=""),
        MultiLine(Ok(), lines=["a\r\nb"]),
    ],
)
def test_render_refuses_injection(response: Ok | Err | MultiLine) -> None:
    with pytest.raises(LocalProtocolError):
        response.to_bytes()


def test_multiline_lines_or_data_not_both() -> None:
    with pytest.raises(LocalProtocolError):
        MultiLine(Ok(), lines=["a"], data=b"b")


def test_multiline_lines_list_becomes_tuple() -> None:
    assert MultiLine(Ok(), lines=["a", "b"]).lines == ("a", "b")


def test_capa_before_login() -> None:
    lines = capa_lines(
        stls=True, sasl=["plain", "LOGIN"], user=True, utf8=True, implementation="posthouse"
    )
    assert lines == (
        "TOP",
        "UIDL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "EXPIRE NEVER",
        "USER",
        "SASL PLAIN LOGIN",
        "STLS",
        "UTF8",
        "IMPLEMENTATION posthouse",
    )


def test_capa_after_login_and_options() -> None:
    lines = capa_lines(
        stls=False,
        sasl=[],
        user=False,
        utf8=False,
        implementation=None,
        login_delay=60,
        expire=None,
    )
    assert lines == ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "LOGIN-DELAY 60")
    assert "UTF8 USER" in capa_lines(False, [], True, True, None, utf8_user=True)
    with pytest.raises(LocalProtocolError):
        capa_lines(False, [], True, True, "bad\r\nSTLS")


def test_capa_curl_switches_to_sasl_when_listed() -> None:
    # INTEROP.md: curl uses SASL PLAIN as soon as CAPA lists it; the wire shape matters.
    server = Pop3Server()
    server.send(GREETING)
    _, out = drive(server, [b"CAPA\r\n"], Maildrop().respond)
    assert out == (
        b"+OK Capability list follows\r\n"
        b"TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nEXPIRE NEVER\r\n"
        b"USER\r\nSASL PLAIN LOGIN\r\nSTLS\r\nUTF8\r\nIMPLEMENTATION posthouse\r\n.\r\n"
    )


# --- send() refuses a response of the wrong shape ----------------------------------


@pytest.mark.parametrize(
    "line", [b"LIST\r\n", b"UIDL\r\n", b"RETR 1\r\n", b"TOP 1 0\r\n", b"CAPA\r\n"]
)
def test_multiline_command_needs_multiline_ok(line: bytes) -> None:
    server, _ = logged_in()
    server.receive_data(line)
    server.next_event()
    with pytest.raises(LocalProtocolError):
        server.send(Ok("oops"))
    # -ERR is always single-line.
    assert server.send(Err("no such message")) == b"-ERR no such message\r\n"


@pytest.mark.parametrize(
    "line", [b"STAT\r\n", b"LIST 1\r\n", b"UIDL 1\r\n", b"DELE 1\r\n", b"NOOP\r\n"]
)
def test_single_line_command_refuses_multiline(line: bytes) -> None:
    server, _ = logged_in()
    server.receive_data(line)
    server.next_event()
    with pytest.raises(LocalProtocolError):
        server.send(MultiLine(Ok(), lines=["x"]))


def test_rejected_command_needs_err() -> None:
    server, _ = logged_in()
    server.receive_data(b"BOGUS\r\n")
    server.next_event()
    with pytest.raises(LocalProtocolError):
        server.send(Ok())


def test_send_without_pending_event() -> None:
    server, _ = logged_in()
    with pytest.raises(LocalProtocolError):
        server.send(Ok())


def test_greeting_must_be_single_line() -> None:
    server = Pop3Server()
    with pytest.raises(LocalProtocolError):
        server.send(MultiLine(Ok(), lines=[]))
    with pytest.raises(LocalProtocolError):
        server.send(Continuation())


def test_failed_render_leaves_event_pending() -> None:
    server, _ = logged_in()
    server.receive_data(b"STAT\r\n")
    server.next_event()
    with pytest.raises(LocalProtocolError):
        server.send(Ok("bad\ntext"))
    assert server.send(Ok("0 0")) == b"+OK 0 0\r\n"
