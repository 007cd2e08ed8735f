"""The SMTP server protocol core, sans-IO (h11 style, see STYLE.md).

Bytes go in with `receive_data()`, events come out of `next_event()` one at a time,
and the reply to each event goes out through `send()`, which also moves the state
machine. Nothing happens on a command until its reply is sent: that is what makes
PIPELINING (RFC 2920) simple and safe. Buffered commands are parsed one by one, each
only after the previous one was answered, so a command is always read in the state its
predecessors left behind (a line after `DATA` becomes message content only once 354
was sent; bytes after `STARTTLS` are thrown away once 220 was sent).

The core refuses what it can judge alone (syntax, sequence, limits, attacks) by handing
out a `CommandRejected` or `MessageRejected` event that carries the reply; the session
sends it like any other reply (and counts the errors). Everything that needs a decision
(who may send, which recipients exist, where a message goes) is the session's.

The reader for the next bytes is chosen from a table keyed by state (_RECEIVERS);
commands dispatch through an explicit table of verbs (_COMMANDS), and the transitions a
reply causes through a table keyed by the event answered (_TRANSITIONS).
"""

from __future__ import annotations

import binascii
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from posthouse.proto.smtp import address
from posthouse.proto.smtp.ehlo import ServerFeatures, ehlo_reply
from posthouse.proto.smtp.events import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthAbort,
    AuthResponse,
    BdatChunk,
    CommandRejected,
    ConnectionClosed,
    Data,
    Expn,
    Hello,
    Help,
    MailFrom,
    MessageBody,
    MessageRejected,
    Noop,
    Quit,
    RcptTo,
    Rset,
    Sentinel,
    ServerEvent,
    StartTLS,
    Vrfy,
)
from posthouse.proto.smtp.reply import LocalProtocolError, Reply, SMTPError

__all__ = [
    "SASL_LINE_LIMIT",
    "LocalProtocolError",
    "ServerConnection",
    "ServerFeatures",
    "ServerLimits",
    "State",
]

# RFC 4954 §4: an AUTH command line or a SASL response line may be 12288 octets long.
SASL_LINE_LIMIT = 12288
# How much of an offending line an event carries, for logs and transcripts.
_SNIPPET = 80


@dataclass(frozen=True)
class ServerLimits:
    max_message_size: int = 50 * 1024 * 1024  # octets; SIZE (RFC 1870); 0 = unlimited
    # RFC 5321 §4.5.3.1.4: a command line, CRLF included, of at least 512 octets must
    # be accepted. AUTH lines and SASL responses get max(this, SASL_LINE_LIMIT).
    max_command_line: int = 4096
    # RFC 5321 §4.5.3.1.6: a text line in DATA, CRLF included; 0 = unlimited.
    max_text_line: int = 1000

    def __post_init__(self) -> None:
        if self.max_message_size < 0:
            raise ValueError("max_message_size must be >= 0")
        if self.max_command_line < 512:
            raise ValueError("max_command_line must be >= 512 (RFC 5321 section 4.5.3.1.4)")
        if self.max_text_line != 0 and self.max_text_line < 1000:
            raise ValueError("max_text_line must be 0 or >= 1000 (RFC 5321 section 4.5.3.1.6)")


class State(enum.Enum):
    GREETING = "greeting"  # the greeting has not been sent yet
    REFUSED = "refused"  # greeted with 554: only QUIT is served (RFC 5321 §3.1)
    CONNECTED = "connected"  # waiting for HELO/EHLO (at first, and again after STARTTLS)
    READY = "ready"  # greeted, no mail transaction
    MAIL = "mail"  # MAIL accepted, no recipient yet
    RCPT = "rcpt"  # at least one recipient accepted
    DATA = "data"  # 354 sent: the bytes are message content up to CRLF.CRLF
    BDAT = "bdat"  # a non-last BDAT chunk was accepted (RFC 3030)
    AUTH = "auth"  # 334 sent: the next line is a SASL response (RFC 4954 §4)
    CLOSED = "closed"  # QUIT answered or 421 sent: input is ignored


_TRANSACTION_STATES = frozenset({State.MAIL, State.RCPT, State.BDAT})


# --- replies the core hands out ----------------------------------------------

_REPLY_JUNK = Reply.of(500, "5.5.2", "Syntax error: binary junk or invalid UTF-8")
_REPLY_LINE_TOO_LONG = Reply.of(500, "5.5.2", "Line too long (RFC 5321 section 4.5.3.1.4)")
_REPLY_EMPTY = Reply.of(500, "5.5.2", "Syntax error: empty command")
_REPLY_BARE_CR_LF = Reply.of(
    554, "5.6.0", "Message contains bare CR or LF (RFC 5321 section 2.3.8)"
)
_REPLY_TEXT_LINE_TOO_LONG = Reply.of(
    554, "5.6.0", "Line too long in message content (RFC 5321 section 4.5.3.1.6)"
)
_REPLY_BAD_BASE64 = Reply.of(501, "5.5.2", "Invalid base64 (RFC 4954 section 4)")


def _too_big(limit: int) -> Reply:
    # RFC 1870 §6 (552 when the size is exceeded) / RFC 3463 X.3.4: message too big
    # for system.
    return Reply.of(552, "5.3.4", f"Message size exceeds fixed limit of {limit} octets")


