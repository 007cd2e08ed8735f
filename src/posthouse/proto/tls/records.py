"""The record layer: cut one direction's byte stream into TLS records.

RFC 5246 §6.2 / RFC 8446 §5.1: a record is type (1), version (2), length (2) and the
fragment. An SSL 2.0-format ClientHello (RFC 5246 §E.2, RFC 6101 §E) has a two-byte
header with the top bit set instead. After a loss of bytes or on input that is not TLS
the reader searches for the next plausible record header, and says so once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from posthouse.proto.tls.registries import CONTENT_TYPES

# RFC 5246 §6.2.3: a TLSCiphertext fragment is at most 2^14 + 2048 bytes.
MAX_FRAGMENT = 2**14 + 2048
_SSL2_CLIENT_HELLO = 1
_SSL2_SERVER_HELLO = 4
_SSL2_VERSIONS = (0x0002, 0x0300, 0x0301, 0x0302, 0x0303)


@dataclass(frozen=True, slots=True)
class Record:
    content_type: int  # for SSL 2.0 records, the SSL 2.0 message type
    version: int
    fragment: bytes
    offset: int  # stream position of the record header
    sslv2: bool = False


@dataclass(frozen=True, slots=True)
class Lost:
    """The reader lost the record boundaries (skipped == 0, reason says why) or found
    them again (reason "resynchronised", after skipping `skipped` bytes)."""

    offset: int
    skipped: int
    reason: str


def plausible_header(buf: bytes | bytearray, pos: int, allow_empty: bool = False) -> bool:
    """A TLS record header at `pos`: known type, version 3.x (x ≤ 4), sane length.

    Empty records are legal (RFC 5246 §6.2.1 allows empty application data) but too
    weak a sign when searching for a header after damage."""
    if len(buf) - pos < 5:
        return False
    ctype, major, minor = buf[pos], buf[pos + 1], buf[pos + 2]
    length = (buf[pos + 3] << 8) | buf[pos + 4]
    return ctype in CONTENT_TYPES and major == 3 and minor <= 4 and 0 < length <= MAX_FRAGMENT


def _sslv2_header(buf: bytes | bytearray, pos: int, types: tuple[int, ...]) -> int | None:
    """Length of an SSL 2.0 record with a two-byte header at `pos`, if it looks like one."""
    if len(buf) - pos < 5 or not buf[pos] & 0x80:
        return None
    length = ((buf[pos] & 0x7F) << 8) | buf[pos + 1]
    if buf[pos + 2] not in types or length < 3:
        return None
    if buf[pos + 2] == _SSL2_CLIENT_HELLO:
        ver = (buf[pos + 3] << 8) | buf[pos + 4]
        if ver not in _SSL2_VERSIONS:
            return None
    return length


class RecordReader:
    """Buffers one direction and returns whole records (sans-IO)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # next unread byte in _buf
        self._offset = 0  # stream position of _buf[0]
        self._started = False  # a first record has been recognised
        self._lost = False  # searching for the next header
        self._skipped = 0

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    @property
    def position(self) -> int:
        """Stream position of the next byte to be fed."""
        return self._offset + len(self._buf)

    def feed(self, data: bytes) -> list[Record | Lost]:
        self._buf += data
        out: list[Record | Lost] = []
        while True:
            if self._lost and not self._resync(out):
                break
            item = self._next()
            if item is None:
                break
            out.append(item)
        # drop what was read once per call, not once per record
        del self._buf[: self._pos]
        self._offset += self._pos
        self._pos = 0
        return out

    def gap(self, missing: int | None) -> None:
        """Bytes were lost: drop the partial record and search for the next header."""
        if self._lost:
            self._skipped += self.buffered
        self._offset += len(self._buf) + (missing or 0)
        self._buf.clear()
        self._pos = 0
        if not self._lost:
            self._lost, self._skipped = True, 0

    def _next(self) -> Record | Lost | None:
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 5:
            return None
        at = self._offset + pos
        if not self._started and buf[pos] & 0x80:
            length = _sslv2_header(buf, pos, (_SSL2_CLIENT_HELLO, _SSL2_SERVER_HELLO))
            if length is not None:
                if len(buf) - pos < 2 + length:
                    return None
                version = (buf[pos + 3] << 8) | buf[pos + 4]
                fragment = bytes(buf[pos + 2 : pos + 2 + length])
                self._pos += 2 + length
                return Record(buf[pos + 2], version, fragment, at, True)
        if not plausible_header(buf, pos, allow_empty=self._started):
            reason = "not a TLS record" if not self._started else "malformed record header"
            self._lost, self._skipped = True, 0
            return Lost(at, 0, reason)
        length = (buf[pos + 3] << 8) | buf[pos + 4]
        if len(buf) - pos < 5 + length:
            return None
        version = (buf[pos + 1] << 8) | buf[pos + 2]
        fragment = bytes(buf[pos + 5 : pos + 5 + length])
        self._pos += 5 + length
        self._started = True
        return Record(buf[pos], version, fragment, at)

    def _resync(self, out: list[Record | Lost]) -> bool:
        """Skip to a plausible header confirmed by the header after it; True when found."""
        buf = self._buf
        end = len(buf)
        pos = self._pos
        while True:
            m = _CANDIDATE.search(buf, pos)
            if m is None:
                pos = end
                break
            pos = m.start()
            if pos + 5 > end:
                break
            if plausible_header(buf, pos):
                nxt = pos + 5 + ((buf[pos + 3] << 8) | buf[pos + 4])
                if nxt + 5 <= end and not plausible_header(buf, nxt):
                    pos += 1
                    continue
                if nxt + 5 > end and nxt != end:
                    break  # wait: the next header will confirm it or not
                self._skipped += pos - self._pos
                self._pos = pos
                out.append(Lost(self._offset + pos, self._skipped, "resynchronised"))
                self._lost, self._skipped = False, 0
                self._started = True
                return True
            pos += 1
        # keep the last 4 bytes: they may begin a header
        keep_from = max(self._pos, min(pos, end - 4))
        self._skipped += keep_from - self._pos
        self._pos = keep_from
        return False


# A content type byte (20-26) followed by major version 3 and minor 0-4.
_CANDIDATE = re.compile(rb"[\x14-\x1a]\x03[\x00-\x04]")
