"""HTTP/1.1 requests and responses (RFC 9112), for webmail seen inside HTTPS: the
method, path and status of each exchange; bodies are skipped by Content-Length."""

from __future__ import annotations

import re

from posthouse.analyzer.bytestream import clip, decode_text
from posthouse.analyzer.dissector import Dissector
from posthouse.analyzer.model import CLIENT, SERVER, Line, Session

# RFC 9112 §3: request-line = method SP request-target SP HTTP-version
_REQUEST = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.[01]\Z")
# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
_STATUS = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: (.*))?\Z")
_LENGTH = re.compile(rb"content-length:\s*([0-9]+)", re.IGNORECASE)


class HttpDissector(Dissector):
    protocol = "HTTP"

    def __init__(self, session: Session, *, encrypted: bool = False, after_tls: bool = False):
        super().__init__(session, encrypted=encrypted, after_tls=after_tls)
        self.state = {CLIENT: "start", SERVER: "start"}
        self.skip = {CLIENT: 0, SERVER: 0}
        self.length = {CLIENT: 0, SERVER: 0}

    def client_data(self) -> None:
        self._run(CLIENT)

    def server_data(self) -> None:
        self._run(SERVER)

    def _run(self, sender: str) -> None:
        s = self.streams[sender]
        while s.buf:
            if self.skip[sender]:
                n = min(self.skip[sender], len(s.buf))
                s.consume(n)
                self.skip[sender] -= n
                continue
            got = s.take_line()
            if got is None:
                if len(s.buf) > 65536:
                    s.take_rest()  # a body this dissector could not frame
                return
            raw, frame, ts = got
            state = self.state[sender]
            if state == "start":
                pattern = _REQUEST if sender == CLIENT else _STATUS
                m = pattern.match(raw)
                if m is None:
                    continue
                line = self.add(
                    Line(
                        frame,
                        ts,
                        sender,
                        clip(decode_text(raw)),
                        "",
                        "command" if sender == CLIENT else "reply",
                    )
                )
                if sender == CLIENT:
                    line.verb, line.argument = m.group(1).decode(), decode_text(m.group(2))
                    line.note = "HTTP request"
                else:
                    line.code = int(m.group(1))
                    line.note = "HTTP response"
                self.state[sender] = "headers"
                self.length[sender] = 0
            elif raw == b"":
                self.state[sender] = "start"
                self.skip[sender] = self.length[sender]
            else:
                m = _LENGTH.match(raw)
                if m is not None:
                    self.length[sender] = int(m.group(1))

    def flush_partial(self, sender: str) -> None:
        self.streams[sender].take_rest()
