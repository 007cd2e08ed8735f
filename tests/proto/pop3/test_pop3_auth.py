"""Logging in: AUTH (RFC 5034) with and without initial response, LOGIN, abort, the
mechanism list probe, USER/PASS and APOP (RFC 1939 §7)."""

from __future__ import annotations

import pytest
from tests.proto.pop3.pop3_app import GREETING, Maildrop, b64, drive

from posthouse.proto.pop3 import (
    Apop,
    Auth,
    AuthAbort,
    AuthList,
    AuthResponse,
    CommandRejected,
    Continuation,
    Err,
    LocalProtocolError,
    MultiLine,
    Ok,
    Pass,
    Pop3Server,
    Stat,
    State,
    User,
)

PLAIN = b64(b"\x00alice\x00alicepw")


def _server() -> Pop3Server:
    server = Pop3Server()
    server.send(GREETING)
    return server


def test_auth_plain_with_initial_response() -> None:
    # neomutt, smtplib-style clients and `curl --sasl-ir` put the response inline.
    server = _server()
    events, out = drive(server, [b"AUTH PLAIN " + PLAIN + b"\r\n"], Maildrop().respond)
    assert events == [Auth("PLAIN", b"\x00alice\x00alicepw")]
    assert out == b"+OK logged in\r\n"
    assert server.state is State.TRANSACTION


def test_auth_plain_continuation_form_as_curl_sends_it() -> None:
    # INTEROP.md: curl sends AUTH PLAIN, waits for "+ ", then the base64 line.
    server = _server()
    events, out = drive(
        server, [b"AUTH PLAIN\r\n", PLAIN + b"\r\n", b"STAT\r\n"], Maildrop().respond
    )
    assert events == [Auth("PLAIN"), AuthResponse(b"\x00alice\x00alicepw"), Stat()]
    assert out == b"+ \r\n+OK logged in\r\n+OK 0 0\r\n"


def test_auth_plain_zero_length_initial_response() -> None:
    # RFC 5034 §4: "=" is an empty initial response.
    server = _server()
    events, out = drive(server, [b"AUTH PLAIN =\r\n"], Maildrop().respond)
    assert events == [Auth("PLAIN", b"")]
    assert out == b"-ERR [AUTH] invalid login\r\n"
    assert server.state is State.AUTHORIZATION


def test_auth_login_two_challenges() -> None:
    server = _server()
    events, out = drive(
        server,
        [b"AUTH LOGIN\r\n", b64(b"alice") + b"\r\n", b64(b"alicepw") + b"\r\n"],
        Maildrop().respond,
    )
    assert events == [Auth("LOGIN"), AuthResponse(b"alice"), AuthResponse(b"alicepw")]
    assert out == b"+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK logged in\r\n"
    assert server.state is State.TRANSACTION


def test_auth_login_with_initial_response() -> None:
    server = _server()
    events, out = drive(
        server,
        [b"AUTH LOGIN " + b64(b"alice") + b"\r\n", b64(b"alicepw") + b"\r\n"],
        Maildrop().respond,
    )
    assert events == [Auth("LOGIN", b"alice"), AuthResponse(b"alicepw")]
    assert out == b"+ UGFzc3dvcmQ6\r\n+OK logged in\r\n"


def test_auth_abort_with_star() -> None:
    # RFC 5034 §4: "*" cancels; the server answers -ERR and stays in AUTHORIZATION.
    server = _server()
    events, out = drive(
        server, [b"AUTH LOGIN\r\n", b"*\r\n", b"USER alice\r\n"], Maildrop().respond
    )
    assert events == [Auth("LOGIN"), AuthAbort(), User("alice")]
    assert out == b"+ VXNlcm5hbWU6\r\n-ERR AUTH aborted\r\n+OK\r\n"
    assert server.state is State.AUTHORIZATION
    assert not server.in_auth


def test_auth_abort_must_be_answered_with_err() -> None:
    server = _server()
    drive(server, [b"AUTH LOGIN\r\n"], Maildrop().respond)
    server.receive_data(b"*\r\n")
    assert server.next_event() == AuthAbort()
    with pytest.raises(LocalProtocolError):
        server.send(Ok())
    with pytest.raises(LocalProtocolError):
        server.send(Continuation(b"more?"))
    assert server.send(Err("aborted")) == b"-ERR aborted\r\n"


