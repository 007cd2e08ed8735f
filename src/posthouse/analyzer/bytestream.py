"""One direction of a connection waiting to be dissected: its bytes, and for every
byte the frame that carried it, so a transcript line can name its frame."""

from __future__ import annotations

from bisect import bisect_right


class ByteStream:
    __slots__ = ("_mark_frames", "_mark_offsets", "_mark_times", "base", "buf", "scanned")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.base = 0  # stream offset of buf[0]
        self.scanned = 0  # how far a search for a terminator has looked (index in buf)
        self._mark_offsets: list[int] = []
        self._mark_frames: list[int] = []
        self._mark_times: list[int] = []

    def append(self, data: bytes, frame: int, time_ns: int) -> None:
        self._mark_offsets.append(self.base + len(self.buf))
        self._mark_frames.append(frame)
        self._mark_times.append(time_ns)
        self.buf += data

    def where(self, pos: int = 0) -> tuple[int, int]:
        """(frame, time) of the byte at index `pos` of the buffer."""
        i = bisect_right(self._mark_offsets, self.base + pos) - 1
        if i < 0:
            return (self._mark_frames[0], self._mark_times[0]) if self._mark_frames else (0, 0)
        return self._mark_frames[i], self._mark_times[i]

    def consume(self, n: int) -> bytes:
        data = bytes(self.buf[:n])
        self.consume_drop(n)
        return data

    def move_into(self, target: bytearray, n: int) -> None:
        """Append the first `n` bytes to `target` and drop them (one copy, not two)."""
        with memoryview(self.buf) as view:
            target += view[:n]
        self.consume_drop(n)

    def consume_drop(self, n: int) -> None:
        """Drop the first `n` bytes; forget the frame marks no longer needed."""
        del self.buf[:n]
        self.base += n
        self.scanned = max(0, self.scanned - n)
        offsets = self._mark_offsets
        if len(offsets) > 64:
            i = bisect_right(offsets, self.base) - 1
            if i > 32:
                del offsets[:i], self._mark_frames[:i], self._mark_times[:i]

    def take_line(self) -> tuple[bytes, int, int] | None:
        """The next line without its line end (CRLF or bare LF), with the frame and time
        of its first byte; None while the line is incomplete."""
        end = self.buf.find(b"\n", self.scanned)
        if end < 0:
            self.scanned = len(self.buf)
            return None
        frame, ts = self.where(0)
        raw = self.consume(end + 1)
        self.scanned = 0
        line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        return line, frame, ts

    def take_rest(self) -> bytes:
        return self.consume(len(self.buf))

    def __len__(self) -> int:
        return len(self.buf)


# Control characters (but TAB) shown as \xNN: a transcript must not ring bells, move the
# cursor or hide bytes.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)}


def decode_text(data: bytes) -> str:
    """Best-effort text: UTF-8, with bytes that are not UTF-8 and control characters
    shown as \\xNN."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return text.translate(_CONTROLS)


def clip(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"
