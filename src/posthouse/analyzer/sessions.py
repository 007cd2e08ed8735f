"""From reassembled connections to dissected sessions: pick the protocol, feed both
directions in capture order to its dissector, hand over to TLS after STARTTLS (or from
the first byte), and to the tunnelled protocol after a SOCKS handshake."""

from __future__ import annotations

from typing import Any

from posthouse.analyzer.detect import PORTS, Detected, detect, detect_bytes
from posthouse.analyzer.dissector import Dissector
from posthouse.analyzer.http import HttpDissector
from posthouse.analyzer.imap import ImapDissector
from posthouse.analyzer.model import CLIENT, SERVER, Session
from posthouse.analyzer.pop3 import Pop3Dissector
from posthouse.analyzer.smtp import SmtpDissector
from posthouse.analyzer.socks import SocksDissector
from posthouse.analyzer.tcp import Closed, Connection, Data, Direction, Gap, Overlap
from posthouse.analyzer.tls_layer import TlsLayer

# RFC 8446 §5.1 content types 20-23 (and 24, heartbeat), or an SSL 2.0 record header.
_TLS_FIRST_BYTES = {bytes([b]) for b in (20, 21, 22, 23, 24, *range(0x80, 0x100))}

# A damaged capture can hold thousands of conflicting retransmissions: name the first.
MAX_OVERLAP_WARNINGS = 20

DISSECTORS: dict[str, type[Dissector]] = {
    "SMTP": SmtpDissector,
    "POP3": Pop3Dissector,
    "IMAP": ImapDissector,
    "HTTP": HttpDissector,
    "SOCKS": SocksDissector,
}


class _Opaque(Dissector):
    """A protocol the analyzer does not know: byte counts only."""

    def feed(self, sender: str, data: bytes, frame: int, time_ns: int) -> None:
        pass

    def finish(self) -> None:
        pass


