"""One capture file in, one Report out: read, reassemble, dissect, summarise."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from posthouse.analyzer import read_connections
from posthouse.analyzer.capture import CaptureReader
from posthouse.analyzer.findings import session_findings
from posthouse.analyzer.messages import summarize, write_eml
from posthouse.analyzer.model import Report
from posthouse.analyzer.packets import IpFragment, TcpSegment, Undecodable, decode_frame
from posthouse.analyzer.sessions import build_session
from posthouse.analyzer.tcp import Connection, Reassembler
from posthouse.analyzer.tls_layer import load_keylog

Progress = Callable[[int, int], None]  # (bytes read so far, file size)


def analyze_file(
    path: str | os.PathLike[str],
    *,
    overrides: dict[int, tuple[str, bool]] | None = None,
    keylog: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Analyze one capture (raises `CaptureError` only for an unreadable file)."""
    overrides = overrides or {}
    if progress is None:
        streams = read_connections(path, overrides.keys())
        connections, fmt, frames = streams.connections, streams.format, streams.frames
        warnings, embedded = list(streams.warnings), streams.tls_key_log
    else:
        connections, fmt, frames, warnings, embedded = _read_with_progress(
            path, overrides, progress
        )
    key = load_keylog(keylog, embedded if embedded.strip() else b"")
    sessions = []
    for conn in connections:
        if not conn.client_stats.delivered_bytes and not conn.server_stats.delivered_bytes:
            continue
        sessions.append(build_session(conn, overrides, key))
    findings = []
    for session in sessions:
        for msg in session.messages:
            summarize(msg)
        findings.extend(session_findings(session))
    start = min((s.start_ns for s in sessions), default=0)
    return Report(str(path), fmt, frames, start, sessions, findings, warnings)


def _read_with_progress(
    path: str | os.PathLike[str], overrides: dict[int, tuple[str, bool]], progress: Progress
) -> tuple[list[Connection], str, int, list[str], bytes]:
    size = os.path.getsize(path)
    reader = CaptureReader(path)
    reassembler = Reassembler(overrides.keys())
    frames = fragments = position = 0
    problems: list[str] = []
    for frame in reader:
        frames += 1
        position += len(frame.data) + 16  # record header and bytes, as in the file
        if frames % 4096 == 0:
            progress(min(position, size), size)
        decoded = decode_frame(frame)
        if isinstance(decoded, TcpSegment):
            reassembler.feed(decoded)
        elif isinstance(decoded, IpFragment):
            fragments += 1
        elif isinstance(decoded, Undecodable):
            problems.append(f"frame {decoded.frame_number}: {decoded.reason}")
    progress(size, size)
    if fragments:
        problems.append(f"{fragments} IP fragments seen and not reassembled")
    parts = [s.data.rstrip(b"\0").rstrip(b"\n") for s in reader.secrets if s.is_tls_key_log]
    embedded = b"\n".join(parts) + (b"\n" if parts else b"")
    return reassembler.finish(), reader.format, frames, reader.warnings + problems, embedded


def write_messages(report: Report, directory: Path) -> int:
    count = 0
    for session in report.sessions:
        for number, msg in enumerate(session.messages, 1):
            write_eml(directory, session.index, number, msg)
            count += 1
    return count
