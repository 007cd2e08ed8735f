"""A real TLS session written into a pcapng with its key log in a Decryption Secrets
Block, read back through the capture reader and TCP reassembly, then dissected: the way
the analyzer uses the observer (events mapped back to frames by their offsets)."""

from __future__ import annotations

import ssl
from bisect import bisect_right
from functools import cache

import pytest
from tests.analyzer.synth import FIN, Flow, dsb, epb, ethernet, idb, shb
from tls_traffic import Session, make_session

from posthouse.analyzer import Data, Direction, Gap, read_connections
from posthouse.proto.tls import (
    ApplicationData,
    Certificate,
    KeyLog,
    Problem,
    TLSEvent,
    TLSObserver,
)

MSS = 1448
GREETING = b"220 mail.example.test ESMTP\r\n"
STARTTLS_REPLY = b"220 2.0.0 Ready to start TLS\r\n"


@cache
def session(version: str) -> Session:
    data = b"".join(b"RCPT TO:<user%05d@example.test>\r\n" % i for i in range(2000))
    if version == "1.3":
        return make_session(exchanges=[(data, b"250 2.1.5 ok\r\n")])
    return make_session(
        max_version=ssl.TLSVersion.TLSv1_2,
        ciphers="ECDHE-RSA-AES256-GCM-SHA384",
        exchanges=[(data, b"250 2.1.5 ok\r\n")],
    )


def capture(s: Session, drop_segment: int | None = None) -> tuple[bytes, list[bytes]]:
    """pcapng bytes: SMTP up to STARTTLS, then the TLS flights in MSS-sized segments.
    Returns the file and the client's TLS segments (to know what was dropped)."""
    flow = Flow(server=("198.51.100.7", 25))
    packets = flow.handshake()
    packets += [flow.send(False, GREETING), flow.send(True, b"STARTTLS\r\n")]
    packets.append(flow.send(False, STARTTLS_REPLY))
    client_segments: list[bytes] = []
    for from_client, data in s.flights:
        for i in range(0, len(data), MSS):
            piece = data[i : i + MSS]
            packet = flow.send(from_client, piece)
            if from_client:
                client_segments.append(piece)
                if len(client_segments) - 1 == drop_segment:
                    continue  # lost: the capture never saw it
            packets.append(packet)
    packets += [flow.segment(True, FIN), flow.segment(False, FIN)]
    blocks = [shb(), idb(1, tsresol=9), dsb(s.keylog.encode())]
    blocks += [epb(0, 1_000_000_000 + i * 1000, ethernet(p)) for i, p in enumerate(packets)]
    return b"".join(blocks), client_segments


def dissect(pcapng: bytes) -> tuple[list[TLSEvent], dict[bool, list[tuple[int, int]]], bytes]:
    """Events, each direction's (offset, frame) marks, and the embedded key log."""
    result = read_connections(pcapng)
    (conn,) = result.connections
    observer = TLSObserver(KeyLog.parse(result.tls_key_log))
    skip = {Direction.FROM_CLIENT: len(b"STARTTLS\r\n"), Direction.FROM_SERVER: 0}
    skip[Direction.FROM_SERVER] = len(GREETING) + len(STARTTLS_REPLY)
    marks: dict[bool, list[tuple[int, int]]] = {True: [], False: []}
    events: list[TLSEvent] = []
    for ev in conn.events:
        if isinstance(ev, Data):
            from_client = ev.direction is Direction.FROM_CLIENT
            start = skip[ev.direction]
            data = ev.data[max(0, start - ev.offset) :]
            if not data:
                continue
            tls_offset = max(0, ev.offset - start)
            marks[from_client].append((tls_offset, ev.frame_number))
            events += observer.feed(from_client, data)
        elif isinstance(ev, Gap):
            observer.gap(ev.direction is Direction.FROM_CLIENT, ev.missing_bytes)
    return events + observer.finish(), marks, result.tls_key_log


def frame_of(marks: list[tuple[int, int]], offset: int) -> int:
    i = bisect_right([o for o, _ in marks], offset) - 1
    return marks[i][1]


@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_session_from_a_pcapng_with_embedded_keys(version: str) -> None:
    s = session(version)
    pcapng, _ = capture(s)
    events, marks, keylog = dissect(pcapng)
    assert keylog.strip() == s.keylog.strip().encode()
    assert not [e for e in events if isinstance(e, Problem)]
    data = [e for e in events if isinstance(e, ApplicationData)]
    assert b"".join(e.plaintext or b"" for e in data if e.from_client) == s.client_data
    assert b"".join(e.plaintext or b"" for e in data if not e.from_client) == s.server_data
    # every event maps to the frame that carried the start of its record: frames 1-3 are
    # the TCP handshake, 4-6 the SMTP lines, so TLS starts at frame 7
    for e in events:
        assert frame_of(marks[e.from_client], e.offset) >= 7
    cert = next(e for e in events if isinstance(e, Certificate))
    assert frame_of(marks[False], cert.offset) > frame_of(marks[True], 0)


def test_a_lost_segment_costs_only_its_records() -> None:
    s = session("1.3")
    _, segments = capture(s)
    middle = len(segments) // 2
    pcapng, _ = capture(s, drop_segment=middle)
    events, _, _ = dissect(pcapng)
    problems = [e.message for e in events if isinstance(e, Problem)]
    assert any("lost" in p for p in problems)
    pieces = [e.plaintext for e in events if isinstance(e, ApplicationData) and e.from_client]
    got = b"".join(p for p in pieces if p)
    # at most two records (16 KiB each) are hurt by one lost segment
    assert len(s.client_data) - 2 * 16384 <= len(got) < len(s.client_data)
    position = 0
    for piece in pieces:  # each piece is where it belongs, in order
        assert piece is not None
        found = s.client_data.find(piece, position)
        assert found >= position
        position = found + len(piece)
    server = [e for e in events if isinstance(e, ApplicationData) and not e.from_client]
    assert b"".join(e.plaintext or b"" for e in server) == s.server_data
