"""The IMAP response parser, client role and the analyzer's view of a server
(RFC 9051 §7, §9 `response`).

    parser = ResponseParser()
    parser.receive_data(read())
    response = parser.next_response()   # Tagged / Untagged / Continuation / NEED_DATA

Responses come back as the objects `response.py` builds, so `parse(r.to_bytes()) == r`
up to the value forms the wire keeps (strings come back as bytes, lists as tuples).
The parser is lenient where servers differ in practice (atoms with "\\*" or "[...]" in
them, bare LF) and strict where a mistake would desynchronise it (literals, lines,
limits).  Anything it cannot read raises `RemoteProtocolError`, never anything else.
"""

from __future__ import annotations

import re

from posthouse.proto.imap.errors import LocalProtocolError, ParseError, RemoteProtocolError
from posthouse.proto.imap.events import NEED_DATA, ConnectionClosed, Sentinel
from posthouse.proto.imap.framing import Frame, Framer, Refused
from posthouse.proto.imap.grammar import TAG, Reader
from posthouse.proto.imap.response import (
    STATUSES,
    Atom,
    Continuation,
    Response,
    ResponseCode,
    Tagged,
    Untagged,
    Value,
)

MAX_RESPONSE_LINE = 1024 * 1024  # a long * SEARCH or * VANISHED line
MAX_RESPONSE_LITERAL = 1024 * 1024 * 1024  # a message body
MAX_RESPONSE_LITERALS = 1_000_000  # literals in one response (a FETCH of many headers)
MAX_RESPONSE_DEPTH = 64  # BODYSTRUCTURE nests one level per MIME part level
_NUMBER = re.compile(rb"[0-9]+(?=[ )\]]|\Z)")
# An atom ends at these; inside "[...]" spaces, parentheses and quotes belong to it.
_STOP_OUTSIDE = b' ()\r\n\x00{"'
_STOP_INSIDE = b"\r\n\x00{"
_CODE_NAME = re.compile(rb"[^ \]\x00-\x1f\x7f]+")


class _ValueReader:
    """Lenient values: atoms may carry "\\", "*", "%" and a bracketed part."""

    def __init__(self, reader: Reader) -> None:
        self.r = reader

    def value(self) -> Value:
        r = self.r
        head = r.peek()
        if head == b"(":
            return self.list()
        if head == b'"' or head == b"{" or r.peek(2) == b"~{":
            if head == b"~":
                return r.literal(allow_literal8=True)[0]
            return r.string()
        number = _NUMBER.match(r.text, r.pos)
        if number is not None and len(number[0]) <= 20:
            r.pos = number.end()
            r.count()
            return int(number[0])
        if r.peek_upper(b"NIL"):
            r.pos += 3
            return None
        return Atom(self.atom())

    def list(self) -> tuple[Value, ...]:
        """A parenthesised list; items are separated by a space, or by nothing before
        a "(" (RFC 9051 §9 `1*body` and `1*address` runs)."""
        r = self.r
        r.expect(b"(")
        r.enter()
        items: list[Value] = []
        if r.peek() != b")":
            items.append(self.value())
            while r.maybe_sp() or r.peek() == b"(":
                items.append(self.value())
        r.expect(b")", "')'")
        r.leave()
        return tuple(items)

    def atom(self) -> str:
        r = self.r
        text = r.text
        start = pos = r.pos
        brackets = 0
        while pos < len(text):
            char = text[pos : pos + 1]
            if char == b"[":
                brackets += 1
                if brackets > r.max_depth:
                    raise ParseError("Too deeply nested")
            elif char == b"]":
                if brackets == 0:
                    break
                brackets -= 1
            elif char in (_STOP_OUTSIDE if brackets == 0 else _STOP_INSIDE):
                break
            pos += 1
        if pos == start or brackets:
            raise ParseError("Expected a value")
        r.pos = pos
        r.count()
        return text[start:pos].decode("utf-8", "surrogateescape")

    def values_until_end(self) -> tuple[Value, ...]:
        items: list[Value] = []
        r = self.r
        while r.maybe_sp():
            if r.at_end():
                break  # a trailing space, which some servers send
            items.append(self.value())
        r.end()
        return tuple(items)


