"""TCP reassembly: from captured segments to ordered byte streams per connection.

Sequence numbers follow RFC 9293 §3.4: they are 32-bit and compared modulo 2**32, SYN
and FIN each occupy one sequence number. Each direction keeps an unwrapped (unbounded)
position, so a stream may cross the 2**32 boundary any number of times.

What comes out is, per connection, one list of events in capture order across both
directions, so a dissector can feed a client core and a server core alternately:
`Data` (bytes in order), `Gap` (bytes the capture does not hold, never guessed),
`Overlap` (a retransmission whose bytes differ from what was first seen: the first
bytes are kept, as a receiving stack does), `Closed` (FIN or RST).

Gaps are decided from evidence: when the peer acknowledges bytes the capture never
showed (declared as soon as the peer sends data of its own, so the conversation stays
in order), when out-of-order data waits too long behind a hole, and when the capture
ends.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from posthouse.analyzer.packets import SYN, TcpSegment

MOD = 1 << 32
HALF = 1 << 31

# Well-known mail ports (and their TLS variants) decide the server when no SYN was seen.
MAIL_PORTS = frozenset({25, 465, 587, 2525, 110, 995, 143, 993})

# Out-of-order data waiting behind a hole beyond these limits turns the hole into a Gap.
MAX_PENDING_BYTES = 4 * 1024 * 1024
MAX_PENDING_SEGMENTS = 4096
# How much delivered data each direction remembers to compare retransmissions with.
HISTORY_BYTES = 256 * 1024


class Direction(enum.Enum):
    FROM_CLIENT = "C->S"
    FROM_SERVER = "S->C"

    @property
    def opposite(self) -> Direction:
        return Direction.FROM_SERVER if self is Direction.FROM_CLIENT else Direction.FROM_CLIENT


# One per delivered segment: not frozen, for the same cost reason as TcpSegment.
@dataclass(slots=True)
class Data:
    direction: Direction
    data: bytes
    frame_number: int  # the frame that carried these bytes
    timestamp_ns: int
    offset: int  # position of data[0] in this direction's stream (0 = first byte)


@dataclass(frozen=True, slots=True)
class Gap:
    direction: Direction
    missing_bytes: int
    frame_number: int  # the frame whose arrival (or the capture's end) revealed the gap
    timestamp_ns: int
    offset: int  # stream position where the missing bytes start


@dataclass(frozen=True, slots=True)
class Overlap:
    """Retransmitted bytes that differ from the ones first seen; the first are kept."""

    direction: Direction
    offset: int
    length: int
    frame_number: int
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class Closed:
    direction: Direction  # the side that sent the FIN or RST
    reason: str  # "fin" or "reset"
    frame_number: int
    timestamp_ns: int


Event = Data | Gap | Overlap | Closed


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    port: int

    def __str__(self) -> str:
        return (
            f"[{self.address}]:{self.port}"
            if ":" in self.address
            else f"{self.address}:{self.port}"
        )


@dataclass(slots=True)
class DirectionStats:
    packets: int = 0
    payload_bytes: int = 0  # TCP payload as captured, retransmissions included
    delivered_bytes: int = 0
    gap_bytes: int = 0
    retransmitted_bytes: int = 0
    overlap_conflicts: int = 0
    syn: bool = False
    fin: bool = False
    rst: bool = False


@dataclass(slots=True)
class Connection:
    """One TCP connection: who is who, what was seen, and the ordered events."""

    index: int  # 0-based, in order of the first packet (like tshark's tcp.stream)
    client: Endpoint
    server: Endpoint
    start_ns: int
    end_ns: int
    first_frame: int
    last_frame: int
    mid_stream: bool  # no SYN from the client: the capture started after the handshake
    role_reason: str  # "syn", "syn-ack", "port", "first-talker"
    events: list[Event] = field(default_factory=list)
    client_stats: DirectionStats = field(default_factory=DirectionStats)
    server_stats: DirectionStats = field(default_factory=DirectionStats)

    def stats(self, direction: Direction) -> DirectionStats:
        return self.client_stats if direction is Direction.FROM_CLIENT else self.server_stats

    @property
    def packets(self) -> int:
        return self.client_stats.packets + self.server_stats.packets

    @property
    def closed(self) -> bool:
        return any(isinstance(e, Closed) for e in self.events)

    @property
    def one_sided(self) -> bool:
        return not (self.client_stats.packets and self.server_stats.packets)

    def stream(self, direction: Direction) -> bytes:
        """All delivered bytes of one direction, gaps left out."""
        return b"".join(
            e.data for e in self.events if isinstance(e, Data) and e.direction is direction
        )


@dataclass(slots=True)
class _Piece:
    start: int  # unwrapped sequence number
    data: bytes
    frame_number: int
    timestamp_ns: int


@dataclass(slots=True)
class _HalfStream:
    """Receive-side state for the bytes one endpoint sends (RFC 9293 §3.3.1 RCV.NXT)."""

    direction: Direction
    base: int | None = None  # unwrapped sequence number of stream offset 0
    next: int = 0  # unwrapped RCV.NXT: the next byte to deliver
    fin_at: int | None = None  # unwrapped sequence number of the FIN
    closed: bool = False
    pending: list[_Piece] = field(default_factory=list)  # sorted, non-overlapping
    pending_bytes: int = 0
    # The last delivered bytes, as the pieces delivered (appending to one buffer and
    # trimming its front would copy it again and again).
    history: deque[bytes] = field(default_factory=deque)
    history_bytes: int = 0
    acked_upto: int | None = None  # highest unwrapped ack the peer sent for this stream

    def unwrap(self, seq: int) -> int:
        """The unwrapped value closest to `next` with this 32-bit value (RFC 9293 §3.4)."""
        diff = (seq - self.next) % MOD
        if diff >= HALF:
            diff -= MOD
        return self.next + diff


class _Tracker:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.half = {
            Direction.FROM_CLIENT: _HalfStream(Direction.FROM_CLIENT),
            Direction.FROM_SERVER: _HalfStream(Direction.FROM_SERVER),
        }
        # Raw acknowledgement numbers sent for a direction before it had any segment.
        self.ack_hints: dict[Direction, int] = {}
        # (this side, its peer, this side's stats) per direction, looked up by identity
        # on the hot path (an Enum's hash is computed in Python).
        client, server = self.half[Direction.FROM_CLIENT], self.half[Direction.FROM_SERVER]
        self.client_sides = (client, server, conn.client_stats)
        self.server_sides = (server, client, conn.server_stats)
        self.client_key = (conn.client.address, conn.client.port)

    # -- receiving ----------------------------------------------------------------------

    def feed(self, seg: TcpSegment, direction: Direction) -> None:
        conn = self.conn
        half, peer, stats = (
            self.client_sides if direction is Direction.FROM_CLIENT else self.server_sides
        )
        stats.packets += 1
        stats.payload_bytes += len(seg.payload)
        if seg.timestamp_ns > conn.end_ns:
            conn.end_ns = seg.timestamp_ns
        conn.last_frame = seg.frame_number

        if seg.syn:
            stats.syn = True
            if half.base is None:
                half.base = seg.seq + 1  # SYN occupies one sequence number (§3.4)
                half.next = half.base
        if half.base is None:
            self._start_mid_stream(half, seg)

        # What this segment says about the other direction: the peer got everything
        # before `ack`. Remember it; act on it when this side sends data of its own.
        if seg.has_ack:
            if peer.base is None:
                self.ack_hints[peer.direction] = seg.ack
            else:
                ack = peer.unwrap(seg.ack)
                if peer.acked_upto is None or ack > peer.acked_upto:
                    peer.acked_upto = ack
        if seg.payload and peer.base is not None:
            self._catch_up_to_ack(peer, seg)

        if seg.rst:
            stats.rst = True
        start = half.unwrap(seg.seq)
        if seg.syn:
            start += 1
        if seg.payload and not seg.rst and not half.closed:
            # After its FIN or RST a side sends nothing new (RFC 9293 §3.6); ignore it.
            self._accept(half, _Piece(start, seg.payload, seg.frame_number, seg.timestamp_ns))
        if seg.fin:
            stats.fin = True
            if half.fin_at is None:
                half.fin_at = start + len(seg.payload)
        self._deliver(half)
        if half.fin_at is not None and not half.closed and half.next >= half.fin_at:
            half.next = half.fin_at + 1  # FIN occupies one sequence number
            half.closed = True
            conn.events.append(Closed(direction, "fin", seg.frame_number, seg.timestamp_ns))
        if seg.rst and not half.closed:
            # RFC 9293 §3.10.7: a reset ends the connection; data still missing stays missing.
            self._flush(half, seg.frame_number, seg.timestamp_ns)
            half.closed = True
            conn.events.append(Closed(direction, "reset", seg.frame_number, seg.timestamp_ns))

    def _start_mid_stream(self, half: _HalfStream, seg: TcpSegment) -> None:
        """First segment of a direction without its SYN. If the peer already acknowledged
        this direction, start where that acknowledgement points, so that segments missing
        or captured out of order before this one are buffered or marked as a gap."""
        start = seg.seq
        hint = self.ack_hints.get(half.direction)
        if hint is not None and 0 < (seg.seq - hint) % MOD < MAX_PENDING_BYTES:
            start = hint
        half.base = start
        half.next = start

    def _accept(self, half: _HalfStream, piece: _Piece) -> None:
        if piece.start == half.next and not half.pending:
            self._emit(half, piece)  # the common case: the next bytes, in order
            return
        stats = self.conn.stats(half.direction)
        end = piece.start + len(piece.data)
        if end <= half.next:
            stats.retransmitted_bytes += len(piece.data)
            self._compare_history(half, piece)
            return
        if piece.start < half.next:
            # Partly old: compare the old part, keep the new part.
            cut = half.next - piece.start
            stats.retransmitted_bytes += cut
            self._compare_history(
                half, _Piece(piece.start, piece.data[:cut], piece.frame_number, piece.timestamp_ns)
            )
            piece = _Piece(half.next, piece.data[cut:], piece.frame_number, piece.timestamp_ns)
        self._insert_pending(half, piece)

    def _insert_pending(self, half: _HalfStream, piece: _Piece) -> None:
        """Add to the out-of-order buffer, keeping bytes already buffered (first seen wins)."""
        pieces: list[_Piece] = []
        pos = piece.start
        end = piece.start + len(piece.data)
        for other in half.pending:
            o_end = other.start + len(other.data)
            if o_end <= pos or other.start >= end:
                continue
            if other.start > pos:
                pieces.append(_cut(piece, pos, other.start))
            lo, hi = max(pos, other.start), min(end, o_end)
            self._compare(half, other.data[lo - other.start : hi - other.start], piece, lo, hi)
            pos = max(pos, o_end)
            if pos >= end:
                break
        if pos < end:
            pieces.append(_cut(piece, pos, end))
        if not pieces:
            return
        half.pending.extend(pieces)
        half.pending.sort(key=lambda p: p.start)
        half.pending_bytes += sum(len(p.data) for p in pieces)
        if half.pending_bytes > MAX_PENDING_BYTES or len(half.pending) > MAX_PENDING_SEGMENTS:
            # Too much waits behind a hole that will not be filled: give up on the hole.
            first = half.pending[0]
            self._advance(half, first.start, piece.frame_number, piece.timestamp_ns)

    def _compare(self, half: _HalfStream, first: bytes, piece: _Piece, lo: int, hi: int) -> None:
        stats = self.conn.stats(half.direction)
        stats.retransmitted_bytes += hi - lo
        again = piece.data[lo - piece.start : hi - piece.start]
        if again != first:
            stats.overlap_conflicts += 1
            self.conn.events.append(
                Overlap(
                    half.direction,
                    lo - (half.base or 0),
                    hi - lo,
                    piece.frame_number,
                    piece.timestamp_ns,
                )
            )

    def _compare_history(self, half: _HalfStream, piece: _Piece) -> None:
        """Compare retransmitted, already delivered bytes with what was delivered."""
        hist_start = half.next - half.history_bytes
        lo = max(piece.start, hist_start)
        hi = piece.start + len(piece.data)
        if lo >= hi:
            return  # older than what is remembered (or before the capture started)
        first = b"".join(half.history)[lo - hist_start : hi - hist_start]
        again = piece.data[lo - piece.start : hi - piece.start]
        if again != first:
            self.conn.stats(half.direction).overlap_conflicts += 1
            self.conn.events.append(
                Overlap(
                    half.direction,
                    lo - (half.base or 0),
                    hi - lo,
                    piece.frame_number,
                    piece.timestamp_ns,
                )
            )

    # -- delivering ---------------------------------------------------------------------

    def _deliver(self, half: _HalfStream) -> None:
        """Emit every buffered piece that now continues the stream."""
        while half.pending and half.pending[0].start <= half.next:
            piece = half.pending.pop(0)
            half.pending_bytes -= len(piece.data)
            end = piece.start + len(piece.data)
            if end <= half.next:
                continue
            self._emit(half, _cut(piece, half.next, end))

    def _emit(self, half: _HalfStream, piece: _Piece) -> None:
        conn = self.conn
        conn.events.append(
            Data(
                half.direction,
                piece.data,
                piece.frame_number,
                piece.timestamp_ns,
                piece.start - (half.base or 0),
            )
        )
        half.next = piece.start + len(piece.data)
        conn.stats(half.direction).delivered_bytes += len(piece.data)
        half.history.append(piece.data)
        half.history_bytes += len(piece.data)
        while half.history_bytes - len(half.history[0]) >= HISTORY_BYTES:
            half.history_bytes -= len(half.history.popleft())

    def _gap(self, half: _HalfStream, upto: int, frame: int, ts: int) -> None:
        missing = upto - half.next
        if missing <= 0:
            return
        self.conn.events.append(
            Gap(half.direction, missing, frame, ts, half.next - (half.base or 0))
        )
        self.conn.stats(half.direction).gap_bytes += missing
        half.next = upto
        half.history.clear()  # the remembered bytes are no longer contiguous with `next`
        half.history_bytes = 0

    def _advance(self, half: _HalfStream, target: int, frame: int, ts: int) -> None:
        """Move `next` to at least `target`, delivering buffered data and marking holes."""
        while half.next < target:
            if half.pending and half.pending[0].start <= target:
                self._gap(half, half.pending[0].start, frame, ts)
                self._deliver(half)
            else:
                self._gap(half, target, frame, ts)
        self._deliver(half)

    def _catch_up_to_ack(self, half: _HalfStream, seg: TcpSegment) -> None:
        """The peer acknowledged bytes of `half` the capture never showed: before the
        peer's own data is delivered, mark them as a gap (RFC 9293 §3.4: an ACK covers
        every byte before it)."""
        if half.acked_upto is None or half.closed:
            return
        target = half.acked_upto
        if half.fin_at is not None and target > half.fin_at:
            target = half.fin_at
        if target > half.next:
            self._advance(half, target, seg.frame_number, seg.timestamp_ns)
            if half.fin_at is not None and half.next >= half.fin_at and not half.closed:
                half.next = half.fin_at + 1
                half.closed = True
                self.conn.events.append(
                    Closed(half.direction, "fin", seg.frame_number, seg.timestamp_ns)
                )

    def _flush(self, half: _HalfStream, frame: int, ts: int) -> None:
        """Deliver everything buffered, marking the holes between."""
        if half.pending:
            last = half.pending[-1]
            self._advance(half, last.start + len(last.data), frame, ts)

    def finish(self) -> None:
        """End of capture: what is still buffered is delivered after marked gaps, and
        bytes the peer acknowledged but the capture never held become a final gap."""
        conn = self.conn
        for half in self.half.values():
            if half.base is None or half.closed:
                continue
            self._flush(half, conn.last_frame, conn.end_ns)
            # The FIN's own sequence number proves every byte before it was sent; failing
            # that, the peer's acknowledgement does.
            target = half.fin_at if half.fin_at is not None else half.acked_upto
            if target is not None and target > half.next:
                self._gap(half, target, conn.last_frame, conn.end_ns)
            if half.fin_at is not None and half.next >= half.fin_at:
                half.closed = True
                conn.events.append(Closed(half.direction, "fin", conn.last_frame, conn.end_ns))


def _cut(piece: _Piece, lo: int, hi: int) -> _Piece:
    return _Piece(
        lo, piece.data[lo - piece.start : hi - piece.start], piece.frame_number, piece.timestamp_ns
    )


class Reassembler:
    """Feed TCP segments in capture order; `finish()` returns the connections.

    `server_ports` adds ports (e.g. from `--port`) that mark the server side of a
    connection whose handshake was not captured, before the mail ports and the
    well-known-port rule are tried.
    """

    def __init__(self, server_ports: Iterable[int] = ()) -> None:
        self.server_ports = frozenset(server_ports)
        # Keyed by the two (address, port) pairs in sorted order.
        self._live: dict[tuple[tuple[str, int], tuple[str, int]], _Tracker] = {}
        self._done: list[Connection] = []
        self._count = 0

    def feed(self, seg: TcpSegment) -> None:
        a = (seg.src, seg.sport)
        b = (seg.dst, seg.dport)
        key = (a, b) if a <= b else (b, a)
        tracker = self._live.get(key)
        if tracker is not None and seg.flags & SYN and self._is_new_connection(tracker, seg, a):
            tracker.finish()
            self._done.append(tracker.conn)
            tracker = None
        if tracker is None:
            tracker = _Tracker(self._new_connection(seg, Endpoint(*a), Endpoint(*b)))
            self._live[key] = tracker
        direction = Direction.FROM_CLIENT if a == tracker.client_key else Direction.FROM_SERVER
        tracker.feed(seg, direction)

    def finish(self) -> list[Connection]:
        for tracker in self._live.values():
            tracker.finish()
            self._done.append(tracker.conn)
        self._live.clear()
        return sorted(self._done, key=lambda c: c.index)

    def _is_new_connection(self, tracker: _Tracker, seg: TcpSegment, src: tuple[str, int]) -> bool:
        """A SYN (without ACK) that does not repeat the one already seen starts a new
        connection on the same four-tuple (port reuse, RFC 9293 §3.5)."""
        if not seg.syn or seg.has_ack:
            return False
        conn = tracker.conn
        if not conn.client_stats.syn:
            return True  # a connection seen mid-stream is over once a handshake starts
        if src != tracker.client_key:
            return any(h.closed for h in tracker.half.values())
        client_half = tracker.half[Direction.FROM_CLIENT]
        return client_half.base is not None and client_half.unwrap(seg.seq) + 1 != client_half.base

    def _new_connection(self, seg: TcpSegment, src: Endpoint, dst: Endpoint) -> Connection:
        if seg.syn and not seg.has_ack:
            client, server, reason = src, dst, "syn"
        elif seg.syn:
            client, server, reason = dst, src, "syn-ack"
        else:
            client, server, reason = self._guess_roles(src, dst)
        index = self._count
        self._count += 1
        return Connection(
            index=index,
            client=client,
            server=server,
            start_ns=seg.timestamp_ns,
            end_ns=seg.timestamp_ns,
            first_frame=seg.frame_number,
            last_frame=seg.frame_number,
            mid_stream=not seg.syn,
            role_reason=reason,
        )

    def _guess_roles(self, src: Endpoint, dst: Endpoint) -> tuple[Endpoint, Endpoint, str]:
        for ports in (self.server_ports, MAIL_PORTS):
            if (dst.port in ports) != (src.port in ports):
                return (src, dst, "port") if dst.port in ports else (dst, src, "port")
        if (dst.port < 1024) != (src.port < 1024):
            return (src, dst, "port") if dst.port < 1024 else (dst, src, "port")
        return src, dst, "first-talker"


def reassemble(
    segments: Iterable[TcpSegment], server_ports: Iterable[int] = ()
) -> list[Connection]:
    """Reassemble every TCP connection in a sequence of segments (in capture order)."""
    reassembler = Reassembler(server_ports)
    for seg in segments:
        reassembler.feed(seg)
    return reassembler.finish()