def _completed(reply: Reply) -> bool:
    # RFC 5321 §4.2.1: 2yz, the requested action was completed.
    return 200 <= reply.code < 300


def _error(code: int, enhanced: str, text: str) -> SMTPError:
    return SMTPError.of(code, enhanced, text)


def _bad_sequence(text: str) -> SMTPError:
    return SMTPError.of(503, "5.5.1", text)


def _syntax(text: str) -> SMTPError:
    return SMTPError.of(501, "5.5.4", text)


# Control characters other than HT are junk in a command line (CR only before LF).
_JUNK = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_VERB_ARG = re.compile(r"(\S+)[ \t]*(.*)", re.DOTALL)
_MAIL_FROM = re.compile(r"FROM[ \t]*:(.*)", re.IGNORECASE | re.DOTALL)
_RCPT_TO = re.compile(r"TO[ \t]*:(.*)", re.IGNORECASE | re.DOTALL)
_BDAT_ARGS = re.compile(r"([0-9]{1,20})(?:[ \t]+(LAST))?", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,20}")
_DSN_ADDR_TYPE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_TERMINATOR = b"\r\n.\r\n"  # RFC 5321 §4.1.1.4: the end of mail data


def _decode_base64(text: str) -> bytes:
    # RFC 4954 §4: "=" is a zero-length initial response.
    if text == "=":
        return b""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise SMTPError(_REPLY_BAD_BASE64) from None


_BARE_LF = re.compile(rb"(?<!\r)\n")

# --- DATA framing ------------------------------------------------------------


class _DataFramer:
    """Frames message content after 354 (RFC 5321 §4.1.1.4) and checks it as it
    streams: dot-unstuffing (§4.5.2), bare CR / LF (§2.3.8, the SMTP smuggling
    defence), text line length (§4.5.3.1.6) and total size (RFC 1870).

    Only CRLF "." CRLF ends the content, so LF "." LF, CRLF "." LF, LF "." CRLF and
    CR "." CRLF are content, and content with any bare CR or LF is refused as a whole
    — unless `normalize_lf`, for clients the server trusts (loopback, authenticated
    users: Postfix's `smtpd_forbid_bare_newline = normalize` with its exclusions): then
    a bare LF is taken as CRLF, as scripts that write LF-only messages expect.  The end
    of the content is still only CRLF "." CRLF, so nothing can be smuggled, and a
    bare CR is still refused.
    Bytes are consumed as they arrive (at most the 4 octets that might begin the
    terminator stay buffered); once the content is over the size limit it is framed
    but no longer kept.
    """

    def __init__(self, max_size: int, max_line: int, *, normalize_lf: bool = False) -> None:
        self._max_size = max_size
        self._max_line = max_line
        self._normalize_lf = normalize_lf
        self._body: bytearray | None = bytearray()
        self._size = 0
        self._line_len = 0  # octets of the current, unfinished line
        # The DATA command's own CRLF begins the first line, so "." CRLF right away
        # is the empty message.
        self._after_crlf = True
        self._line_start = True  # differs from _after_crlf only after a normalised LF
        self._bare = False
        self._too_long = False

    def feed(self, buf: bytearray) -> bool:
        """Consume content from `buf`; True once the terminator was consumed."""
        if self._after_crlf:
            head = bytes(buf[:3])
            if head == b".\r\n":
                del buf[:3]
                return True
            if head in (b"", b".", b".\r"):
                return False
        end = buf.find(_TERMINATOR)
        if end >= 0:
            self._process(bytes(buf[: end + 2]))  # the last line keeps its CRLF
            del buf[: end + len(_TERMINATOR)]
            return True
        # Hold back what might be the beginning of the terminator. This also keeps a
        # trailing CR back, so a processed segment never ends in the middle of a CRLF.
        keep = 0
        for k in range(len(_TERMINATOR) - 1, 0, -1):
            if buf.endswith(_TERMINATOR[:k]):
                keep = k
                break
        n = len(buf) - keep
        if n > 0:
            self._process(bytes(buf[:n]))
            del buf[:n]
        return False

    def _process(self, raw: bytes) -> None:
        # Whether the wire had CRLF at the end: only then may the next octets begin
        # the terminator, however the content was split into segments.
        wire_crlf = raw.endswith(b"\r\n")
        crlf = raw.count(b"\r\n")
        lf = raw.count(b"\n")
        if self._normalize_lf and lf != crlf:
            # A segment never ends in CR, so an LF at its start is bare too.
            raw = _BARE_LF.sub(b"\r\n", raw)
            crlf = lf = raw.count(b"\n")  # every LF now ends a CRLF
        segment = raw
        # RFC 5321 §2.3.8: CR and LF only ever appear together as CRLF. A segment
        # never ends in CR, so an LF at its start is bare too.
        if not self._bare and (lf != crlf or segment.count(b"\r") != crlf):
            self._bare = True
        # RFC 5321 §4.5.2: the first character of a line that is "." is deleted.
        if self._line_start and segment.startswith(b"."):
            segment = segment[1:]
        segment = segment.replace(b"\r\n.", b"\r\n")
        self._after_crlf = wire_crlf
        self._line_start = raw.endswith(b"\r\n")
        if self._max_line and not self._too_long:
            self._check_lines(segment)
        self._size += len(segment)
        if self._body is not None:
            if self._max_size and self._size > self._max_size:
                self._body = None  # keep framing, stop keeping
            else:
                self._body += segment

    def _check_lines(self, segment: bytes) -> None:
        # RFC 5321 §4.5.3.1.6: at most 1000 octets per text line, CRLF included,
        # not counting the dot added for transparency.
        limit = self._max_line
        lines = segment.split(b"\n")
        rest = lines.pop()  # the unfinished line at the end ("" after an LF)
        if lines:
            # A line's length counts its LF; the first one continues the last segment's.
            if self._line_len + len(lines[0]) >= limit or max(map(len, lines)) >= limit:
                self._too_long = True
            self._line_len = len(rest)
        else:
            self._line_len += len(rest)
        if self._line_len > limit:
            self._too_long = True

    def result(self) -> MessageBody | MessageRejected:
        if self._bare:
            return MessageRejected(_REPLY_BARE_CR_LF)
        if self._body is None:
            return MessageRejected(_too_big(self._max_size))
        if self._too_long:
            return MessageRejected(_REPLY_TEXT_LINE_TOO_LONG)
        return MessageBody(bytes(self._body))


