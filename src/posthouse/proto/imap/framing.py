"""Framing IMAP commands and responses: lines, and literals announced at their ends.

RFC 9051 §2.2: a command is a line, unless a line ends with a literal marker `{n}`,
`{n+}` (LITERAL+, RFC 7888 §3) or `~{n}` (literal8, RFC 3516 §4.2): then n octets
follow, then the command continues with another line.  The framer assembles one
complete command (or response), with every limit checked *before* anything is
buffered (the discard-but-frame receiver from STYLE.md):

- a line longer than `max_line` is thrown away as it arrives, keeping only its start
  (for the tag) and its last octets (a literal marker may end it);
- a literal over `max_literal` or beyond `max_literals`/`max_command`: a synchronising
  one is refused before the client sends it (no "+"), a non-synchronising one is read
  and thrown away so the next command is framed correctly.

The command is then reported as refused, and the framer is ready for the next one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from posthouse.proto.imap.grammar import LITERAL_MARKER

_HEAD = 200  # octets of a command's start kept for its tag and for logs
_TAIL = 32  # octets of a discarded line's end kept to find a literal marker


class Problem(enum.Enum):
    LINE_TOO_LONG = "Line too long"
    LITERAL_TOO_BIG = "Literal too big"
    TOO_MANY_LITERALS = "Too many literals"
    COMMAND_TOO_BIG = "Command too big"


@dataclass(frozen=True, slots=True)
class Frame:
    """One whole command or response: `text` with the literal markers, and each
    literal as (offset just past its marker in `text`, octets, is-literal8)."""

    text: bytes
    literals: list[tuple[int, bytes, bool]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PendingLiteral:
    """A synchronising literal waits for the "+" (server role only)."""

    head: bytes
    size: int
    binary: bool


@dataclass(frozen=True, slots=True)
class Refused:
    """The command broke a limit; it has been framed and thrown away (or, for a
    synchronising literal, the client has not sent the octets and will not)."""

    head: bytes
    problem: Problem
    non_synchronising: bool = False


class _Mode(enum.Enum):
    LINE = 1
    LITERAL = 2
    WAIT = 3  # a synchronising literal awaits accept() or reject()


class Framer:
    def __init__(
        self,
        *,
        max_line: int,
        max_literal: int,
        max_literals: int,
        max_command: int,
        handshake: bool,
        non_sync_limit: int | None = None,
    ) -> None:
        """`handshake`: synchronising literals wait for `accept()` (server role).
        `non_sync_limit`: the LITERAL- ceiling for `{n+}` (RFC 7888 §5: 4096)."""
        self.max_line = max_line
        self.max_literal = max_literal
        self.max_literals = max_literals
        self.max_command = max_command
        self.handshake = handshake
        self.non_sync_limit = non_sync_limit
        self.buffer = bytearray()
        self._scanned = 0
        self._reset()

    def _reset(self) -> None:
        self._mode = _Mode.LINE
        self._texts: list[bytes] = []
        self._text_len = 0
        self._literals: list[tuple[int, bytes, bool]] = []
        self._literal = bytearray()
        self._remaining = 0
        self._binary = False
        self._total = 0
        self._head = b""
        self._problem: Problem | None = None
        self._non_sync_problem = False
        self._pending: PendingLiteral | None = None
        self._overlong_head: bytes | None = None

    @property
    def in_progress(self) -> bool:
        """Part of a command has arrived."""
        return bool(self._texts or self._head or self.buffer or self._overlong_head)

    @property
    def waiting(self) -> PendingLiteral | None:
        return self._pending

    def accept(self) -> None:
        assert self._pending is not None
        self._mode = _Mode.LITERAL
        self._remaining = self._pending.size
        self._binary = self._pending.binary
        self._pending = None

    def reject(self) -> None:
        """The client will not send the literal (RFC 9051 §7.5): the command is over."""
        self._reset()

    def _fail(self, problem: Problem) -> None:
        if self._problem is None:
            self._problem = problem
            self._texts = []
            self._literals = []

    def next_frame(self, *, raw_line: bool = False) -> Frame | PendingLiteral | Refused | None:
        """The next whole command, a literal waiting for "+", a refusal, or None when
        more input is needed.  `raw_line`: one line, no literals (IDLE's DONE, SASL)."""
        buffer = self.buffer
        while True:
            if self._mode is _Mode.WAIT:
                return None
            if self._mode is _Mode.LITERAL:
                take = min(self._remaining, len(buffer))
                if self._problem is None:
                    self._literal += buffer[:take]
                del buffer[:take]
                self._remaining -= take
                if self._remaining:
                    return None
                if self._problem is None:
                    self._literals.append((self._text_len, bytes(self._literal), self._binary))
                self._literal = bytearray()
                self._mode = _Mode.LINE
                continue
            end = buffer.find(b"\n", self._scanned)
            if end < 0:
                if len(buffer) > self.max_line:
                    # Over-long: keep the start (tag) and the end (a marker), drop the rest.
                    if self._overlong_head is None:
                        self._overlong_head = bytes(buffer[:_HEAD])
                    del buffer[:-_TAIL]
                self._scanned = len(buffer)
                return None
            body = bytes(buffer[: end + 1])
            del buffer[: end + 1]
            self._scanned = 0
            body = body[:-2] if body.endswith(b"\r\n") else body[:-1]
            if self._overlong_head is not None:
                if not self._head:
                    self._head = self._overlong_head
                self._overlong_head = None
                self._fail(Problem.LINE_TOO_LONG)
            elif len(body) > self.max_line:
                self._fail(Problem.LINE_TOO_LONG)
            if not self._head:
                self._head = body[:_HEAD]
            if raw_line:
                return self._finish(body)
            self._total += len(body) + 2
            if self._problem is None:
                self._texts.append(body)
                self._text_len += len(body)
            marker = LITERAL_MARKER.search(body[-_TAIL:])
            if marker is None:
                return self._finish(None)
            size = int(marker[2])
            binary = bool(marker[1])
            sync = not marker[3]
            self._total += size
            if len(self._literals) + 1 > self.max_literals:
                self._fail(Problem.TOO_MANY_LITERALS)
            elif size > self.max_literal or (
                not sync and self.non_sync_limit is not None and size > self.non_sync_limit
            ):
                self._fail(Problem.LITERAL_TOO_BIG)
            elif self._total > self.max_command:
                self._fail(Problem.COMMAND_TOO_BIG)
            if sync and self.handshake:
                if self._problem is not None:
                    # No "+" will be sent, so no octets will come: the command ends here.
                    return self._finish(None)
                self._mode = _Mode.WAIT
                self._pending = PendingLiteral(self._head, size, binary)
                return self._pending
            if self._problem is not None and not sync:
                self._non_sync_problem = True
            self._mode = _Mode.LITERAL
            self._remaining = size
            self._binary = binary

    def _finish(self, raw: bytes | None) -> Frame | Refused:
        problem, head, non_sync = self._problem, self._head, self._non_sync_problem
        frame = Frame(raw if raw is not None else b"".join(self._texts), self._literals)
        self._reset()
        if problem is not None:
            return Refused(head, problem, non_sync)
        return frame
