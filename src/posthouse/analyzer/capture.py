"""Reading packet captures: classic pcap and pcapng, stdlib only.

Formats, as specified by the IETF OPSAWG drafts:
- pcap: draft-ietf-opsawg-pcap (file header §4, packet record §5). Both byte orders,
  the microsecond magic 0xA1B2C3D4 and the nanosecond magic 0xA1B23C4D; the old
  "modified pcap" magic 0xA1B2CD34 (records 8 bytes longer) is read too.
- pcapng: draft-ietf-opsawg-pcapng (general block structure §3.1, Section Header Block
  §4.1, Interface Description Block §4.2, Enhanced Packet Block §4.3, Simple Packet
  Block §4.4, Decryption Secrets Block §4.7, obsolete Packet Block appendix A).

A damaged file is read as far as it can be and every problem is written to
`CaptureReader.warnings`; the only exception raised is `CaptureError`, for input that is
not a capture at all.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_MAGIC_NSEC = 0xA1B23C4D
PCAP_MAGIC_MODIFIED = 0xA1B2CD34  # Kuznetsov's patched libpcap: 8 more bytes per record

# draft-ietf-opsawg-pcapng §10.1 (block type codes)
BLOCK_SHB = 0x0A0D0D0A
BLOCK_IDB = 0x00000001
BLOCK_PB = 0x00000002  # obsolete Packet Block, appendix A
BLOCK_SPB = 0x00000003
BLOCK_EPB = 0x00000006
BLOCK_DSB = 0x0000000A
BYTE_ORDER_MAGIC = 0x1A2B3C4D

# draft-ietf-opsawg-pcapng §4.7: secrets types
SECRETS_TLS_KEY_LOG = 0x544C534B  # "TLSK": NSS key log format
SECRETS_WIREGUARD = 0x57474B4C
SECRETS_ZIGBEE_NWK = 0x5A4E574B
SECRETS_ZIGBEE_APS = 0x5A415053

OPT_ENDOFOPT = 0
OPT_IF_TSRESOL = 9  # §4.2: if_tsresol
OPT_IF_TSOFFSET = 14  # §4.2: if_tsoffset

# A single packet record larger than this is taken as corruption (libpcap's own limit
# for ordinary link types is 256 KiB; allow generously more for jumbo/TSO captures).
MAX_RECORD = 16 * 1024 * 1024


class CaptureError(Exception):
    """The input is not a pcap or pcapng file."""


# One per packet: not frozen (a frozen dataclass's __init__ costs about three times as
# much, which showed on large captures). Treat as immutable.
@dataclass(slots=True)
class Frame:
    """One captured packet, numbered from 1 in file order (as Wireshark numbers them)."""

    number: int
    timestamp_ns: int  # nanoseconds since the Unix epoch
    link_type: int
    data: bytes  # the captured bytes (possibly fewer than original_length)
    original_length: int
    interface: int = 0  # pcapng interface index within its section; 0 for pcap

    @property
    def timestamp(self) -> float:
        """Seconds since the epoch (float; use timestamp_ns for exact arithmetic)."""
        return self.timestamp_ns / 1e9


@dataclass(frozen=True, slots=True)
class Interface:
    """A pcapng Interface Description Block (or the single interface of a pcap file)."""

    section: int
    index: int
    link_type: int
    snaplen: int
    tsresol_base: int = 10  # 10 or 2 (§4.2 if_tsresol: MSB set means a power of two)
    tsresol_exp: int = 6
    tsoffset: int = 0  # seconds added to every timestamp (§4.2 if_tsoffset)

    def to_ns(self, units: int) -> int:
        """Convert a timestamp in this interface's units to nanoseconds since the epoch."""
        if self.tsresol_base == 10:
            if self.tsresol_exp <= 9:
                ns = units * 10 ** (9 - self.tsresol_exp)
            else:
                ns = units // 10 ** (self.tsresol_exp - 9)
        else:
            ns = (units * 1_000_000_000) >> self.tsresol_exp
        return ns + self.tsoffset * 1_000_000_000


