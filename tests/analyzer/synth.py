"""Building packets and capture files byte by byte, for the reader and reassembly tests.

Layouts: pcap per draft-ietf-opsawg-pcap, pcapng per draft-ietf-opsawg-pcapng,
IPv4 RFC 791, IPv6 RFC 8200, TCP RFC 9293 §3.1. Checksums are left zero (the reader
does not verify them, as capture on the sending host often leaves them unfilled).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable

from posthouse.analyzer.packets import ACK, FIN, PSH, RST, SYN

__all__ = ["ACK", "FIN", "PSH", "RST", "SYN"]


def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
    options = b"\x01\x01\x08\x0a" + struct.pack("!II", 1, 2)  # NOP NOP timestamps: 32 bytes
    doff = (20 + len(options)) // 4
    header = struct.pack(
        "!HHIIBBHHH", sport, dport, seq % 2**32, ack % 2**32, doff << 4, flags, 65535, 0, 0
    )
    return header + options + payload


def ipv4(
    src: str, dst: str, payload: bytes, *, proto: int = 6, options: bytes = b"", frag: int = 0
) -> bytes:
    ihl = (20 + len(options)) // 4
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        0,
        20 + len(options) + len(payload),
        1,
        frag,
        64,
        proto,
        0,
        socket.inet_pton(socket.AF_INET, src),
        socket.inet_pton(socket.AF_INET, dst),
    )
    return header + options + payload


def ipv6(
    src: str, dst: str, payload: bytes, *, ext: bool = False, frag: int | None = None
) -> bytes:
    nxt = 6
    body = payload
    if frag is not None:
        body = struct.pack("!BBHI", nxt, 0, frag, 7) + body
        nxt = 44
    if ext:
        # Destination options (8 bytes, PadN) then hop-by-hop (16 bytes), RFC 8200 §4.3/4.6.
        body = struct.pack("!BB", nxt, 0) + b"\x01\x04\0\0\0\0" + body
        body = struct.pack("!BB", 60, 1) + b"\x01\x0c" + bytes(12) + body
        nxt = 0
    header = struct.pack(
        "!IHBB16s16s",
        6 << 28,
        len(body),
        nxt,
        64,
        socket.inet_pton(socket.AF_INET6, src),
        socket.inet_pton(socket.AF_INET6, dst),
    )
    return header + body


def ethernet(ip: bytes, *, vlans: Iterable[int] = (), pad_to: int = 60) -> bytes:
    ethertype = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    frame = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02"
    for vid in vlans:
        frame += struct.pack("!HH", 0x8100, vid)
    frame += struct.pack("!H", ethertype) + ip
    return frame + bytes(max(0, pad_to - len(frame)))  # 802.3 minimum frame padding


def sll(ip: bytes) -> bytes:
    proto = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    return struct.pack("!HHH8sH", 0, 772, 6, b"\0" * 8, proto) + ip


def sll2(ip: bytes) -> bytes:
    proto = 0x86DD if ip[0] >> 4 == 6 else 0x0800
    return struct.pack("!HHIHBB8s", proto, 0, 1, 772, 0, 6, b"\0" * 8) + ip


def null(ip: bytes, *, endian: str = "<", family6: int = 30) -> bytes:
    return struct.pack(endian + "I", family6 if ip[0] >> 4 == 6 else 2) + ip


def loop(ip: bytes) -> bytes:
    return struct.pack("!I", 24 if ip[0] >> 4 == 6 else 2) + ip


def pcap(
    packets: Iterable[tuple[int, bytes]],
    *,
    linktype: int = 1,
    endian: str = "<",
    nano: bool = False,
    snaplen: int = 262144,
) -> bytes:
    """A pcap file; packets are (timestamp in ns, bytes)."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for ts, data in packets:
        sec, ns = divmod(ts, 1_000_000_000)
        frac = ns if nano else ns // 1000
        out.append(struct.pack(endian + "IIII", sec, frac, len(data), len(data)) + data)
    return b"".join(out)


def block(btype: int, body: bytes, endian: str = "<") -> bytes:
    body += bytes(-len(body) % 4)
    total = len(body) + 12
    return struct.pack(endian + "II", btype, total) + body + struct.pack(endian + "I", total)


def option(code: int, value: bytes, endian: str = "<") -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def shb(endian: str = "<") -> bytes:
    body = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    body += option(4, b"posthouse tests", endian) + option(0, b"", endian)
    return block(0x0A0D0D0A, body, endian)


def idb(
    linktype: int, *, tsresol: int | None = None, tsoffset: int = 0, endian: str = "<"
) -> bytes:
    body = struct.pack(endian + "HHI", linktype, 0, 0)
    if tsresol is not None:
        body += option(9, bytes([tsresol]), endian)
    if tsoffset:
        body += option(14, struct.pack(endian + "q", tsoffset), endian)
    body += option(2, b"lo", endian) + option(0, b"", endian)
    return block(1, body, endian)


def epb(interface: int, ts_units: int, data: bytes, *, endian: str = "<") -> bytes:
    body = struct.pack(
        endian + "IIIII", interface, ts_units >> 32, ts_units & 0xFFFFFFFF, len(data), len(data)
    )
    body += data + bytes(-len(data) % 4) + option(1, b"a comment", endian) + option(0, b"", endian)
    return block(6, body, endian)


def spb(data: bytes, *, endian: str = "<") -> bytes:
    return block(3, struct.pack(endian + "I", len(data)) + data, endian)


def dsb(secrets: bytes, *, secrets_type: int = 0x544C534B, endian: str = "<") -> bytes:
    return block(0x0A, struct.pack(endian + "II", secrets_type, len(secrets)) + secrets, endian)


class Flow:
    """A TCP conversation between a client and a server, one segment at a time."""

    def __init__(
        self,
        client: tuple[str, int] = ("192.0.2.1", 40000),
        server: tuple[str, int] = ("198.51.100.7", 25),
        *,
        client_isn: int = 1000,
        server_isn: int = 5000,
    ) -> None:
        self.client, self.server = client, server
        self.cseq, self.sseq = client_isn, server_isn
        self.six = ":" in client[0]

    def _ip(self, from_client: bool, segment: bytes) -> bytes:
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        return ipv6(src[0], dst[0], segment) if self.six else ipv4(src[0], dst[0], segment)

    def segment(
        self, from_client: bool, flags: int, payload: bytes = b"", *, seq: int | None = None
    ) -> bytes:
        """A segment at the sender's current position (or at `seq`) that advances it."""
        own, other = (self.cseq, self.sseq) if from_client else (self.sseq, self.cseq)
        use = own if seq is None else seq
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        first_syn = from_client and flags == SYN
        seg = tcp(src[1], dst[1], use, other, flags if first_syn else flags | ACK, payload)
        if seq is None:
            advance = len(payload) + (1 if flags & (SYN | FIN) else 0)
            if from_client:
                self.cseq += advance
            else:
                self.sseq += advance
        return self._ip(from_client, seg)

    def handshake(self) -> list[bytes]:
        return [self.segment(True, SYN), self.segment(False, SYN), self.segment(True, ACK)]

    def send(self, from_client: bool, payload: bytes) -> bytes:
        return self.segment(from_client, PSH, payload)
