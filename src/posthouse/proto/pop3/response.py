"""POP3 responses, the same objects in both roles.

The server application hands them to `Pop3Server.send()`; the client core returns them
from `Pop3Client.next_event()`.  So an analyzer can pass what the client core parsed
straight into a server core observing the same connection.

RFC 1939 §3: a response is a status indicator ("+OK" or "-ERR") and text; RFC 2449 §8
puts an extended response code in brackets after the indicator; RFC 5034 §4 adds the
"+ " continuation of a SASL exchange.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from posthouse.proto.pop3.dotstuff import TERMINATOR, encode_message_parts
from posthouse.proto.pop3.errors import LocalProtocolError

# RFC 2449 §9: resp-code = "[" resp-level *("/" resp-level) "]", resp-level = 1*rchar,
# rchar = alpha / "-".
RESP_CODE = re.compile(r"[A-Za-z-]+(?:/[A-Za-z-]+)*")
# Characters a single line may not carry: they would end it early or confuse a reader.
_FORBIDDEN = re.compile(r"[\x00\r\n]")

# Extended response codes.  RFC 2449 §8.1: IN-USE, LOGIN-DELAY; RFC 3206 §4-§5:
# SYS/TEMP, SYS/PERM, AUTH; RFC 6856 §5: UTF8.
IN_USE = "IN-USE"
LOGIN_DELAY = "LOGIN-DELAY"
SYS_TEMP = "SYS/TEMP"
SYS_PERM = "SYS/PERM"
AUTH = "AUTH"
UTF8 = "UTF8"


def _encode_text(text: str) -> bytes:
    # surrogateescape: a line the client core decoded from odd 8-bit octets goes back
    # out as the same octets.
    return text.encode("utf-8", "surrogateescape")


def _status_line(indicator: str, text: str, code: str | None) -> bytes:
    if _FORBIDDEN.search(text):
        raise LocalProtocolError(f"response text contains CR, LF or NUL: {text!r}")
    parts = [indicator]
    if code is not None:
        if not RESP_CODE.fullmatch(code):
            raise LocalProtocolError(f"not an RFC 2449 response code: {code!r}")
        parts.append(f"[{code}]")
    if text:
        parts.append(text)
    return _encode_text(" ".join(parts)) + b"\r\n"


@dataclass(frozen=True, slots=True)
class Ok:
    """`+OK text`.  `code` is an extended response code without brackets."""

    text: str = ""
    code: str | None = None

    def to_bytes(self) -> bytes:
        return _status_line("+OK", self.text, self.code)


@dataclass(frozen=True, slots=True)
class Err:
    """`-ERR [CODE] text`, e.g. `Err("mailbox locked", code=IN_USE)`."""

    text: str = ""
    code: str | None = None

    def to_bytes(self) -> bytes:
        return _status_line("-ERR", self.text, self.code)


@dataclass(frozen=True, slots=True)
class MultiLine:
    """A positive multi-line response: `first`, then a body, then "." CRLF
    (RFC 1939 §3).

    The body is either `lines` (a listing: CAPA, LIST, UIDL, AUTH without a mechanism;
    str without line ends) or `data` (message octets for RETR and TOP, not yet
    stuffed; any line ends).  `to_bytes` does the dot-stuffing.  From the client core,
    `data` is the unstuffed message with CRLF line ends.

    `dot_safe` says that `data` needs no change at all: every line ends in CRLF and
    none begins with "." (a server that knows this from its store saves the scan).
    """

    first: Ok
    lines: Sequence[str] = ()  # stored as a tuple
    data: bytes | None = None
    dot_safe: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.lines, tuple):
            object.__setattr__(self, "lines", tuple(self.lines))
        if self.data is not None and self.lines:
            raise LocalProtocolError("a multi-line response has lines or data, not both")

    def to_bytes(self) -> bytes:
        return b"".join(self.to_parts())

    def to_parts(self) -> tuple[bytes, ...]:
        """`to_bytes` in parts, to write in order: the message octets of RETR and TOP
        stay one object, not copied into a bigger one."""
        head = self.first.to_bytes()
        if self.data is not None:
            if self.dot_safe:
                return head, self.data, TERMINATOR
            return (head, *encode_message_parts(self.data))
        out = [head]
        for line in self.lines:
            if _FORBIDDEN.search(line):
                raise LocalProtocolError(f"listing line contains CR, LF or NUL: {line!r}")
            # RFC 1939 §3: stuff a leading termination octet in every multi-line body.
            encoded = _encode_text(line)
            out.append(b"." + encoded + b"\r\n" if encoded.startswith(b".") else encoded + b"\r\n")
        out.append(TERMINATOR)
        return (b"".join(out),)


MultiLineResponse = MultiLine
"""The name the client role reads best with; the very same class."""


@dataclass(frozen=True, slots=True)
class Continuation:
    """`+ base64`: a SASL challenge (RFC 5034 §4).  `data` is the decoded challenge."""

    data: bytes = b""

    def to_bytes(self) -> bytes:
        return b"+ " + base64.b64encode(self.data) + b"\r\n"


SingleLine = Ok | Err
Response = Ok | Err | MultiLine | Continuation


def capa_lines(
    stls: bool,
    sasl: Sequence[str],
    user: bool,
    utf8: bool,
    implementation: str | None,
    *,
    login_delay: int | None = None,
    expire: str | None = "NEVER",
    utf8_user: bool = False,
) -> tuple[str, ...]:
    """The body of a CAPA response (RFC 2449 §5) for the current session state.

    Pass what the session offers *now*: after login or after STLS, `stls=False`; no
    `user` where plaintext passwords are refused; `sasl` empty after login.
    LOGIN-DELAY (RFC 2449 §6.5) is listed only when the server enforces a minimum
    delay between logins and says so; a failed-login back-off is not that.
    """
    lines = [
        "TOP",  # RFC 2449 §6.1
        "UIDL",  # RFC 2449 §6.8
        "RESP-CODES",  # RFC 2449 §6.4
        "AUTH-RESP-CODE",  # RFC 3206 §5
        "PIPELINING",  # RFC 2449 §6.6
    ]
    if expire is not None:
        lines.append(f"EXPIRE {expire}")  # RFC 2449 §6.7: NEVER = we never delete
    if login_delay is not None:
        if login_delay < 0:
            raise LocalProtocolError("LOGIN-DELAY must not be negative")
        lines.append(f"LOGIN-DELAY {login_delay}")
    if user:
        lines.append("USER")  # RFC 2449 §6.2
    mechanisms = [m.upper() for m in sasl]
    if mechanisms:
        lines.append("SASL " + " ".join(mechanisms))  # RFC 2449 §6.3, RFC 5034 §5
    if stls:
        lines.append("STLS")  # RFC 2595 §4
    if utf8:
        # RFC 6856 §2: the USER argument says USER/PASS accept UTF-8 names and passwords.
        lines.append("UTF8 USER" if utf8_user else "UTF8")
    if implementation:
        lines.append(f"IMPLEMENTATION {implementation}")  # RFC 2449 §6.9
    for line in lines:
        if _FORBIDDEN.search(line):
            raise LocalProtocolError(f"capability contains CR, LF or NUL: {line!r}")
    return tuple(lines)
