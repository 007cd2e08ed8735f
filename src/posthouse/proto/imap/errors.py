"""The two kinds of IMAP protocol error (h11 style, see STYLE.md).

`LocalProtocolError`: our side misused the codec (a response with a CR in its text, a
literal accepted when none was pending).  `RemoteProtocolError`: the peer misbehaved.
The command parser never raises it for a client's bad command: it reports `BadCommand`
carrying the tagged (or untagged) BAD/NO to send instead (DESIGN.md principle 2).  The
response parser raises it for a server's malformed response, so a client gives up
cleanly and the analyzer can mark the spot and carry on.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of both IMAP protocol errors."""


class LocalProtocolError(ProtocolError):
    """This side broke the protocol: a bug in the caller, not in the peer."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol."""


class ParseError(ValueError):
    """A grammar violation inside one command or response; the parser turns it into a
    `BadCommand` (server role) or a `RemoteProtocolError` (client role).  `code` is
    the response code to answer with (e.g. "BADCHARSET"), `status` "BAD" or "NO"."""

    def __init__(self, message: str, *, code: str | None = None, status: str = "BAD") -> None:
        super().__init__(message)
        self.text = message
        self.code = code
        self.status = status
