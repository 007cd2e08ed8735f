"""STLS (RFC 2595 §4) and the command-injection attack: octets that arrive in the
clear after STLS must not be read as commands once TLS is up.  The same on the client
side for responses injected after +OK (the STARTTLS response-injection family)."""

from __future__ import annotations

from tests.proto.pop3.pop3_app import GREETING, client_events

from posthouse.proto.pop3 import (
    NEED_DATA,
    Capa,
    CommandRejected,
    Err,
    Ok,
    Pop3Client,
    Pop3Server,
    State,
    Stls,
    User,
)


def _server() -> Pop3Server:
    server = Pop3Server()
    server.send(GREETING)
    return server


def test_stls_ok_marks_tls_active() -> None:
    server = _server()
    server.receive_data(b"STLS\r\n")
    assert server.next_event() == Stls()
    assert server.send(Ok("Begin TLS negotiation")) == b"+OK Begin TLS negotiation\r\n"
    assert server.tls_active
    assert server.state is State.AUTHORIZATION
    assert server.next_event() is NEED_DATA


def test_stls_command_injection_discarded() -> None:
    # The attacker appends commands to STLS in the same segment; after the handshake
    # they would run as if the client had sent them over TLS.
    server = _server()
    server.receive_data(b"STLS\r\nUSER mallory\r\nPASS x\r\n")
    assert server.next_event() == Stls()
    server.send(Ok("Begin TLS"))
    assert server.discarded_plaintext == b"USER mallory\r\nPASS x\r\n"
    assert server.next_event() is NEED_DATA
    # What comes through TLS afterwards is parsed normally.
    server.receive_data(b"CAPA\r\n")
    assert server.next_event() == Capa()


def test_stls_injection_of_partial_line_discarded() -> None:
    server = _server()
    server.receive_data(b"STLS\r\nUSER mall")
    assert server.next_event() == Stls()
    server.send(Ok())
    server.receive_data(b"USER alice\r\n")
    assert server.next_event() == User("alice")


def test_stls_refused_keeps_pipelined_input() -> None:
    # Without TLS nothing changes, so the buffered commands stand.
    server = _server()
    server.receive_data(b"STLS\r\nUSER alice\r\n")
    assert server.next_event() == Stls()
    server.send(Err("TLS not available"))
    assert not server.tls_active
    assert server.next_event() == User("alice")


def test_stls_injection_while_discarding_overlong_line() -> None:
    server = _server()
    server.receive_data(b"STLS\r\n" + b"x" * 400)
    assert server.next_event() == Stls()
    server.send(Ok())
    assert server.next_event() is NEED_DATA
    server.receive_data(b"STAT\r\n")
    event = server.next_event()
    # STAT is parsed (and refused before login): no stale "too long" is left over.
    assert isinstance(event, CommandRejected)
    assert event.response.text.startswith("Not logged in: STAT")


def test_client_discards_injected_responses_after_stls() -> None:
    client = Pop3Client()
    client_events(client, [b"+OK ready\r\n"])
    client.send(Stls())
    events = client_events(client, [b"+OK Begin TLS\r\n+OK injected\r\n"])
    assert events == [Ok("Begin TLS")]
    assert client.tls_active
    assert client.discarded_plaintext == b"+OK injected\r\n"
    client.send(Capa())
    events = client_events(client, [b"+OK\r\nSTLS\r\n.\r\n"])
    assert events[0].__class__.__name__ == "MultiLine"
