"""IMAP seen from the outside (RFC 9051, RFC 3501).

Both directions are framed by the IMAP core's `Framer`, so literals (`{n}`, `{n+}`,
`~{n}`) are followed octet by octet and a line inside a FETCH literal is never taken
for a response. The framed commands and responses are then read tolerantly here: a
capture must be explained whatever it holds. Alongside, the core's own parsers run in
observer role on the same bytes (`CommandParser` for the client, `ResponseParser` for
the server, one command or response per frame), and what they refuse is noted on the
line: "a strict server would answer BAD".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from posthouse.analyzer import explain
from posthouse.analyzer.bytestream import clip, decode_text
from posthouse.analyzer.dissector import Dissector, b64decode, shown
from posthouse.analyzer.model import CLIENT, SERVER, Credential, Line, Message, Session
from posthouse.analyzer.sasl_view import SaslExchange
from posthouse.proto.imap import events as imap_events
from posthouse.proto.imap.client import ResponseParser
from posthouse.proto.imap.errors import RemoteProtocolError as ImapRemoteError
from posthouse.proto.imap.framing import Frame, Framer, PendingLiteral, Refused
from posthouse.proto.imap.response import Tagged
from posthouse.proto.imap.server import CommandParser

_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\{[0-9]+\+?\})|([^ ()]+)')
# The fetch item a literal belongs to (RFC 9051 §7.5.2): BODY[section]<origin>, RFC822...
_ITEM = re.compile(
    rb"(BODY\[([^\]]*)\](?:<[0-9]+>)?|BINARY\[[^\]]*\](?:<[0-9]+>)?|RFC822(?:\.HEADER|\.TEXT)?)"
    rb" ~?\{[0-9]+\+?\}\Z",
    re.IGNORECASE,
)
_SHOW_LITERAL = 120


@dataclass(slots=True)
class _Pending:
    verb: str
    line: Line
    credential: Credential | None = None


def _framer() -> Framer:
    return Framer(
        max_line=1 << 20,
        max_literal=1 << 34,
        max_literals=1 << 20,
        max_command=1 << 40,
        handshake=False,
    )


class ImapDissector(Dissector):
    protocol = "IMAP"

    def __init__(self, session: Session, *, encrypted: bool = False, after_tls: bool = False):
        super().__init__(session, encrypted=encrypted, after_tls=after_tls)
        self.framers = {CLIENT: _framer(), SERVER: _framer()}
        self.tags: dict[str, _Pending] = {}
        self.sasl: SaslExchange | None = None
        self.sasl_tag: str | None = None
        self.idle_tag: str | None = None
        self.starttls_tag: str | None = None
        self.greeted = after_tls or session.mid_stream
        self.start: dict[str, tuple[int, int] | None] = {CLIENT: None, SERVER: None}
        self.cores: _Cores | None = _Cores()
        self.mark: dict[str, tuple[int, int]] = {CLIENT: (0, 0), SERVER: (0, 0)}

    def feed(self, sender: str, data: bytes, frame: int, time_ns: int) -> None:
        # The framer keeps its own buffer; what is needed here is the frame and time of
        # the first byte of the command or response being assembled.
        framer = self.framers[sender]
        if self.start[sender] is None or not framer.in_progress:
            self.start[sender] = (frame, time_ns)
        self.mark[sender] = (frame, time_ns)
        framer.buffer += data
        if not self.upgraded:
            if self.cores is not None and data:
                try:
                    self.cores.feed(sender, data)
                except Exception:
                    self.cores = None  # the observers must never stop the analysis
            self._frames(sender)

    def _frames(self, sender: str) -> None:
        framer = self.framers[sender]
        while framer.buffer and not self.upgraded:
            if sender == CLIENT and self.starttls_tag is not None and framer.buffer[:1] == b"\x16":
                self._upgrade()
                break
            raw_line = sender == CLIENT and (self.sasl_tag is not None or self.idle_tag is not None)
            got = framer.next_frame(raw_line=raw_line)
            if got is None:
                break
            if isinstance(got, PendingLiteral):  # not in observer mode (no handshake)
                framer.accept()
                continue
            frame, ts = self.start[sender] or self.mark[sender]
            self.start[sender] = self.mark[sender] if framer.buffer else None
            self._handle(sender, got, frame, ts)

    def _handle(self, sender: str, got: Frame | Refused, frame: int, ts: int) -> None:
        if isinstance(got, Refused):
            self.add(
                Line(
                    frame,
                    ts,
                    sender,
                    clip(decode_text(got.head)),
                    f"not understood: {got.problem.value}",
                    "data",
                )
            )
            return
        if sender == CLIENT:
            self._client(got, frame, ts)
        else:
            self._server(got, frame, ts)

    # -- client -------------------------------------------------------------------------

    def _client(self, f: Frame, frame: int, ts: int) -> None:
        text = f.text
        if self.idle_tag is not None or self.sasl_tag is not None:
            self._core_verdict(CLIENT)  # DONE or a SASL line: keep the core in step
        if self.idle_tag is not None:
            self.add(Line(frame, ts, CLIENT, decode_text(text), "ends IDLE (RFC 2177)"))
            self.idle_tag = None
            return
        if self.sasl_tag is not None and self.sasl is not None:
            shown_text = decode_text(text).strip()
            line = self.add(Line(frame, ts, CLIENT, clip(shown_text), "", "auth"))
            if shown_text == "*":
                line.note = "client cancels the login (RFC 9051 §6.2.2)"
                return
            data = b64decode(shown_text)
            line.decoded = shown(data) if data is not None else None
            line.note = "base64: " + self.sasl.response(data, shown_text, frame)
            self._register()
            return
        tokens = _tokens(f)
        tag = tokens[0] if tokens else ""
        verb = tokens[1].upper() if len(tokens) > 1 else ""
        args = tokens[2:]
        if verb == "UID" and args:
            verb = "UID " + args[0].upper()
            args = args[1:]
        base = verb.split(" ")[-1]
        line = self.add(Line(frame, ts, CLIENT, _display(f), explain.IMAP_COMMANDS.get(base, "")))
        refused = self._core_verdict(CLIENT)
        if refused:
            line.note = (line.note + "; " if line.note else "") + refused
        line.tag, line.verb = tag, verb
        line.argument = " ".join(args)
        pending = _Pending(verb, line)
        self.tags[tag] = pending
        if verb == "LOGIN":
            user = args[0] if args else None
            password = args[1] if len(args) > 1 else None
            cred = self.credential(Credential("IMAP", "LOGIN", user, password, frame, False))
            cred.raw = [decode_text(text)]
            pending.credential = cred
            line.note += f": user {user!r}, password {password!r}"
        elif verb == "AUTHENTICATE" and args:
            self.sasl = SaslExchange("IMAP", args[0], frame)
            self.session.auth_mechanism = args[0].upper()
            self.sasl_tag = tag
            if self.cores is not None and len(args) == 1:
                self.cores.commands.expect_sasl_response(tag)
            if len(args) > 1:
                # RFC 4959: SASL-IR initial response.
                initial = args[1]
                data = b"" if initial == "=" else b64decode(initial)
                line.decoded = shown(data) if data is not None else None
                line.note += ": " + self.sasl.initial(data, initial, frame)
                self._register()
        elif verb == "IDLE":
            self.idle_tag = tag
            if self.cores is not None:
                self.cores.commands.start_idle(tag)
        elif verb == "STARTTLS":
            self.starttls_tag = tag
        elif verb == "APPEND" and f.literals:
            self.message(Message("APPEND", frame, f.literals[-1][1]))

    def _register(self) -> None:
        if (
            self.sasl
            and self.sasl.credential
            and self.sasl.credential not in self.session.credentials
        ):
            self.credential(self.sasl.credential)
            for p in self.tags.values():
                if p.verb == "AUTHENTICATE" and p.credential is None:
                    p.credential = self.sasl.credential

    # -- server -------------------------------------------------------------------------

    def _server(self, f: Frame, frame: int, ts: int) -> None:
        text = f.text
        line = self.add(Line(frame, ts, SERVER, _display(f), "", "reply"))
        refused = self._core_verdict(SERVER)
        if refused:
            line.note = refused
            line.kind = "reply"
        if text[:1] == b"+":
            # RFC 9051 §7.5: continuation request.
            line.status = "+"
            body = text[2:] if text[1:2] == b" " else text[1:]
            if self.sasl_tag is not None and self.cores is not None:
                self.cores.commands.expect_sasl_response(self.sasl_tag)
            if self.sasl_tag is not None and self.sasl is not None:
                data = b64decode(decode_text(body))
                if data is not None:
                    line.decoded = shown(data)
                    line.note = "server asks (base64): " + self.sasl.challenge(data)
                    return
            line.note = "server is ready for the rest of the command"
            return
        parts = text.split(b" ", 3)
        if text[:2] == b"* ":
            word = parts[1].upper() if len(parts) > 1 else b""
            if word.isdigit() and len(parts) > 2:
                word = parts[2].upper()
            name = word.decode("ascii", "replace")
            line.tag = "*"
            if name in explain.IMAP_STATUS:
                line.status = name
                line.note = explain.IMAP_STATUS[name]
                if not self.greeted and name in ("OK", "PREAUTH", "BYE"):
                    line.note = "greeting: " + line.note
                    self.greeted = True
            else:
                line.verb = name
            upper = text.upper()
            if b"CAPABILITY" in upper:
                self._capabilities(decode_text(text))
            if name == "FETCH" and f.literals:
                self._fetch(f, frame)
            return
        tag = decode_text(parts[0])
        status = decode_text(parts[1]).upper() if len(parts) > 1 else ""
        line.tag, line.status = tag, status
        pending = self.tags.pop(tag, None)
        line.note = explain.IMAP_STATUS.get(status, "not an IMAP response")
        if pending is None:
            return
        line.note += f" ({pending.verb})"
        ok = status == "OK"
        if pending.credential is not None and pending.verb in ("LOGIN", "AUTHENTICATE"):
            pending.credential.success = ok
            line.note = "login accepted" if ok else "login refused"
        if tag == self.sasl_tag:
            if self.sasl is not None:
                self.sasl.result(ok)
            self.sasl_tag = None
        if tag == self.idle_tag:
            self.idle_tag = None
        if tag == self.starttls_tag:
            self.starttls_tag = None
            if ok:
                self._upgrade()

    def _capabilities(self, text: str) -> None:
        for word in text.replace("]", " ").split():
            upper = word.upper()
            if upper.startswith("AUTH="):
                mech = upper[5:]
                if mech not in self.session.auth_mechanisms_offered:
                    self.session.auth_mechanisms_offered.append(mech)
                if not self.encrypted and self.session.tls is None:
                    self.session.auth_offered_in_clear = True
            elif upper == "STARTTLS":
                self.session.starttls_offered = True

    def _fetch(self, f: Frame, frame: int) -> None:
        for offset, data, _binary in f.literals:
            m = _ITEM.search(f.text, max(0, offset - 200), offset)
            if m is None:
                continue
            item = m.group(1).upper()
            section = (m.group(2) or b"").upper()
            if item.startswith(b"RFC822.HEADER") or (
                item.startswith(b"BODY[") and section.startswith(b"HEADER")
            ):
                self.message(Message("FETCH HEADER", frame, data))
            elif item == b"RFC822" or (item.startswith(b"BODY[") and section == b""):
                self.message(Message("FETCH", frame, data))

    def _core_verdict(self, sender: str) -> str:
        """The core parser's view of the frame just handled: "" if it accepts it."""
        cores = self.cores
        if cores is None:
            return ""
        try:
            return cores.verdict(sender)
        except Exception:
            # Out of step (a gap, a command the core framed differently): stop asking.
            self.cores = None
            return ""

    def _upgrade(self) -> None:
        self.upgraded = True

    def leftover(self, sender: str) -> tuple[bytes, int, int]:
        framer = self.framers[sender]
        data = bytes(framer.buffer)
        framer.buffer.clear()
        frame, ts = self.mark[sender]
        return data, frame, ts

    def gap(self, sender: str, missing: int, frame: int, time_ns: int) -> None:
        self.framers[sender] = _framer()
        self.cores = None  # the core parsers cannot resynchronise on a line of their own
        self.note(frame, time_ns, f"[{missing} bytes missing from the capture]", "gap", sender)
        self.session.gaps += 1

    def finish(self) -> None:
        if self.upgraded:
            return
        for sender in (CLIENT, SERVER):
            framer = self.framers[sender]
            if framer.buffer:
                frame, ts = self.start[sender] or self.mark[sender]
                self.add(
                    Line(
                        frame,
                        ts,
                        sender,
                        clip(decode_text(bytes(framer.buffer))),
                        "incomplete (the capture ends here)",
                        "data",
                    )
                )


