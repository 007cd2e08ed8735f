"""The POP3 session state machine, as tables, shared by the server and client cores.

RFC 1939 §3: a session moves AUTHORIZATION → TRANSACTION (after a successful login) →
UPDATE (after QUIT).  Both cores follow the same transitions, driven by a command and
the response it got, so an analyzer observing both directions agrees with itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from posthouse.proto.pop3 import events as ev
from posthouse.proto.pop3.response import Continuation, Err, MultiLine, Ok, Response


class State(enum.Enum):
    GREETING = "GREETING"  # connected; the server has not greeted yet
    AUTHORIZATION = "AUTHORIZATION"  # RFC 1939 §4
    TRANSACTION = "TRANSACTION"  # RFC 1939 §5
    UPDATE = "UPDATE"  # RFC 1939 §6: QUIT answered after login; deletions committed
    CLOSED = "CLOSED"  # QUIT answered before login, greeting refused, or peer gone


class ResponseKind(enum.Enum):
    SINGLE = "single"  # +OK / -ERR on one line
    LINES = "lines"  # +OK then a listing up to "." (CAPA, LIST, UIDL, AUTH list)
    DATA = "data"  # +OK then message octets up to "." (RETR, TOP)
    AUTH = "auth"  # "+ " challenges until the final +OK / -ERR (RFC 5034 §4)


_AUTHORIZATION = frozenset({State.AUTHORIZATION})
_TRANSACTION = frozenset({State.TRANSACTION})
_BOTH = _AUTHORIZATION | _TRANSACTION

# Where each verb is valid.  RFC 1939 §4-§7; CAPA in both states (RFC 2449 §5); STLS
# before login only (RFC 2595 §4); AUTH likewise (RFC 5034 §4); UTF8 in AUTHORIZATION
# (RFC 6856 §2).
VERB_STATES: dict[str, frozenset[State]] = {
    "USER": _AUTHORIZATION,
    "PASS": _AUTHORIZATION,
    "APOP": _AUTHORIZATION,
    "AUTH": _AUTHORIZATION,
    "STLS": _AUTHORIZATION,
    "UTF8": _AUTHORIZATION,
    "CAPA": _BOTH,
    "QUIT": _BOTH,
    "STAT": _TRANSACTION,
    "LIST": _TRANSACTION,
    "UIDL": _TRANSACTION,
    "RETR": _TRANSACTION,
    "TOP": _TRANSACTION,
    "DELE": _TRANSACTION,
    "RSET": _TRANSACTION,
    "NOOP": _TRANSACTION,
}

# The shape of a positive response, by command.  LIST and UIDL depend on the argument.
_KINDS: dict[type, ResponseKind] = {
    ev.Capa: ResponseKind.LINES,
    ev.AuthList: ResponseKind.LINES,
    ev.Retr: ResponseKind.DATA,
    ev.Top: ResponseKind.DATA,
    ev.Auth: ResponseKind.AUTH,
    ev.AuthResponse: ResponseKind.AUTH,
}


def response_kind(command: ev.Command) -> ResponseKind:
    """What a positive response to `command` looks like (RFC 1939 §7, RFC 2449 §5)."""
    if isinstance(command, ev.List | ev.Uidl):
        return ResponseKind.SINGLE if command.message is not None else ResponseKind.LINES
    return _KINDS.get(type(command), ResponseKind.SINGLE)


@dataclass
class Session:
    """What both cores know about a session; changed only by `greeted` and `answered`."""

    state: State = State.GREETING
    tls_active: bool = False
    utf8_active: bool = False
    user: str | None = None  # from the last successful USER (RFC 1939 §7)
    in_auth: bool = False  # a "+ " challenge is waiting for the client's line

    def greeted(self, response: Ok | Err) -> None:
        # RFC 1939 §4: the greeting opens AUTHORIZATION; a refusal ends the session.
        self.state = State.AUTHORIZATION if isinstance(response, Ok) else State.CLOSED

    def answered(self, command: ev.Command | None, response: Response) -> None:
        """Apply `response` to `command` (None: a line the server core rejected)."""
        self.in_auth = isinstance(response, Continuation)
        if command is None:
            return
        transition = _TRANSITIONS.get(type(command))
        if transition is not None:
            transition(self, command, response)


def _positive(response: Response) -> bool:
    return isinstance(response, Ok | MultiLine)


def _on_user(session: Session, command: ev.Command, response: Response) -> None:
    assert isinstance(command, ev.User)
    # RFC 1939 §7: PASS follows a successful USER; a failed USER leaves no name.
    session.user = command.name if _positive(response) else None


def _on_pass(session: Session, command: ev.Command, response: Response) -> None:
    if _positive(response):
        session.state = State.TRANSACTION  # RFC 1939 §7: maildrop locked and open
    else:
        session.user = None  # RFC 1939 §7: start again with USER


def _on_login(session: Session, command: ev.Command, response: Response) -> None:
    # APOP (RFC 1939 §7) and the final +OK of AUTH (RFC 5034 §4) open the maildrop.
    if _positive(response):
        session.state = State.TRANSACTION
        # The name under AUTH is inside the SASL exchange, which only the app decodes.
        session.user = command.name if isinstance(command, ev.Apop) else None


def _on_stls(session: Session, command: ev.Command, response: Response) -> None:
    if _positive(response):
        session.tls_active = True  # RFC 2595 §4: negotiate TLS right after the +OK


def _on_utf8(session: Session, command: ev.Command, response: Response) -> None:
    if _positive(response):
        session.utf8_active = True  # RFC 6856 §2


def _on_quit(session: Session, command: ev.Command, response: Response) -> None:
    # RFC 1939 §6: QUIT after login enters UPDATE whatever the outcome (-ERR means some
    # deleted messages were not removed); before login the server just closes (§5).
    session.state = State.UPDATE if session.state is State.TRANSACTION else State.CLOSED


_TRANSITIONS: dict[type, Callable[[Session, ev.Command, Response], None]] = {
    ev.User: _on_user,
    ev.Pass: _on_pass,
    ev.Apop: _on_login,
    ev.Auth: _on_login,
    ev.AuthResponse: _on_login,
    ev.Stls: _on_stls,
    ev.Utf8: _on_utf8,
    ev.Quit: _on_quit,
}