def check_chunked_content(content: bytes, max_line: int) -> Reply | None:
    """The checks DATA makes while framing, for content assembled from BDAT chunks
    (RFC 3030 §3 with BODY=7BIT or 8BITMIME: still lines of text): only CRLF line
    ends (RFC 5321 §2.3.8, so a relayed copy cannot smuggle), a final CRLF, and at
    most `max_line` octets per line (§4.5.3.1.6).  None when acceptable."""
    lines = content.split(b"\r\n")
    crlf = len(lines) - 1
    if content.count(b"\r") != crlf or content.count(b"\n") != crlf:
        return _REPLY_BARE_CR_LF
    if lines[-1]:  # content that does not end in CRLF
        return _REPLY_BARE_CR_LF
    if max_line and content and max(map(len, lines)) + 2 > max_line:
        return _REPLY_TEXT_LINE_TOO_LONG
    return None


@dataclass
class _Chunk:
    """The octets of a BDAT chunk still to read (RFC 3030 §2). `data` is None when
    they are read only to be thrown away; `outcome` is then the event to hand out."""

    remaining: int
    last: bool
    data: bytearray | None
    outcome: CommandRejected | MessageRejected | None


# --- the connection ----------------------------------------------------------

_Receiver = Callable[["ServerConnection"], "ServerEvent | None"]
_Handler = Callable[["ServerConnection", str, str], "ServerEvent | None"]
_Transition = Callable[["ServerConnection", "ServerEvent", Reply], None]
_ParamCheck = Callable[["ServerConnection", "str | None"], None]
_ParamOffered = Callable[["ServerConnection"], bool]


