"""Test helpers: a toy maildrop that answers server-core events, and a driver that
feeds bytes through a `Pop3Server` and collects events and output (no sockets)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from posthouse.proto.pop3 import (
    NEED_DATA,
    PAUSED,
    Apop,
    Auth,
    AuthAbort,
    AuthList,
    AuthResponse,
    Capa,
    Command,
    CommandRejected,
    ConnectionClosed,
    Continuation,
    Dele,
    Err,
    List,
    MultiLine,
    Noop,
    Ok,
    Pass,
    Pop3Client,
    Pop3Server,
    Quit,
    Response,
    Retr,
    Rset,
    ServerEvent,
    Stat,
    State,
    Stls,
    Top,
    Uidl,
    User,
    Utf8,
    capa_lines,
    message_top,
)
from posthouse.proto.pop3.events import Sentinel

GREETING = Ok("POP3 ready")


@dataclass
class Maildrop:
    """Just enough of a POP3 server session to answer every event the way the real one
    will (RFC 1939 §5-§7).  AUTH accepts PLAIN and LOGIN for alice/alicepw."""

    messages: list[bytes] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=lambda: {"alice": "alicepw"})
    deleted: set[int] = field(default_factory=set)
    committed: list[int] | None = None  # messages removed at QUIT (UPDATE)
    _login_step: int = 0
    _login_user: str = ""

    def size(self, n: int) -> int:
        return len(self.messages[n - 1].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))

    def live(self) -> list[int]:
        return [n for n in range(1, len(self.messages) + 1) if n not in self.deleted]

    def _message(self, n: int) -> Err | None:
        if n > len(self.messages) or n in self.deleted:
            return Err("no such message")
        return None

    def respond(self, server: Pop3Server, event: ServerEvent) -> Response:
        match event:
            case CommandRejected(response=response):
                self._login_step = 0  # a rejected SASL line ends the exchange
                return response
            case Capa():
                return MultiLine(Ok("Capability list follows"), lines=self.capa(server))
            case User(name=name):
                return Ok() if name in self.users else Err("unknown user", code="AUTH")
            case Pass(password=password):
                if self.users.get(server.user or "") == password:
                    return Ok(f"{len(self.messages)} messages")
                return Err("invalid login", code="AUTH")
            case Apop():
                return Err("APOP is not available: passwords are stored hashed")
            case AuthList():
                return MultiLine(Ok("methods follow"), lines=("PLAIN", "LOGIN"))
            case Auth(mechanism="PLAIN", initial_response=None):
                return Continuation(b"")
            case Auth(mechanism="PLAIN", initial_response=initial):
                return self._plain(initial or b"")
            case Auth(mechanism="LOGIN", initial_response=initial):
                if initial is None:
                    self._login_step = 1
                    return Continuation(b"Username:")
                self._login_user = initial.decode(errors="replace")
                self._login_step = 2
                return Continuation(b"Password:")
            case Auth():
                return Err("unsupported mechanism")
            case AuthResponse(data=data):
                if self._login_step == 1:
                    self._login_user = data.decode(errors="replace")
                    self._login_step = 2
                    return Continuation(b"Password:")
                if self._login_step == 2:
                    self._login_step = 0
                    if self.users.get(self._login_user) == data.decode(errors="replace"):
                        return Ok("logged in")
                    return Err("invalid login", code="AUTH")
                return self._plain(data)
            case AuthAbort():
                self._login_step = 0
                return Err("AUTH aborted")
            case Stls():
                return Ok("Begin TLS negotiation")
            case Utf8():
                return Ok("UTF8 enabled")
            case Stat():
                live = self.live()
                return Ok(f"{len(live)} {sum(self.size(n) for n in live)}")
            case List(message=None):
                live = self.live()
                total = sum(self.size(n) for n in live)
                return MultiLine(
                    Ok(f"{len(live)} messages ({total} octets)"),
                    lines=[f"{n} {self.size(n)}" for n in live],
                )
            case List(message=n) if n is not None:
                return self._message(n) or Ok(f"{n} {self.size(n)}")
            case Uidl(message=None):
                return MultiLine(Ok(), lines=[f"{n} uid-{n}" for n in self.live()])
            case Uidl(message=n) if n is not None:
                return self._message(n) or Ok(f"{n} uid-{n}")
            case Retr(message=n):
                return self._message(n) or MultiLine(
                    Ok(f"{self.size(n)} octets"), data=self.messages[n - 1]
                )
            case Top(message=n, lines=lines):
                return self._message(n) or MultiLine(
                    Ok(), data=message_top(self.messages[n - 1], lines)
                )
            case Dele(message=n):
                if error := self._message(n):
                    return error
                self.deleted.add(n)
                return Ok(f"message {n} deleted")
            case Rset():
                self.deleted.clear()
                return Ok()
            case Noop():
                return Ok()
            case Quit():
                self.committed = sorted(self.deleted)
                return Ok("bye")
        raise AssertionError(f"unexpected event {event!r}")

    def _plain(self, data: bytes) -> Ok | Err:
        parts = data.decode(errors="replace").split("\x00")
        if len(parts) == 3 and parts[1] in self.users and self.users[parts[1]] == parts[2]:
            return Ok("logged in")
        return Err("invalid login", code="AUTH")

    @staticmethod
    def capa(server: Pop3Server) -> tuple[str, ...]:
        before_login = server.state is State.AUTHORIZATION
        return capa_lines(
            stls=before_login and not server.tls_active,
            sasl=["PLAIN", "LOGIN"] if before_login else [],
            user=before_login,
            utf8=before_login,
            implementation="posthouse",
        )


Responder = Callable[[Pop3Server, ServerEvent], Response]


def drive(
    server: Pop3Server, chunks: Iterable[bytes], respond: Responder
) -> tuple[list[object], bytes]:
    """Feed `chunks` one by one, answering every event; return (events, octets sent).
    Closing is not implied: pass b"" as a chunk to close."""
    events: list[object] = []
    out = bytearray()
    for chunk in chunks:
        server.receive_data(chunk)
        while True:
            event = server.next_event()
            if event is NEED_DATA:
                break
            assert event is not PAUSED, "the driver answers every event"
            events.append(event)
            if isinstance(event, ConnectionClosed):
                return events, bytes(out)
            assert not isinstance(event, Sentinel)
            out += server.send(respond(server, event))
    return events, bytes(out)


def logged_in(maildrop: Maildrop | None = None) -> tuple[Pop3Server, Maildrop]:
    """A server core in TRANSACTION after USER/PASS with alice."""
    maildrop = maildrop or Maildrop()
    server = Pop3Server()
    server.send(GREETING)
    drive(server, [b"USER alice\r\nPASS alicepw\r\n"], maildrop.respond)
    assert server.state is State.TRANSACTION
    return server, maildrop


def client_events(client: Pop3Client, chunks: Iterable[bytes]) -> list[object]:
    """Feed a client core and collect every event until it needs data."""
    events: list[object] = []
    for chunk in chunks:
        client.receive_data(chunk)
        while (event := client.next_event()) is not NEED_DATA:
            events.append(event)
            if isinstance(event, ConnectionClosed):
                return events
    return events


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


class Pair:
    """A client core and a server core back to back (h11's ConnectionPair): what the
    client sends is parsed by the server, answered by a Maildrop, and parsed by the
    client again.  Any disagreement between the two cores shows up as an assertion."""

    def __init__(self, maildrop: Maildrop | None = None, **server_options: bool) -> None:
        self.maildrop = maildrop or Maildrop()
        self.server = Pop3Server(**server_options)
        self.client = Pop3Client()
        self.server_events: list[object] = []
        self.wire = bytearray()  # everything the server sent
        greeting = self.server.send(GREETING)
        self.wire += greeting
        assert client_events(self.client, [greeting]) == [GREETING]

    def run(self, *commands: Command) -> list[object]:
        """Send `commands` pipelined in one segment; return the client's events."""
        data = b"".join(self.client.send(command) for command in commands)
        events, out = drive(self.server, [data], self.maildrop.respond)
        self.server_events += events
        self.wire += out
        return client_events(self.client, [out])