def _tokens(f: Frame) -> list[str]:
    """Tag, command name and arguments of a command: atoms, quoted strings and literals
    (RFC 9051 §4.3) as text; parenthesised lists are flattened."""
    out: list[str] = []
    literals = iter(f.literals)
    for m in _TOKEN.finditer(f.text):
        if m.group(1) is not None:
            out.append(re.sub(rb"\\(.)", rb"\1", m.group(1)).decode("utf-8", "backslashreplace"))
        elif m.group(2) is not None:
            lit = next(literals, None)
            out.append(lit[1].decode("utf-8", "backslashreplace") if lit else "")
        else:
            out.append(m.group(3).decode("utf-8", "backslashreplace"))
    return out


def _display(f: Frame) -> str:
    """The frame as one transcript line: short literals inline, long ones summarised."""
    if not f.literals:
        return clip(decode_text(f.text))
    parts: list[str] = []
    prev = 0
    for offset, data, _binary in f.literals:
        parts.append(decode_text(f.text[prev:offset]))
        if len(data) <= _SHOW_LITERAL and b"\n" not in data:
            parts.append(" " + decode_text(data))
        else:
            parts.append(f" [{len(data)} bytes]")
        prev = offset
    parts.append(decode_text(f.text[prev:]))
    return clip("".join(parts), 600)


class _Cores:
    """The IMAP core's parsers, observing: one verdict per frame the dissector framed."""

    def __init__(self) -> None:
        big = 1 << 34
        self.commands = CommandParser(max_line=1 << 20, max_literal=big, max_command=1 << 40)
        self.responses = ResponseParser(max_line=1 << 20, max_literal=big)

    def feed(self, sender: str, data: bytes) -> None:
        if not data:
            return  # b"" would tell the parsers the connection closed
        if sender == CLIENT:
            self.commands.receive_data(data)
        else:
            self.responses.receive_data(data)

    def verdict(self, sender: str) -> str:
        if sender == SERVER:
            try:
                self.responses.next_response()
            except ImapRemoteError as exc:
                return f"not a valid IMAP response (RFC 9051 §9): {exc}"
            return ""
        while True:
            event = self.commands.next_command()
            if isinstance(event, imap_events.LiteralPending):
                self.commands.accept_literal()  # the capture shows the client went on
                continue
            break
        if isinstance(event, imap_events.BadCommand):
            response = event.response
            status = response.status if isinstance(response, Tagged) else response.name
            return f"a strict server answers {status}: {response.text}"
        return ""