class ServerConnection:
    """One SMTP connection, server side.

    `features` is what the server offers now; the session replaces it when that
    changes (after STARTTLS, after AUTH). `tls_active` is True from the start for
    implicit TLS (RFC 8314) and becomes True on the 220 reply to STARTTLS.
    """

    def __init__(
        self,
        features: ServerFeatures,
        limits: ServerLimits | None = None,
        *,
        tls_active: bool = False,
    ) -> None:
        self.features = features
        self.limits = limits if limits is not None else ServerLimits()
        self.tls_active = tls_active
        self.authenticated = False
        # Take a bare LF in DATA content as CRLF (see _DataFramer); the session sets
        # it for clients it trusts.
        self.normalize_bare_lf = False
        self.hello: Hello | None = None  # the HELO/EHLO accepted last
        self.mail_from: MailFrom | None = None  # the MAIL accepted in this transaction
        self.recipient_count = 0  # RCPTs accepted in this transaction
        self._state = State.GREETING
        self._buf = bytearray()
        self._eof = False
        self._skipping = False  # throwing away the rest of a rejected line, up to LF
        self._pending: ServerEvent | None = None
        self._framer: _DataFramer | None = None
        self._chunk: _Chunk | None = None
        self._bdat_octets = 0  # octets of BDAT chunks in this transaction
        self._bdat_failed = False  # this transaction's BDAT content went over the limit

    # --- state, for the session and for tests --------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def greeted(self) -> bool:
        """HELO/EHLO accepted (and not undone by STARTTLS)."""
        return self.hello is not None

    @property
    def in_transaction(self) -> bool:
        return self._state in _TRANSACTION_STATES

    @property
    def buffered_bytes(self) -> int:
        """Input received but not yet parsed; before the greeting it reveals a client
        that talks first (RFC 5321 §3.1: the session starts with the server's greeting)."""
        return len(self._buf)

    @property
    def in_data(self) -> bool:
        """Message content is being read (after 354, or the octets of a BDAT chunk):
        what arrives now is content, not commands (keep it out of transcripts)."""
        return self._state is State.DATA or self._chunk is not None

    def ehlo_reply(self, hostname: str, greeting_name: str) -> Reply:
        """The 250 reply to EHLO for the current features and size limit; see
        ehlo.ehlo_lines for the arguments."""
        return ehlo_reply(
            hostname,
            greeting_name,
            self.features,
            max_message_size=self.limits.max_message_size,
        )

    # --- the three verbs -------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; b"" means the peer closed its side."""
        if self._eof:
            raise LocalProtocolError("receive_data() after the peer closed the connection")
        if not data:
            self._eof = True
            return
        if self._state is State.CLOSED:
            return
        if self._skipping:
            nl = data.find(b"\n")
            if nl < 0:
                return
            data = data[nl + 1 :]
            self._skipping = False
        self._buf += data

    def next_event(self) -> ServerEvent | Sentinel:
        """The next event, NEED_DATA, or PAUSED while the previous event (or the
        greeting) still waits for its reply."""
        if self._pending is not None or self._state is State.GREETING:
            return PAUSED
        if self._state is State.CLOSED:
            return ConnectionClosed()
        # The octets of a BDAT chunk are read whatever the state (RFC 3030 §2).
        receiver = _read_chunk if self._chunk is not None else _RECEIVERS[self._state]
        event = receiver(self)
        if event is None:
            return ConnectionClosed() if self._eof else NEED_DATA
        self._pending = event
        return event

    def send(self, reply: Reply) -> bytes:
        """Encode `reply`, the answer to the pending event (or the greeting, or an
        unsolicited 421), and apply the transition it causes."""
        if self._state is State.CLOSED:
            raise LocalProtocolError("the connection is closed")
        if not 200 <= reply.code <= 599:
            raise LocalProtocolError(f"reply code {reply.code} out of range")
        if any("\r" in line or "\n" in line for line in reply.lines):
            raise LocalProtocolError("reply text must not contain CR or LF")
        pending = self._pending
        if self._state is State.GREETING:
            self._send_greeting(reply)
        elif pending is None:
            # RFC 5321 §3.8: 421 may be sent at any time when the server must close.
            if reply.code != 421:
                raise LocalProtocolError("no event is waiting for a reply")
        else:
            if reply.code == 354 and not isinstance(pending, Data):
                raise LocalProtocolError("354 answers DATA only")
            if reply.code == 334 and not isinstance(pending, Auth | AuthResponse):
                raise LocalProtocolError("334 answers AUTH and SASL responses only")
            self._pending = None
            _TRANSITIONS[type(pending)](self, pending, reply)
        if reply.code == 421:
            # RFC 5321 §3.8: 421 closes the transmission channel.
            self._close()
        return self._encode(reply)

    # --- sending ---------------------------------------------------------------

    def _send_greeting(self, reply: Reply) -> None:
        # RFC 5321 §3.1 / §4.3.2: the greeting is 220, 421 or 554.
        if reply.code == 220:
            self._state = State.CONNECTED
        elif reply.code == 554:
            self._state = State.REFUSED
        elif reply.code != 421:
            raise LocalProtocolError(f"a greeting is 220, 421 or 554, not {reply.code}")

    def _encode(self, reply: Reply) -> bytes:
        if reply.code == 334:
            # RFC 4954 §4: continue-req = "334" SP [base64] CRLF, one line, and no
            # enhanced status code.
            if len(reply.lines) != 1:
                raise LocalProtocolError("a 334 challenge is a single line")
            return f"334 {reply.lines[0]}\r\n".encode()
        return reply.to_bytes(enhanced_codes=self.features.enhancedstatuscodes)

    def _close(self) -> None:
        self._state = State.CLOSED
        self._pending = None
        self._buf.clear()
        self._framer = None
        self._chunk = None

    def _reset_transaction(self) -> None:
        # RFC 5321 §4.1.1.5: RSET (and HELO/EHLO, a finished message) clears the
        # reverse-path, the forward-paths and the mail data.
        self.mail_from = None
        self.recipient_count = 0
        self._bdat_octets = 0
        self._bdat_failed = False
        self._framer = None
        self._state = State.READY if self.hello is not None else State.CONNECTED

    # --- transitions, keyed by the event a reply answers ------------------------

    def _after_hello(self, event: ServerEvent, reply: Reply) -> None:
        if _completed(reply):
            assert isinstance(event, Hello)
            self.hello = event
            self._reset_transaction()

    def _after_mail(self, event: ServerEvent, reply: Reply) -> None:
        if _completed(reply):
            assert isinstance(event, MailFrom)
            self.mail_from = event
            self._state = State.MAIL

    def _after_rcpt(self, event: ServerEvent, reply: Reply) -> None:
        if _completed(reply):
            self.recipient_count += 1
            self._state = State.RCPT

    def _after_data(self, event: ServerEvent, reply: Reply) -> None:
        if reply.code == 354:
            self._state = State.DATA
            self._framer = _DataFramer(
                self.limits.max_message_size,
                self.limits.max_text_line,
                normalize_lf=self.normalize_bare_lf,
            )

    def _after_message(self, event: ServerEvent, reply: Reply) -> None:
        # Accepted or not, the transaction is over (RFC 5321 §4.1.1.4).
        self._reset_transaction()

    def _after_chunk(self, event: ServerEvent, reply: Reply) -> None:
        assert isinstance(event, BdatChunk)
        if event.last or not _completed(reply):
            # RFC 3030 §2: after LAST, or after a 4xx/5xx to any chunk, the
            # transaction is over; chunks already pipelined are read and refused.
            self._reset_transaction()
        else:
            self._state = State.BDAT

    def _after_rset(self, event: ServerEvent, reply: Reply) -> None:
        if _completed(reply):
            self._reset_transaction()

    def _after_starttls(self, event: ServerEvent, reply: Reply) -> None:
        if reply.code != 220:
            return
        # RFC 3207 §4.2: whatever the client sent after STARTTLS, before the
        # handshake, is discarded (command injection), and all knowledge obtained
        # before TLS is forgotten: a new EHLO is needed, AUTH is undone.
        self._buf.clear()
        self._skipping = False
        self.tls_active = True
        self.authenticated = False
        self.hello = None
        self._reset_transaction()

    def _after_auth(self, event: ServerEvent, reply: Reply) -> None:
        if reply.code == 334:
            self._state = State.AUTH
            return
        if reply.code == 235:
            # RFC 4954 §4: 235 ends the exchange successfully.
            self.authenticated = True
        self._state = State.READY

    def _after_auth_abort(self, event: ServerEvent, reply: Reply) -> None:
        self._state = State.READY

    def _after_rejection(self, event: ServerEvent, reply: Reply) -> None:
        # A refused SASL line ends the exchange (RFC 4954 §4); elsewhere the core's
        # own rejections change nothing.
        if self._state is State.AUTH:
            self._state = State.READY

    def _after_quit(self, event: ServerEvent, reply: Reply) -> None:
        if reply.code == 221:
            self._close()

    def _no_transition(self, event: ServerEvent, reply: Reply) -> None:
        return

    # --- receivers, keyed by state --------------------------------------------

    def _take_line(self, limit: int) -> bytes | CommandRejected | None:
        """The next line without its CRLF (or bare LF), a rejection for an overlong
        or binary line, or None for more data.

        A line is judged the same way however its bytes were split: the first fault
        wins, a control character (a CR not followed by LF counts) before position
        `limit`, or the length. A rejected line's rest is discarded up to LF as it
        arrives, never buffered.
        """
        buf = self._buf
        nl = buf.find(b"\n", 0, limit)
        if nl >= 0:
            line = bytes(buf[: nl + 1])
            del buf[: nl + 1]
            content = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            junk = _JUNK.search(content)
            if junk is not None:
                return CommandRejected(_REPLY_JUNK, content[: min(junk.start(), _SNIPPET)])
            return content
        # No LF within the limit (yet): look for a fault that is already certain.
        window = bytes(buf[: limit + 1])
        junk = _JUNK.search(window, 0, limit)
        if junk is not None:
            pos = junk.start()
            if window[pos] == 0x0D:
                if pos + 1 == len(window):
                    return None  # a CR at the end: the LF may follow
                if window[pos + 1] == 0x0A:
                    junk = None  # CRLF just past the limit: the line is too long
            if junk is not None:
                self._discard_line()
                return CommandRejected(_REPLY_JUNK, window[: min(pos, _SNIPPET)])
        if len(buf) > limit:
            snippet = window[:_SNIPPET]
            self._discard_line()
            return CommandRejected(_REPLY_LINE_TOO_LONG, snippet)
        return None

    def _discard_line(self) -> None:
        nl = self._buf.find(b"\n")
        if nl >= 0:
            del self._buf[: nl + 1]
        else:
            self._buf.clear()
            self._skipping = True

    def _command_limit(self) -> int:
        limit = self.limits.max_command_line
        if bytes(self._buf[:5]).upper() == b"AUTH ":
            return max(limit, SASL_LINE_LIMIT)
        return limit

    def _read_command(self) -> ServerEvent | None:
        got = self._take_line(self._command_limit())
        if got is None or isinstance(got, CommandRejected):
            return got
        snippet = got[:_SNIPPET]
        try:
            text = got.decode("utf-8")
        except UnicodeDecodeError:
            return CommandRejected(_REPLY_JUNK, snippet)
        match = _VERB_ARG.fullmatch(text.strip(" \t"))
        if match is None:
            return CommandRejected(_REPLY_EMPTY, snippet)
        verb = match.group(1).upper()
        arg = match.group(2).rstrip(" \t")
        try:
            if self._state is State.REFUSED and verb != "QUIT":
                # RFC 5321 §3.1: after a 554 greeting, everything but QUIT gets 503.
                raise _bad_sequence("Service refused, only QUIT is accepted")
            handler = _COMMANDS.get(verb)
            if handler is None:
                raise _error(500, "5.5.1", f"Command unrecognized: {verb[:20]}")
            event = handler(self, verb, arg)
        except SMTPError as exc:
            return CommandRejected(exc.reply, snippet)
        if event is None:  # BDAT: its octets follow the command line
            return self._read_chunk()
        return event

    def _read_sasl(self) -> ServerEvent | None:
        got = self._take_line(max(self.limits.max_command_line, SASL_LINE_LIMIT))
        if got is None or isinstance(got, CommandRejected):
            return got
        text = got.strip(b" \t")
        if text == b"*":
            # RFC 4954 §4: "*" cancels the exchange.
            return AuthAbort()
        try:
            return AuthResponse(_decode_base64(text.decode("ascii", "replace")))
        except SMTPError as exc:
            return CommandRejected(exc.reply, got[:_SNIPPET])

    def _read_data(self) -> ServerEvent | None:
        framer = self._framer
        assert framer is not None
        if not framer.feed(self._buf):
            return None
        self._framer = None
        return framer.result()

    def _read_chunk(self) -> ServerEvent | None:
        chunk = self._chunk
        assert chunk is not None
        take = min(chunk.remaining, len(self._buf))
        if take:
            if chunk.data is not None:
                chunk.data += self._buf[:take]
            del self._buf[:take]
            chunk.remaining -= take
        if chunk.remaining:
            return None
        self._chunk = None
        if chunk.outcome is not None:
            return chunk.outcome
        assert chunk.data is not None
        return BdatChunk(bytes(chunk.data), chunk.last)

    # --- commands --------------------------------------------------------------

    def _require_greeted(self) -> None:
        if self._state is State.CONNECTED:
            raise _bad_sequence("Send HELO/EHLO first")

    def _cmd_hello(self, verb: str, arg: str) -> ServerEvent:
        # RFC 5321 §4.1.1.1: HELO and EHLO take the client's domain or address literal.
        if not arg:
            raise _syntax(f"Syntax: {verb} hostname")
        return Hello(verb, arg)

    def _cmd_mail(self, verb: str, arg: str) -> ServerEvent:
        self._require_greeted()
        if self._state in _TRANSACTION_STATES:
            raise _bad_sequence("Nested MAIL command")
        match = _MAIL_FROM.fullmatch(arg)
        if match is None:
            raise _syntax("Syntax: MAIL FROM:<address> [parameters]")
        path, rest = address.split_path_params(match.group(1), allow_null=True)
        params = address.parse_params(rest)
        self._check_params(params, _MAIL_PARAMETERS)
        # RFC 6531 §3.4: non-ASCII addresses only with the SMTPUTF8 parameter.
        utf8 = "SMTPUTF8" in params
        mailbox = address.parse_path(path, allow_null=True, utf8_allowed=utf8)
        return MailFrom(mailbox, params)

    def _cmd_rcpt(self, verb: str, arg: str) -> ServerEvent:
        if self._state is State.BDAT:
            raise _bad_sequence("RCPT not allowed after BDAT")
        if self._state not in (State.MAIL, State.RCPT):
            raise _bad_sequence("Need MAIL command first")
        match = _RCPT_TO.fullmatch(arg)
        if match is None:
            raise _syntax("Syntax: RCPT TO:<address> [parameters]")
        path, rest = address.split_path_params(match.group(1), allow_null=False)
        params = address.parse_params(rest)
        self._check_params(params, _RCPT_PARAMETERS)
        assert self.mail_from is not None
        utf8 = "SMTPUTF8" in self.mail_from.params
        mailbox = address.parse_path(path, allow_null=False, utf8_allowed=utf8)
        return RcptTo(mailbox, params)

    def _cmd_data(self, verb: str, arg: str) -> ServerEvent:
        # RFC 5321 §4.1.1.4: DATA takes no argument.
        if arg:
            raise _syntax("Syntax: DATA")
        if self._state is State.BDAT or self._bdat_failed:
            # RFC 3030 §2: DATA after BDAT in one transaction gets 503.
            raise _bad_sequence("DATA not allowed after BDAT (RFC 3030 section 2)")
        if self._state is State.MAIL:
            raise _bad_sequence("Need RCPT command first")
        if self._state is not State.RCPT:
            raise _bad_sequence("Need MAIL command first")
        return Data()

    def _cmd_bdat(self, verb: str, arg: str) -> ServerEvent | None:
        if not self.features.chunking:
            raise _error(502, "5.5.1", "BDAT not offered")
        match = _BDAT_ARGS.fullmatch(arg)
        if match is None:
            raise _syntax("Syntax: BDAT size [LAST]")
        size = int(match.group(1))
        last = match.group(2) is not None
        # RFC 3030 §2: the chunk's octets follow the command and are read even when
        # the command is refused; they must never be taken for commands.
        outcome: CommandRejected | MessageRejected | None = None
        snippet = f"{verb} {arg}".encode()[:_SNIPPET]
        limit = self.limits.max_message_size
        if self._state in (State.CONNECTED, State.READY):
            outcome = CommandRejected(_bad_sequence("Need MAIL command first").reply, snippet)
        elif self._state is State.MAIL:
            outcome = CommandRejected(_bad_sequence("Need RCPT command first").reply, snippet)
        elif self._bdat_failed or (limit and self._bdat_octets + size > limit):
            # The content went over the limit: this and the following chunks are
            # read and thrown away; LAST ends the transaction with the refusal.
            self._bdat_failed = True
            if last:
                outcome = MessageRejected(_too_big(limit))
            else:
                outcome = CommandRejected(_too_big(limit), snippet)
        else:
            self._bdat_octets += size
        data = bytearray() if outcome is None else None
        self._chunk = _Chunk(remaining=size, last=last, data=data, outcome=outcome)
        return None

    def _cmd_rset(self, verb: str, arg: str) -> ServerEvent:
        # RFC 5321 §4.1.1.5: RSET takes no argument.
        if arg:
            raise _syntax("Syntax: RSET")
        return Rset()

    def _cmd_noop(self, verb: str, arg: str) -> ServerEvent:
        # RFC 5321 §4.1.1.9: any argument is ignored.
        return Noop(arg)

    def _cmd_vrfy(self, verb: str, arg: str) -> ServerEvent:
        if not arg:
            raise _syntax("Syntax: VRFY address")
        return Vrfy(arg)

    def _cmd_expn(self, verb: str, arg: str) -> ServerEvent:
        if not arg:
            raise _syntax("Syntax: EXPN list")
        return Expn(arg)

    def _cmd_help(self, verb: str, arg: str) -> ServerEvent:
        if not self.features.help:
            raise _error(502, "5.5.1", "HELP not offered")
        return Help(arg)

    def _cmd_quit(self, verb: str, arg: str) -> ServerEvent:
        # RFC 5321 §4.1.1.10 allows no argument, but anyone may always leave.
        return Quit()

    def _cmd_starttls(self, verb: str, arg: str) -> ServerEvent:
        # RFC 3207 §4: STARTTLS takes no parameters.
        if arg:
            raise _syntax("Syntax: STARTTLS")
        if self.tls_active:
            raise _bad_sequence("TLS already active")
        if not self.features.starttls:
            raise _bad_sequence("STARTTLS not offered")
        self._require_greeted()
        if self._state in _TRANSACTION_STATES:
            raise _bad_sequence("STARTTLS not allowed during a mail transaction")
        return StartTLS()

    def _cmd_auth(self, verb: str, arg: str) -> ServerEvent:
        if not self.features.auth_mechanisms:
            raise _bad_sequence("AUTH not offered")
        # RFC 4954 §4: no AUTH after a successful one, and none during a transaction.
        if self.authenticated:
            raise _bad_sequence("Already authenticated")
        self._require_greeted()
        if self._state in _TRANSACTION_STATES:
            raise _bad_sequence("AUTH not allowed during a mail transaction")
        parts = arg.split()
        if len(parts) not in (1, 2):
            raise _syntax("Syntax: AUTH mechanism [initial-response]")
        mechanism = parts[0].upper()
        if mechanism not in {m.upper() for m in self.features.auth_mechanisms}:
            raise _error(504, "5.5.4", "Unrecognized authentication mechanism")
        initial = _decode_base64(parts[1]) if len(parts) == 2 else None
        return Auth(mechanism, initial)

    def _cmd_not_implemented(self, verb: str, arg: str) -> ServerEvent:
        # RFC 5321 §4.2.4: 502 for commands recognised but not implemented.
        raise _error(502, "5.5.1", f"{verb} not implemented")

    # --- MAIL and RCPT parameters ----------------------------------------------

    def _check_params(
        self,
        params: dict[str, str | None],
        table: dict[str, tuple[_ParamOffered, _ParamCheck]],
    ) -> None:
        for key, value in params.items():
            entry = table.get(key)
            # RFC 5321 §4.1.1.11: 555 for parameters not recognized or not offered.
            if entry is None or not entry[0](self):
                raise _error(555, "5.5.4", f"Unsupported parameter: {key}")
            entry[1](self, value)

    def _param_size(self, value: str | None) -> None:
        # RFC 1870 §6: SIZE=<octets>; refuse at once what is known to be too big.
        if value is None or _DIGITS.fullmatch(value) is None:
            raise _syntax("Syntax: SIZE=<octets>")
        limit = self.limits.max_message_size
        if limit and int(value) > limit:
            raise SMTPError(_too_big(limit))

    def _param_body(self, value: str | None) -> None:
        # RFC 6152 §2: BODY=7BIT / BODY=8BITMIME; BINARYMIME (RFC 3030 §3) is not
        # offered.
        body = (value or "").upper()
        if body == "BINARYMIME":
            raise _error(555, "5.5.4", "BODY=BINARYMIME not supported")
        if body not in ("7BIT", "8BITMIME"):
            raise _syntax("Syntax: BODY=7BIT or BODY=8BITMIME")

    def _param_smtputf8(self, value: str | None) -> None:
        # RFC 6531 §3.4: the SMTPUTF8 parameter has no value.
        if value is not None:
            raise _syntax("SMTPUTF8 takes no value")

    def _param_ret(self, value: str | None) -> None:
        # RFC 3461 §4.3: RET=FULL / RET=HDRS
        if (value or "").upper() not in ("FULL", "HDRS"):
            raise _syntax("Syntax: RET=FULL or RET=HDRS")

    def _param_envid(self, value: str | None) -> None:
        # RFC 3461 §4.4: ENVID=xtext, at most 100 characters.
        if value is None or len(value) > 100 or not address.is_xtext(value):
            raise _syntax("Syntax: ENVID=xtext (at most 100 characters)")

    def _param_auth(self, value: str | None) -> None:
        # RFC 4954 §5: AUTH=xtext (the mailbox that submitted the message) or <>.
        if value is None or (value != "<>" and not address.is_xtext(value)):
            raise _syntax("Syntax: AUTH=<> or AUTH=xtext")

    def _param_notify(self, value: str | None) -> None:
        # RFC 3461 §4.1: NOTIFY=NEVER, or a list of SUCCESS, FAILURE, DELAY.
        items = (value or "").upper().split(",")
        if items == ["NEVER"]:
            return
        if not items or len(set(items)) != len(items):
            raise _syntax("Syntax: NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY")
        if any(item not in ("SUCCESS", "FAILURE", "DELAY") for item in items):
            raise _syntax("Syntax: NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY")

    def _param_orcpt(self, value: str | None) -> None:
        # RFC 3461 §4.2: ORCPT=addr-type ";" xtext, at most 500 characters; the
        # utf-8 address type of RFC 6533 §3 carries UTF-8, so only the shape is checked.
        addr_type, semi, original = (value or "").partition(";")
        if (
            value is None
            or len(value) > 500
            or not semi
            or not original
            or _DSN_ADDR_TYPE.fullmatch(addr_type) is None
        ):
            raise _syntax("Syntax: ORCPT=addr-type;xtext")
        if addr_type.lower() == "rfc822" and not address.is_xtext(original):
            raise _syntax("ORCPT: bad xtext (RFC 3461 section 4)")


