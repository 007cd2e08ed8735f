"""The POP3 server core: bytes from a client in, events out; responses in, bytes out.

    server = Pop3Server()
    write(server.send(Ok("posthouse ready")))          # the greeting comes first
    server.receive_data(read())                        # b"" when the client closed
    event = server.next_event()                        # a command, or NEED_DATA / PAUSED
    write(server.send(Ok("1 120")))                     # one response per event

The core owns framing, syntax and the state machine (RFC 1939 §3): a command in the
wrong state, a malformed argument or an over-long line comes out as `CommandRejected`
carrying the `-ERR` to send.  Whether message 3 exists is the maildrop's business, so
`Retr(3)` reaches the application, which answers it.

Pipelining (RFC 2449 §6.6): a client may send many commands at once.  After each event
`next_event()` returns PAUSED until the response has gone through `send()`; the rest of
the input stays buffered and is parsed in order afterwards.  Do not keep feeding input
while paused: the buffer holds whatever is fed.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable

from posthouse.proto.pop3 import events as ev
from posthouse.proto.pop3.errors import LocalProtocolError, RemoteProtocolError
from posthouse.proto.pop3.events import NEED_DATA, PAUSED, Sentinel
from posthouse.proto.pop3.response import Continuation, Err, MultiLine, Ok, Response
from posthouse.proto.pop3.state import VERB_STATES, ResponseKind, Session, State, response_kind

# RFC 2449 §4: "Commands ... MUST NOT exceed 255 octets, including the terminating CRLF."
MAX_COMMAND_LINE = 255
# AUTH with an initial response and the lines of a SASL exchange may be longer: RFC 5034
# §4 sets no limit on a response line, and OAuth tokens run to kilobytes.  16 KiB is
# Dovecot's SASL line limit; beyond it the line is framed and thrown away.
MAX_AUTH_LINE = 16384
_LOG_PREFIX = 100  # octets of a rejected line kept for logs

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_HEX_DIGEST = re.compile(r"[0-9A-Fa-f]{32}")
# RFC 4422 §3.1: sasl-mech = 1*20mech-char; mech-char = UPPER-ALPHA / DIGIT / "-" / "_"
_MECHANISM = re.compile(r"[A-Z0-9_-]{1,20}")
_SECRET_VERBS = (b"PASS ", b"AUTH ")


def _reject(text: str) -> RemoteProtocolError:
    return RemoteProtocolError(text, Err(text))


def _args(rest: str) -> list[str]:
    # RFC 1939 §3: arguments are separated by a single space; tolerate runs of spaces
    # and a trailing space, which hand-typed sessions produce.
    return [arg for arg in rest.split(" ") if arg]


def _number(arg: str, what: str) -> int:
    # RFC 1939 §3: numeric arguments are decimal; isascii() keeps out "²" and friends.
    if not (arg.isascii() and arg.isdigit()):
        raise _reject(f"Invalid {what}: expected a decimal number")
    return int(arg)


def _message_number(arg: str) -> int:
    number = _number(arg, "message number")
    if number == 0:
        # RFC 1939 §5: messages are numbered from 1.
        raise _reject("Invalid message number: messages are numbered from 1")
    return number


def _base64(text: str, what: str) -> bytes:
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise _reject(f"Invalid base64 in {what}") from None


# --- argument parsers, one per verb --------------------------------------------------


def _no_argument(verb: str, factory: Callable[[], ev.Command]) -> Callable[[str], ev.Command]:
    def parse(rest: str) -> ev.Command:
        if _args(rest):
            raise _reject(f"{verb} takes no argument")
        return factory()

    return parse


def _parse_user(rest: str) -> ev.Command:
    name = rest.strip(" ")
    if not name:
        raise _reject("USER needs a name")
    return ev.User(name)


def _parse_pass(rest: str) -> ev.Command:
    # RFC 1939 §7: PASS has exactly one argument, so spaces belong to the password.
    if not rest:
        raise _reject("PASS needs a password")
    return ev.Pass(rest)


def _parse_apop(rest: str) -> ev.Command:
    args = _args(rest)
    # RFC 1939 §7: APOP name digest, the digest being 16 octets in hexadecimal.
    if len(args) != 2 or not _HEX_DIGEST.fullmatch(args[1]):
        raise _reject("APOP needs a name and a 32-digit hex digest")
    return ev.Apop(args[0], args[1].lower())


def _parse_auth(rest: str) -> ev.Command:
    args = _args(rest)
    if not args:
        return ev.AuthList()
    if len(args) > 2:
        raise _reject("AUTH takes a mechanism and an optional initial response")
    mechanism = args[0].upper()
    if not (mechanism.isascii() and _MECHANISM.fullmatch(mechanism)):
        raise _reject("Invalid SASL mechanism name")
    if len(args) == 1:
        return ev.Auth(mechanism)
    # RFC 5034 §4: "=" is an initial response of zero length.
    initial = b"" if args[1] == "=" else _base64(args[1], "initial response")
    return ev.Auth(mechanism, initial)


def _parse_list(rest: str) -> ev.Command:
    args = _args(rest)
    if len(args) > 1:
        raise _reject("LIST takes at most one message number")
    return ev.List(_message_number(args[0]) if args else None)


def _parse_uidl(rest: str) -> ev.Command:
    args = _args(rest)
    if len(args) > 1:
        raise _reject("UIDL takes at most one message number")
    return ev.Uidl(_message_number(args[0]) if args else None)


def _one_message(verb: str, factory: Callable[[int], ev.Command]) -> Callable[[str], ev.Command]:
    def parse(rest: str) -> ev.Command:
        args = _args(rest)
        if len(args) != 1:
            raise _reject(f"{verb} needs one message number")
        return factory(_message_number(args[0]))

    return parse


def _parse_top(rest: str) -> ev.Command:
    args = _args(rest)
    # RFC 1939 §7: TOP msg n, both required, n non-negative.
    if len(args) != 2:
        raise _reject("TOP needs a message number and a line count")
    return ev.Top(_message_number(args[0]), _number(args[1], "line count"))


# The dispatch table: verb → argument parser.  Valid states live in state.VERB_STATES.
_PARSERS: dict[str, Callable[[str], ev.Command]] = {
    "USER": _parse_user,
    "PASS": _parse_pass,
    "APOP": _parse_apop,
    "AUTH": _parse_auth,
    "STLS": _no_argument("STLS", ev.Stls),
    "UTF8": _no_argument("UTF8", ev.Utf8),
    "CAPA": _no_argument("CAPA", ev.Capa),
    "QUIT": _no_argument("QUIT", ev.Quit),
    "STAT": _no_argument("STAT", ev.Stat),
    "LIST": _parse_list,
    "UIDL": _parse_uidl,
    "RETR": _one_message("RETR", ev.Retr),
    "TOP": _parse_top,
    "DELE": _one_message("DELE", ev.Dele),
    "RSET": _no_argument("RSET", ev.Rset),
    "NOOP": _no_argument("NOOP", ev.Noop),
}
assert _PARSERS.keys() == VERB_STATES.keys()


def _wrong_state(verb: str, state: State) -> str:
    if state is State.AUTHORIZATION:
        return f"Not logged in: {verb} is valid only after USER/PASS, APOP or AUTH"
    return f"Already logged in: {verb} is valid only before login"


class Pop3Server:
    """The server side of one POP3 connection (sans-IO)."""

    def __init__(
        self,
        *,
        tls_active: bool = False,
        max_command_line: int = MAX_COMMAND_LINE,
        max_auth_line: int = MAX_AUTH_LINE,
    ) -> None:
        """`tls_active`: the connection is already TLS (port 995), so STLS is refused.
        Line limits count octets including CRLF."""
        self._session = Session(tls_active=tls_active)
        self._max_command_line = max_command_line
        self._max_auth_line = max(max_auth_line, max_command_line)
        self._buffer = bytearray()
        self._scanned = 0  # octets of the head line already searched for LF
        self._discarding = False  # inside an over-long line, throwing octets away
        self._overlong: bytes | None = None  # log prefix of an over-long line to report
        self._eof = False
        self._pending: ev.Command | ev.CommandRejected | None = None
        self.discarded_plaintext = b""  # input thrown away at STLS (RFC 2595 §4)

    # --- what the application may look at ------------------------------------------

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
    def user(self) -> str | None:
        """The name from the last successful USER (what PASS logs in), or APOP's name."""
        return self._session.user

    @property
    def in_auth(self) -> bool:
        """A "+ " challenge is out: the next line is a SASL response."""
        return self._session.in_auth

    # --- the three verbs -----------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer octets from the client; b"" means the client closed its side."""
        if self._eof:
            if data:
                raise LocalProtocolError("receive_data() after the connection was closed")
            return
        if not data:
            self._eof = True
            return
        if self._discarding:
            # Stalwart-style discarding receiver: frame the over-long line, keep nothing.
            end = data.find(b"\n")
            if end < 0:
                return
            self._discarding = False
            data = data[end + 1 :]
        self._buffer += data

    def next_event(self) -> ev.ServerEvent | Sentinel:
        state = self._session.state
        if state is State.GREETING:
            return PAUSED  # send() the greeting first
        if state in (State.UPDATE, State.CLOSED):
            return ev.ConnectionClosed()
        if self._pending is not None:
            return PAUSED
        event = self._next_line_event()
        if event is None:
            if self._eof:
                # RFC 1939 §6: without QUIT there is no UPDATE; deletions are forgotten.
                self._session.state = State.CLOSED
                return ev.ConnectionClosed()
            return NEED_DATA
        self._pending = event
        return event

    def send(self, response: Response) -> bytes:
        """The octets for `response`: the greeting first, then one response per event."""
        return b"".join(self.send_parts(response))

    def send_parts(self, response: Response) -> tuple[bytes, ...]:
        """`send` as parts to write in order, so a RETR sends the stored message
        octets without copying them into one bigger object."""
        session = self._session
        if session.state is State.GREETING:
            if not isinstance(response, Ok | Err):
                raise LocalProtocolError("the greeting is one +OK or -ERR line")
            line = response.to_bytes()
            session.greeted(response)
            return (line,)
        pending = self._pending
        if pending is None:
            raise LocalProtocolError("no command is waiting for a response")
        _check_shape(pending, response)
        # may raise: state stays as it was
        data = response.to_parts() if isinstance(response, MultiLine) else (response.to_bytes(),)
        self._pending = None
        if isinstance(pending, ev.CommandRejected):
            session.answered(None, response)
        else:
            session.answered(pending, response)
            if isinstance(pending, ev.Stls) and isinstance(response, Ok):
                # RFC 2595 §4 (and RFC 3207 §4.2 for SMTP): whatever the client sent
                # after STLS arrived in plaintext and must not be executed under TLS.
                self.discarded_plaintext = bytes(self._buffer)
                self._buffer.clear()
                self._scanned = 0
                self._discarding = False
                self._overlong = None
        return data

    # --- framing -------------------------------------------------------------------

    def _line_limit(self) -> int:
        if self._session.in_auth or self._buffer[:5].upper() == b"AUTH ":
            return self._max_auth_line
        return self._max_command_line

    def _next_line_event(self) -> ev.Command | ev.CommandRejected | None:
        if self._overlong is not None and not self._discarding:
            prefix, self._overlong = self._overlong, None
            return self._too_long(prefix)
        if self._discarding:
            return None
        buffer = self._buffer
        end = buffer.find(b"\n", self._scanned)
        # The limit depends on the line (AUTH may be longer); octets within the
        # smaller one need no look at which it is.
        limit = self._max_command_line
        if (end if end >= 0 else len(buffer)) >= limit:
            limit = self._line_limit()
        if end < 0:
            if len(buffer) >= limit:
                # RFC 2449 §4: too long already; frame it without buffering it.
                self._overlong = self._loggable(bytes(buffer[: min(_LOG_PREFIX, limit)]))
                self._discarding = True
                buffer.clear()
                self._scanned = 0
            else:
                self._scanned = len(buffer)
            return None
        line = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        self._scanned = 0
        if len(line) > limit:
            return self._too_long(self._loggable(line[: min(_LOG_PREFIX, limit)]))
        body = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        try:
            if self._session.in_auth:
                return self._parse_auth_response(body)
            return self._parse_command(body)
        except RemoteProtocolError as exc:
            assert exc.response is not None
            return ev.CommandRejected(exc.response, self._loggable(body))

    def _too_long(self, prefix: bytes) -> ev.CommandRejected:
        what = "SASL response" if self._session.in_auth else "Command line"
        return ev.CommandRejected(Err(f"{what} too long"), prefix)

    def _loggable(self, line: bytes) -> bytes:
        line = line.rstrip(b"\r\n")[:_LOG_PREFIX]
        if self._session.in_auth:
            return b"[SASL response redacted]"
        head = line[:5].upper()
        if head == b"PASS ":
            return line[:5] + b"[redacted]"
        if head == b"AUTH ":
            mechanism, _, initial = line[5:].lstrip(b" ").partition(b" ")
            return line[:5] + mechanism + (b" [redacted]" if initial else b"")
        return line

    # --- parsing -------------------------------------------------------------------

    def _parse_auth_response(self, body: bytes) -> ev.Command:
        if body == b"*":
            return ev.AuthAbort()  # RFC 5034 §4: the client cancels the exchange
        # RFC 5034 §4: a response that is not valid base64 fails the AUTH with -ERR.
        try:
            return ev.AuthResponse(binascii.a2b_base64(body, strict_mode=True))
        except binascii.Error:
            raise _reject("Invalid base64 in SASL response") from None

    def _parse_command(self, body: bytes) -> ev.Command:
        # RFC 1939 §3: keywords and arguments are printable; UTF-8 is allowed for names
        # and passwords (RFC 6856 §2) and never harms elsewhere.
        if _CONTROL.search(body):
            raise _reject("Command contains control characters")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _reject("Command is not valid UTF-8") from None
        verb, _, rest = text.partition(" ")
        if not verb:
            raise _reject("Empty command")
        # RFC 1939 §3: keywords are case-insensitive.
        keyword = verb.upper() if verb.isascii() else ""
        parse = _PARSERS.get(keyword)
        if parse is None:
            raise _reject("Unknown command")
        session = self._session
        if session.state not in VERB_STATES[keyword]:
            raise _reject(_wrong_state(keyword, session.state))
        if keyword == "STLS" and session.tls_active:
            raise _reject("TLS is already active")  # RFC 2595 §4
        if keyword == "PASS" and session.user is None:
            raise _reject("PASS must follow a successful USER")  # RFC 1939 §7
        return parse(rest)


def _check_shape(pending: ev.Command | ev.CommandRejected, response: Response) -> None:
    """Refuse a response that cannot answer `pending`: it would desynchronise the client."""
    name = type(pending).__name__
    if isinstance(pending, ev.CommandRejected | ev.AuthAbort):
        if not isinstance(response, Err):
            raise LocalProtocolError(f"{name} is answered with Err")
        return
    kind = response_kind(pending)
    if isinstance(response, Continuation):
        if kind is not ResponseKind.AUTH:
            raise LocalProtocolError(f"a Continuation cannot answer {name}")
    elif isinstance(response, MultiLine):
        if kind not in (ResponseKind.LINES, ResponseKind.DATA):
            raise LocalProtocolError(f"{name} takes a single-line response")
    elif isinstance(response, Ok) and kind in (ResponseKind.LINES, ResponseKind.DATA):
        raise LocalProtocolError(f"a positive response to {name} is MultiLine")
