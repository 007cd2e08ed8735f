"""SMTP AUTH (RFC 4954) in the server core, with the SASL mechanisms of proto/sasl."""

from __future__ import annotations

import base64

import pytest
from smtp_pair import default_reply, events_of, feed, make_server, session

from posthouse.proto import sasl
from posthouse.proto.smtp.ehlo import ServerFeatures
from posthouse.proto.smtp.events import (
    Auth,
    AuthAbort,
    AuthResponse,
    CommandRejected,
    MailFrom,
    Noop,
    ServerEvent,
)
from posthouse.proto.smtp.reply import LocalProtocolError, Reply
from posthouse.proto.smtp.server import ServerConnection, State


class SaslPolicy:
    """Answers AUTH the way a session does: a sasl mechanism per exchange."""

    def __init__(self, password: str = "secret") -> None:
        self.password = password
        self.mechanism: sasl.ServerMechanism | None = None
        self.credentials: sasl.Credentials | None = None

    def __call__(self, conn: ServerConnection, event: ServerEvent) -> Reply:
        if isinstance(event, Auth):
            self.mechanism = sasl.server_mechanism(event.mechanism)
            return self._step(event.initial_response)
        if isinstance(event, AuthResponse):
            return self._step(event.data)
        return default_reply(conn, event)

    def _step(self, response: bytes | None) -> Reply:
        assert self.mechanism is not None
        try:
            result = self.mechanism.step(response)
        except sasl.SASLError:
            return Reply.of(501, "5.5.2", "Malformed SASL response")
        if isinstance(result, sasl.Challenge):
            return Reply.of(334, None, base64.b64encode(result.data).decode())
        self.credentials = result
        if result.password == self.password:
            return Reply.of(235, "2.7.0", "Authentication successful")
        return Reply.of(535, "5.7.8", "Authentication credentials invalid")


def test_auth_login_exchange() -> None:
    conn = make_server()
    policy = SaslPolicy()
    out = feed(conn, b"EHLO c\r\nAUTH LOGIN\r\n", policy)
    assert out[1] == (Auth("LOGIN", None), b"334 VXNlcm5hbWU6\r\n")
    assert conn.state is State.AUTH
    out = feed(conn, base64.b64encode(b"alice") + b"\r\n", policy)
    assert out == [(AuthResponse(b"alice"), b"334 UGFzc3dvcmQ6\r\n")]
    out = feed(conn, base64.b64encode(b"secret") + b"\r\n", policy)
    assert out == [(AuthResponse(b"secret"), b"235 2.7.0 Authentication successful\r\n")]
    assert conn.authenticated
    assert conn.state is State.READY
    assert policy.credentials == sasl.Credentials("", "alice", "secret")


def test_auth_login_with_initial_response() -> None:
    conn = make_server()
    policy = SaslPolicy()
    out = feed(conn, b"EHLO c\r\nAUTH LOGIN YWxpY2U=\r\n", policy)
    assert out[1] == (Auth("LOGIN", b"alice"), b"334 UGFzc3dvcmQ6\r\n")
    out = feed(conn, b"c2VjcmV0\r\n", policy)
    assert out[0][1].startswith(b"235 ")


def test_auth_plain_initial_response() -> None:
    conn = make_server()
    policy = SaslPolicy()
    token = base64.b64encode(sasl.plain_initial_response("alice", "secret"))
    out = feed(conn, b"EHLO c\r\nAUTH PLAIN " + token + b"\r\n", policy)
    assert out[1][0] == Auth("PLAIN", b"\x00alice\x00secret")
    assert out[1][1] == b"235 2.7.0 Authentication successful\r\n"
    assert conn.authenticated


def test_auth_plain_without_initial_response() -> None:
    # The empty challenge goes out as "334 " (RFC 4954 §4: "334" SP [base64]).
    conn = make_server()
    policy = SaslPolicy()
    out = feed(conn, b"EHLO c\r\nauth plain\r\n", policy)
    assert out[1] == (Auth("PLAIN", None), b"334 \r\n")
    token = base64.b64encode(b"\x00alice\x00wrong")
    out = feed(conn, token + b"\r\n", policy)
    assert out[0][1] == b"535 5.7.8 Authentication credentials invalid\r\n"
    assert not conn.authenticated
    assert conn.state is State.READY


