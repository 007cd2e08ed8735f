"""The POP3 client core: commands in, bytes out; server bytes in, responses out.

    client = Pop3Client()
    client.receive_data(read())           # the greeting
    client.next_event()                   # Ok("POP3 ready ...")
    write(client.send(Retr(1)))
    client.receive_data(read())
    client.next_event()                   # MultiLine(Ok("120 octets"), data=b"...")

The client knows the shape of each response from the command it sent (RFC 1939 §3: a
LIST without argument, RETR, TOP, UIDL without argument and CAPA answer in several
lines), so commands may be pipelined (RFC 2449 §6.6): responses come back in order.

It is also the server-direction dissector of the analyzer, so a captured stream of any
junk raises `RemoteProtocolError` and nothing else.  An observer that saw a line the
server core rejected calls `expect(ResponseKind.SINGLE)` instead of `send()`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from posthouse.proto.pop3 import events as ev
from posthouse.proto.pop3.dotstuff import unstuff
from posthouse.proto.pop3.errors import LocalProtocolError, RemoteProtocolError
from posthouse.proto.pop3.events import NEED_DATA, Sentinel
from posthouse.proto.pop3.response import RESP_CODE, Continuation, Err, MultiLine, Ok
from posthouse.proto.pop3.server import MAX_AUTH_LINE, MAX_COMMAND_LINE
from posthouse.proto.pop3.state import ResponseKind, Session, State, response_kind

# RFC 2449 §4 limits a response line to 512 octets; servers overstep it (long CAPA
# IMPLEMENTATION lines, SASL challenges), so accept up to 8 KiB before giving up.
MAX_RESPONSE_LINE = 8192
# A RETR of a message bigger than this is treated as a runaway server.
MAX_MULTILINE = 1 << 30

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_LINE = re.compile(rb"[\x00\r]")
_HEX_DIGEST = re.compile(r"[0-9A-Fa-f]{32}")
_MECHANISM = re.compile(r"[A-Z0-9_-]{1,20}")
_TIMESTAMP = re.compile(r"<[^<>\s]*@[^<>\s]*>")

_MULTILINE_KINDS = (ResponseKind.LINES, ResponseKind.DATA)

ClientEvent = Ok | Err | MultiLine | Continuation | ev.ConnectionClosed


@dataclass(slots=True)
class _Expected:
    kind: ResponseKind
    command: ev.Command | None  # None: the greeting, or a line only an observer saw


# --- command serialisation -----------------------------------------------------------


def _text(value: str, what: str) -> str:
    if not value or _CONTROL.search(value):
        raise LocalProtocolError(f"{what} must be non-empty, without control characters")
    return value


def _number(value: int, what: str, minimum: int) -> str:
    if not isinstance(value, int) or value < minimum:
        raise LocalProtocolError(f"{what} must be an integer >= {minimum}")
    return str(value)


def _mechanism(name: str) -> str:
    if not _MECHANISM.fullmatch(name):
        raise LocalProtocolError(f"not an RFC 4422 mechanism name: {name!r}")
    return name


def _encode_user(c: ev.User) -> str:
    name = _text(c.name, "user name")
    if name != name.strip(" "):
        raise LocalProtocolError("user name must not start or end with a space")
    return f"USER {name}"


def _encode_apop(c: ev.Apop) -> str:
    if " " in c.name or not _HEX_DIGEST.fullmatch(c.digest):
        raise LocalProtocolError("APOP needs a name without spaces and a 32-digit hex digest")
    return f"APOP {_text(c.name, 'user name')} {c.digest.lower()}"


def _encode_auth(c: ev.Auth) -> str:
    mechanism = _mechanism(c.mechanism)
    if c.initial_response is None:
        return f"AUTH {mechanism}"
    # RFC 5034 §4: a zero-length initial response is sent as "=".
    initial = base64.b64encode(c.initial_response).decode("ascii") or "="
    return f"AUTH {mechanism} {initial}"


def _optional_message(verb: str, message: int | None) -> str:
    return verb if message is None else f"{verb} {_number(message, 'message number', 1)}"


_ENCODERS: dict[type, Callable[[Any], str]] = {
    ev.User: _encode_user,
    ev.Pass: lambda c: f"PASS {_text(c.password, 'password')}",
    ev.Apop: _encode_apop,
    ev.Auth: _encode_auth,
    ev.AuthList: lambda c: "AUTH",
    ev.AuthResponse: lambda c: base64.b64encode(c.data).decode("ascii"),
    ev.AuthAbort: lambda c: "*",  # RFC 5034 §4
    ev.Stls: lambda c: "STLS",
    ev.Utf8: lambda c: "UTF8",
    ev.Capa: lambda c: "CAPA",
    ev.Quit: lambda c: "QUIT",
    ev.Stat: lambda c: "STAT",
    ev.List: lambda c: _optional_message("LIST", c.message),
    ev.Uidl: lambda c: _optional_message("UIDL", c.message),
    ev.Retr: lambda c: f"RETR {_number(c.message, 'message number', 1)}",
    ev.Top: lambda c: (
        f"TOP {_number(c.message, 'message number', 1)} {_number(c.lines, 'line count', 0)}"
    ),
    ev.Dele: lambda c: f"DELE {_number(c.message, 'message number', 1)}",
    ev.Rset: lambda c: "RSET",
    ev.Noop: lambda c: "NOOP",
}


def encode_command(command: ev.Command) -> bytes:
    """The command line for `command`, CRLF included (RFC 1939 §3)."""
    encoder = _ENCODERS.get(type(command))
    if encoder is None:
        raise LocalProtocolError(f"not a POP3 command: {command!r}")
    return encoder(command).encode("utf-8") + b"\r\n"


# --- helpers for the application -----------------------------------------------------


def apop_timestamp(greeting: str) -> str | None:
    """The msg-id style timestamp a server puts in its greeting for APOP (RFC 1939 §7)."""
    match = _TIMESTAMP.search(greeting)
    return match.group(0) if match else None


def apop_digest(timestamp: str, secret: str) -> str:
    """RFC 1939 §7: MD5 over the timestamp followed by the shared secret, in hex."""
    data = (timestamp + secret).encode("utf-8")
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _two_fields(text: str, what: str) -> tuple[str, str]:
    fields = text.split()
    if len(fields) < 2 or not (fields[0].isascii() and fields[0].isdigit()):
        raise RemoteProtocolError(f"malformed {what}: {text[:80]!r}")
    return fields[0], fields[1]


def parse_stat(text: str) -> tuple[int, int]:
    """(messages, octets) from the text of a STAT +OK (RFC 1939 §5, drop listing)."""
    count, size = _two_fields(text, "drop listing")
    if not (size.isascii() and size.isdigit()):
        raise RemoteProtocolError(f"malformed drop listing: {text[:80]!r}")
    return int(count), int(size)


def parse_scan_listing(text: str) -> tuple[int, int]:
    """(message, octets) from a LIST line or a LIST n +OK (RFC 1939 §7, scan listing)."""
    number, size = _two_fields(text, "scan listing")
    if not (size.isascii() and size.isdigit()):
        raise RemoteProtocolError(f"malformed scan listing: {text[:80]!r}")
    return int(number), int(size)


def parse_uid_listing(text: str) -> tuple[int, str]:
    """(message, unique-id) from a UIDL line or a UIDL n +OK (RFC 1939 §7)."""
    number, uid = _two_fields(text, "unique-id listing")
    return int(number), uid


# --- the core ------------------------------------------------------------------------


class Pop3Client:
    """The client side of one POP3 connection (sans-IO)."""

    def __init__(
        self,
        *,
        max_command_line: int = MAX_COMMAND_LINE,
        max_auth_line: int = MAX_AUTH_LINE,
        max_response_line: int = MAX_RESPONSE_LINE,
        max_multiline: int = MAX_MULTILINE,
    ) -> None:
        """`max_command_line` follows RFC 2449 §4 and RFC 5034 §4 (255 octets with
        CRLF, AUTH with initial response included); an analyzer replaying what a
        lenient server core accepted passes `MAX_AUTH_LINE`."""
        self._session = Session()
        self._max_command_line = max_command_line
        self._max_auth_line = max_auth_line
        self._max_response_line = max_response_line
        self._max_multiline = max_multiline
        self._expected: deque[_Expected] = deque([_Expected(ResponseKind.SINGLE, None)])
        self._buffer = bytearray()
        self._scanned = 0
        self._eof = False
        self._first: Ok | None = None  # first line of the multi-line response being read
        self._lines: list[str] = []
        self._listing_size = 0
        self.discarded_plaintext = b""  # server octets thrown away at STLS

    @property
    def state(self) -> State:
        return self._session.state

    @property
    def tls_active(self) -> bool:
        return self._session.tls_active

    @property
    def utf8_active(self) -> bool:
        return self._session.utf8_active

    @property
    def in_auth(self) -> bool:
        """A "+ " challenge arrived: answer with AuthResponse or AuthAbort."""
        return self._session.in_auth

    @property
    def pending(self) -> tuple[ev.Command | None, ...]:
        """The commands still waiting for their response, oldest first."""
        return tuple(expected.command for expected in self._expected)

    # --- sending -------------------------------------------------------------------

    def send(self, command: ev.Command) -> bytes:
        line = encode_command(command)
        answers_challenge = isinstance(command, ev.AuthResponse | ev.AuthAbort)
        limit = self._max_auth_line if answers_challenge else self._max_command_line
        if len(line) > limit:
            raise LocalProtocolError(f"command line of {len(line)} octets exceeds {limit}")
        if answers_challenge:
            if not self._session.in_auth:
                raise LocalProtocolError("no SASL challenge is waiting for a response")
            self._session.in_auth = False  # the AUTH expectation stays at the front
        else:
            last = self._expected[-1].command if self._expected else None
            if isinstance(last, ev.Stls):
                # RFC 2595 §4: the server throws away whatever follows STLS.
                raise LocalProtocolError("wait for the STLS response before the next command")
            if isinstance(last, ev.Auth):
                # RFC 5034 §4: until AUTH completes, every line is a SASL response.
                raise LocalProtocolError("an AUTH exchange is in progress")
            self._expected.append(_Expected(response_kind(command), command))
        return line

    def expect(self, kind: ResponseKind, command: ev.Command | None = None) -> None:
        """Observer role: a response of `kind` is due for a command not sent through
        `send()` (a line the server core rejected: `ResponseKind.SINGLE`)."""
        self._expected.append(_Expected(kind, command))

    # --- receiving -----------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer octets from the server; b"" means the server closed its side."""
        if self._eof:
            if data:
                raise LocalProtocolError("receive_data() after the connection was closed")
            return
        if not data:
            self._eof = True
            return
        self._buffer += data

    def next_event(self) -> ClientEvent | Sentinel:
        while self._expected:
            expected = self._expected[0]
            if self._first is not None:
                multiline = self._collect(expected.kind, self._first)
                if multiline is None:
                    return self._starved()
                self._first = None
                return self._complete(expected, multiline)
            line = self._take_line()
            if line is None:
                return self._starved()
            response = self._parse_status(line, expected.kind)
            if isinstance(response, Continuation):
                self._session.answered(expected.command, response)
                return response
            if isinstance(response, Ok) and expected.kind in _MULTILINE_KINDS:
                self._first = response
                self._lines = []
                self._listing_size = 0
                continue
            return self._complete(expected, response)
        if self._buffer:
            raise RemoteProtocolError("the server sent data when no response was due")
        return self._starved()

    def _starved(self) -> ev.ConnectionClosed | Sentinel:
        if not self._eof:
            return NEED_DATA
        if self._buffer or self._first is not None:
            raise RemoteProtocolError("the server closed the connection inside a response")
        self._session.state = State.CLOSED
        self._expected.clear()
        return ev.ConnectionClosed()

    def _complete(self, expected: _Expected, response: Ok | Err | MultiLine) -> ClientEvent:
        self._expected.popleft()
        session = self._session
        if expected.command is None:
            if session.state is State.GREETING and isinstance(response, Ok | Err):
                session.greeted(response)
            else:
                session.answered(None, response)
            return response
        session.answered(expected.command, response)
        if isinstance(expected.command, ev.Stls) and isinstance(response, Ok):
            # RFC 2595 §4: nothing the server sent before the handshake may be read as
            # a response afterwards (STARTTLS response injection).
            self.discarded_plaintext = bytes(self._buffer)
            self._buffer.clear()
            self._scanned = 0
        return response

    # --- framing -------------------------------------------------------------------

    def _take_line(self) -> bytes | None:
        buffer = self._buffer
        end = buffer.find(b"\n", self._scanned)
        if end < 0:
            if len(buffer) > self._max_response_line:
                raise RemoteProtocolError(f"response line longer than {self._max_response_line}")
            self._scanned = len(buffer)
            return None
        if end + 1 > self._max_response_line:
            raise RemoteProtocolError(f"response line longer than {self._max_response_line}")
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        self._scanned = 0
        # Servers that end lines with a bare LF exist; accept them (poplib does too).
        return line[:-1] if line.endswith(b"\r") else line

    def _parse_status(self, line: bytes, kind: ResponseKind) -> Ok | Err | Continuation:
        if _BAD_LINE.search(line):
            raise RemoteProtocolError(f"malformed response line: {line[:80]!r}")
        head = line[:4].upper()
        if head.startswith(b"+OK"):
            ok = True
            rest = line[3:]
        elif head == b"-ERR":
            ok = False
            rest = line[4:]
        elif line[:1] == b"+" and kind is ResponseKind.AUTH:
            # RFC 5034 §4: "+" SP base64 challenge; tolerate a missing space.
            try:
                return Continuation(binascii.a2b_base64(line[1:].lstrip(b" "), strict_mode=True))
            except binascii.Error:
                raise RemoteProtocolError(f"invalid base64 challenge: {line[:80]!r}") from None
        else:
            raise RemoteProtocolError(f"expected +OK or -ERR: {line[:80]!r}")
        text = rest.decode("utf-8", "surrogateescape")
        if text.startswith(" "):
            text = text[1:]
        code = None
        if text.startswith("["):
            # RFC 2449 §8: an extended response code in brackets leads the text.
            close = text.find("]")
            if close > 0 and RESP_CODE.fullmatch(text[1:close]):
                code = text[1:close]
                text = text[close + 1 :]
                if text.startswith(" "):
                    text = text[1:]
        return Ok(text, code) if ok else Err(text, code)

    def _collect(self, kind: ResponseKind, first: Ok) -> MultiLine | None:
        if kind is ResponseKind.DATA:
            return self._collect_data(first)
        while True:
            line = self._take_line()
            if line is None:
                return None
            if line == b".":
                return MultiLine(first, lines=tuple(self._lines))
            if _BAD_LINE.search(line):
                raise RemoteProtocolError(f"malformed listing line: {line[:80]!r}")
            # RFC 1939 §3: a leading termination octet was stuffed; drop it.
            if line.startswith(b"."):
                line = line[1:]
            self._listing_size += len(line) + 2
            if self._listing_size > self._max_multiline:
                raise RemoteProtocolError("multi-line response too large")
            self._lines.append(line.decode("utf-8", "surrogateescape"))

    def _collect_data(self, first: Ok) -> MultiLine | None:
        """Find the closing "." line of a message body in one pass over the buffer and
        unstuff it with bytes operations (fast for big messages)."""
        buffer = self._buffer
        if self._scanned == 0 and buffer[:1] == b".":
            # The body may be empty: the terminator comes right after the first line.
            if buffer[:2] == b".\n":
                del buffer[:2]
                return MultiLine(first, data=b"")
            if buffer[:3] == b".\r\n":
                del buffer[:3]
                return MultiLine(first, data=b"")
            if len(buffer) < 3 and bytes(buffer[1:2]) in (b"", b"\r"):
                return None
        position = self._scanned
        while True:
            found = buffer.find(b"\n.", position)
            if found < 0:
                if len(buffer) > self._max_multiline:
                    raise RemoteProtocolError("multi-line response too large")
                self._scanned = max(len(buffer) - 1, 0)
                return None
            after = bytes(buffer[found + 2 : found + 4])
            if after[:1] == b"\n":
                consumed = found + 3
            elif after == b"\r\n":
                consumed = found + 4
            elif after in (b"", b"\r"):
                self._scanned = found  # wait for the rest of this line
                return None
            else:
                position = found + 2
                continue
            body = bytes(buffer[: found + 1])
            del buffer[:consumed]
            self._scanned = 0
            return MultiLine(first, data=unstuff(body))