def _offers_size(conn: ServerConnection) -> bool:
    return conn.features.size


def _offers_8bitmime(conn: ServerConnection) -> bool:
    return conn.features.eightbitmime


def _offers_smtputf8(conn: ServerConnection) -> bool:
    return conn.features.smtputf8


def _offers_dsn(conn: ServerConnection) -> bool:
    return conn.features.dsn


def _offers_auth_param(conn: ServerConnection) -> bool:
    # The AUTH parameter stays valid after AUTH itself is no longer offered.
    return bool(conn.features.auth_mechanisms) or conn.authenticated


_MAIL_PARAMETERS: dict[str, tuple[_ParamOffered, _ParamCheck]] = {
    "SIZE": (_offers_size, ServerConnection._param_size),
    "BODY": (_offers_8bitmime, ServerConnection._param_body),
    "SMTPUTF8": (_offers_smtputf8, ServerConnection._param_smtputf8),
    "RET": (_offers_dsn, ServerConnection._param_ret),
    "ENVID": (_offers_dsn, ServerConnection._param_envid),
    "AUTH": (_offers_auth_param, ServerConnection._param_auth),
}

_RCPT_PARAMETERS: dict[str, tuple[_ParamOffered, _ParamCheck]] = {
    "NOTIFY": (_offers_dsn, ServerConnection._param_notify),
    "ORCPT": (_offers_dsn, ServerConnection._param_orcpt),
}

