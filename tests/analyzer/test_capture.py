"""The pcap/pcapng reader on files built byte by byte (draft-ietf-opsawg-pcap, -pcapng)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posthouse.analyzer import CaptureError, CaptureReader, read_capture
from tests.analyzer import synth

PACKETS = [(1_700_000_000_123_456_789, b"first packet"), (1_700_000_001_000_000_001, b"second")]


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_byte_orders_and_resolutions(endian: str, nano: bool) -> None:
    cap = read_capture(synth.pcap(PACKETS, linktype=113, endian=endian, nano=nano))
    assert cap.format == "pcap" and not cap.warnings
    assert [f.data for f in cap.frames] == [b"first packet", b"second"]
    assert [f.number for f in cap.frames] == [1, 2]
    assert {f.link_type for f in cap.frames} == {113}
    expected = [ts if nano else ts // 1000 * 1000 for ts, _ in PACKETS]
    assert [f.timestamp_ns for f in cap.frames] == expected


def test_pcap_link_type_ignores_fcs_bits() -> None:
    data = bytearray(synth.pcap(PACKETS))
    struct.pack_into("<I", data, 20, 0x1000_0000 | 1)  # FCS present flag, link type 1
    assert read_capture(bytes(data)).frames[0].link_type == 1


def test_pcapng_sections_interfaces_and_blocks() -> None:
    key_log = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
    le = (
        synth.shb("<")
        + synth.idb(1)  # default resolution: microseconds
        + synth.idb(276, tsresol=9)  # nanoseconds
        + synth.block(0x0BAD, b"an unknown block to skip")
        + synth.epb(0, 1_700_000_000_000_001, b"eth on if0")
        + synth.dsb(key_log)
        + synth.epb(1, 1_700_000_000_000_000_007, b"sll2 on if1")
        + synth.spb(b"simple packet")
    )
    be = (
        synth.shb(">")
        + synth.idb(101, tsresol=0x80 | 10, tsoffset=100, endian=">")  # 2^-10 s, +100 s
        + synth.epb(0, 1024 * 5 + 512, b"raw in big-endian section", endian=">")
    )
    reader = CaptureReader(le + be)
    frames = reader.frames()
    assert reader.format == "pcapng" and not reader.warnings
    assert [f.data for f in frames] == [
        b"eth on if0",
        b"sll2 on if1",
        b"simple packet",
        b"raw in big-endian section",
    ]
    assert [f.link_type for f in frames] == [1, 276, 1, 101]
    assert [f.interface for f in frames] == [0, 1, 0, 0]
    assert frames[0].timestamp_ns == 1_700_000_000_000_001_000
    assert frames[1].timestamp_ns == 1_700_000_000_000_000_007
    assert frames[2].timestamp_ns == 0  # §4.4: a Simple Packet Block has no timestamp
    assert frames[3].timestamp_ns == 105_500_000_000  # 5.5 s + 100 s offset
    assert [(i.section, i.index, i.link_type) for i in reader.interfaces] == [
        (0, 0, 1),
        (0, 1, 276),
        (1, 0, 101),
    ]
    (secrets,) = reader.secrets
    assert secrets.is_tls_key_log and secrets.before_frame == 2
    assert reader.tls_key_log == key_log
    assert read_capture(le).tls_key_log == key_log


def test_pcapng_packet_for_undeclared_interface_is_reported() -> None:
    cap = read_capture(synth.shb() + synth.idb(1) + synth.epb(3, 0, b"x") + synth.epb(0, 0, b"y"))
    assert [f.data for f in cap.frames] == [b"y"]
    assert any("interface 3" in w for w in cap.warnings)


def test_pcap_truncated_mid_packet_keeps_what_was_read() -> None:
    data = synth.pcap(PACKETS)
    cap = read_capture(data[:-3])
    assert [f.data for f in cap.frames] == [b"first packet", b"sec"]
    assert cap.frames[1].original_length == 6
    assert cap.warnings and "truncated" in cap.warnings[0]


def test_pcap_truncated_record_header() -> None:
    data = synth.pcap(PACKETS)
    cap = read_capture(data[: 24 + 16 + 12 + 5])
    assert [f.data for f in cap.frames] == [b"first packet"]
    assert "record header truncated" in cap.warnings[0]


def test_pcap_corrupt_length_stops_with_a_warning() -> None:
    data = bytearray(synth.pcap(PACKETS))
    struct.pack_into("<I", data, 24 + 16 + 12 + 8, 3_925_868_813)
    cap = read_capture(bytes(data))
    assert len(cap.frames) == 1
    assert "3925868813" in cap.warnings[0]


def test_pcapng_truncated_block() -> None:
    data = synth.shb() + synth.idb(1) + synth.epb(0, 0, b"whole") + synth.epb(0, 0, b"cut short")
    cap = read_capture(data[:-20])
    assert [f.data for f in cap.frames] == [b"whole", b"cut short"]  # only options were lost
    assert "truncated" in cap.warnings[0]
    cap = read_capture(data[:-30])
    assert [f.data for f in cap.frames] == [b"whole", b"cut sh"]  # 27 bytes follow the data


def test_header_only_files() -> None:
    assert read_capture(synth.pcap([])).frames == []
    cap = read_capture(synth.pcap([])[:10])
    assert cap.frames == [] and cap.warnings


@pytest.mark.parametrize("junk", [b"", b"abc", b"GIF89a....", b"\0" * 100, b"From: x\r\n\r\nhi"])
def test_not_a_capture_raises_capture_error(junk: bytes) -> None:
    with pytest.raises(CaptureError):
        CaptureReader(junk)


def test_missing_file_raises_capture_error() -> None:
    with pytest.raises(CaptureError):
        CaptureReader("/nonexistent/posthouse/capture.pcap")


def test_reads_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(synth.pcap(PACKETS, nano=True))
    assert len(read_capture(path).frames) == 2


def _valid_files() -> list[bytes]:
    return [
        synth.pcap(PACKETS, endian=">", nano=True),
        synth.shb() + synth.idb(1, tsresol=9) + synth.epb(0, 5, b"p" * 30) + synth.dsb(b"k\n"),
        synth.shb(">") + synth.idb(0, endian=">") + synth.spb(b"s" * 20, endian=">"),
    ]


@settings(max_examples=300, deadline=None)
@given(
    which=st.integers(0, 2),
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
)
def test_damaged_files_never_raise_anything_but_capture_error(
    which: int, cut: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(_valid_files()[which])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    data = data[: min(cut, len(data))] if cut else data
    try:
        reader = CaptureReader(bytes(data))
    except CaptureError:
        return
    for frame in reader:
        assert frame.number >= 1
