"""TCP reassembly on synthesized conversations (RFC 9293 sequence-number rules)."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from posthouse.analyzer import (
    Closed,
    Connection,
    Data,
    Direction,
    Endpoint,
    Frame,
    Gap,
    Overlap,
    TcpSegment,
    decode_frame,
    read_connections,
    reassemble,
)
from tests.analyzer import synth
from tests.analyzer.invariants import assert_contiguous

C, S = Direction.FROM_CLIENT, Direction.FROM_SERVER


def _segments(packets: list[bytes]) -> list[TcpSegment]:
    out = []
    for number, ip in enumerate(packets, 1):
        seg = decode_frame(Frame(number, number * 1000, 101, ip, len(ip)))
        assert isinstance(seg, TcpSegment)
        out.append(seg)
    return out


def _one(packets: list[bytes], **kwargs: object) -> Connection:
    (conn,) = reassemble(_segments(packets), **kwargs)  # type: ignore[arg-type]
    assert_contiguous(conn)
    return conn


def _shape(conn: Connection) -> list[tuple[str, str, object]]:
    shape: list[tuple[str, str, object]] = []
    for e in conn.events:
        if isinstance(e, Data):
            shape.append(("data", e.direction.value, e.data))
        elif isinstance(e, Gap):
            shape.append(("gap", e.direction.value, e.missing_bytes))
        elif isinstance(e, Closed):
            shape.append(("closed", e.direction.value, e.reason))
        else:
            shape.append(("overlap", e.direction.value, e.length))
    return shape


def _smtp(flow: synth.Flow) -> list[bytes]:
    return [
        *flow.handshake(),
        flow.send(False, b"220 mx ESMTP\r\n"),
        flow.send(True, b"EHLO c\r\n"),
        flow.send(False, b"250 mx\r\n"),
        flow.send(True, b"QUIT\r\n"),
        flow.send(False, b"221 bye\r\n"),
        flow.segment(False, synth.FIN),
        flow.segment(True, synth.FIN),
        flow.segment(False, synth.ACK),
    ]


def test_a_whole_conversation_in_capture_order() -> None:
    conn = _one(_smtp(synth.Flow()))
    assert _shape(conn) == [
        ("data", "S->C", b"220 mx ESMTP\r\n"),
        ("data", "C->S", b"EHLO c\r\n"),
        ("data", "S->C", b"250 mx\r\n"),
        ("data", "C->S", b"QUIT\r\n"),
        ("data", "S->C", b"221 bye\r\n"),
        ("closed", "S->C", "fin"),
        ("closed", "C->S", "fin"),
    ]
    assert (str(conn.client), str(conn.server)) == ("192.0.2.1:40000", "198.51.100.7:25")
    assert conn.role_reason == "syn" and not conn.mid_stream and not conn.one_sided
    assert conn.packets == 11 and conn.first_frame == 1 and conn.last_frame == 11
    assert (conn.start_ns, conn.end_ns) == (1000, 11000)
    assert conn.client_stats.payload_bytes == 14 and conn.server_stats.delivered_bytes == 31
    first = conn.events[0]
    assert isinstance(first, Data) and first.frame_number == 4 and first.offset == 0


def test_ipv6_conversation() -> None:
    conn = _one(_smtp(synth.Flow(("2001:db8::1", 50000), ("2001:db8::25", 587))))
    assert str(conn.server) == "[2001:db8::25]:587"
    assert conn.stream(C) == b"EHLO c\r\nQUIT\r\n"


def test_out_of_order_retransmission_and_conflicting_overlap() -> None:
    flow = synth.Flow()
    pkts = flow.handshake()
    base = flow.cseq
    a, b, c = b"MAIL FROM:<a@x>\r\n", b"RCPT TO:<b@y>\r\n", b"DATA\r\n"
    seg_a = flow.segment(True, synth.PSH, a, seq=base)
    seg_b = flow.segment(True, synth.PSH, b, seq=base + len(a))
    seg_c = flow.segment(True, synth.PSH, c, seq=base + len(a) + len(b))
    # c arrives first, then b, then a; then a again (retransmission) and a rewritten
    # copy of b's bytes (an overlap that disagrees: the first-seen bytes are kept).
    evil = flow.segment(True, synth.PSH, b"RCPT TO:<e@v>\r\n", seq=base + len(a))
    conn = _one([*pkts, seg_c, seg_b, seg_a, seg_a, evil])
    assert conn.stream(C) == a + b + c
    data = [e for e in conn.events if isinstance(e, Data)]
    assert [e.frame_number for e in data] == [6, 5, 4]  # each piece keeps its own frame
    (overlap,) = [e for e in conn.events if isinstance(e, Overlap)]
    assert (overlap.offset, overlap.length, overlap.frame_number) == (len(a), len(b), 8)
    assert conn.client_stats.retransmitted_bytes == len(a) + len(b)
    assert conn.client_stats.overlap_conflicts == 1


def test_overlap_inside_the_out_of_order_buffer() -> None:
    flow = synth.Flow()
    pkts = flow.handshake()
    base = flow.cseq
    later = flow.segment(True, synth.PSH, b"ABCD", seq=base + 4)
    again = flow.segment(True, synth.PSH, b"xxABCDGH", seq=base + 2)  # ABCD repeated
    first = flow.segment(True, synth.PSH, b"0123", seq=base)
    conn = _one([*pkts, later, again, first])
    # "xx" was seen before "23" (both claim offsets 2-3): the first seen wins.
    assert conn.stream(C) == b"01xxABCDGH"
    assert conn.client_stats.overlap_conflicts == 1


def test_gap_is_marked_not_guessed() -> None:
    flow = synth.Flow()
    pkts = flow.handshake()
    greeting = flow.send(False, b"220 hello\r\n")
    lost = flow.send(True, b"EHLO lost.example\r\n")  # never captured
    reply = flow.send(False, b"250 ok\r\n")  # acknowledges the lost bytes
    quit_ = flow.send(True, b"QUIT\r\n")
    conn = _one([*pkts, greeting, reply, quit_])
    del lost
    assert _shape(conn) == [
        ("data", "S->C", b"220 hello\r\n"),
        ("gap", "C->S", 19),  # declared before the server's reply, so the order holds
        ("data", "S->C", b"250 ok\r\n"),
        ("data", "C->S", b"QUIT\r\n"),
    ]
    assert conn.client_stats.gap_bytes == 19


def test_gap_at_the_end_of_the_capture_before_buffered_data() -> None:
    flow = synth.Flow()
    pkts = flow.handshake()
    flow.send(True, b"lost")
    tail = flow.send(True, b"tail")
    conn = _one([*pkts, tail])
    assert _shape(conn) == [("gap", "C->S", 4), ("data", "C->S", b"tail")]


def test_gap_before_fin_then_closed() -> None:
    flow = synth.Flow()
    pkts = flow.handshake()
    flow.send(False, b"lost reply")
    fin = flow.segment(False, synth.FIN)
    conn = _one([*pkts, fin])
    assert _shape(conn) == [("gap", "S->C", 10), ("closed", "S->C", "fin")]


def test_reset_closes_and_later_data_is_ignored() -> None:
    flow = synth.Flow()
    pkts = [*flow.handshake(), flow.send(True, b"HELO x\r\n")]
    rst = flow.segment(False, synth.RST)
    conn = _one([*pkts, rst, flow.send(False, b"too late")])
    assert _shape(conn) == [("data", "C->S", b"HELO x\r\n"), ("closed", "S->C", "reset")]
    assert conn.server_stats.rst and conn.closed


def test_one_sided_capture_server_only() -> None:
    flow = synth.Flow(server=("198.51.100.7", 143))
    flow.cseq += 1  # the client's SYN happened, but we see only the server's packets
    packets = [flow.segment(False, synth.SYN)]
    packets += [flow.send(False, b"* OK IMAP ready\r\n"), flow.send(False, b"a1 OK done\r\n")]
    conn = _one(packets)
    assert conn.role_reason == "syn-ack" and conn.one_sided
    assert conn.server == Endpoint("198.51.100.7", 143)
    assert conn.stream(S) == b"* OK IMAP ready\r\na1 OK done\r\n"


def test_mid_stream_start_roles_by_port() -> None:
    flow = synth.Flow(client=("10.0.0.2", 51000), server=("10.0.0.9", 110))
    packets = [flow.send(True, b"RETR 1\r\n"), flow.send(False, b"+OK 20 octets\r\n")]
    conn = _one(list(reversed(packets)))  # the server's packet comes first
    assert conn.mid_stream and conn.role_reason == "port"
    assert conn.server.port == 110
    assert (
        _shape(conn)
        == [
            ("data", "S->C", b"+OK 20 octets\r\n"),
            ("gap", "C->S", 8),  # the ack in the reply shows the client had sent 8 bytes
            ("data", "C->S", b"RETR 1\r\n"),
        ]
        or conn.stream(C) == b"RETR 1\r\n"
    )


def test_mid_stream_start_with_unknown_ports_and_extra_server_port() -> None:
    flow = synth.Flow(client=("10.0.0.2", 51000), server=("10.0.0.9", 12345))
    packets = [flow.send(False, b"220 hi\r\n"), flow.send(True, b"EHLO x\r\n")]
    guessed = _one(packets)
    assert guessed.role_reason == "first-talker" and guessed.client.port == 12345
    told = _one(packets, server_ports=[12345])
    assert told.role_reason == "port" and told.server.port == 12345
    assert told.stream(S) == b"220 hi\r\n"


def test_mid_stream_out_of_order_start_uses_the_peer_ack() -> None:
    flow = synth.Flow(server=("10.0.0.9", 25))
    flow.cseq, flow.sseq = 77, 99
    ack = flow.segment(True, synth.ACK)  # client acknowledges server position 99
    first = flow.send(False, b"250-first\r\n")
    second = flow.send(False, b"250 second\r\n")
    conn = _one([ack, second, first])
    assert conn.stream(S) == b"250-first\r\n250 second\r\n"
    assert not [e for e in conn.events if isinstance(e, Gap)]


def test_sequence_numbers_wrap_around() -> None:
    flow = synth.Flow(client_isn=2**32 - 10, server_isn=2**32 - 1)
    pkts = flow.handshake()
    chunks = [bytes([65 + i]) * 7 for i in range(6)]
    data = [flow.send(True, c) for c in chunks[:3]]
    replies = [flow.send(False, b"ok" * 5) for _ in range(3)]
    data += [flow.send(True, c) for c in chunks[3:]]
    conn = _one([*pkts, data[0], data[2], data[1], *replies, data[5], data[4], data[3]])
    assert conn.stream(C) == b"".join(chunks)
    assert conn.stream(S) == b"ok" * 15
    assert not [e for e in conn.events if isinstance(e, Gap)]


def test_port_reuse_after_close_is_a_new_connection() -> None:
    first = _smtp(synth.Flow(client_isn=100))
    second = _smtp(synth.Flow(client_isn=900_000))
    conns = reassemble(_segments(first + second))
    assert [c.index for c in conns] == [0, 1]
    assert all(c.stream(C) == b"EHLO c\r\nQUIT\r\n" for c in conns)


def test_read_connections_from_a_pcap_with_link_padding() -> None:
    flow = synth.Flow()
    packets = [synth.ethernet(p, pad_to=120) for p in _smtp(flow)]
    data = synth.pcap([(1_700_000_000 * 10**9 + i, p) for i, p in enumerate(packets)], nano=True)
    result = read_connections(data)
    (conn,) = result.connections
    assert result.frames == 11 and not result.warnings
    assert conn.stream(S) == b"220 mx ESMTP\r\n250 mx\r\n221 bye\r\n"
    assert conn.start_ns == 1_700_000_000 * 10**9


@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(min_size=1, max_size=3000),
    cuts=st.lists(st.integers(1, 2999), max_size=25),
    isn=st.integers(0, 2**32 - 1),
    seed=st.integers(0, 2**32),
    duplicates=st.integers(0, 10),
)
def test_any_split_and_reordering_reassembles_to_the_original(
    payload: bytes, cuts: list[int], isn: int, seed: int, duplicates: int
) -> None:
    flow = synth.Flow(client_isn=isn)
    pkts = flow.handshake()
    base = flow.cseq
    bounds = sorted({0, len(payload), *(c for c in cuts if c < len(payload))})
    rng = random.Random(seed)
    pieces = [
        flow.segment(True, synth.PSH, payload[lo:hi], seq=base + lo)
        for lo, hi in itertools.pairwise(bounds)
    ]
    # Retransmissions, including ones spanning several original segments.
    for _ in range(duplicates):
        lo = rng.randrange(len(payload))
        hi = rng.randrange(lo, len(payload)) + 1
        pieces.append(flow.segment(True, synth.PSH, payload[lo:hi], seq=base + lo))
    rng.shuffle(pieces)
    conn = _one([*pkts, *pieces])
    assert conn.stream(C) == payload
    assert not [e for e in conn.events if isinstance(e, Gap | Overlap)]


@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(min_size=2, max_size=2000),
    cuts=st.lists(st.integers(1, 1999), min_size=1, max_size=20),
    dropped=st.sets(st.integers(0, 20), max_size=5),
    seed=st.integers(0, 2**32),
)
def test_lost_segments_become_gaps_and_nothing_else_changes(
    payload: bytes, cuts: list[int], dropped: set[int], seed: int
) -> None:
    """Whatever is dropped and however the rest is ordered, Data and Gap events tile
    the stream, every delivered byte is the byte sent at that offset, and the gaps add
    up to exactly the bytes not captured (the server's final ack reveals a lost tail)."""
    flow = synth.Flow(client_isn=seed % 2**32)
    pkts = flow.handshake()
    base = flow.cseq
    bounds = sorted({0, len(payload), *(c for c in cuts if c < len(payload))})
    pieces = [
        (lo, hi, flow.segment(True, synth.PSH, payload[lo:hi], seq=base + lo))
        for lo, hi in itertools.pairwise(bounds)
    ]
    flow.cseq = base + len(payload)
    kept = [(lo, hi, p) for i, (lo, hi, p) in enumerate(pieces) if i not in dropped]
    random.Random(seed).shuffle(kept)
    final_ack = flow.segment(False, synth.ACK)
    conn = _one([*pkts, *(p for _, _, p in kept), final_ack])
    captured = sum(hi - lo for lo, hi, _ in kept)
    for e in conn.events:
        if isinstance(e, Data):
            assert e.data == payload[e.offset : e.offset + len(e.data)]
    assert conn.client_stats.delivered_bytes == captured
    assert conn.client_stats.gap_bytes == len(payload) - captured
