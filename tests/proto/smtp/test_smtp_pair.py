"""Client core and server core back to back: what one says, the other understands."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st
from smtp_pair import ConnectionPair

from posthouse.proto import sasl
from posthouse.proto.smtp.ehlo import parse_ehlo
from posthouse.proto.smtp.events import (
    Auth,
    AuthResponse,
    BdatChunk,
    Data,
    Hello,
    MailFrom,
    MessageBody,
    Quit,
    RcptTo,
    StartTLS,
)
from posthouse.proto.smtp.reply import Reply
from posthouse.proto.smtp.server import ServerLimits, State


def test_full_session() -> None:
    pair = ConnectionPair()
    assert pair.greet() == Reply(220, None, ("mx.example.org ESMTP posthouse",))
    c = pair.client
    [(event, reply)] = pair.exchange(c.send(Hello("EHLO", "client.example")))
    assert event == Hello("EHLO", "client.example")
    assert parse_ehlo(reply)["SIZE"] == str(50 * 1024 * 1024)
    # PIPELINING: the envelope and DATA in one write (RFC 2920 §3.1).
    wire = (
        c.send(MailFrom("a@b.example", {"BODY": "8BITMIME"}))
        + c.send(RcptTo("x@y.example"))
        + c.send(RcptTo("z@y.example", {"NOTIFY": "NEVER"}))
        + c.send(Data())
    )
    out = pair.exchange(wire)
    assert [event for event, _ in out] == [
        MailFrom("a@b.example", {"BODY": "8BITMIME"}),
        RcptTo("x@y.example"),
        RcptTo("z@y.example", {"NOTIFY": "NEVER"}),
        Data(),
    ]
    assert [reply.code for _, reply in out] == [250, 250, 250, 354]
    content = b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend"
    [(event, reply)] = pair.exchange(c.send_message(content))
    assert event == MessageBody(content + b"\r\n")
    assert reply == Reply(250, "2.0.0", ("OK",))
    [(event, reply)] = pair.exchange(c.send(Quit()))
    assert event == Quit() and reply.code == 221
    assert pair.server.state is State.CLOSED


def test_bdat_session() -> None:
    pair = ConnectionPair()
    pair.greet()
    c = pair.client
    pair.exchange(c.send(Hello("EHLO", "c")))
    payload = bytes(range(256)) * 10
    wire = (
        c.send(MailFrom("a@b.example"))
        + c.send(RcptTo("x@y.example"))
        + c.send_bdat(payload[:1000], last=False)
        + c.send_bdat(payload[1000:], last=True)
    )
    out = pair.exchange(wire)
    chunks = [event for event, _ in out if isinstance(event, BdatChunk)]
    assert b"".join(chunk.data for chunk in chunks) == payload
    assert [chunk.last for chunk in chunks] == [False, True]
    assert all(reply.code == 250 for _, reply in out)


def test_auth_plain_session() -> None:
    pair = ConnectionPair()
    pair.greet()
    c = pair.client
    pair.exchange(c.send(Hello("EHLO", "c")))
    mechanism = sasl.server_mechanism("PLAIN")

    def policy(conn: object, event: object) -> Reply:
        if isinstance(event, Auth | AuthResponse):
            data = event.initial_response if isinstance(event, Auth) else event.data
            result = mechanism.step(data)
            if isinstance(result, sasl.Challenge):
                return Reply.of(334, None, base64.b64encode(result.data).decode())
            assert result == sasl.Credentials("", "alice", "pw")
            return Reply.of(235, "2.7.0", "Authentication successful")
        raise AssertionError(event)

    [(event, reply)] = pair.exchange(c.send(Auth("PLAIN", None)), policy)  # type: ignore[arg-type]
    assert reply == Reply(334, None, ("",))
    response = sasl.plain_initial_response("alice", "pw")
    [(event, reply)] = pair.exchange(c.send_auth_response(response), policy)  # type: ignore[arg-type]
    assert event == AuthResponse(response)
    assert reply.code == 235
    assert pair.server.authenticated


def test_starttls_session() -> None:
    pair = ConnectionPair()
    pair.greet()
    c = pair.client
    pair.exchange(c.send(Hello("EHLO", "c")))
    [(event, reply)] = pair.exchange(c.send(StartTLS()))
    assert event == StartTLS() and reply.code == 220
    # Both sides now run the handshake; then both read fresh.
    c.start_tls_done()
    assert pair.server.tls_active and not pair.server.greeted
    [(event, reply)] = pair.exchange(c.send(Hello("EHLO", "c")))
    assert reply.code == 250


@settings(max_examples=200)
@given(st.binary(max_size=3000))
def test_any_content_round_trips(content: bytes) -> None:
    # What the client core sends after 354 is exactly what the server core
    # delivers, once line ends are CRLF: no content can end DATA early.
    pair = ConnectionPair(limits=ServerLimits(max_text_line=0))
    pair.greet()
    c = pair.client
    pair.exchange(c.send(Hello("EHLO", "c")))
    pair.exchange(c.send(MailFrom("a@b.example")) + c.send(RcptTo("x@y.example")))
    pair.exchange(c.send(Data()))
    [(event, reply)] = pair.exchange(c.send_message(content))
    expected = content.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert event == MessageBody(expected)
    assert reply.code == 250
