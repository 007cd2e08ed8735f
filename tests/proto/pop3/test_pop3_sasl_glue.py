"""The POP3 core with the shared SASL mechanisms (posthouse.proto.sasl): the core only
frames AUTH and base64, the mechanism runs the exchange.  This is the glue the POP3
session will use; it runs once proto/sasl.py is in the tree."""

from __future__ import annotations

import pytest
from tests.proto.pop3.pop3_app import GREETING, b64, drive

from posthouse.proto.pop3 import (
    Auth,
    AuthAbort,
    AuthResponse,
    CommandRejected,
    ConnectionClosed,
    Continuation,
    Err,
    Ok,
    Pop3Server,
    Response,
    ServerEvent,
    State,
)

sasl = pytest.importorskip("posthouse.proto.sasl")


class SaslSession:
    def __init__(self) -> None:
        self.mechanism: object | None = None
        self.credentials: object | None = None

    def respond(self, server: Pop3Server, event: ServerEvent) -> Response:
        if isinstance(event, CommandRejected):
            self.mechanism = None
            return event.response
        if isinstance(event, Auth):
            if event.mechanism not in sasl.SERVER_MECHANISMS:
                return Err("unsupported mechanism")
            self.mechanism = sasl.server_mechanism(event.mechanism)
            return self._step(event.initial_response)
        if isinstance(event, AuthResponse):
            return self._step(event.data)
        if isinstance(event, AuthAbort):
            self.mechanism = None
            return Err("AUTH aborted")
        assert not isinstance(event, ConnectionClosed)
        return Ok()

    def _step(self, data: bytes | None) -> Response:
        try:
            result = self.mechanism.step(data)  # type: ignore[union-attr]
        except sasl.SASLError as exc:
            self.mechanism = None
            return Err(str(exc), code="AUTH")
        if isinstance(result, sasl.Challenge):
            return Continuation(result.data)
        self.credentials = result
        self.mechanism = None
        return Ok("logged in")


def _run(*chunks: bytes) -> tuple[bytes, SaslSession, Pop3Server]:
    server = Pop3Server()
    server.send(GREETING)
    session = SaslSession()
    _, out = drive(server, list(chunks), session.respond)
    return out, session, server


def test_plain_with_initial_response() -> None:
    out, session, server = _run(b"AUTH PLAIN " + b64(b"\x00alice\x00alicepw") + b"\r\n")
    assert out == b"+OK logged in\r\n"
    assert session.credentials == sasl.Credentials("", "alice", "alicepw")
    assert server.state is State.TRANSACTION


def test_plain_continuation() -> None:
    out, session, _ = _run(b"AUTH PLAIN\r\n", b64(b"\x00alice\x00alicepw") + b"\r\n")
    assert out == b"+ \r\n+OK logged in\r\n"
    assert session.credentials == sasl.Credentials("", "alice", "alicepw")


def test_login_two_challenges() -> None:
    out, session, _ = _run(b"AUTH LOGIN\r\n", b64(b"alice") + b"\r\n", b64(b"alicepw") + b"\r\n")
    assert out == b"+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK logged in\r\n"
    assert session.credentials == sasl.Credentials("", "alice", "alicepw")


def test_malformed_plain_is_auth_error() -> None:
    out, _, server = _run(b"AUTH PLAIN " + b64(b"no nul here") + b"\r\n")
    assert out.startswith(b"-ERR [AUTH] ")
    assert server.state is State.AUTHORIZATION


def test_abort() -> None:
    out, session, server = _run(b"AUTH LOGIN\r\n*\r\n")
    assert out == b"+ VXNlcm5hbWU6\r\n-ERR AUTH aborted\r\n"
    assert session.credentials is None
    assert server.state is State.AUTHORIZATION