def test_auth_empty_initial_response() -> None:
    # RFC 4954 §4: "=" is a zero-length initial response.
    assert events_of(make_server(), b"EHLO c\r\nAUTH PLAIN =\r\n")[1] == Auth("PLAIN", b"")


def test_auth_abort() -> None:
    conn = make_server()
    out = feed(conn, b"EHLO c\r\nAUTH LOGIN\r\n*\r\nNOOP\r\n")
    assert out[2] == (AuthAbort(), b"501 5.7.0 Authentication aborted\r\n")
    assert out[3][0] == Noop()
    assert not conn.authenticated


def test_auth_response_invalid_base64() -> None:
    conn = make_server()
    out = feed(conn, b"EHLO c\r\nAUTH LOGIN\r\n!!notbase64!!\r\nNOOP\r\n")
    assert isinstance(out[2][0], CommandRejected)
    assert out[2][1] == b"501 5.5.2 Invalid base64 (RFC 4954 section 4)\r\n"
    assert out[3][0] == Noop()  # the exchange is over


def test_auth_initial_response_invalid_base64() -> None:
    out = session(b"EHLO c\r\nAUTH PLAIN A\r\n")
    assert out[1][1].startswith(b"501 5.5.2 ")


def test_auth_response_is_not_a_command() -> None:
    # While 334 is outstanding, "QUIT" is a base64 SASL response, not a command.
    conn = make_server()
    out = feed(conn, b"EHLO c\r\nAUTH LOGIN\r\nQUIT\r\n")
    assert out[2][0] == AuthResponse(base64.b64decode(b"QUIT"))


def test_auth_lines_pipelined_after_334() -> None:
    conn = make_server()
    data = b"EHLO c\r\nAUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\nMAIL FROM:<a@b.example>\r\n"
    out = feed(conn, data, SaslPolicy())
    assert [e for e, _ in out][2:] == [
        AuthResponse(b"alice"),
        AuthResponse(b"secret"),
        MailFrom("a@b.example"),
    ]


def test_auth_unknown_mechanism() -> None:
    out = session(b"EHLO c\r\nAUTH CRAM-MD5\r\n")
    assert out[1][1] == b"504 5.5.4 Unrecognized authentication mechanism\r\n"


def test_auth_not_offered() -> None:
    out = session(b"EHLO c\r\nAUTH PLAIN =\r\n", ServerFeatures(starttls=True))
    assert out[1][1] == b"503 5.5.1 AUTH not offered\r\n"


def test_auth_twice() -> None:
    out = session(b"EHLO c\r\nAUTH PLAIN AGEAYg==\r\nAUTH PLAIN AGEAYg==\r\n")
    assert out[2][1] == b"503 5.5.1 Already authenticated\r\n"


def test_auth_in_transaction() -> None:
    out = session(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nAUTH PLAIN AGEAYg==\r\n")
    assert out[2][1] == b"503 5.5.1 AUTH not allowed during a mail transaction\r\n"


def test_auth_before_ehlo() -> None:
    out = session(b"AUTH PLAIN AGEAYg==\r\n")
    assert out[0][1] == b"503 5.5.1 Send HELO/EHLO first\r\n"


@pytest.mark.parametrize("args", [b"", b"PLAIN a b"])
def test_auth_syntax(args: bytes) -> None:
    out = session(b"EHLO c\r\nAUTH " + args + b"\r\n")
    assert out[1][1] == b"501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"


def test_334_only_for_auth() -> None:
    conn = make_server()
    conn.receive_data(b"NOOP\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(Reply.of(334, None, ""))


def test_334_challenge_has_no_enhanced_code() -> None:
    conn = make_server()
    conn.receive_data(b"EHLO c\r\nAUTH LOGIN\r\n")
    conn.send(default_reply(conn, conn.next_event()))  # type: ignore[arg-type]
    conn.next_event()
    assert conn.send(Reply.of(334, "2.0.0", "VXNlcm5hbWU6")) == b"334 VXNlcm5hbWU6\r\n"
