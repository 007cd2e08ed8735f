"""SQLite backend: a SIGKILL at any moment leaves each accept whole or absent.

A subprocess (crash_worker.py) accepts messages in a loop with several concurrent
writers and prints an acknowledgement after each `await accept(...)` returns.  We
kill it with SIGKILL at varying moments, several times over the same files, then
reopen: every acknowledged accept must be there in full, and nothing may be there
in part.
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from posthouse.store.base import Store
from posthouse.store.sqlite.backend import SQLiteStore
from tests.store.crash_worker import crash_message
from tests.store.sqlite_checks import check_database

WORKER = Path(__file__).with_name("crash_worker.py")


@dataclass(frozen=True)
class Ack:
    n: int
    blob_id: str
    uids: tuple[int, int]
    queue_id: int


def _parse(line: str) -> Ack:
    _, n, blob_id, uid1, uid2, queue_id = line.split()
    return Ack(int(n), blob_id, (int(uid1), int(uid2)), int(queue_id))


def _run_and_kill(
    database: Path, blob_dir: Path, start: int, boxes: tuple[int, int], kill_after: int
) -> list[Ack]:
    """Start a worker, read acknowledgements, SIGKILL it; return what it acknowledged."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(database), str(blob_dir), str(start), *map(str, boxes)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    assert proc.stdout is not None
    acks: list[Ack] = []
    buffer = b""
    deadline = time.monotonic() + 60
    try:
        while len(acks) < kill_after:
            assert time.monotonic() < deadline, "worker too slow"
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if not ready:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, proc.stderr.read() if proc.stderr else "worker exited"
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            acks.extend(_parse(line.decode()) for line in lines if line.startswith(b"ok "))
        # Kill at a random moment in the middle of the next writes and fsyncs.
        time.sleep(random.uniform(0, 0.02))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # Lines written before the kill but not yet read were acknowledged too.
    rest = buffer + proc.stdout.read()
    acks.extend(_parse(line.decode()) for line in rest.split(b"\n") if line.startswith(b"ok "))
    proc.stdout.close()
    if proc.stderr is not None:
        proc.stderr.close()
    return acks


async def _setup(database: Path, blob_dir: Path) -> tuple[int, int]:
    store = await SQLiteStore.open(database, blob_dir)
    try:
        await store.add_domain("example.org")
        boxes = []
        for address in ("alice@example.org", "bob@example.org"):
            user = await store.add_user(address, "h")
            inbox = await store.get_mailbox(user.id, "INBOX")
            assert inbox is not None
            boxes.append(inbox.id)
        return boxes[0], boxes[1]
    finally:
        await store.close()


async def _verify(store: Store, boxes: tuple[int, int], acks: list[Ack]) -> None:
    for ack in acks:
        raw = crash_message(ack.n)
        for box, uid in zip(boxes, ack.uids, strict=True):
            record = await store.get_message(box, uid)
            assert record is not None, f"acknowledged accept {ack.n} lost"
            assert record.blob_id == ack.blob_id
            assert record.size == len(raw)
        entry = await store.get_queue_entry(ack.queue_id)
        assert entry is not None
        assert entry.blob_id == ack.blob_id
        assert await store.read_message(ack.blob_id) == raw


def _all_or_nothing(database: Path) -> int:
    """Every stored blob has both copies and its queue entry; returns how many."""
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute(
            "SELECT b.id, (SELECT count(*) FROM messages m WHERE m.blob_id = b.id),"
            " (SELECT count(*) FROM queue q WHERE q.blob_id = b.id) FROM blobs b"
        ).fetchall()
    finally:
        conn.close()
    partial = [row for row in rows if row[1:] != (2, 1)]
    assert partial == [], f"partial accepts: {partial[:5]}"
    return len(rows)


async def test_sigkill_keeps_every_acknowledged_accept(tmp_path: Path) -> None:
    database, blob_dir = tmp_path / "posthouse.sqlite", tmp_path / "blobs"
    boxes = await _setup(database, blob_dir)
    acks: list[Ack] = []
    kill_points = (1, 25, 60, 120, 3, 200, 40, 90)
    for round_, kill_after in enumerate(kill_points):
        acks += _run_and_kill(database, blob_dir, round_ * 1_000_000, boxes, kill_after)
        # Sound after every crash, not only the last.
        check_database(database, blob_dir)
    assert len(acks) >= sum(kill_points)
    stored = _all_or_nothing(database)
    assert stored >= len(acks)  # more if an accept committed but was not acknowledged

    store = await SQLiteStore.open(database, blob_dir)
    try:
        await _verify(store, boxes, acks)
        # And the store keeps working after the crashes.
        result = await store.append(boxes[0], crash_message(1))
        assert result.uid > max(ack.uids[0] for ack in acks)
    finally:
        await store.close()
    check_database(database, blob_dir)