@dataclass(frozen=True, slots=True)
class DecryptionSecrets:
    """A pcapng Decryption Secrets Block (§4.7). For `SECRETS_TLS_KEY_LOG` the data is
    an NSS key log (lines of `CLIENT_RANDOM <hex> <hex>` and the TLS 1.3 labels)."""

    secrets_type: int
    data: bytes
    before_frame: int  # number of the first frame after this block in the file

    @property
    def is_tls_key_log(self) -> bool:
        return self.secrets_type == SECRETS_TLS_KEY_LOG


@dataclass(slots=True)
class _Section:
    endian: str  # "<" or ">"
    number: int
    interfaces: list[Interface] = field(default_factory=list)


# Files from this size on are mapped rather than read: the frames are sliced out of the
# page cache directly, without a first copy of the whole file.
MAP_FROM = 1 << 20


def _load(path: Path) -> bytes | mmap.mmap:
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < MAP_FROM:
            return fh.read()
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


class CaptureReader:
    """Iterate over the frames of a pcap or pcapng capture.

    `CaptureReader(source)` takes a path or the file's bytes and checks the magic
    number at once (raising `CaptureError` if it is neither format). Iterating yields
    `Frame`s in file order; meanwhile `warnings`, `secrets` and `interfaces` fill in.
    Iterate once; `frames()` collects everything into a list.
    """

    def __init__(self, source: bytes | bytearray | memoryview | str | os.PathLike[str]) -> None:
        self._buf: bytes | mmap.mmap
        if isinstance(source, bytes | bytearray | memoryview):
            self._buf = bytes(source)
            self.name = "<bytes>"
        else:
            path = Path(source)
            self.name = str(path)
            try:
                self._buf = _load(path)
            except OSError as exc:
                raise CaptureError(f"{path}: {exc.strerror or exc}") from exc
        self.warnings: list[str] = []
        self.secrets: list[DecryptionSecrets] = []
        self.interfaces: list[Interface] = []
        self.format = self._sniff()
        self._count = 0

    # -- public -----------------------------------------------------------------------

    def __iter__(self) -> Iterator[Frame]:
        if self.format == "pcapng":
            return self._read_pcapng()
        return self._read_pcap()

    def frames(self) -> list[Frame]:
        return list(self)

    @property
    def tls_key_log(self) -> bytes:
        """Every TLS key log carried in Decryption Secrets Blocks, concatenated."""
        return _join_key_logs(self.secrets)

    # -- sniffing ---------------------------------------------------------------------

    def _sniff(self) -> str:
        buf = self._buf
        if len(buf) < 4:
            raise CaptureError(f"{self.name}: too short to be a capture ({len(buf)} bytes)")
        (magic_le,) = struct.unpack_from("<I", buf, 0)
        (magic_be,) = struct.unpack_from(">I", buf, 0)
        if magic_le == BLOCK_SHB:  # palindromic, same in both orders
            return "pcapng"
        for magic in (magic_le, magic_be):
            if magic in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC, PCAP_MAGIC_MODIFIED):
                return "pcap"
        raise CaptureError(f"{self.name}: not a pcap or pcapng file (magic {buf[:4].hex()})")

    def _warn(self, offset: int, message: str) -> None:
        self.warnings.append(f"offset {offset}: {message}")

    # -- pcap (draft-ietf-opsawg-pcap) --------------------------------------------------

    def _read_pcap(self) -> Iterator[Frame]:
        buf = self._buf
        (magic,) = struct.unpack_from("<I", buf, 0)
        endian = "<"
        if magic not in (PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC, PCAP_MAGIC_MODIFIED):
            endian = ">"
            (magic,) = struct.unpack_from(">I", buf, 0)
        if len(buf) < 24:
            self._warn(0, f"file header truncated ({len(buf)} of 24 bytes); no packets")
            return
        _maj, _min, _zone, _sigfigs, snaplen, linktype = struct.unpack_from(
            endian + "HHiIII", buf, 4
        )
        # §4: the LinkType field's upper bits carry FCS information; the type is 16 bits.
        link_type = linktype & 0xFFFF
        self.interfaces.append(
            Interface(0, 0, link_type, snaplen, 10, 9 if magic == PCAP_MAGIC_NSEC else 6)
        )
        frac_ns = 1 if magic == PCAP_MAGIC_NSEC else 1000
        rec_len = 24 if magic == PCAP_MAGIC_MODIFIED else 16
        header = struct.Struct(endian + "IIII")
        off = 24
        end = len(buf)
        while off < end:
            if end - off < rec_len:
                self._warn(off, f"packet record header truncated ({end - off} of {rec_len} bytes)")
                return
            sec, frac, incl, orig = header.unpack_from(buf, off)
            if incl > MAX_RECORD:
                self._warn(
                    off, f"packet record claims {incl} captured bytes; file corrupt, stopping"
                )
                return
            data_start = off + rec_len
            if data_start + incl > end:
                self._warn(
                    off,
                    f"packet data truncated ({end - data_start} of {incl} bytes); "
                    "keeping the partial packet and stopping",
                )
                incl = end - data_start
                next_off = end
            else:
                next_off = data_start + incl
            self._count += 1
            yield Frame(
                self._count,
                sec * 1_000_000_000 + frac * frac_ns,
                link_type,
                buf[data_start : data_start + incl],
                max(orig, incl),
                0,
            )
            off = next_off

    # -- pcapng (draft-ietf-opsawg-pcapng) ----------------------------------------------

    def _read_pcapng(self) -> Iterator[Frame]:
        buf = self._buf
        end = len(buf)
        off = 0
        section: _Section | None = None
        sections = 0
        while off < end:
            if end - off < 12:
                self._warn(off, f"block truncated ({end - off} bytes left, 12 needed)")
                return
            (btype_le,) = struct.unpack_from("<I", buf, off)
            if btype_le == BLOCK_SHB:
                # §4.1: the byte-order magic decides the endianness of the whole section.
                if end - off < 28:
                    self._warn(off, "Section Header Block truncated")
                    return
                (bom,) = struct.unpack_from("<I", buf, off + 8)
                if bom == BYTE_ORDER_MAGIC:
                    endian = "<"
                elif bom == int.from_bytes(BYTE_ORDER_MAGIC.to_bytes(4, "little"), "big"):
                    endian = ">"
                else:
                    self._warn(off, f"Section Header Block with bad byte-order magic {bom:#x}")
                    return
                section = _Section(endian, sections)
                sections += 1
            elif section is None:
                self._warn(off, "block before any Section Header Block")
                return
            endian = section.endian
            btype, total = struct.unpack_from(endian + "II", buf, off)
            if total < 12 or total % 4:
                self._warn(off, f"block type {btype:#x} has invalid length {total}; stopping")
                return
            if off + total > end:
                self._warn(off, f"block type {btype:#x} truncated ({end - off} of {total} bytes)")
                # Still try a partial Enhanced/Simple Packet Block below, bounded by `end`.
                body_end = end
                truncated = True
            else:
                (trailer,) = struct.unpack_from(endian + "I", buf, off + total - 4)
                if trailer != total:
                    self._warn(off, f"block type {btype:#x}: trailing length {trailer} != {total}")
                body_end = off + total - 4
                truncated = False
            body = off + 8
            frame = self._pcapng_block(section, btype, body, body_end, off)
            if frame is not None:
                yield frame
            if truncated:
                return
            off += total

    def _pcapng_block(
        self, section: _Section, btype: int, body: int, body_end: int, off: int
    ) -> Frame | None:
        buf = self._buf
        e = section.endian
        size = body_end - body
        if btype == BLOCK_SHB:
            return None
        if btype == BLOCK_IDB:
            if size < 8:
                self._warn(off, "Interface Description Block too short")
                return None
            link_type, _reserved, snaplen = struct.unpack_from(e + "HHI", buf, body)
            base, exp, tsoffset = 10, 6, 0
            for code, value in self._options(e, body + 8, body_end, off):
                if code == OPT_IF_TSRESOL and len(value) >= 1:
                    # §4.2: MSB clear = negative power of 10, set = negative power of 2.
                    base, exp = (2, value[0] & 0x7F) if value[0] & 0x80 else (10, value[0])
                elif code == OPT_IF_TSOFFSET and len(value) >= 8:
                    (tsoffset,) = struct.unpack_from(e + "q", value, 0)
            iface = Interface(
                section.number, len(section.interfaces), link_type, snaplen, base, exp, tsoffset
            )
            section.interfaces.append(iface)
            self.interfaces.append(iface)
            return None
        if btype in (BLOCK_EPB, BLOCK_PB):
            if size < 20:
                self._warn(off, "packet block too short")
                return None
            if btype == BLOCK_EPB:
                if_id, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(e + "IIIII", buf, body)
            else:
                if_id, _drops, ts_hi, ts_lo, caplen, origlen = struct.unpack_from(
                    e + "HHIIII", buf, body
                )
            data_start = body + 20
            if caplen > body_end - data_start:
                self._warn(
                    off, f"packet data truncated ({body_end - data_start} of {caplen} bytes)"
                )
                caplen = max(0, body_end - data_start)
            return self._frame(
                section, if_id, (ts_hi << 32) | ts_lo, data_start, caplen, origlen, off
            )
        if btype == BLOCK_SPB:
            if size < 4:
                self._warn(off, "Simple Packet Block too short")
                return None
            (origlen,) = struct.unpack_from(e + "I", buf, body)
            # §4.4: captured length is the smaller of the original length and the room
            # in the block; an SPB has no timestamp and always refers to interface 0.
            caplen = min(origlen, body_end - body - 4)
            return self._frame(section, 0, None, body + 4, caplen, origlen, off)
        if btype == BLOCK_DSB:
            if size < 8:
                self._warn(off, "Decryption Secrets Block too short")
                return None
            stype, slen = struct.unpack_from(e + "II", buf, body)
            if slen > size - 8:
                self._warn(off, f"Decryption Secrets Block truncated ({size - 8} of {slen} bytes)")
                slen = size - 8
            data = buf[body + 8 : body + 8 + slen]
            self.secrets.append(DecryptionSecrets(stype, data, self._count + 1))
            return None
        # Unknown, statistics, name resolution, custom blocks: §3.1 lets a reader skip them.
        return None

    def _frame(
        self,
        section: _Section,
        if_id: int,
        ts: int | None,
        start: int,
        caplen: int,
        origlen: int,
        off: int,
    ) -> Frame | None:
        if if_id >= len(section.interfaces):
            self._warn(off, f"packet refers to undeclared interface {if_id}; skipped")
            return None
        iface = section.interfaces[if_id]
        self._count += 1
        return Frame(
            self._count,
            iface.to_ns(ts) if ts is not None else 0,
            iface.link_type,
            self._buf[start : start + caplen],
            max(origlen, caplen),
            if_id,
        )

    def _options(self, e: str, start: int, end: int, off: int) -> Iterator[tuple[int, bytes]]:
        """§3.5: options are (code, length, value padded to 32 bits), ended by opt_endofopt."""
        buf = self._buf
        pos = start
        while pos + 4 <= end:
            code, length = struct.unpack_from(e + "HH", buf, pos)
            if code == OPT_ENDOFOPT:
                return
            value_end = pos + 4 + length
            if value_end > end:
                self._warn(off, f"option {code} overruns its block")
                return
            yield code, buf[pos + 4 : value_end]
            pos = value_end + (-length % 4)


@dataclass(frozen=True, slots=True)
class Capture:
    """A whole capture read into memory (see `read_capture`)."""

    format: str  # "pcap" or "pcapng"
    frames: list[Frame]
    interfaces: list[Interface]
    secrets: list[DecryptionSecrets]
    warnings: list[str]

    @property
    def tls_key_log(self) -> bytes:
        """Every TLS key log carried in Decryption Secrets Blocks, concatenated."""
        return _join_key_logs(self.secrets)


def read_capture(source: bytes | bytearray | memoryview | str | os.PathLike[str]) -> Capture:
    """Read every frame at once. Raises `CaptureError` only if this is not a capture."""
    reader = CaptureReader(source)
    frames = reader.frames()
    return Capture(reader.format, frames, reader.interfaces, reader.secrets, reader.warnings)


def _join_key_logs(secrets: list[DecryptionSecrets]) -> bytes:
    parts = [s.data.rstrip(b"\0").rstrip(b"\n") for s in secrets if s.is_tls_key_log]
    return b"\n".join(parts) + (b"\n" if parts else b"")
