"""SMTP seen from the outside (RFC 5321, ESMTP extensions).

A tolerant line-level observer: the server core refuses what a real client may send
(over-long lines, bare LF, junk) and the analyzer must still explain it, so framing is
done here while reply lines are parsed with the client core's `parse_reply_line` and
SASL data follows `proto.sasl` (decoded in `sasl_view`). Replies are matched to the
commands they answer in order, which is what PIPELINING (RFC 2920 §3) requires.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from posthouse.analyzer import explain
from posthouse.analyzer.bytestream import clip, decode_text
from posthouse.analyzer.dissector import Dissector, b64decode, shown
from posthouse.analyzer.model import CLIENT, SERVER, Line, Message, Session
from posthouse.analyzer.sasl_view import SaslExchange
from posthouse.proto.smtp.address import parse_params, parse_path, split_path_params
from posthouse.proto.smtp.client import parse_reply_line
from posthouse.proto.smtp.reply import RemoteProtocolError, SMTPError

# RFC 3463 §2 / RFC 2034 §4: the enhanced code leads the text; its class is the
# reply's first digit.
_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?= |$)")
_LOOSE_REPLY = re.compile(rb"([1-9][0-9]{2})([ -]|\Z)(.*)", re.DOTALL)
_PATH = re.compile(r"<([^>]*)>")
_BDAT = re.compile(rb"\s*BDAT\s+([0-9]+)(\s+LAST)?\s*$", re.IGNORECASE)

EHLO_KEYWORDS = {
    "PIPELINING": "client may send several commands without waiting (RFC 2920)",
    "STARTTLS": "TLS is available (RFC 3207)",
    "AUTH": "login mechanisms offered (RFC 4954)",
    "SIZE": "largest message accepted, in bytes (RFC 1870)",
    "8BITMIME": "8-bit message content accepted (RFC 6152)",
    "CHUNKING": "BDAT accepted (RFC 3030)",
    "BINARYMIME": "binary content with BDAT (RFC 3030)",
    "SMTPUTF8": "UTF-8 addresses accepted (RFC 6531)",
    "DSN": "delivery status notifications (RFC 3461)",
    "ENHANCEDSTATUSCODES": "replies carry enhanced status codes (RFC 2034)",
    "VRFY": "VRFY answered",
    "ETRN": "remote queue start (RFC 1985)",
    "REQUIRETLS": "REQUIRETLS (RFC 8689)",
}


@dataclass(slots=True)
class _Pending:
    verb: str  # the command waiting for its reply ("" for the greeting, "." for DATA's end)
    line: Line | None


class SmtpDissector(Dissector):
    protocol = "SMTP"

    def __init__(self, session: Session, *, encrypted: bool = False, after_tls: bool = False):
        super().__init__(session, encrypted=encrypted, after_tls=after_tls)
        self.pending: deque[_Pending] = deque()
        if not after_tls and not session.mid_stream:
            self.pending.append(_Pending("", None))  # RFC 5321 §4.3.1: greeting first
        self.mode = "command"  # command, data, bdat, auth
        self.data_answer: int | None = None  # reply code to DATA, once seen
        self.bdat_left = 0
        self.bdat_last = False
        self.body = bytearray()
        self.body_frame = (0, 0)
        self.mail_from: str | None = None
        self.rcpt: list[str] = []
        self.sasl: SaslExchange | None = None
        self.sasl_answered = False  # a 334 came since the last client response
        self.starttls_sent = False
        self.reply_lines: list[Line] = []

    # -- client -------------------------------------------------------------------------

    def client_data(self) -> None:
        stream = self.streams[CLIENT]
        while stream.buf and not self.upgraded:
            if self.mode == "data":
                if not self._take_body():
                    return
                continue
            if self.mode == "bdat":
                take = min(self.bdat_left, len(stream.buf))
                if not self.body and take:
                    self.body_frame = stream.where(0)
                stream.move_into(self.body, take)
                self.bdat_left -= take
                if self.bdat_left:
                    return
                self.mode = "command"
                if self.bdat_last:
                    self._message("BDAT")
                continue
            if self.starttls_sent and stream.buf[:1] == b"\x16":
                self._upgrade()  # the client started TLS without waiting for the reply
                return
            if stream.buf[:1] == b"\x16":
                stray = self.stray_tls_record(CLIENT)
                if stray == "wait":
                    return
                if stray:
                    continue
            got = stream.take_line()
            if got is None:
                self.oversized(CLIENT)
                return
            line, frame, ts = got
            if self.mode == "auth" and self._auth_line(line, frame, ts):
                continue
            self._command(line, frame, ts)

    def _command(self, raw: bytes, frame: int, ts: int) -> None:
        text = decode_text(raw)
        verb, _, arg = text.strip().partition(" ")
        verb = verb.upper()
        line = self.add(Line(frame, ts, CLIENT, clip(text), explain.smtp_command(verb)))
        line.verb, line.argument = verb, arg
        if self.pending and self.pending[0].verb == "" and not self.server_seen:
            # Clients wait for the greeting (RFC 5321 §3.1, RFC 1939 §4): it is not in
            # the capture, so no reply will answer it.
            self.pending.popleft()
        self.pending.append(_Pending(verb, line))
        if verb in ("HELO", "EHLO", "LHLO", "RSET"):
            self.mail_from, self.rcpt = None, []
        elif verb == "MAIL":
            self.mail_from = self._path(line, arg, "FROM", mail=True)
            self.rcpt = []
        elif verb == "RCPT":
            self.rcpt.append(self._path(line, arg, "TO", mail=False))
        elif verb == "DATA":
            # The content follows a 354 (RFC 5321 §4.1.1.4). Without the reply in the
            # capture (one-sided, or not yet seen), what follows is taken as content.
            self.mode = "data"
            self.data_answer = None
            self.body = bytearray()
            self.body_frame = (frame, ts)
        elif verb == "BDAT":
            bdat = _BDAT.match(raw)
            if bdat is None:
                line.note = "BDAT without a valid size"
                return
            self.bdat_left = int(bdat.group(1))
            self.bdat_last = bdat.group(2) is not None
            line.note = f"chunk of {self.bdat_left} bytes follows" + (
                ", the last one (RFC 3030 §2)" if self.bdat_last else " (RFC 3030 §2)"
            )
            if self.bdat_left:
                self.mode = "bdat"
            elif self.bdat_last:
                self._message("BDAT")
        elif verb == "STARTTLS":
            self.starttls_sent = True
        elif verb == "AUTH":
            self._auth_start(line, arg, frame)

    def _path(self, line: Line, arg: str, keyword: str, *, mail: bool) -> str:
        """The address of MAIL FROM / RCPT TO, read with the SMTP core's path grammar
        (RFC 5321 §4.1.2); what the core refuses is noted and read loosely."""
        head, colon, rest = arg.partition(":")
        try:
            if not colon or head.strip().upper() != keyword:
                raise SMTPError.of(501, "5.5.4", f"Syntax: {keyword}:<address>")
            path, params = split_path_params(rest, allow_null=mail)
            parsed = parse_params(params)
            utf8 = "SMTPUTF8" in parsed or not mail
            return parse_path(path, allow_null=mail, utf8_allowed=utf8)
        except SMTPError as exc:
            line.note += f"; a strict server answers {exc.reply.code} {exc.reply.text}"
            m = _PATH.search(arg)
            return m.group(1) if m else rest.strip()

    def _auth_start(self, line: Line, arg: str, frame: int) -> None:
        mech, _, initial = arg.strip().partition(" ")
        self.sasl = SaslExchange("SMTP", mech, frame)
        self.session.auth_mechanism = mech.upper()
        self.mode = "auth"
        self.sasl_answered = False
        if initial:
            # RFC 4954 §4: "=" is an empty initial response.
            data = b"" if initial == "=" else b64decode(initial)
            line.decoded = shown(data) if data is not None else None
            line.note = f"login with {mech.upper()}: " + self.sasl.initial(data, initial, frame)
            self._register()

    def _auth_line(self, raw: bytes, frame: int, ts: int) -> bool:
        """A client line during AUTH: a response if the server asked for one (334) or,
        when its reply is not in the capture, if the mechanism needs one."""
        sasl = self.sasl
        assert sasl is not None
        if not self.sasl_answered and not sasl.expects_response():
            self.mode = "command"
            return False
        self.sasl_answered = False
        text = decode_text(raw).strip()
        line = self.add(Line(frame, ts, CLIENT, clip(text), "", "auth"))
        if text == "*":
            line.note = "client cancels the login (RFC 4954 §4)"
            return True
        data = b64decode(text)
        line.decoded = shown(data) if data is not None else None
        line.note = "base64: " + sasl.response(data, text, frame)
        self._register()
        return True

    def _register(self) -> None:
        if (
            self.sasl
            and self.sasl.credential
            and self.sasl.credential not in self.session.credentials
        ):
            self.credential(self.sasl.credential)

    def _take_body(self) -> bool:
        """DATA content up to the line with a single dot; False when incomplete."""
        stream = self.streams[CLIENT]
        buf = stream.buf
        if buf[:3] == b".\r\n" and not self.body and stream.scanned == 0:
            end, size = 0, 3
        elif buf[:2] == b".\n" and not self.body and stream.scanned == 0:
            end, size = 0, 2
        else:
            # RFC 5321 §4.1.1.4: the content ends with a line holding one ".". One search
            # for LF "." (rare inside a message: such lines are stuffed), then a look at
            # what follows: CRLF, or a bare LF from a sloppy client, ends the content.
            pos = max(0, stream.scanned - 1)
            while True:
                found = buf.find(b"\n.", pos)
                if found < 0 or found + 3 > len(buf):
                    # Not found, or too close to the end to tell: look again from here.
                    stream.scanned = len(buf) if found < 0 else found
                    if found < 0 and len(buf) > 1 << 20:
                        stream.move_into(self.body, len(buf) - 8)  # keep the tail
                    return False
                after = buf[found + 2 : found + 4]
                if after == b"\r\n":
                    end, size = found + 1, 3
                    break
                if after[:1] == b"\n":
                    end, size = found + 1, 2
                    break
                if after == b"\r":
                    stream.scanned = found  # CR seen, LF not yet: look again later
                    return False
                pos = found + 2
        if not self.body:
            self.body_frame = stream.where(0)
        stream.move_into(self.body, end)
        stream.consume_drop(size)
        self.mode = "command"
        self._message("DATA")
        self.pending.append(_Pending(".", None))
        return True

    def _message(self, source: str) -> None:
        raw = bytes(self.body)
        self.body = bytearray()
        if source == "DATA":
            # RFC 5321 §4.5.2: a leading dot was added to lines that start with one.
            raw = _unstuff(raw)
        frame, ts = self.body_frame
        self.add(
            Line(
                frame,
                ts,
                CLIENT,
                f"[message content: {len(raw)} bytes]",
                "the message itself: header, blank line, body (RFC 5322)",
                "data",
            )
        )
        self.message(Message(source, frame, raw, self.mail_from, list(self.rcpt)))

    # -- server -------------------------------------------------------------------------

    def server_data(self) -> None:
        self.server_seen = True
        stream = self.streams[SERVER]
        while stream.buf and not self.upgraded:
            got = stream.take_line()
            if got is None:
                self.oversized(SERVER)
                return
            self._reply_line(*got)

    def _reply_line(self, raw: bytes, frame: int, ts: int) -> None:
        try:
            code, last, text = parse_reply_line(raw)
        except RemoteProtocolError:
            loose = _LOOSE_REPLY.match(raw)
            if loose is not None:
                # A code outside RFC 5321 §4.2's grammar (e.g. 472): still a reply.
                code, last = int(loose.group(1)), loose.group(2) != b"-"
                text = decode_text(loose.group(3))
                line = self.add(Line(frame, ts, SERVER, clip(decode_text(raw)), "", "reply"))
                line.code = code
                line.note = "reply code outside RFC 5321 §4.2; " + explain.smtp_reply(code, None)
                self.reply_lines.append(line)
                if last:
                    self._reply_done(code)
                return
            self.add(
                Line(frame, ts, SERVER, clip(decode_text(raw)), "not an SMTP reply line", "reply")
            )
            return
        shown_text = clip(decode_text(raw))
        line = self.add(Line(frame, ts, SERVER, shown_text, "", "reply"))
        line.code = code
        m = _ENHANCED.match(text)
        if m is not None and int(m.group(1)) == code // 100:
            line.enhanced = m.group(0)
        first = not self.reply_lines
        self.reply_lines.append(line)
        cmd = self.pending[0].verb if self.pending else None
        if first:
            line.note = explain.smtp_reply(code, line.enhanced)
            if cmd == "" and code == 220:
                line.note = "greeting: " + line.note
        elif cmd in ("EHLO", "LHLO"):
            self._ehlo_keyword(line, text)
        if code == 334:
            data = b64decode(text)
            if data is not None and self.sasl is not None:
                line.decoded = shown(data)
                line.note = "server asks (base64): " + self.sasl.challenge(data)
            elif data is not None:
                line.decoded = shown(data)
                line.note = f'server asks (base64): "{shown(data)}"'
        if last:
            self._reply_done(code)

    def _ehlo_keyword(self, line: Line, text: str) -> None:
        keyword, _, params = text.partition(" ")
        keyword = keyword.upper()
        note = EHLO_KEYWORDS.get(keyword)
        if note:
            line.note = note
        if keyword == "AUTH" or keyword.startswith("AUTH="):
            mechs = (params if keyword == "AUTH" else keyword[5:]).split()
            for mech in mechs:
                if mech.upper() not in self.session.auth_mechanisms_offered:
                    self.session.auth_mechanisms_offered.append(mech.upper())
            if not self.encrypted and self.session.tls is None:
                self.session.auth_offered_in_clear = True
        elif keyword == "STARTTLS":
            self.session.starttls_offered = True

    def _reply_done(self, code: int) -> None:
        self.reply_lines = []
        if code == 334:
            self.sasl_answered = True
            return  # the AUTH exchange goes on; the command still waits
        pending = self.pending.popleft() if self.pending else None
        verb = pending.verb if pending else None
        if verb == "DATA":
            self.data_answer = code
            if code != 354 and self.mode == "data" and not self.streams[CLIENT].buf:
                self.mode = "command"
                self.body = bytearray()
        elif verb == "AUTH" and self.sasl is not None:
            self.sasl.result(code == 235)
            self.mode = "command" if self.mode == "auth" else self.mode
        elif verb == "STARTTLS" and code == 220:
            self._upgrade()
        elif verb == "STARTTLS":
            self.starttls_sent = False

    def _upgrade(self) -> None:
        # RFC 3207 §4.2: the rest of the connection is TLS; what the server offered in
        # the clear stays on record (it is what the finding about AUTH names).
        self.upgraded = True

    def resync(self, sender: str) -> None:
        if sender == CLIENT and self.mode in ("data", "bdat"):
            self.mode = "command"
            self.body = bytearray()
        if sender == SERVER:
            self.reply_lines = []

    def finish(self) -> None:
        if self.mode in ("data", "bdat") and (self.body or self.streams[CLIENT].buf):
            self.body += self.streams[CLIENT].take_rest()
            source = "DATA" if self.mode == "data" else "BDAT"
            self._message(source)
            self.session.messages[-1].complete = False
        super().finish()


def _unstuff(body: bytes) -> bytes:
    """RFC 5321 §4.5.2: drop the extra dot at the start of a line."""
    if b"\n." not in body and not body.startswith(b"."):
        return body
    if body.startswith(b".."):
        body = body[1:]
    return body.replace(b"\n..", b"\n.")