_COMMANDS: dict[str, _Handler] = {
    "HELO": ServerConnection._cmd_hello,
    "EHLO": ServerConnection._cmd_hello,
    "MAIL": ServerConnection._cmd_mail,
    "RCPT": ServerConnection._cmd_rcpt,
    "DATA": ServerConnection._cmd_data,
    "BDAT": ServerConnection._cmd_bdat,
    "RSET": ServerConnection._cmd_rset,
    "NOOP": ServerConnection._cmd_noop,
    "VRFY": ServerConnection._cmd_vrfy,
    "EXPN": ServerConnection._cmd_expn,
    "HELP": ServerConnection._cmd_help,
    "QUIT": ServerConnection._cmd_quit,
    "STARTTLS": ServerConnection._cmd_starttls,
    "AUTH": ServerConnection._cmd_auth,
    # RFC 5321 Appendix F: obsolete commands; ETRN (RFC 1985) and ATRN (RFC 2645)
    # are not offered. Recognised, and refused with 502.
    "SEND": ServerConnection._cmd_not_implemented,
    "SOML": ServerConnection._cmd_not_implemented,
    "SAML": ServerConnection._cmd_not_implemented,
    "TURN": ServerConnection._cmd_not_implemented,
    "ETRN": ServerConnection._cmd_not_implemented,
    "ATRN": ServerConnection._cmd_not_implemented,
}

