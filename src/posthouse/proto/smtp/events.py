"""SMTP events: what a client says (commands) and what the server core reports.

The command classes serve both roles: the server core parses bytes into them and the
client core serialises them into bytes (h11 style, see STYLE.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from posthouse.proto.smtp.reply import Reply


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA = _Sentinel("NEED_DATA")  # feed more bytes with receive_data()
PAUSED = _Sentinel("PAUSED")  # the previous event still waits for its reply

Sentinel = _Sentinel  # the type of NEED_DATA and PAUSED, for annotations


# --- commands (client -> server) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    verb: str  # "EHLO", "HELO" or "LHLO", upper-case
    domain: str  # as given (a domain, an address literal, or whatever a person typed)


@dataclass(frozen=True, slots=True)
class MailFrom:
    address: str  # "" for the null reverse-path <>
    params: dict[str, str | None] = field(default_factory=dict)  # keys upper-case


@dataclass(frozen=True, slots=True)
class RcptTo:
    address: str
    params: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Data:
    """The DATA command; answer 354 to receive the content."""


@dataclass(frozen=True, slots=True)
class MessageBody:
    """The whole content after DATA, dot-unstuffed, CRLF line ends kept, final
    CRLF.CRLF removed (the body ends with CRLF unless it is empty)."""

    content: bytes


@dataclass(frozen=True, slots=True)
class BdatChunk:
    """One BDAT chunk (RFC 3030), its octets exactly as sent."""

    data: bytes
    last: bool


@dataclass(frozen=True, slots=True)
class Rset:
    pass


@dataclass(frozen=True, slots=True)
class Noop:
    argument: str = ""


@dataclass(frozen=True, slots=True)
class Vrfy:
    argument: str


@dataclass(frozen=True, slots=True)
class Expn:
    argument: str


@dataclass(frozen=True, slots=True)
class Help:
    argument: str = ""


@dataclass(frozen=True, slots=True)
class Quit:
    pass


@dataclass(frozen=True, slots=True)
class StartTLS:
    pass


@dataclass(frozen=True, slots=True)
class Auth:
    mechanism: str  # upper-case
    initial_response: bytes | None  # base64-decoded; b"" for "=" (RFC 4954 §4)


@dataclass(frozen=True, slots=True)
class AuthResponse:
    """A client line answering a 334 challenge, base64-decoded."""

    data: bytes


@dataclass(frozen=True, slots=True)
class AuthAbort:
    """The client answered a 334 challenge with "*" (RFC 4954 §4); reply 501."""


Command = (
    Hello | MailFrom | RcptTo | Data | Rset | Noop | Vrfy | Expn | Help | Quit | StartTLS | Auth
)


# --- events the server core reports ------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """The core refused the input itself (syntax, sequence, limits); send `reply`."""

    reply: Reply
    line: bytes = b""  # the offending line, for logs and transcripts (may be truncated)


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """Message content was framed but refused (too big, line too long, bare CR/LF);
    send `reply`.  The transaction is over, as after a MessageBody."""

    reply: Reply


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its side (receive_data(b""))."""


ServerEvent = (
    Command
    | MessageBody
    | BdatChunk
    | AuthResponse
    | AuthAbort
    | CommandRejected
    | MessageRejected
    | ConnectionClosed
)