def test_auth_response_invalid_base64() -> None:
    server = _server()
    server.receive_data(b"AUTH PLAIN\r\n")
    assert server.next_event() == Auth("PLAIN")
    server.send(Continuation())
    assert server.in_auth
    server.receive_data(b"not base64!\r\nUSER alice\r\n")
    event = server.next_event()
    assert event == CommandRejected(
        Err("Invalid base64 in SASL response"), b"[SASL response redacted]"
    )
    assert server.send(event.response) == b"-ERR Invalid base64 in SASL response\r\n"
    # The exchange is over: the next line is a command again.
    assert not server.in_auth
    assert server.next_event() == User("alice")


def test_auth_response_empty_line_is_empty_response() -> None:
    server = _server()
    drive(server, [b"AUTH PLAIN\r\n"], Maildrop().respond)
    server.receive_data(b"\r\n")
    assert server.next_event() == AuthResponse(b"")


def test_auth_response_long_line_allowed_and_capped() -> None:
    server = _server()
    drive(server, [b"AUTH XOAUTH2\r\n"], lambda s, e: Continuation())
    token = b"t" * 3000
    server.receive_data(b64(token) + b"\r\n")
    assert server.next_event() == AuthResponse(token)
    server.send(Continuation(b'{"status":"401"}'))
    server.receive_data(b"A" * 20_000 + b"\r\n")
    event = server.next_event()
    assert isinstance(event, CommandRejected)
    assert event.response == Err("SASL response too long")
    assert event.line == b"[SASL response redacted]"


def test_auth_list_probe() -> None:
    server = _server()
    events, out = drive(server, [b"AUTH\r\n"], Maildrop().respond)
    assert events == [AuthList()]
    assert out == b"+OK methods follow\r\nPLAIN\r\nLOGIN\r\n.\r\n"


def test_auth_list_needs_multiline() -> None:
    server = _server()
    server.receive_data(b"AUTH\r\n")
    server.next_event()
    with pytest.raises(LocalProtocolError):
        server.send(Ok("PLAIN LOGIN"))


def test_continuation_only_answers_auth() -> None:
    server = _server()
    server.receive_data(b"USER alice\r\n")
    server.next_event()
    with pytest.raises(LocalProtocolError):
        server.send(Continuation(b"x"))


def test_unsupported_mechanism_is_the_apps_call() -> None:
    server = _server()
    events, out = drive(server, [b"AUTH CRAM-MD5\r\n"], Maildrop().respond)
    assert events == [Auth("CRAM-MD5")]
    assert out == b"-ERR unsupported mechanism\r\n"


def test_user_pass_login() -> None:
    server = _server()
    events, out = drive(server, [b"USER alice\r\n", b"PASS alicepw\r\n"], Maildrop().respond)
    assert events == [User("alice"), Pass("alicepw")]
    assert out == b"+OK\r\n+OK 0 messages\r\n"
    assert server.state is State.TRANSACTION
    assert server.user == "alice"


def test_user_pass_wrong_password() -> None:
    server = _server()
    _, out = drive(server, [b"USER alice\r\nPASS nope\r\n"], Maildrop().respond)
    assert out == b"+OK\r\n-ERR [AUTH] invalid login\r\n"
    assert server.state is State.AUTHORIZATION
    assert server.user is None


def test_pass_repr_hides_password() -> None:
    assert "alicepw" not in repr(Pass("alicepw"))
    assert "alicepw" not in repr(AuthResponse(b"\x00alice\x00alicepw"))


def test_apop_reported_and_refused() -> None:
    # Passwords are stored hashed, so APOP cannot be verified: the app says -ERR.
    server = _server()
    events, out = drive(
        server, [b"APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n"], Maildrop().respond
    )
    assert events == [Apop("alice", "c4c9334bac560ecc979e58001b3e22fb")]
    assert out == b"-ERR APOP is not available: passwords are stored hashed\r\n"
    assert server.state is State.AUTHORIZATION


def test_login_delay_and_in_use_codes() -> None:
    # RFC 2449 §8.1: [LOGIN-DELAY] and [IN-USE] after a correct password.
    server = _server()
    drive(server, [b"USER alice\r\n"], Maildrop().respond)
    server.receive_data(b"PASS alicepw\r\n")
    server.next_event()
    assert server.send(Err("maildrop locked", code="IN-USE")) == (
        b"-ERR [IN-USE] maildrop locked\r\n"
    )
    assert server.state is State.AUTHORIZATION


def test_auth_list_then_multiline_answer_has_correct_shape() -> None:
    server = _server()
    server.receive_data(b"AUTH\r\n")
    server.next_event()
    out = server.send(MultiLine(Ok(), lines=["PLAIN"]))
    assert out == b"+OK\r\nPLAIN\r\n.\r\n"
