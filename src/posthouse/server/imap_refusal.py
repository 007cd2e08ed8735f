"""How an IMAP command handler ends in a tagged NO or BAD (RFC 9051 §7.1)."""

from __future__ import annotations

from posthouse.proto.imap.response import ResponseCode


class Refusal(Exception):
    """A command that ends in a tagged NO or BAD."""

    def __init__(self, status: str, text: str, code: ResponseCode | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code


def no(text: str, code: str | ResponseCode | None = None) -> Refusal:
    return Refusal("NO", text, ResponseCode(code) if isinstance(code, str) else code)


def bad(text: str) -> Refusal:
    return Refusal("BAD", text)
