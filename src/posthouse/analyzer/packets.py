"""Decoding a captured frame down to its TCP segment: link layer, IPv4/IPv6, TCP.

Link types are the tcpdump.org LINKTYPE_ values (draft-ietf-opsawg-pcaplinktype):
NULL (0, BSD loopback, family in the capturing host's byte order), ETHERNET (1, with
802.1Q/802.1ad VLAN tags), RAW (101; 12 and 14 are the historical DLT_RAW values),
LOOP (108, family in network byte order), LINUX_SLL (113), LINUX_SLL2 (276),
IPV4 (228) and IPV6 (229).

IPv4 follows RFC 791 (header length from IHL, so options are skipped; the payload is
bounded by Total Length, which also drops Ethernet padding); fragments are reported and
not reassembled. IPv6 follows RFC 8200 §4 (extension headers chained by Next Header).
TCP follows RFC 9293 §3.1 (Data Offset gives the header length). Checksums are not
verified: captures on the sending host routinely hold offloaded, unfilled checksums.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from posthouse.analyzer.capture import Frame

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_OLD = 12  # DLT_RAW on most systems (value written by old libpcap)
LINKTYPE_RAW_OPENBSD = 14  # DLT_RAW on OpenBSD
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = (0x8100, 0x88A8, 0x9100)  # IEEE 802.1Q, 802.1ad, and the old QinQ value

# BSD address-family values seen in NULL/LOOP headers: AF_INET is 2 everywhere,
# AF_INET6 differs (NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30, Linux 10).
AF_INET = 2
AF_INET6 = (10, 24, 28, 30)

IPPROTO_TCP = 6
# RFC 8200 §4 extension headers (and RFC 4302 AH, whose length is in 4-octet units).
IPV6_EXT_HEADERS = (0, 43, 60, 135, 139, 140)
IPV6_FRAGMENT = 44
IPV6_AH = 51

# RFC 9293 §3.1 control bits
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20

_TCP = struct.Struct("!HHIIBBH")


# Made once per packet: not frozen, because a frozen dataclass's __init__ costs about
# three times as much and dominated the decoding of large captures. Treat as immutable.
@dataclass(slots=True)
class TcpSegment:
    """One TCP segment taken out of a frame."""

    frame_number: int
    timestamp_ns: int
    src: str  # IP address as text
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    payload: bytes
    truncated: bool = False  # the capture cut the payload short (snaplen)

    @property
    def syn(self) -> bool:
        return bool(self.flags & SYN)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & RST)

    @property
    def has_ack(self) -> bool:
        return bool(self.flags & ACK)


@dataclass(frozen=True, slots=True)
class IpFragment:
    """An IPv4 or IPv6 fragment: noted, not reassembled."""

    frame_number: int
    src: str
    dst: str
    protocol: int
    offset: int
    more_fragments: bool


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A frame whose headers are broken (too short, wrong version...)."""

    frame_number: int
    reason: str


Decoded = TcpSegment | IpFragment | Undecodable | None


# Ethernet + IPv4 without options + TCP, in one unpack (the fast path below): ethertype,
# version/IHL, total length, flags/fragment offset, protocol, addresses, then the TCP
# ports, sequence and acknowledgement numbers, data offset, flags and window.
_ETH_IPV4_TCP = struct.Struct("!12xHBxH2xHxB2x4s4sHHIIBBH")