class ResponseParser:
    """Server bytes in, responses out."""

    def __init__(
        self,
        *,
        max_line: int = MAX_RESPONSE_LINE,
        max_literal: int = MAX_RESPONSE_LITERAL,
        max_literals: int = MAX_RESPONSE_LITERALS,
        max_depth: int = MAX_RESPONSE_DEPTH,
    ) -> None:
        self._framer = Framer(
            max_line=max_line,
            max_literal=max_literal,
            max_literals=max_literals,
            max_command=max_literal * 4,
            handshake=False,
        )
        self._max_depth = max_depth
        self._eof = False

    def receive_data(self, data: bytes) -> None:
        if self._eof:
            if data:
                raise LocalProtocolError("receive_data() after the connection was closed")
            return
        if not data:
            self._eof = True
            return
        self._framer.buffer += data

    def next_response(self) -> Response | ConnectionClosed | Sentinel:
        frame = self._framer.next_frame()
        if frame is None:
            if self._eof:
                if self._framer.in_progress:
                    raise RemoteProtocolError("connection closed in the middle of a response")
                return ConnectionClosed()
            return NEED_DATA
        if isinstance(frame, Refused):
            raise RemoteProtocolError(f"server response refused: {frame.problem.value}")
        assert isinstance(frame, Frame)
        try:
            return self._parse(frame)
        except ParseError as exc:
            raise RemoteProtocolError(f"{exc.text}: {frame.text[:80]!r}") from None
        except RecursionError:  # pragma: no cover - the depth limit comes first
            raise RemoteProtocolError("response nested too deeply") from None

    def _parse(self, frame: Frame) -> Response:
        r = Reader(
            frame.text,
            frame.literals,
            max_depth=self._max_depth,
            max_items=len(frame.text) + len(frame.literals) + 10,
            utf8=True,
        )
        text = frame.text
        if text[:1] == b"+":
            # RFC 9051 §9: continue-req = "+" SP (resp-text / base64) CRLF; many
            # servers send a bare "+".
            body = text[2:] if text[1:2] == b" " else text[1:]
            if frame.literals:
                raise ParseError("Literal in a continuation request")
            return Continuation(body.decode("utf-8", "surrogateescape"))
        if text[:2] == b"* ":
            r.pos = 2
            number: int | None = None
            head = _NUMBER.match(text, 2)
            if head is not None:
                number = r.number(limit=0xFFFFFFFFFFFFFFFF)
                r.sp()
            name = r.atom("a response name").upper()
            if name in STATUSES:
                if number is not None:
                    raise ParseError("A status response has no number")
                code, status_text = self._resp_text(r)
                return Untagged(name, (), None, code, status_text)
            data = _ValueReader(r).values_until_end()
            return Untagged(name, data, number)
        match = TAG.match(text)
        if match is None:
            raise ParseError("Expected a tag, '*' or '+'")
        r.pos = match.end()
        r.sp()
        status = r.atom("OK, NO or BAD").upper()
        if status not in ("OK", "NO", "BAD"):
            raise ParseError("A tagged response is OK, NO or BAD")
        code, status_text = self._resp_text(r)
        return Tagged(match[0].decode("ascii"), status, status_text, code)

    def _resp_text(self, r: Reader) -> tuple[ResponseCode | None, str]:
        """resp-text = ["[" resp-text-code "]" SP] [text] (RFC 9051 §9)."""
        if not r.maybe_sp():
            r.end()
            return None, ""
        code: ResponseCode | None = None
        if r.peek() == b"[":
            r.pos += 1
            name_match = _CODE_NAME.match(r.text, r.pos)
            if name_match is None:
                raise ParseError("Expected a response code")
            r.pos = name_match.end()
            name = name_match[0].decode("utf-8", "surrogateescape").upper()
            args: tuple[Value, ...] = ()
            if r.peek() == b" ":
                start = r.pos
                try:
                    args = self._code_args(r)
                except ParseError:
                    # RFC 9051 §9: atom [SP 1*<any TEXT-CHAR except "]">]: keep as text.
                    end = r.text.find(b"]", start)
                    if end < 0:
                        raise ParseError("Unterminated response code") from None
                    args = (Atom(r.text[start + 1 : end].decode("utf-8", "surrogateescape")),)
                    r.pos = end
            r.expect(b"]", "']'")
            code = ResponseCode(name, args)
            if not r.maybe_sp():
                r.end()
                return code, ""
        if r.literal_count_left():
            raise ParseError("Literal in response text")
        rest = r.text[r.pos :]
        r.pos = len(r.text)
        return code, rest.decode("utf-8", "surrogateescape")

    def _code_args(self, r: Reader) -> tuple[Value, ...]:
        values = _ValueReader(r)
        items: list[Value] = []
        while r.maybe_sp():
            items.append(values.value())
        if r.peek() != b"]":
            raise ParseError("Expected ']'")
        return tuple(items)
