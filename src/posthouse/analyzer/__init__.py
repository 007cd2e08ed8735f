"""The mail-traffic analyzer: packet capture → TCP streams → dissected sessions.

Parts 1 and 2 live here: `capture` reads pcap and pcapng files, `packets` decodes link,
IP and TCP headers, `tcp` reassembles each connection into ordered events.
`read_connections` chains the three.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from posthouse.analyzer.capture import (
    Capture,
    CaptureError,
    CaptureReader,
    DecryptionSecrets,
    Frame,
    Interface,
    read_capture,
)
from posthouse.analyzer.packets import IpFragment, TcpSegment, Undecodable, decode_frame
from posthouse.analyzer.tcp import (
    Closed,
    Connection,
    Data,
    Direction,
    DirectionStats,
    Endpoint,
    Event,
    Gap,
    Overlap,
    Reassembler,
    reassemble,
)

__all__ = [
    "Capture",
    "CaptureError",
    "CaptureReader",
    "Closed",
    "Connection",
    "Data",
    "DecryptionSecrets",
    "Direction",
    "DirectionStats",
    "Endpoint",
    "Event",
    "Frame",
    "Gap",
    "Interface",
    "IpFragment",
    "Overlap",
    "Reassembler",
    "StreamSet",
    "TcpSegment",
    "Undecodable",
    "decode_frame",
    "read_capture",
    "read_connections",
    "reassemble",
]


@dataclass(frozen=True, slots=True)
class StreamSet:
    """Everything parts 1 and 2 learn from one capture file."""

    format: str  # "pcap" or "pcapng"
    frames: int
    connections: list[Connection]
    secrets: list[DecryptionSecrets]
    fragments: int  # IP fragments seen (not reassembled)
    warnings: list[str]  # file damage and undecodable frames

    @property
    def tls_key_log(self) -> bytes:
        parts = [s.data.rstrip(b"\0").rstrip(b"\n") for s in self.secrets if s.is_tls_key_log]
        return b"\n".join(parts) + (b"\n" if parts else b"")


def read_connections(
    source: bytes | bytearray | memoryview | str | os.PathLike[str],
    server_ports: Iterable[int] = (),
) -> StreamSet:
    """Read a capture and reassemble its TCP connections (raises only `CaptureError`)."""
    reader = CaptureReader(source)
    reassembler = Reassembler(server_ports)
    frames = fragments = 0
    problems: list[str] = []
    for frame in reader:
        frames += 1
        decoded = decode_frame(frame)
        if isinstance(decoded, TcpSegment):
            reassembler.feed(decoded)
        elif isinstance(decoded, IpFragment):
            fragments += 1
        elif isinstance(decoded, Undecodable):
            problems.append(f"frame {decoded.frame_number}: {decoded.reason}")
    if fragments:
        problems.append(f"{fragments} IP fragments seen and not reassembled")
    return StreamSet(
        reader.format,
        frames,
        reassembler.finish(),
        reader.secrets,
        fragments,
        reader.warnings + problems,
    )
