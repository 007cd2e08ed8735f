"""POP3 seen from the outside (RFC 1939, CAPA RFC 2449, AUTH RFC 5034, STLS RFC 2595).

Like `smtp`, a tolerant line-level observer: the client core needs to be told what
each response is before it arrives, and refuses over-size responses a real server may
send; here the pending commands decide which responses are multi-line, and message
bodies are unstuffed with the core's `dotstuff.unstuff`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from posthouse.analyzer import explain
from posthouse.analyzer.bytestream import clip, decode_text
from posthouse.analyzer.dissector import Dissector, b64decode, shown
from posthouse.analyzer.model import CLIENT, SERVER, Credential, Line, Message, Session
from posthouse.analyzer.sasl_view import SaslExchange
from posthouse.proto.pop3.dotstuff import unstuff
from posthouse.proto.pop3.response import RESP_CODE


@dataclass(slots=True)
class _Pending:
    verb: str  # "" for the greeting
    argument: str
    line: Line | None


class Pop3Dissector(Dissector):
    protocol = "POP3"

    def __init__(self, session: Session, *, encrypted: bool = False, after_tls: bool = False):
        super().__init__(session, encrypted=encrypted, after_tls=after_tls)
        self.pending: deque[_Pending] = deque()
        if not after_tls and not session.mid_stream:
            self.pending.append(_Pending("", "", None))  # RFC 1939 §4: greeting
        self.multi: _Pending | None = None  # collecting a multi-line response
        self.multi_lines = 0
        self.user: str | None = None
        self.user_frame = 0
        self.sasl: SaslExchange | None = None
        self.sasl_answered = False
        self.last_cred: Credential | None = None
        self.stls_sent = False

    # -- client -------------------------------------------------------------------------

    def client_data(self) -> None:
        s = self.streams[CLIENT]
        while s.buf and not self.upgraded:
            if self.stls_sent and s.buf[:1] == b"\x16":
                self.upgraded = True
                return
            got = s.take_line()
            if got is None:
                self.oversized(CLIENT)
                return
            raw, frame, ts = got
            if self.sasl is not None and (self.sasl_answered or self.sasl.expects_response()):
                self._sasl_response(raw, frame, ts)
                continue
            self.sasl = None
            self._command(raw, frame, ts)

    def _command(self, raw: bytes, frame: int, ts: int) -> None:
        text = decode_text(raw)
        verb, _, arg = text.strip().partition(" ")
        verb = verb.upper()
        shown_text = clip(text)
        line = self.add(Line(frame, ts, CLIENT, shown_text, explain.POP3_COMMANDS.get(verb, "")))
        line.verb, line.argument = verb, arg
        if self.pending and self.pending[0].verb == "" and not self.server_seen:
            # Clients wait for the greeting (RFC 5321 §3.1, RFC 1939 §4): it is not in
            # the capture, so no reply will answer it.
            self.pending.popleft()
        self.pending.append(_Pending(verb, arg.strip(), line))
        if verb == "USER":
            self.user, self.user_frame = arg.strip(), frame
        elif verb == "PASS":
            cred = self.credential(Credential("POP3", "USER/PASS", self.user, arg, frame, False))
            cred.raw = [f"USER {self.user}" if self.user is not None else "", text]
            self.last_cred = cred
        elif verb == "APOP":
            user, _, digest = arg.strip().rpartition(" ")
            cred = self.credential(Credential("POP3", "APOP", user, None, frame, False))
            cred.raw = [text]
            self.last_cred = cred
            line.note += f"; digest {digest} (open to offline guessing)"
        elif verb == "AUTH" and arg.strip():
            mech, _, initial = arg.strip().partition(" ")
            self.sasl = SaslExchange("POP3", mech, frame)
            self.sasl_answered = False
            self.session.auth_mechanism = mech.upper()
            if initial:
                data = b"" if initial == "=" else b64decode(initial)
                line.decoded = shown(data) if data is not None else None
                line.note = f"login with {mech.upper()}: " + self.sasl.initial(data, initial, frame)
                self._register()
        elif verb == "STLS":
            self.stls_sent = True

    def _sasl_response(self, raw: bytes, frame: int, ts: int) -> None:
        assert self.sasl is not None
        self.sasl_answered = False
        text = decode_text(raw).strip()
        line = self.add(Line(frame, ts, CLIENT, clip(text), "", "auth"))
        if text == "*":
            line.note = "client cancels the login (RFC 5034 §4)"
            return
        data = b64decode(text)
        line.decoded = shown(data) if data is not None else None
        line.note = "base64: " + self.sasl.response(data, text, frame)
        self._register()

    def _register(self) -> None:
        if (
            self.sasl
            and self.sasl.credential
            and self.sasl.credential not in self.session.credentials
        ):
            self.last_cred = self.credential(self.sasl.credential)

    # -- server -------------------------------------------------------------------------

    def server_data(self) -> None:
        self.server_seen = True
        s = self.streams[SERVER]
        while s.buf and not self.upgraded:
            if self.multi is not None:
                if not self._collect():
                    return
                continue
            got = s.take_line()
            if got is None:
                self.oversized(SERVER)
                return
            self._status(*got)

    def _status(self, raw: bytes, frame: int, ts: int) -> None:
        text = decode_text(raw)
        line = self.add(Line(frame, ts, SERVER, clip(text), "", "reply"))
        head = raw[:4].upper()
        if raw[:1] == b"+" and not head.startswith(b"+OK"):
            # RFC 5034 §4: "+" SP base64 challenge.
            line.status = "+"
            data = b64decode(raw[1:].decode("ascii", "replace"))
            if data is not None:
                line.decoded = shown(data)
                challenge = self.sasl.challenge(data) if self.sasl else f'"{shown(data)}"'
                line.note = "server asks (base64): " + challenge
            else:
                line.note = "SASL continuation"
            self.sasl_answered = True
            return
        if head.startswith(b"+OK"):
            ok = True
        elif head == b"-ERR":
            ok = False
        else:
            line.note = "not a POP3 status line"
            return
        line.status = "+OK" if ok else "-ERR"
        rest = text[3 if ok else 4 :].lstrip(" ")
        # RFC 2449 §8: an extended response code in brackets.
        if rest.startswith("[") and "]" in rest and RESP_CODE.fullmatch(rest[1 : rest.index("]")]):
            line.enhanced = rest[1 : rest.index("]")]
        pending = self.pending.popleft() if self.pending else None
        verb = pending.verb if pending else None
        line.note = ("success" if ok else "failure") + (f" ({verb})" if verb else "")
        if verb == "":
            line.note = "greeting" + (
                ": the <...> part is the APOP timestamp" if "<" in text and ">" in text else ""
            )
        if verb in ("PASS", "APOP") and self.last_cred is not None:
            self.last_cred.success = ok
            line.note = "login accepted" if ok else "login refused"
        elif verb == "AUTH" and pending and pending.argument:
            if self.sasl is not None:
                self.sasl.result(ok)
            self.sasl = None
            line.note = "login accepted" if ok else "login refused"
        elif verb == "STLS" and ok:
            self.upgraded = True
            return
        if ok and pending is not None and _multiline(pending):
            self.multi = pending
            self.multi_lines = 0

    def _collect(self) -> bool:
        """The rest of a multi-line response (RFC 1939 §3), up to the "." line."""
        pending = self.multi
        assert pending is not None
        s = self.streams[SERVER]
        buf = s.buf
        if s.scanned == 0 and (buf[:3] == b".\r\n" or buf[:2] == b".\n"):
            body_end, consumed = 0, 3 if buf[:3] == b".\r\n" else 2
        else:
            pos = max(s.scanned - 1, 0)
            while True:
                found = buf.find(b"\n.", pos)
                if found < 0:
                    s.scanned = max(len(buf) - 1, 0)
                    return False
                after = bytes(buf[found + 2 : found + 4])
                if after[:1] == b"\n":
                    body_end, consumed = found + 1, found + 3
                    break
                if after == b"\r\n":
                    body_end, consumed = found + 1, found + 4
                    break
                if after in (b"", b"\r"):
                    s.scanned = found
                    return False
                pos = found + 2
        frame, ts = s.where(0)
        end_frame, end_ts = s.where(consumed - 1)
        body = bytes(buf[:body_end])
        if pending.verb not in ("RETR", "TOP"):
            self._listing(pending, body)
        s.consume_drop(consumed)
        self.multi = None
        if pending.verb in ("RETR", "TOP"):
            raw = unstuff(body) if body else b""
            self.add(
                Line(
                    frame,
                    ts,
                    SERVER,
                    f"[message: {len(raw)} bytes]",
                    "the message as stored: header, blank line, body",
                    "data",
                )
            )
            self.message(Message(pending.verb, end_frame, raw))
        self.add(Line(end_frame, end_ts, SERVER, ".", "end of the multi-line response", "reply"))
        return True

    def _listing(self, pending: _Pending, body: bytes) -> None:
        """The lines of a CAPA, LIST, UIDL or AUTH listing, each with its own frame."""
        s = self.streams[SERVER]
        pos = 0
        for item in body.split(b"\n"):
            at = pos
            pos += len(item) + 1
            item = item.rstrip(b"\r")
            if not item:
                continue
            if item.startswith(b"."):
                item = item[1:]  # RFC 1939 §3: byte-stuffed termination octet
            frame, ts = s.where(at)
            self.add(Line(frame, ts, SERVER, clip(decode_text(item)), "", "data"))
            upper = item.upper()
            if pending.verb == "CAPA" and upper.startswith(b"SASL"):
                mechs = decode_text(item).split()[1:]
                self.session.auth_mechanisms_offered.extend(m.upper() for m in mechs)
                if not self.encrypted and self.session.tls is None:
                    self.session.auth_offered_in_clear = True
            elif pending.verb == "CAPA" and upper.startswith(b"STLS"):
                self.session.starttls_offered = True

    def resync(self, sender: str) -> None:
        if sender == SERVER:
            self.multi = None

    def finish(self) -> None:
        if self.multi is not None and self.multi.verb in ("RETR", "TOP"):
            s = self.streams[SERVER]
            if s.buf:
                frame, _ = s.where(0)
                msg = self.message(Message(self.multi.verb, frame, unstuff(s.take_rest())))
                msg.complete = False
        super().finish()


def _multiline(p: _Pending) -> bool:
    """RFC 1939 §5-§7, RFC 2449 §5, RFC 5034 §4: which +OK replies have more lines."""
    if p.verb in ("RETR", "TOP", "CAPA"):
        return True
    if p.verb in ("LIST", "UIDL"):
        return not p.argument
    return p.verb == "AUTH" and not p.argument
