"""A TCP connection built from a script of (sender, bytes), for dissector tests that
need no capture file: each step is one segment, numbered as frames from 1."""

from __future__ import annotations

from posthouse.analyzer.model import Session
from posthouse.analyzer.sessions import build_session
from posthouse.analyzer.tcp import Closed, Connection, Data, Direction, Endpoint, Gap

Step = tuple[str, bytes] | tuple[str, int]  # ("C"/"S", data) or ("C"/"S", missing bytes)


def connection(steps: list[Step], server_port: int = 25, client_port: int = 40000) -> Connection:
    conn = Connection(
        index=0,
        client=Endpoint("192.0.2.1", client_port),
        server=Endpoint("192.0.2.2", server_port),
        start_ns=1_000_000_000,
        end_ns=1_000_000_000 + len(steps) * 1_000_000,
        first_frame=1,
        last_frame=len(steps),
        mid_stream=False,
        role_reason="syn",
    )
    offsets = {Direction.FROM_CLIENT: 0, Direction.FROM_SERVER: 0}
    for frame, (who, item) in enumerate(steps, 1):
        direction = Direction.FROM_CLIENT if who == "C" else Direction.FROM_SERVER
        ts = 1_000_000_000 + frame * 1_000_000
        if isinstance(item, int):
            conn.events.append(Gap(direction, item, frame, ts, offsets[direction]))
            offsets[direction] += item
            continue
        conn.events.append(Data(direction, item, frame, ts, offsets[direction]))
        offsets[direction] += len(item)
        stats = conn.stats(direction)
        stats.packets += 1
        stats.delivered_bytes += len(item)
    conn.events.append(Closed(Direction.FROM_CLIENT, "fin", len(steps), conn.end_ns))
    return conn


def dissect(
    steps: list[Step],
    server_port: int = 25,
    overrides: dict[int, tuple[str, bool]] | None = None,
    keylog: object = None,
) -> Session:
    return build_session(connection(steps, server_port), overrides or {}, keylog)


def client_lines(session: Session) -> list[str]:
    return [line.text for line in session.lines if line.sender == "C"]


def verbs(session: Session) -> list[str]:
    return [line.verb for line in session.lines if line.sender == "C" and line.verb]
