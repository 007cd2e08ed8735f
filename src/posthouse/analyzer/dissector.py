"""What every mail-protocol dissector shares: two byte streams, the session it writes
into, and the hand-over to TLS after STARTTLS/STLS."""

from __future__ import annotations

import base64
import binascii

from posthouse.analyzer.bytestream import ByteStream
from posthouse.analyzer.model import CLIENT, SERVER, Credential, Line, Message, Session

# Bytes held back for one line before it is shown cut: a peer that never sends a line
# end must not make the analyzer buffer without bound.
MAX_LINE = 64 * 1024


class Dissector:
    """Feed both directions in capture order; lines, credentials and messages go into
    `session`. After a successful STARTTLS `upgraded` is set and the bytes not yet
    dissected are handed over with `leftover()`."""

    protocol = "unknown"

    def __init__(self, session: Session, *, encrypted: bool = False, after_tls: bool = False):
        self.session = session
        self.encrypted = encrypted
        self.after_tls = after_tls  # inside TLS that started with STARTTLS: no greeting
        self.streams = {CLIENT: ByteStream(), SERVER: ByteStream()}
        self.upgraded = False
        self.closed = {CLIENT: False, SERVER: False}
        self.server_seen = False

    # -- input ------------------------------------------------------------------------

    def feed(self, sender: str, data: bytes, frame: int, time_ns: int) -> None:
        self.streams[sender].append(data, frame, time_ns)
        if self.upgraded:
            return  # kept for leftover(): the TLS layer takes it from here
        if sender == CLIENT:
            self.client_data()
        else:
            self.server_data()

    def gap(self, sender: str, missing: int, frame: int, time_ns: int) -> None:
        """Bytes the capture does not hold: what was buffered is shown as it is, and
        the dissector resynchronises on the next line."""
        stream = self.streams[sender]
        if stream.buf and not self.upgraded:
            self.flush_partial(sender)
        self.note(frame, time_ns, f"[{missing} bytes missing from the capture]", "gap", sender)
        self.session.gaps += 1
        self.resync(sender)

    def close(self, sender: str, frame: int, time_ns: int) -> None:
        self.closed[sender] = True

    def finish(self) -> None:
        """End of the capture: show what is left in the buffers."""
        if self.upgraded:
            return
        for sender in (CLIENT, SERVER):
            if self.streams[sender].buf:
                self.flush_partial(sender)

    def leftover(self, sender: str) -> tuple[bytes, int, int]:
        stream = self.streams[sender]
        frame, ts = stream.where(0) if stream.buf else (0, 0)
        return stream.take_rest(), frame, ts

    # -- for subclasses -----------------------------------------------------------------

    def client_data(self) -> None:
        raise NotImplementedError

    def server_data(self) -> None:
        raise NotImplementedError

    def resync(self, sender: str) -> None:
        """After a gap: forget the state that depends on the lost bytes."""

    def flush_partial(self, sender: str) -> None:
        stream = self.streams[sender]
        frame, ts = stream.where(0)
        data = stream.take_rest()
        text = data.decode("utf-8", "backslashreplace")
        self.add(Line(frame, ts, sender, text, "incomplete line (no line end)", "data"))

    def add(self, line: Line) -> Line:
        line.encrypted = self.encrypted
        self.session.lines.append(line)
        return line

    def note(
        self, frame: int, time_ns: int, text: str, kind: str = "note", sender: str = ""
    ) -> None:
        self.add(Line(frame, time_ns, sender, text, "", kind))

    def credential(self, cred: Credential) -> Credential:
        cred.encrypted = self.encrypted
        self.session.credentials.append(cred)
        return cred

    def message(self, msg: Message) -> Message:
        msg.encrypted = self.encrypted
        self.session.messages.append(msg)
        return msg

    def stray_tls_record(self, sender: str) -> str:
        """A TLS record where the protocol expects a line (a client that wants implicit
        TLS talking to a plaintext server): shown as one line, not as binary junk.
        Returns "shown", "wait" (the record is incomplete) or "" (not a TLS record)."""
        stream = self.streams[sender]
        buf = stream.buf
        if buf[:1] != b"\x16" or buf[1:2] not in (b"\x03", b""):
            return ""
        if len(buf) < 5:
            return "wait"
        size = 5 + int.from_bytes(buf[3:5], "big")
        if len(buf) < size:
            return "wait"
        frame, ts = stream.where(0)
        kind = "ClientHello" if buf[5:6] == b"\x01" else "handshake"
        stream.consume_drop(min(size, len(buf)))
        self.add(
            Line(
                frame,
                ts,
                sender,
                f"[TLS {kind} record, {size} bytes]",
                "TLS where the other side speaks in the clear: the two disagree "
                "(implicit TLS expected on this port?)",
                "tls",
            )
        )
        return "shown"

    def oversized(self, sender: str) -> bool:
        """A line longer than MAX_LINE is waiting: show it cut, as data."""
        stream = self.streams[sender]
        if len(stream.buf) > MAX_LINE and stream.buf.find(b"\n") < 0:
            self.flush_partial(sender)
            return True
        return False


def b64decode(text: str) -> bytes | None:
    """Strict base64 (RFC 4648 §4), None when the text is not base64."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def shown(data: bytes) -> str:
    """Decoded SASL data as text a person can read (NULs as \\0)."""
    return data.decode("utf-8", "backslashreplace").replace("\0", "\\0")


def split_plain(data: bytes) -> tuple[str, str, str] | None:
    """RFC 4616 §2: [authzid] NUL authcid NUL passwd."""
    parts = data.split(b"\0")
    if len(parts) != 3:
        return None
    a, u, p = (x.decode("utf-8", "backslashreplace") for x in parts)
    return a, u, p
