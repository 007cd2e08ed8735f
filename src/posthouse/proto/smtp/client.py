"""The SMTP client protocol core, sans-IO (h11 style, see STYLE.md).

`send*()` turn commands into bytes; `receive_data()` and `next_event()` turn the
server's bytes into `Reply` events, the greeting first. The core never dials and never
waits: outbound delivery (queue/) drives it over a socket, the analyzer feeds it the
server's side of a capture, with or without calling `send()`.

Malformed reply lines raise `RemoteProtocolError` after being consumed, so a caller
that wants to carry on (the analyzer reading a damaged capture) can call
`next_event()` again and parsing resumes at the next line.
"""

from __future__ import annotations

import base64
import re
from collections import deque
from collections.abc import Callable

from posthouse.proto.smtp.events import (
    NEED_DATA,
    Auth,
    Command,
    ConnectionClosed,
    Data,
    Expn,
    Hello,
    Help,
    MailFrom,
    Noop,
    Quit,
    RcptTo,
    Rset,
    Sentinel,
    StartTLS,
    Vrfy,
)
from posthouse.proto.smtp.reply import LocalProtocolError, RemoteProtocolError, Reply

__all__ = [
    "ClientConnection",
    "LocalProtocolError",
    "RemoteProtocolError",
    "crlf_lines",
    "parse_reply_line",
]

# RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39, then "-" (more lines follow)
# or SP, or nothing, then the text.
_REPLY_LINE = re.compile(rb"([2-5][0-5][0-9])(?:([ -])(.*))?", re.DOTALL)
# RFC 3463 §2 / RFC 2034 §4: class "." subject "." detail, leading the text.
_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?= |$)")
_ESMTP_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_FORBIDDEN = re.compile(r"[\x00\r\n]")
_SNIPPET = 80

# RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers send longer
# ones, so the limit is generous, but bounded: the analyzer may feed us anything.
MAX_REPLY_LINE = 8192
# Lines in one multi-line reply: a hostile server must not grow one without end.
MAX_REPLY_LINES = 1000


def parse_reply_line(line: bytes) -> tuple[int, bool, str]:
    """Parse one reply line without its line end: (code, is_last, text).
    RemoteProtocolError if it is not `ddd`, `ddd text` or `ddd-text`."""
    match = _REPLY_LINE.fullmatch(line)
    if match is None:
        raise RemoteProtocolError("malformed reply line", line[:_SNIPPET])
    text = (match.group(3) or b"").decode("utf-8", "replace")
    return int(match.group(1)), match.group(2) != b"-", text


def _build_reply(code: int, texts: list[str]) -> Reply:
    enhanced = None
    match = _ENHANCED.match(texts[0])
    # RFC 2034 §4: the class of the enhanced code matches the reply's first digit.
    if match is not None and int(match.group(1)) == code // 100:
        enhanced = match.group(0)
        stripped = []
        for text in texts:
            if text == enhanced:
                stripped.append("")
            elif text.startswith(enhanced + " "):
                stripped.append(text[len(enhanced) + 1 :])
            else:
                stripped.append(text)
        texts = stripped
    return Reply(code, enhanced, tuple(texts))


def _check_field(value: str, what: str) -> str:
    # A CR or LF in a field would let it smuggle another command into the stream.
    if _FORBIDDEN.search(value):
        raise LocalProtocolError(f"{what} must not contain CR, LF or NUL")
    return value


def _path(address: str) -> str:
    return "<" + _check_field(address, "address") + ">"


def _params(params: dict[str, str | None]) -> str:
    out = []
    for key, value in params.items():
        if _ESMTP_KEYWORD.fullmatch(key) is None:
            raise LocalProtocolError(f"bad parameter keyword {key!r}")
        if value is None:
            out.append(f" {key}")
        elif not value or any(ch in value for ch in " \t=\r\n\x00"):
            raise LocalProtocolError(f"bad value for parameter {key}")
        else:
            out.append(f" {key}={value}")
    return "".join(out)


def _serialise_hello(command: Command) -> str:
    assert isinstance(command, Hello)
    if command.verb not in ("EHLO", "HELO", "LHLO"):
        raise LocalProtocolError(f"unknown greeting verb {command.verb!r}")
    return f"{command.verb} {_check_field(command.domain, 'domain')}"


