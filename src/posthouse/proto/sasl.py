"""SASL mechanisms (RFC 4422), sans-IO, shared by SMTP AUTH, POP3 AUTH and IMAP
AUTHENTICATE.

A server mechanism is a small state machine: feed it the client's (already
base64-decoded) responses with `step()`; it answers with the next `Challenge` to send
or, once the exchange is complete, the `Credentials` the client presented. Checking
them is the caller's job (accounts/). Each protocol core does its own base64 framing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

SERVER_MECHANISMS = ("PLAIN", "LOGIN")


@dataclass(frozen=True, slots=True)
class Challenge:
    data: bytes  # raw; the protocol core base64-encodes it


@dataclass(frozen=True, slots=True)
class Credentials:
    authzid: str  # "" when the client asked for no other identity
    username: str
    password: str


class SASLError(Exception):
    """The client's response is malformed; the exchange is over (SMTP: 501)."""


class ServerMechanism(ABC):
    """One server-side exchange. `step(None)` starts it without an initial response
    (RFC 4422: no initial response); `step(data)` passes the initial response or the answer to the
    previous challenge."""

    name: str = ""

    @abstractmethod
    def step(self, response: bytes | None) -> Challenge | Credentials:
        """Advance the exchange; SASLError if `response` is malformed."""


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SASLError(f"{what} is not UTF-8") from None


class PlainMechanism(ServerMechanism):
    """RFC 4616 §2: message = [authzid] NUL authcid NUL passwd, UTF-8."""

    name = "PLAIN"

    def __init__(self) -> None:
        self._started = False
        self._done = False

    def step(self, response: bytes | None) -> Challenge | Credentials:
        if self._done:
            raise SASLError("PLAIN exchange already complete")
        if response is None:
            if self._started:
                raise SASLError("PLAIN needs a response")
            # RFC 4422 (client-first mechanism, no initial response; RFC 4954 §4 for
            # SMTP): the server sends an empty challenge.
            self._started = True
            return Challenge(b"")
        self._started = True
        self._done = True
        parts = response.split(b"\x00")
        if len(parts) != 3:
            raise SASLError("PLAIN response must be authzid NUL authcid NUL passwd")
        authzid, authcid, passwd = (_utf8(part, "PLAIN response") for part in parts)
        # RFC 4616 §2: authcid = 1*SAFE, passwd = 1*SAFE
        if not authcid or not passwd:
            raise SASLError("PLAIN username and password must not be empty")
        return Credentials(authzid, authcid, passwd)


class LoginMechanism(ServerMechanism):
    """The LOGIN mechanism (draft-murchison-sasl-login): "Username:" then
    "Password:". An initial response (`AUTH LOGIN <user>`, RFC 4954 §4) is the
    username, and the Username: challenge is skipped."""

    name = "LOGIN"

    def __init__(self) -> None:
        self._stage = 0  # 0: nothing yet, 1: Username: sent, 2: Password: sent, 3: done
        self._username = ""

    def step(self, response: bytes | None) -> Challenge | Credentials:
        if self._stage == 0 and response is None:
            self._stage = 1
            return Challenge(b"Username:")
        if self._stage in (0, 1):
            if response is None:
                raise SASLError("LOGIN needs a username")
            self._username = _utf8(response, "LOGIN username")
            if not self._username or "\x00" in self._username:
                raise SASLError("LOGIN username must be non-empty and without NUL")
            self._stage = 2
            return Challenge(b"Password:")
        if self._stage == 2:
            if response is None:
                raise SASLError("LOGIN needs a password")
            password = _utf8(response, "LOGIN password")
            if "\x00" in password:
                raise SASLError("LOGIN password must not contain NUL")
            self._stage = 3
            return Credentials("", self._username, password)
        raise SASLError("LOGIN exchange already complete")


_SERVER_FACTORIES: dict[str, type[ServerMechanism]] = {
    "PLAIN": PlainMechanism,
    "LOGIN": LoginMechanism,
}


def server_mechanism(name: str) -> ServerMechanism:
    """A fresh server-side exchange for mechanism `name` (case-insensitive);
    KeyError for a mechanism not implemented here."""
    return _SERVER_FACTORIES[name.upper()]()


def plain_initial_response(username: str, password: str, authzid: str = "") -> bytes:
    """The client's PLAIN message (RFC 4616 §2), not yet base64-encoded."""
    for value in (authzid, username, password):
        if "\x00" in value:
            raise ValueError("PLAIN fields must not contain NUL")
    return f"{authzid}\x00{username}\x00{password}".encode()
