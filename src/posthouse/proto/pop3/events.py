"""POP3 events: the commands a client sends and what the server core reports.

The command classes serve both roles (h11 style, see STYLE.md): the server core parses
bytes into them and the client core serialises them into bytes.  Message numbers and
line counts are validated as numbers by the core; whether message 7 exists, or is
deleted, only the maildrop knows, so the server application checks that.
"""

from __future__ import annotations

from dataclasses import dataclass

from posthouse.proto.pop3.response import Err


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA = _Sentinel("NEED_DATA")  # feed more bytes with receive_data()
PAUSED = _Sentinel("PAUSED")  # the previous event still waits for its response
Sentinel = _Sentinel


# --- AUTHORIZATION state (RFC 1939 §4, §7; RFC 2595 §4; RFC 5034; RFC 6856) ----------


@dataclass(frozen=True, slots=True)
class User:
    """USER name (RFC 1939 §7)."""

    name: str


@dataclass(frozen=True, slots=True)
class Pass:
    """PASS string (RFC 1939 §7): everything after "PASS ", spaces included.  The
    server core remembers the name from the preceding USER (`Pop3Server.user`)."""

    password: str

    def __repr__(self) -> str:
        return "Pass(password=<redacted>)"


@dataclass(frozen=True, slots=True)
class Apop:
    """APOP name digest (RFC 1939 §7); digest is 32 lower-case hex digits."""

    name: str
    digest: str


@dataclass(frozen=True, slots=True)
class Auth:
    """AUTH mechanism [initial-response] (RFC 5034 §4)."""

    mechanism: str  # upper-case
    initial_response: bytes | None = None  # base64-decoded; b"" for "="


@dataclass(frozen=True, slots=True)
class AuthList:
    """AUTH without an argument: list the SASL mechanisms, one per line.  Not in
    RFC 5034, but Outlook and others probe with it, so servers answer it."""


@dataclass(frozen=True, slots=True)
class AuthResponse:
    """A client line answering a "+ " challenge (RFC 5034 §4), base64-decoded."""

    data: bytes

    def __repr__(self) -> str:
        return f"AuthResponse(<{len(self.data)} octets>)"


@dataclass(frozen=True, slots=True)
class AuthAbort:
    """The client answered a challenge with "*" (RFC 5034 §4); answer `-ERR`."""


@dataclass(frozen=True, slots=True)
class Stls:
    """STLS (RFC 2595 §4)."""


@dataclass(frozen=True, slots=True)
class Utf8:
    """UTF8 (RFC 6856 §2): switch the session to UTF-8."""


# --- both states (RFC 2449 §5, RFC 1939 §5-6) --------------------------------------


@dataclass(frozen=True, slots=True)
class Capa:
    """CAPA (RFC 2449 §5)."""


@dataclass(frozen=True, slots=True)
class Quit:
    """QUIT (RFC 1939 §5 before login, §6 after: then the server enters UPDATE)."""


# --- TRANSACTION state (RFC 1939 §5, §7) -------------------------------------------


@dataclass(frozen=True, slots=True)
class Stat:
    pass


@dataclass(frozen=True, slots=True)
class List:
    """LIST [msg]: without `message`, a multi-line scan listing."""

    message: int | None = None


@dataclass(frozen=True, slots=True)
class Uidl:
    """UIDL [msg]: without `message`, a multi-line unique-id listing."""

    message: int | None = None


@dataclass(frozen=True, slots=True)
class Retr:
    message: int


@dataclass(frozen=True, slots=True)
class Top:
    """TOP msg n: the header and the first `lines` lines of the body."""

    message: int
    lines: int


@dataclass(frozen=True, slots=True)
class Dele:
    message: int


@dataclass(frozen=True, slots=True)
class Rset:
    pass


@dataclass(frozen=True, slots=True)
class Noop:
    pass


Command = (
    User
    | Pass
    | Apop
    | Auth
    | AuthList
    | AuthResponse
    | AuthAbort
    | Stls
    | Utf8
    | Capa
    | Quit
    | Stat
    | List
    | Uidl
    | Retr
    | Top
    | Dele
    | Rset
    | Noop
)


# --- what else the server core reports ---------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """The core refused a line itself (syntax, state, length, characters); send
    `response`.  `line` is the start of the offending line for logs, with a PASS
    argument or SASL response blanked out."""

    response: Err
    line: bytes = b""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The session is over: the peer closed its side, QUIT was answered, or the
    greeting was `-ERR`.  Close the connection."""


ServerEvent = Command | CommandRejected | ConnectionClosed
