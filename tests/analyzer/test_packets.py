"""Link, IP and TCP decoding of synthesized frames."""

from __future__ import annotations

import pytest

from posthouse.analyzer import Frame, IpFragment, TcpSegment, Undecodable, decode_frame
from tests.analyzer import synth

PAYLOAD = b"EHLO client.example\r\n"
SEG = synth.tcp(40000, 25, 1000, 2000, synth.ACK | synth.PSH, PAYLOAD)
V4 = synth.ipv4("192.0.2.1", "198.51.100.7", SEG)
V6 = synth.ipv6("2001:db8::1", "2001:db8::7", SEG)


def _decode(link_type: int, data: bytes) -> TcpSegment:
    decoded = decode_frame(Frame(7, 42, link_type, data, len(data)))
    assert isinstance(decoded, TcpSegment), decoded
    return decoded


@pytest.mark.parametrize(
    ("link_type", "frame"),
    [
        (1, synth.ethernet(V4)),
        (1, synth.ethernet(V4, vlans=[10])),
        (1, synth.ethernet(V4, vlans=[10, 20])),  # 802.1Q in 802.1Q
        (113, synth.sll(V4)),
        (276, synth.sll2(V4)),
        (0, synth.null(V4, endian="<")),
        (0, synth.null(V4, endian=">")),
        (108, synth.loop(V4)),
        (101, V4),
        (12, V4),
        (14, V4),
        (228, V4),
    ],
    ids=[
        "eth",
        "vlan",
        "qinq",
        "sll",
        "sll2",
        "null-le",
        "null-be",
        "loop",
        "raw",
        "raw12",
        "raw14",
        "ipv4",
    ],
)
def test_ipv4_over_every_link_type(link_type: int, frame: bytes) -> None:
    seg = _decode(link_type, frame)
    assert (seg.src, seg.sport, seg.dst, seg.dport) == ("192.0.2.1", 40000, "198.51.100.7", 25)
    assert (seg.seq, seg.ack, seg.frame_number, seg.timestamp_ns) == (1000, 2000, 7, 42)
    assert seg.payload == PAYLOAD and not seg.truncated


@pytest.mark.parametrize(
    ("link_type", "frame"),
    [
        (1, synth.ethernet(V6)),
        (113, synth.sll(V6)),
        (276, synth.sll2(V6)),
        (0, synth.null(V6, family6=30)),
        (0, synth.null(V6, family6=24, endian=">")),
        (0, synth.null(V6, family6=10)),
        (108, synth.loop(V6)),
        (101, V6),
        (229, V6),
    ],
)
def test_ipv6_over_link_types(link_type: int, frame: bytes) -> None:
    seg = _decode(link_type, frame)
    assert (seg.src, seg.dst) == ("2001:db8::1", "2001:db8::7")
    assert seg.payload == PAYLOAD


def test_ipv6_extension_headers_are_skipped() -> None:
    seg = _decode(101, synth.ipv6("2001:db8::1", "2001:db8::7", SEG, ext=True))
    assert seg.payload == PAYLOAD


def test_ipv6_atomic_fragment_is_a_whole_packet() -> None:
    seg = _decode(101, synth.ipv6("2001:db8::1", "2001:db8::7", SEG, frag=0))
    assert seg.payload == PAYLOAD


def test_fragments_are_reported_not_reassembled() -> None:
    v4 = decode_frame(Frame(1, 0, 101, synth.ipv4("192.0.2.1", "192.0.2.2", SEG, frag=0x2000), 0))
    assert isinstance(v4, IpFragment) and v4.more_fragments and v4.offset == 0
    v4_tail = decode_frame(Frame(1, 0, 101, synth.ipv4("192.0.2.1", "192.0.2.2", SEG, frag=3), 0))
    assert isinstance(v4_tail, IpFragment) and v4_tail.offset == 24
    v6 = decode_frame(
        Frame(1, 0, 101, synth.ipv6("2001:db8::1", "2001:db8::7", SEG, frag=(2 << 3) | 1), 0)
    )
    assert isinstance(v6, IpFragment) and v6.offset == 16 and v6.more_fragments


def test_ipv4_options_are_skipped() -> None:
    options = b"\x07\x07\x04" + bytes(4) + b"\x00"  # record route + end of options list
    seg = _decode(101, synth.ipv4("192.0.2.1", "198.51.100.7", SEG, options=options))
    assert seg.payload == PAYLOAD


def test_ethernet_padding_is_ignored() -> None:
    """A bare ACK is 52 bytes of IP; Ethernet pads the frame to 60 bytes (+ 14 header):
    the padding must not turn into payload."""
    ack = synth.ipv4("192.0.2.1", "198.51.100.7", synth.tcp(40000, 25, 1, 2, synth.ACK))
    frame = synth.ethernet(ack, pad_to=90)
    assert len(frame) == 90
    assert _decode(1, frame).payload == b""


def test_snaplen_truncation_is_flagged() -> None:
    frame = synth.ethernet(V4)[:-5]
    seg = _decode(1, frame)
    assert seg.truncated and seg.payload == PAYLOAD[:-5]


def test_non_tcp_and_unknown_links_are_skipped() -> None:
    udp = synth.ipv4("192.0.2.1", "192.0.2.2", b"\0" * 8, proto=17)
    assert decode_frame(Frame(1, 0, 101, udp, len(udp))) is None
    arp = b"\xff" * 12 + b"\x08\x06" + bytes(28)
    assert decode_frame(Frame(1, 0, 1, arp, len(arp))) is None
    assert decode_frame(Frame(1, 0, 147, V4, len(V4))) is None  # a user DLT


@pytest.mark.parametrize(
    ("link_type", "data"),
    [
        (1, b"\0" * 10),
        (113, b"\0" * 5),
        (101, b"\x45" + bytes(10)),
        (101, b"\x75" + bytes(40)),
        (101, V4[:30]),
        (276, b"\x08\x00"),
    ],
)
def test_broken_headers_are_undecodable(link_type: int, data: bytes) -> None:
    assert isinstance(decode_frame(Frame(1, 0, link_type, data, len(data))), Undecodable)
