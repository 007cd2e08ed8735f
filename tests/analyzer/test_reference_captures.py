"""Every capture in ../shared/captures, read and reassembled, checked against tshark.

For each capture: reading raises nothing; the damaged file yields its readable packets
and a warning; each TCP stream tshark follows is one of our connections with the same
bytes in each direction (as `follow,ascii` prints them); and every command, parameter,
reply code, tag and status tshark decoded appears, in order, in the matching stream.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from posthouse.analyzer import Connection, Direction, read_capture, read_connections
from tests.analyzer.invariants import assert_contiguous
from tests.analyzer.reference import (
    CAPTURES,
    FollowStream,
    capture_files,
    parse_commands,
    parse_follow,
    printable,
    reference_dir,
)

FILES = capture_files()
pytestmark = pytest.mark.skipif(
    not FILES, reason=f"the shared capture corpus is absent ({CAPTURES})"
)

DAMAGED = "suricata-verify/tests/smtp-to-comma/10.7.29.101_49898-178.63.41.150_25.pcap"

# Columns of commands.tsv whose values are sent on the wire as tshark shows them.
# (smtp.auth.* are decoded from base64; imap.response_tag has junk tags inside FETCH
# literals, README quirk 2.)
CLIENT_FIELDS = (
    "smtp.req.command",
    "smtp.req.parameter",
    "pop.request.command",
    "pop.request.parameter",
    "imap.request_tag",
    "imap.request.command",
)
SERVER_FIELDS = (
    "smtp.response.code",
    "pop.response.indicator",
    "pop.response.description",
    "imap.response.status",
)


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(CAPTURES)) for p in paths]


def _match(conns: list[Connection], stream: FollowStream, used: set[int]) -> Connection:
    nodes = {stream.node0, stream.node1}
    for conn in conns:
        ends = {(conn.client.address, conn.client.port), (conn.server.address, conn.server.port)}
        if conn.index not in used and ends == nodes:
            used.add(conn.index)
            return conn
    raise AssertionError(f"no connection for tshark stream {stream.index} {nodes}")


def _direction_of(conn: Connection, node: tuple[str, int]) -> Direction:
    if (conn.client.address, conn.client.port) == node:
        return Direction.FROM_CLIENT
    return Direction.FROM_SERVER


def test_corpus_is_complete() -> None:
    assert len(FILES) == 100
    assert all((reference_dir(p) / "follow.txt").is_file() for p in FILES)


@pytest.mark.parametrize("capture", FILES, ids=_ids(FILES))
def test_reassembled_streams_match_tshark_follow(capture: Path) -> None:
    result = read_connections(capture)
    follow = parse_follow(reference_dir(capture) / "follow.txt")
    used: set[int] = set()
    for stream in follow:
        conn = _match(result.connections, stream, used)
        first = _direction_of(conn, stream.node0)
        for node, direction in ((0, first), (1, first.opposite)):
            mine = printable(conn.stream(direction))
            assert mine == stream.side(node), (stream.index, node)
        assert_contiguous(conn)
    # Connections tshark did not follow carry no payload (pure ACK/RST leftovers).
    for conn in result.connections:
        if conn.index not in used:
            assert not conn.stream(Direction.FROM_CLIENT)
            assert not conn.stream(Direction.FROM_SERVER)


@pytest.mark.parametrize("capture", FILES, ids=_ids(FILES))
def test_tshark_commands_and_replies_appear_in_order(capture: Path) -> None:
    _check_commands(capture)


def test_commands_cross_checked_across_the_corpus() -> None:
    """The per-capture check above is not vacuous: thousands of values are compared."""
    assert sum(_check_commands(p) for p in FILES) > 2000


def _check_commands(capture: Path) -> int:
    """Find every value tshark decoded, in order, in our streams; return how many."""
    ref = reference_dir(capture)
    rows = parse_commands(ref / "commands.tsv")
    follow = {s.index: s for s in parse_follow(ref / "follow.txt")}
    result = read_connections(capture)
    used: set[int] = set()
    conns = {i: _match(result.connections, s, used) for i, s in follow.items()}
    cursors: dict[tuple[int, Direction], int] = {}
    checked = 0
    for row in rows:
        if row.protocol.startswith("tls:"):
            continue  # tshark decrypted it; the bytes on the wire are ciphertext
        stream = follow[row.stream]
        conn = conns[row.stream]
        sender = stream.node0 if stream.node0[1] == int(row.fields["tcp.srcport"]) else stream.node1
        direction = _direction_of(conn, sender)
        assert direction.value == row.direction, (row.frame, "client/server roles differ")
        names = CLIENT_FIELDS if row.direction == "C->S" else SERVER_FIELDS
        values = [
            v.replace("\\t", "\t")
            for name in names
            for v in row.fields.get(name, "").split("|")
            if v and "\ufffd" not in v
        ]
        if not values:
            continue
        data = conn.stream(direction).lower()
        pos = cursors.get((row.stream, direction), 0)
        first = None
        for value in values:
            found = data.find(value.lower().encode(), pos if first is None else first)
            assert found >= 0, (row.frame, value, "not found after", pos)
            first = found if first is None else first
            checked += 1
        cursors[(row.stream, direction)] = (first or 0) + 1
    return checked


def test_damaged_capture_is_read_up_to_the_damage() -> None:
    capture = CAPTURES / DAMAGED
    result = read_capture(capture)
    # tshark: 'File has 3925868813-byte packet' after 18 packets (tshark-errors.txt).
    assert len(result.frames) == 18
    assert any("3925868813" in w for w in result.warnings)
    streams = read_connections(capture)
    assert streams.frames == 18 and streams.warnings


def test_one_sided_captures() -> None:
    server_only = read_connections(CAPTURES / "suricata-verify/tests/tcp-async-01/input.pcap")
    (conn,) = [c for c in server_only.connections if c.server.port == 143]
    assert conn.server_stats.delivered_bytes > 100_000
    assert conn.client_stats.delivered_bytes == 0
    client_only = read_connections(CAPTURES / "suricata-verify/tests/smtp-quit/input.pcap")
    (conn,) = client_only.connections
    assert conn.server.port == 25
    assert conn.stream(Direction.FROM_CLIENT).upper().startswith(b"QUIT")
    assert conn.stream(Direction.FROM_SERVER) == b""


def test_overlapping_greeting_keeps_first_seen_bytes() -> None:
    """smtp-bug-5989: a 5,000-byte greeting overlaps the server's later replies; like a
    receiving stack (and tshark), the first bytes seen win and each overlap is noted."""
    result = read_connections(CAPTURES / "suricata-verify/tests/smtp-bug-5989/input.pcap")
    (conn,) = result.connections
    assert conn.server_stats.overlap_conflicts > 0
    assert conn.stream(Direction.FROM_SERVER).startswith(b"220")