_read_chunk: _Receiver = ServerConnection._read_chunk

_RECEIVERS: dict[State, _Receiver] = {
    State.REFUSED: ServerConnection._read_command,
    State.CONNECTED: ServerConnection._read_command,
    State.READY: ServerConnection._read_command,
    State.MAIL: ServerConnection._read_command,
    State.RCPT: ServerConnection._read_command,
    State.BDAT: ServerConnection._read_command,
    State.DATA: ServerConnection._read_data,
    State.AUTH: ServerConnection._read_sasl,
}

_TRANSITIONS: dict[type, _Transition] = {
    Hello: ServerConnection._after_hello,
    MailFrom: ServerConnection._after_mail,
    RcptTo: ServerConnection._after_rcpt,
    Data: ServerConnection._after_data,
    MessageBody: ServerConnection._after_message,
    MessageRejected: ServerConnection._after_message,
    BdatChunk: ServerConnection._after_chunk,
    Rset: ServerConnection._after_rset,
    StartTLS: ServerConnection._after_starttls,
    Auth: ServerConnection._after_auth,
    AuthResponse: ServerConnection._after_auth,
    AuthAbort: ServerConnection._after_auth_abort,
    CommandRejected: ServerConnection._after_rejection,
    Quit: ServerConnection._after_quit,
    Noop: ServerConnection._no_transition,
    Vrfy: ServerConnection._no_transition,
    Expn: ServerConnection._no_transition,
    Help: ServerConnection._no_transition,
}