def decode_frame(frame: Frame) -> Decoded:
    """Decode one frame. None means a well-formed packet that is simply not TCP over IP
    (ARP, UDP, an unknown link type...)."""
    data = frame.data
    lt = frame.link_type
    if lt == LINKTYPE_ETHERNET and len(data) >= 54:
        # The common case, decoded at once; anything unusual takes the general path.
        (ethertype, vihl, total, frag, proto, src, dst, sport, dport, seq, ack, doff, flags,
         window) = _ETH_IPV4_TCP.unpack_from(data)  # fmt: skip
        hlen = (doff >> 4) * 4
        end = 14 + total
        if (
            ethertype == ETHERTYPE_IPV4
            and vihl == 0x45
            and not frag & 0x3FFF  # RFC 791 §3.1: neither MF nor a fragment offset
            and proto == IPPROTO_TCP
            and hlen >= 20
            and 34 + hlen <= end <= len(data)
        ):
            return TcpSegment(
                frame.number,
                frame.timestamp_ns,
                _ipv4_text(src),
                _ipv4_text(dst),
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
                data[34 + hlen : end],
            )
    if lt == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return Undecodable(frame.number, "Ethernet header truncated")
        (ethertype,) = struct.unpack_from("!H", data, 12)
        off = 14
        while ethertype in ETHERTYPE_VLAN:
            if len(data) < off + 4:
                return Undecodable(frame.number, "VLAN tag truncated")
            (ethertype,) = struct.unpack_from("!H", data, off + 2)
            off += 4
        return _by_ethertype(frame, ethertype, data, off)
    if lt == LINKTYPE_LINUX_SLL:
        # Linux cooked capture v1: 16-byte header, protocol type in the last 2 bytes.
        if len(data) < 16:
            return Undecodable(frame.number, "SLL header truncated")
        (proto,) = struct.unpack_from("!H", data, 14)
        return _by_ethertype(frame, proto, data, 16)
    if lt == LINKTYPE_LINUX_SLL2:
        # Linux cooked capture v2: 20-byte header, protocol type first.
        if len(data) < 20:
            return Undecodable(frame.number, "SLL2 header truncated")
        (proto,) = struct.unpack_from("!H", data, 0)
        return _by_ethertype(frame, proto, data, 20)
    if lt in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            return Undecodable(frame.number, "loopback header truncated")
        if lt == LINKTYPE_LOOP:
            (family,) = struct.unpack_from("!I", data, 0)
        else:
            # Host byte order of the machine that captured: try both; the family value
            # is small, so the order with the smaller number is the right one.
            family = min(struct.unpack_from("<I", data, 0)[0], struct.unpack_from(">I", data, 0)[0])
        if family == AF_INET:
            return _ipv4(frame, data, 4)
        if family in AF_INET6:
            return _ipv6(frame, data, 4)
        return None
    if lt in (LINKTYPE_RAW, LINKTYPE_RAW_OLD, LINKTYPE_RAW_OPENBSD, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not data:
            return Undecodable(frame.number, "empty raw IP packet")
        version = data[0] >> 4
        if version == 4:
            return _ipv4(frame, data, 0)
        if version == 6:
            return _ipv6(frame, data, 0)
        return Undecodable(frame.number, f"raw IP packet with version {version}")
    return None


def _by_ethertype(frame: Frame, ethertype: int, data: bytes, off: int) -> Decoded:
    if ethertype == ETHERTYPE_IPV4:
        return _ipv4(frame, data, off)
    if ethertype == ETHERTYPE_IPV6:
        return _ipv6(frame, data, off)
    return None


_ADDRESSES: dict[bytes, str] = {}


def _ipv4_text(raw: bytes) -> str:
    """Dotted-quad text of a 4-byte address, remembered (a capture has few hosts)."""
    text = _ADDRESSES.get(raw)
    if text is None:
        text = socket.inet_ntop(socket.AF_INET, raw)
        if len(_ADDRESSES) < 65536:
            _ADDRESSES[raw] = text
    return text


def _ipv4(frame: Frame, data: bytes, off: int) -> Decoded:
    if len(data) < off + 20:
        return Undecodable(frame.number, "IPv4 header truncated")
    vihl = data[off]
    if vihl >> 4 != 4:
        return Undecodable(frame.number, f"IPv4 header with version {vihl >> 4}")
    ihl = (vihl & 0x0F) * 4
    (total,) = struct.unpack_from("!H", data, off + 2)
    (frag,) = struct.unpack_from("!H", data, off + 6)
    proto = data[off + 9]
    if ihl < 20 or len(data) < off + ihl:
        return Undecodable(frame.number, f"IPv4 header length {ihl} invalid or truncated")
    src = _ipv4_text(data[off + 12 : off + 16])
    dst = _ipv4_text(data[off + 16 : off + 20])
    # RFC 791 §3.1: flags MF (0x2000) and the 13-bit fragment offset in 8-octet units.
    more = bool(frag & 0x2000)
    frag_off = (frag & 0x1FFF) * 8
    if more or frag_off:
        return IpFragment(frame.number, src, dst, proto, frag_off, more)
    if proto != IPPROTO_TCP:
        return None
    # Total Length bounds the packet: bytes after it are link padding. Total 0 happens
    # with TCP segmentation offload captured on the sender; then use what was captured.
    end = off + total if total >= ihl else len(data)
    truncated = end > len(data)
    return _tcp(frame, src, dst, data[off + ihl : min(end, len(data))], truncated)


def _ipv6(frame: Frame, data: bytes, off: int) -> Decoded:
    if len(data) < off + 40:
        return Undecodable(frame.number, "IPv6 header truncated")
    if data[off] >> 4 != 6:
        return Undecodable(frame.number, f"IPv6 header with version {data[off] >> 4}")
    (plen,) = struct.unpack_from("!H", data, off + 4)
    nxt = data[off + 6]
    src = socket.inet_ntop(socket.AF_INET6, data[off + 8 : off + 24])
    dst = socket.inet_ntop(socket.AF_INET6, data[off + 24 : off + 40])
    # Payload Length 0 means a jumbogram (RFC 2675) or TSO: use what was captured.
    end = off + 40 + plen if plen else len(data)
    truncated = end > len(data)
    end = min(end, len(data))
    pos = off + 40
    while True:
        if nxt in IPV6_EXT_HEADERS or nxt == IPV6_AH:
            if pos + 2 > end:
                return Undecodable(frame.number, "IPv6 extension header truncated")
            # RFC 8200 §4: Hdr Ext Len in 8-octet units not counting the first 8;
            # RFC 4302 §2.2: AH's Payload Len in 4-octet units minus 2.
            length = (data[pos + 1] + 2) * 4 if nxt == IPV6_AH else (data[pos + 1] + 1) * 8
            nxt = data[pos]
            pos += length
        elif nxt == IPV6_FRAGMENT:
            if pos + 8 > end:
                return Undecodable(frame.number, "IPv6 fragment header truncated")
            (fo,) = struct.unpack_from("!H", data, pos + 2)
            frag_off = fo & 0xFFF8
            more = bool(fo & 1)
            if frag_off or more:
                return IpFragment(frame.number, src, dst, data[pos], frag_off, more)
            # RFC 8200 §4.5 / RFC 6946: an atomic fragment is just the whole packet.
            nxt = data[pos]
            pos += 8
        else:
            break
    if nxt != IPPROTO_TCP or pos > end:
        return None
    return _tcp(frame, src, dst, data[pos:end], truncated)


def _tcp(frame: Frame, src: str, dst: str, seg: bytes, truncated: bool) -> Decoded:
    if len(seg) < 20:
        return Undecodable(frame.number, "TCP header truncated")
    sport, dport, seq, ack, doff, flags, window = _TCP.unpack_from(seg, 0)
    hlen = (doff >> 4) * 4
    if hlen < 20:
        return Undecodable(frame.number, f"TCP data offset {hlen} invalid")
    if hlen > len(seg):
        if not truncated:
            return Undecodable(frame.number, f"TCP header length {hlen} beyond the segment")
        hlen = len(seg)
    return TcpSegment(
        frame.number,
        frame.timestamp_ns,
        src,
        dst,
        sport,
        dport,
        seq,
        ack,
        flags,
        window,
        seg[hlen:],
        truncated,
    )
