"""Test drivers for the SMTP cores: a server driven by a fixed reply policy, and a
ConnectionPair wiring a client core and a server core back to back (h11 style)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

from posthouse.proto.smtp.client import ClientConnection
from posthouse.proto.smtp.ehlo import ServerFeatures
from posthouse.proto.smtp.events import (
    Auth,
    AuthAbort,
    AuthResponse,
    CommandRejected,
    ConnectionClosed,
    Data,
    Hello,
    Help,
    MessageRejected,
    Quit,
    Sentinel,
    ServerEvent,
    StartTLS,
    Vrfy,
)
from posthouse.proto.smtp.reply import Reply
from posthouse.proto.smtp.server import ServerConnection, ServerLimits

FEATURES = ServerFeatures(starttls=True, auth_mechanisms=("PLAIN", "LOGIN"))
GREETING = Reply.of(220, None, "mx.example.org ESMTP posthouse")
OK = Reply.of(250, "2.0.0", "OK")

Policy = Callable[[ServerConnection, ServerEvent], Reply]


def default_reply(conn: ServerConnection, event: ServerEvent) -> Reply:
    """A fixed, accept-everything reply policy."""
    if isinstance(event, CommandRejected | MessageRejected):
        return event.reply
    if isinstance(event, Hello):
        if event.verb == "EHLO":
            return conn.ehlo_reply("mx.example.org", f"Hello {event.domain}")
        return Reply.of(250, None, f"mx.example.org Hello {event.domain}")
    if isinstance(event, Data):
        return Reply.of(354, None, "End data with <CR><LF>.<CR><LF>")
    if isinstance(event, Quit):
        return Reply.of(221, "2.0.0", "Bye")
    if isinstance(event, StartTLS):
        return Reply.of(220, "2.0.0", "Ready to start TLS")
    if isinstance(event, Auth):
        if event.initial_response is None:
            return Reply.of(334, None, "")
        return Reply.of(235, "2.7.0", "Authentication successful")
    if isinstance(event, AuthResponse):
        return Reply.of(235, "2.7.0", "Authentication successful")
    if isinstance(event, AuthAbort):
        return Reply.of(501, "5.7.0", "Authentication aborted")
    if isinstance(event, Vrfy):
        return Reply.of(252, "2.5.0", "Cannot VRFY user")
    if isinstance(event, Help):
        return Reply.of(214, "2.0.0", "See RFC 5321")
    return OK


def make_server(
    features: ServerFeatures = FEATURES,
    limits: ServerLimits | None = None,
    *,
    greet: bool = True,
    tls_active: bool = False,
) -> ServerConnection:
    conn = ServerConnection(features, limits, tls_active=tls_active)
    if greet:
        conn.send(GREETING)
    return conn


def drain(
    conn: ServerConnection, policy: Policy = default_reply
) -> list[tuple[ServerEvent, bytes]]:
    """Hand out every event the buffered bytes make, answering each by `policy`."""
    out: list[tuple[ServerEvent, bytes]] = []
    while True:
        event = conn.next_event()
        if isinstance(event, Sentinel):
            return out
        if isinstance(event, ConnectionClosed):
            out.append((event, b""))
            return out
        out.append((event, conn.send(policy(conn, event))))


def feed(
    conn: ServerConnection, data: bytes, policy: Policy = default_reply
) -> list[tuple[ServerEvent, bytes]]:
    conn.receive_data(data)
    return drain(conn, policy)


def events_of(conn: ServerConnection, data: bytes, policy: Policy = default_reply) -> list[object]:
    return [event for event, _ in feed(conn, data, policy)]


def session(
    data: bytes,
    features: ServerFeatures = FEATURES,
    limits: ServerLimits | None = None,
    policy: Policy = default_reply,
) -> list[tuple[ServerEvent, bytes]]:
    """A greeted server fed `data` in one piece."""
    return feed(make_server(features, limits), data, policy)


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


@dataclass
class ConnectionPair:
    """A client core and a server core back to back: what the client sends reaches
    the server, what the server replies reaches the client."""

    features: ServerFeatures = FEATURES
    limits: ServerLimits | None = None
    client: ClientConnection = field(default_factory=ClientConnection)
    server: ServerConnection = field(init=False)

    def __post_init__(self) -> None:
        self.server = ServerConnection(self.features, self.limits)

    def greet(self, reply: Reply = GREETING) -> Reply:
        self.client.receive_data(self.server.send(reply))
        got = self.client.next_event()
        assert isinstance(got, Reply)
        return got

    def exchange(
        self, client_bytes: bytes, policy: Policy = default_reply
    ) -> list[tuple[ServerEvent, Reply]]:
        """Deliver client bytes to the server; answer each event by `policy` and
        return the events with the replies as the client core parsed them."""
        self.server.receive_data(client_bytes)
        out: list[tuple[ServerEvent, Reply]] = []
        for event, wire in drain(self.server, policy):
            if isinstance(event, ConnectionClosed):
                break
            self.client.receive_data(wire)
            reply = self.client.next_event()
            assert isinstance(reply, Reply), reply
            out.append((event, reply))
        return out
