"""Helpers for the IMAP codec tests: feed bytes, collect what the parser reports."""

from __future__ import annotations

from posthouse.proto.imap import (
    NEED_DATA,
    BadCommand,
    CommandParser,
    ConnectionClosed,
    LiteralPending,
    ResponseParser,
    ServerEvent,
)
from posthouse.proto.imap.response import Response


def commands(
    data: bytes | list[bytes], parser: CommandParser | None = None, *, accept: bool = True
) -> list[ServerEvent]:
    """Feed `data` (one chunk or several) and return every event; synchronising literals
    are accepted (as a server sending "+ Ready" would) unless `accept` is False."""
    parser = parser or CommandParser()
    events: list[ServerEvent] = []
    chunks = [data] if isinstance(data, bytes) else data
    for chunk in chunks:
        parser.receive_data(chunk)
        while True:
            event = parser.next_command()
            if event is NEED_DATA or isinstance(event, ConnectionClosed):
                break
            assert not isinstance(event, type(NEED_DATA))
            events.append(event)
            if isinstance(event, LiteralPending):
                if accept:
                    parser.accept_literal()
                else:
                    parser.reject_literal()
    return events


def one(data: bytes, parser: CommandParser | None = None) -> ServerEvent:
    """The single command `data` holds (literal announcements skipped)."""
    events = [e for e in commands(data, parser) if not isinstance(e, LiteralPending)]
    assert len(events) == 1, events
    return events[0]


def bad(data: bytes, parser: CommandParser | None = None) -> BadCommand:
    event = one(data, parser)
    assert isinstance(event, BadCommand), event
    return event


def responses(data: bytes | list[bytes]) -> list[Response]:
    parser = ResponseParser()
    out: list[Response] = []
    for chunk in [data] if isinstance(data, bytes) else data:
        parser.receive_data(chunk)
        while (item := parser.next_response()) is not NEED_DATA:
            assert isinstance(item, Response)  # type: ignore[misc, arg-type]
            out.append(item)
    return out
