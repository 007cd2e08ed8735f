"""The two kinds of POP3 protocol error (h11 style, see STYLE.md).

`LocalProtocolError`: our side misused the core (sent a reply nobody asked for, a
command with a CR in it).  `RemoteProtocolError`: the peer misbehaved.  The server core
never raises it for a client's bad line: it reports `CommandRejected` with the `-ERR`
to send instead (DESIGN.md principle 2); the client core raises it for a server's
malformed reply, so the analyzer can mark the spot and carry on with the next stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posthouse.proto.pop3.response import Err


class ProtocolError(Exception):
    """Base of both POP3 protocol errors."""


class LocalProtocolError(ProtocolError):
    """This side broke the protocol: a bug in the caller, not in the peer."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol.  `response` is the `-ERR` a server answers with,
    where there is one to send."""

    def __init__(self, message: str, response: Err | None = None) -> None:
        super().__init__(message)
        self.response = response