def _serialise_mail(command: Command) -> str:
    assert isinstance(command, MailFrom)
    return f"MAIL FROM:{_path(command.address)}{_params(command.params)}"


def _serialise_rcpt(command: Command) -> str:
    assert isinstance(command, RcptTo)
    return f"RCPT TO:{_path(command.address)}{_params(command.params)}"


def _with_argument(verb: str, argument: str) -> str:
    argument = _check_field(argument, verb)
    return f"{verb} {argument}" if argument else verb


def _serialise_noop(command: Command) -> str:
    assert isinstance(command, Noop)
    return _with_argument("NOOP", command.argument)


def _serialise_vrfy(command: Command) -> str:
    assert isinstance(command, Vrfy)
    return _with_argument("VRFY", command.argument)


def _serialise_expn(command: Command) -> str:
    assert isinstance(command, Expn)
    return _with_argument("EXPN", command.argument)


def _serialise_help(command: Command) -> str:
    assert isinstance(command, Help)
    return _with_argument("HELP", command.argument)


def _serialise_auth(command: Command) -> str:
    assert isinstance(command, Auth)
    mechanism = _check_field(command.mechanism, "mechanism")
    if not mechanism or " " in mechanism:
        raise LocalProtocolError("bad SASL mechanism name")
    if command.initial_response is None:
        return f"AUTH {mechanism}"
    # RFC 4954 §4: a zero-length initial response is sent as "=".
    encoded = base64.b64encode(command.initial_response).decode("ascii") or "="
    return f"AUTH {mechanism} {encoded}"


def _fixed(verb: str) -> Callable[[Command], str]:
    def serialise(command: Command) -> str:
        return verb

    return serialise


_SERIALISERS: dict[type, Callable[[Command], str]] = {
    Hello: _serialise_hello,
    MailFrom: _serialise_mail,
    RcptTo: _serialise_rcpt,
    Data: _fixed("DATA"),
    Rset: _fixed("RSET"),
    Noop: _serialise_noop,
    Vrfy: _serialise_vrfy,
    Expn: _serialise_expn,
    Help: _serialise_help,
    Quit: _fixed("QUIT"),
    StartTLS: _fixed("STARTTLS"),
    Auth: _serialise_auth,
}

# What a reply answers, besides a Command: the greeting, a SASL line, message content.
_GREETING = "greeting"
_AUTH_RESPONSE = "auth-response"
_MESSAGE = "message"
_CRLF_OR_BARE = re.compile(rb"\r\n|\r|\n")


def crlf_lines(content: bytes) -> bytes:
    """Message content as text lines: every line end CRLF (RFC 5321 §2.3.8 forbids bare
    CR and LF), the last line ended too."""
    crlf = content.count(b"\r\n")
    if content.count(b"\r") != crlf or content.count(b"\n") != crlf:
        content = _CRLF_OR_BARE.sub(b"\r\n", content)
    if content and not content.endswith(b"\r\n"):
        content += b"\r\n"
    return content


