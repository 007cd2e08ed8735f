"""SMTP replies: code, enhanced status code and text (RFC 5321 §4.2, RFC 3463)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    enhanced: str | None  # "2.1.0" (RFC 2034 / RFC 3463), None when not applicable
    lines: tuple[str, ...]

    @classmethod
    def of(cls, code: int, enhanced: str | None, *lines: str) -> Reply:
        return cls(code, enhanced, lines or ("",))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 400

    def to_bytes(self, enhanced_codes: bool = True) -> bytes:
        """Encode as one or more "code-text" lines (RFC 5321 §4.2.1)."""
        out = []
        last = len(self.lines) - 1
        for i, line in enumerate(self.lines):
            sep = " " if i == last else "-"
            # RFC 2034 §4: the enhanced code leads the text of every line.
            if enhanced_codes and self.enhanced:
                text = f"{self.enhanced} {line}" if line else self.enhanced
            else:
                text = line
            out.append(f"{self.code}{sep}{text}".rstrip(" ") + "\r\n")
        return "".join(out).encode("utf-8")


class SMTPError(Exception):
    """A protocol violation that carries the reply to send (DESIGN.md principle 2)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.code} {reply.enhanced or ''} {reply.text}".strip())
        self.reply = reply

    @classmethod
    def of(cls, code: int, enhanced: str | None, *lines: str) -> SMTPError:
        return cls(Reply.of(code, enhanced, *lines))


class LocalProtocolError(Exception):
    """Our side misused a protocol core (h11 style): a reply sent with no command
    waiting for it, a command that cannot be serialised, ...  A bug in the caller."""


class RemoteProtocolError(Exception):
    """The peer sent bytes that break the protocol and that the core cannot turn into
    an event (a malformed reply line on the client side)."""

    def __init__(self, message: str, line: bytes = b"") -> None:
        super().__init__(message)
        self.line = line  # the offending input (may be truncated), for transcripts
