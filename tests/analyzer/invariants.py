"""Properties every reassembled connection must have, whatever went in."""

from __future__ import annotations

from posthouse.analyzer import Closed, Connection, Data, Direction, Gap


def assert_contiguous(conn: Connection) -> None:
    """Per direction, Data and Gap events tile the stream from its first offset with no
    hole and no repeat; nothing follows a direction's Closed event."""
    for direction in Direction:
        pos: int | None = None
        for event in conn.events:
            if isinstance(event, Data | Gap) and event.direction is direction:
                if pos is not None:
                    assert event.offset == pos, (direction, event, pos)
                size = len(event.data) if isinstance(event, Data) else event.missing_bytes
                assert size > 0, event
                pos = event.offset + size
        closes = [
            i
            for i, e in enumerate(conn.events)
            if isinstance(e, Closed) and e.direction is direction
        ]
        assert len(closes) <= 1, closes
        if closes:
            later = conn.events[closes[0] + 1 :]
            assert not [e for e in later if isinstance(e, Data | Gap) and e.direction is direction]