class ClientConnection:
    """One SMTP connection, client side."""

    def __init__(self, *, max_reply_line: int = MAX_REPLY_LINE) -> None:
        self._max_line = max_reply_line
        self._buf = bytearray()
        self._eof = False
        self._skipping = False  # throwing away the rest of an overlong line
        self._code: int | None = None  # code of the multi-line reply being read
        self._texts: list[str] = []
        # What each expected reply answers, in order (RFC 2920: replies come back
        # in the order of the commands). Empty when nobody calls send(), as in the
        # analyzer; then nothing is inferred from replies.
        self._awaiting: deque[object] = deque([_GREETING])
        self._tls_pending = False  # 220 to STARTTLS handed out, handshake not done

    # --- receiving -------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; b"" means it closed the connection."""
        if self._eof:
            raise LocalProtocolError("receive_data() after the peer closed the connection")
        if not data:
            self._eof = True
            return
        if self._tls_pending:
            # RFC 3207 §4.2 (and the response injection attacks on clients): bytes
            # that follow the 220 in plaintext are never trusted.
            return
        if self._skipping:
            nl = data.find(b"\n")
            if nl < 0:
                return
            data = data[nl + 1 :]
            self._skipping = False
        self._buf += data

    def next_event(self) -> Reply | ConnectionClosed | Sentinel:
        """The next complete reply, ConnectionClosed, or NEED_DATA."""
        while True:
            if self._tls_pending:
                return ConnectionClosed() if self._eof else NEED_DATA
            nl = self._buf.find(b"\n", 0, self._max_line)
            if nl < 0:
                if len(self._buf) >= self._max_line:
                    snippet = bytes(self._buf[:_SNIPPET])
                    self._buf.clear()
                    self._skipping = True
                    self._abandon_reply()
                    raise RemoteProtocolError("reply line too long", snippet)
                if self._eof:
                    if self._buf or self._texts:
                        snippet = bytes(self._buf[:_SNIPPET])
                        self._buf.clear()
                        self._abandon_reply()
                        raise RemoteProtocolError("connection closed inside a reply", snippet)
                    return ConnectionClosed()
                return NEED_DATA
            raw = bytes(self._buf[: nl + 1])
            del self._buf[: nl + 1]
            # RFC 5321 §2.3.8 wants CRLF; a bare LF from a sloppy server is tolerated.
            line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            try:
                code, is_last, text = parse_reply_line(line)
            except RemoteProtocolError:
                self._abandon_reply()
                raise
            if self._code is not None and code != self._code:
                self._abandon_reply()
                # RFC 5321 §4.2.1: every line of a multi-line reply has the same code.
                raise RemoteProtocolError("reply code changed inside a reply", line[:_SNIPPET])
            if len(self._texts) >= MAX_REPLY_LINES:
                self._abandon_reply()
                raise RemoteProtocolError("too many lines in one reply", line[:_SNIPPET])
            self._code = code
            self._texts.append(text)
            if is_last:
                reply = _build_reply(code, self._texts)
                self._abandon_reply()
                self._answered(reply)
                return reply

    def _abandon_reply(self) -> None:
        self._code = None
        self._texts = []

    def _answered(self, reply: Reply) -> None:
        if not self._awaiting:
            return
        command = self._awaiting.popleft()
        if isinstance(command, StartTLS) and reply.code == 220:
            # RFC 3207 §4.2: whatever arrived with or after the 220 is discarded.
            self._buf.clear()
            self._skipping = False
            self._tls_pending = True

    def start_tls_done(self) -> None:
        """The TLS handshake is complete: drop any plaintext left over and read the
        (decrypted) bytes fed from now on. The next reply answers the new EHLO."""
        self._buf.clear()
        self._skipping = False
        self._abandon_reply()
        self._tls_pending = False
        self._awaiting.clear()

    # --- sending ---------------------------------------------------------------

    def send(self, command: Command) -> bytes:
        """Serialise a command (RFC 5321 §4.1.1); CR, LF and NUL in any field raise
        LocalProtocolError."""
        serialise = _SERIALISERS.get(type(command))
        if serialise is None:
            raise LocalProtocolError(f"cannot send {type(command).__name__} as a command")
        line = serialise(command) + "\r\n"
        self._awaiting.append(command)
        return line.encode("utf-8")

    def send_auth_response(self, data: bytes) -> bytes:
        """Answer a 334 challenge (RFC 4954 §4); `data` is raw, sent as base64."""
        self._awaiting.append(_AUTH_RESPONSE)
        return base64.b64encode(data) + b"\r\n"

    def send_auth_abort(self) -> bytes:
        """Cancel the SASL exchange (RFC 4954 §4)."""
        self._awaiting.append(_AUTH_RESPONSE)
        return b"*\r\n"

    def send_message(self, content: bytes) -> bytes:
        """The message content after 354: line ends made CRLF (RFC 5321 §2.3.8 forbids
        bare CR and LF), dot-stuffed (§4.5.2), ended by CRLF "." CRLF (§4.1.1.4)."""
        content = crlf_lines(content)
        if content.startswith(b"."):
            content = b"." + content
        content = content.replace(b"\r\n.", b"\r\n..")
        self._awaiting.append(_MESSAGE)
        return content + b".\r\n"

    def send_bdat(self, data: bytes, last: bool) -> bytes:
        """One BDAT chunk (RFC 3030 §2): the command, then the octets as they are."""
        self._awaiting.append(_MESSAGE)
        return f"BDAT {len(data)}{' LAST' if last else ''}\r\n".encode("ascii") + data
