"""Capturing loopback traffic in tests with dumpcap (or tshark), as `posthouse capture`
does."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from posthouse.analyze_cli import capture_command, capture_program


def missing_reason() -> str | None:
    if capture_program() is None:
        return "neither dumpcap nor tshark is installed (Debian package tshark)"
    return None


@contextmanager
def capturing(path: Path, ports: list[int]) -> Iterator[Path]:
    """Capture the given TCP ports on loopback into `path` while the block runs."""
    program = capture_program()
    assert program is not None
    proc = subprocess.Popen(
        capture_command(program[0], tuple(ports), str(path), "lo"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # dumpcap writes the section header once the interface is open.
        deadline = time.monotonic() + 20
        while not (path.exists() and path.stat().st_size > 0):
            if proc.poll() is not None:
                raise RuntimeError(f"capture failed: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise RuntimeError("capture did not start")
            time.sleep(0.05)
        time.sleep(1.0)  # the file appears a little before packets are taken
        yield path
        time.sleep(0.5)  # let the last packets reach the file
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
