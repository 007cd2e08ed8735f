"""Sample messages for the store tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from posthouse.store.base import Store

# Opens (again) the backend under test on the same storage.
StoreFactory = Callable[[], Awaitable[Store]]


def message(n: int = 0, size: int = 0) -> bytes:
    """A small RFC 5322 message, padded with body lines to at least `size` bytes."""
    head = f"From: a@example.net\r\nTo: alice@example.org\r\nSubject: test {n}\r\n\r\n".encode()
    body = f"message {n}\r\n".encode()
    missing = size - len(head) - len(body)
    if missing > 0:
        line = b"x" * 76 + b"\r\n"
        body += line * -(-missing // len(line))
    return head + body