class SessionBuilder:
    """Builds one Session from one Connection."""

    def __init__(self, conn: Connection, detected: Detected, keylog: Any) -> None:
        self.conn = conn
        self.keylog = keylog
        stats_c, stats_s = conn.client_stats, conn.server_stats
        name = detected.protocol
        if detected.tls and name == "HTTP":
            name = "HTTPS"
        self.session = Session(
            index=conn.index,
            client=str(conn.client),
            server=str(conn.server),
            protocol=name,
            protocol_reason=detected.reason,
            start_ns=conn.start_ns,
            end_ns=conn.end_ns,
            first_frame=conn.first_frame,
            packets=conn.packets,
            bytes_client=stats_c.delivered_bytes,
            bytes_server=stats_s.delivered_bytes,
            mid_stream=conn.mid_stream,
        )
        self.detected = detected
        self.layer: Any = None
        self.inner: Dissector | None = None  # the dissector inside TLS
        # Decrypted bytes held until the protocol inside TLS on an unknown port is known.
        self.waiting: list[tuple[str, bytes, int, int]] = []
        self.sniffing = detected.protocol == "unknown"
        if detected.tls:
            self.layer = TlsLayer(
                self.session, keylog, self._plaintext, "implicit", conn.first_frame
            )
        else:
            self.layer = self._dissector(detected.protocol)

    def _dissector(self, protocol: str, **kw: bool) -> Dissector:
        cls = DISSECTORS.get(protocol)
        if cls is None:
            return _Opaque(self.session)
        return cls(self.session, **kw)

    def _plaintext(self, sender: str, data: bytes, frame: int, ts: int) -> None:
        if self.sniffing:
            # TLS on a port that says nothing: the decrypted greeting tells.
            self.waiting.append((sender, data, frame, ts))
            client = b"".join(d for s, d, _f, _t in self.waiting if s == CLIENT)
            server = b"".join(d for s, d, _f, _t in self.waiting if s == SERVER)
            found = detect_bytes(client[:64], server[:64], 0)
            if found.protocol == "unknown" and len(client) + len(server) < 4096:
                return
            self.sniffing = False
            self.detected = Detected(found.protocol, True, found.reason)
            self.session.protocol = "HTTPS" if found.protocol == "HTTP" else found.protocol
            self.session.protocol_reason += f"; inside TLS: {found.reason}"
            waiting, self.waiting = self.waiting, []
            for item in waiting:
                self._plaintext(*item)
            return
        if self.inner is None:
            after = self.session.tls is not None and self.session.tls.how != "implicit"
            proto = self.detected.protocol
            self.inner = self._dissector(proto, encrypted=True, after_tls=after)
        self.inner.feed(sender, data, frame, ts)

    def run(self) -> Session:
        overlaps = 0
        for event in self.conn.events:
            if isinstance(event, Data):
                sender = CLIENT if event.direction is Direction.FROM_CLIENT else SERVER
                self._feed(sender, event.data, event.frame_number, event.timestamp_ns)
            elif isinstance(event, Gap):
                sender = CLIENT if event.direction is Direction.FROM_CLIENT else SERVER
                self.layer.gap(sender, event.missing_bytes, event.frame_number, event.timestamp_ns)
            elif isinstance(event, Closed):
                sender = CLIENT if event.direction is Direction.FROM_CLIENT else SERVER
                self.layer.close(sender, event.frame_number, event.timestamp_ns)
            elif isinstance(event, Overlap):
                overlaps += 1
                if overlaps <= MAX_OVERLAP_WARNINGS:
                    self.session.warnings.append(
                        f"frame {event.frame_number}: {event.length} retransmitted bytes "
                        "differ from the first copy (the first is kept)"
                    )
        if overlaps > MAX_OVERLAP_WARNINGS:
            self.session.warnings.append(
                f"{overlaps - MAX_OVERLAP_WARNINGS} more retransmissions that differ"
            )
        self.layer.finish()
        if self.sniffing and self.waiting:
            # The capture ended before the protocol inside TLS showed itself.
            self.sniffing = False
            waiting, self.waiting = self.waiting, []
            for item in waiting:
                self._plaintext(*item)
        if self.inner is not None:
            self.inner.finish()
        self.session.lines.sort(key=lambda line: line.frame)
        return self.session

    def _feed(self, sender: str, data: bytes, frame: int, ts: int) -> None:
        layer = self.layer
        if (
            isinstance(layer, TlsLayer)
            and layer.info.how != "implicit"
            and not any(layer.fed.values())
            and data[:1] not in _TLS_FIRST_BYTES
        ):
            # Not a TLS record after STARTTLS: the capture holds the session in the clear
            # (it was decrypted before it was saved).
            layer.info.problems.append(
                "the bytes after STARTTLS are not TLS records: this capture holds the "
                "TLS session already decrypted"
            )
            layer.info.decrypted = True
            layer = self.layer = self._dissector(
                self.detected.protocol, encrypted=True, after_tls=True
            )
        layer.feed(sender, data, frame, ts)
        if isinstance(layer, Dissector) and layer.upgraded:
            self._next_layer(layer, frame)

    def _next_layer(self, old: Dissector, frame: int) -> None:
        if isinstance(old, SocksDissector):
            rest = {s: old.leftover(s) for s in (CLIENT, SERVER)}
            port = old.target[1] if old.target else 0
            found = detect_bytes(rest[CLIENT][0], rest[SERVER][0], port)
            if found.protocol == "unknown" and port in PORTS:
                found = Detected(*PORTS[port], f"port {port} through SOCKS")
            self.detected = found
            self.session.protocol = found.protocol
            self.session.protocol_reason = f"{found.reason}, through SOCKS5"
            if found.tls:
                self.layer = TlsLayer(self.session, self.keylog, self._plaintext, "implicit", frame)
            else:
                self.layer = self._dissector(found.protocol)
        else:
            how = "STLS" if self.detected.protocol == "POP3" else "STARTTLS"
            rest = {s: old.leftover(s) for s in (CLIENT, SERVER)}
            self.layer = TlsLayer(self.session, self.keylog, self._plaintext, how, frame)
        for sender in (CLIENT, SERVER):
            data, f, ts = rest[sender]
            if data:
                self._feed(sender, data, f, ts)


def build_session(conn: Connection, overrides: dict[int, tuple[str, bool]], keylog: Any) -> Session:
    return SessionBuilder(conn, detect(conn, overrides), keylog).run()
