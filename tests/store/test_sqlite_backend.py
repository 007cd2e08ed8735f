"""SQLite backend specifics: group commit, pragmas, blob files, recovery, sharing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest

from posthouse.store.base import (
    AcceptResult,
    LocalDelivery,
    Mailbox,
    NotFound,
    QuotaExceeded,
    StoreError,
)
from posthouse.store.sqlite.backend import SQLiteStore
from posthouse.store.sqlite.blobs import INLINE_MAX
from posthouse.store.sqlite.schema import SCHEMA_VERSION
from tests.store.crash_worker import crash_message
from tests.store.samples import message
from tests.store.sqlite_checks import check_database

KIB = 1024
T = TypeVar("T")


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "posthouse.sqlite", tmp_path / "blobs"


@pytest.fixture
async def sqlite_store(paths: tuple[Path, Path]) -> AsyncIterator[SQLiteStore]:
    store = await SQLiteStore.open(*paths)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def inbox(sqlite_store: SQLiteStore) -> Mailbox:
    await sqlite_store.add_domain("example.org")
    user = await sqlite_store.add_user("alice@example.org", "h")
    mailbox = await sqlite_store.get_mailbox(user.id, "INBOX")
    assert mailbox is not None
    return mailbox


class _HeldWriter:
    """Occupies the writer thread until released, so writes queue up into one batch."""

    def __init__(self, store: SQLiteStore) -> None:
        self.release = threading.Event()
        self.done = asyncio.ensure_future(store._write(lambda conn: self.release.wait(10)))

    async def batch(self, *writes: Awaitable[T]) -> list[T | BaseException]:
        """Submit every write while the writer is held, then let it go."""
        tasks = [asyncio.ensure_future(w) for w in writes]
        await asyncio.sleep(0)  # each task runs up to its submit and waits
        self.release.set()
        await self.done
        return await asyncio.gather(*tasks, return_exceptions=True)


def _count(database: Path, sql: str) -> int:
    conn = sqlite3.connect(database)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


# --- group commit -----------------------------------------------------------------


async def test_group_commit_shares_commits(sqlite_store: SQLiteStore, inbox: Mailbox) -> None:
    commits, operations = sqlite_store.commits, sqlite_store.committed_operations
    await asyncio.gather(
        *(sqlite_store.accept(message(n), [LocalDelivery(inbox.id)]) for n in range(100))
    )
    assert sqlite_store.committed_operations - operations == 100
    # 100 durable accepts, far fewer fsync'd commits.
    assert sqlite_store.commits - commits <= 20


async def test_a_failing_operation_does_not_fail_its_batch(
    sqlite_store: SQLiteStore, inbox: Mailbox
) -> None:
    await sqlite_store.update_user(inbox.user_id, quota_bytes=5 * KIB)
    commits = sqlite_store.commits
    outcomes = await _HeldWriter(sqlite_store).batch(
        sqlite_store.accept(message(1), [LocalDelivery(inbox.id)]),
        sqlite_store.accept(message(2, size=50 * KIB), [LocalDelivery(inbox.id)]),  # too big
        sqlite_store.accept(message(3), [LocalDelivery(inbox.id)]),
        sqlite_store.create_mailbox(inbox.user_id, "INBOX"),  # exists
        sqlite_store.create_mailbox(inbox.user_id, "Work"),
    )
    # The held write, then the five together (or all six in one).
    assert sqlite_store.commits - commits <= 2
    assert isinstance(outcomes[0], AcceptResult)
    assert isinstance(outcomes[1], QuotaExceeded)
    assert isinstance(outcomes[2], AcceptResult)
    assert isinstance(outcomes[3], StoreError)
    assert isinstance(outcomes[4], Mailbox)
    assert [m.uid for m in await sqlite_store.list_messages(inbox.id)] == [1, 2]


async def test_transaction_wide_failure_reruns_the_others(
    sqlite_store: SQLiteStore, inbox: Mailbox
) -> None:
    """If SQLite rolls the whole transaction back (I/O error, disk full), the
    operation that hit it fails and the rest of the batch is run again."""

    def doomed(conn: sqlite3.Connection) -> None:
        conn.execute("ROLLBACK")  # what SQLite itself does on SQLITE_FULL / IOERR
        raise sqlite3.OperationalError("database or disk is full")

    outcomes = await _HeldWriter(sqlite_store).batch(
        sqlite_store.accept(message(1), [LocalDelivery(inbox.id)]),
        sqlite_store._write(doomed),
        sqlite_store.accept(message(2), [LocalDelivery(inbox.id)]),
    )
    assert isinstance(outcomes[0], AcceptResult)
    assert isinstance(outcomes[1], sqlite3.OperationalError)
    assert isinstance(outcomes[2], AcceptResult)
    assert [m.uid for m in await sqlite_store.list_messages(inbox.id)] == [1, 2]


async def test_result_arrives_after_the_commit(
    sqlite_store: SQLiteStore, inbox: Mailbox, paths: tuple[Path, Path]
) -> None:
    await sqlite_store.accept(message(1), [LocalDelivery(inbox.id)])
    # Another connection (as another process would) already sees it.
    assert _count(paths[0], "SELECT count(*) FROM messages") == 1


# --- database settings ---------------------------------------------------------------


async def test_pragmas_and_schema_version(
    sqlite_store: SQLiteStore, paths: tuple[Path, Path]
) -> None:
    writer = sqlite_store._writer.conn
    assert writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert writer.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn = sqlite3.connect(paths[0])
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


async def test_newer_schema_is_refused(paths: tuple[Path, Path]) -> None:
    conn = sqlite3.connect(paths[0])
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError):
        await SQLiteStore.open(*paths)


async def test_reopen_keeps_schema_and_data(paths: tuple[Path, Path]) -> None:
    store = await SQLiteStore.open(*paths)
    await store.add_domain("example.org")
    await store.close()
    store = await SQLiteStore.open(*paths)
    try:
        assert [d.name for d in await store.list_domains()] == ["example.org"]
    finally:
        await store.close()


async def test_internal_date_keeps_its_zone(sqlite_store: SQLiteStore, inbox: Mailbox) -> None:
    zone = timezone(timedelta(hours=5, minutes=30))
    when = datetime(2022, 2, 3, 4, 5, 6, 789000, tzinfo=zone)
    appended = await sqlite_store.append(inbox.id, message(1), internal_date=when)
    got = await sqlite_store.get_message(inbox.id, appended.uid)
    assert got is not None
    assert got.internal_date == when
    assert got.internal_date.utcoffset() == timedelta(hours=5, minutes=30)


# --- blobs ------------------------------------------------------------------------


async def test_small_blobs_inline_large_ones_files(
    sqlite_store: SQLiteStore, inbox: Mailbox, paths: tuple[Path, Path]
) -> None:
    blob_dir = paths[1]
    small = await sqlite_store.append(inbox.id, message(1, size=INLINE_MAX - 100))
    large = await sqlite_store.append(inbox.id, message(2, size=INLINE_MAX + 100))
    assert small.size <= INLINE_MAX < large.size
    assert not (blob_dir / small.blob_id[:2] / small.blob_id).exists()
    large_file = blob_dir / large.blob_id[:2] / large.blob_id
    assert large_file.read_bytes() == message(2, size=INLINE_MAX + 100)
    assert list((blob_dir / "tmp").iterdir()) == []

    await sqlite_store.expunge(inbox.id, [large.uid])
    assert not large_file.exists()  # unlinked right after the commit
    await sqlite_store.expunge(inbox.id, [small.uid])  # next commit forgets the trash row
    assert _count(paths[0], "SELECT count(*) FROM blob_trash") == 0
    check_database(*paths)


async def test_trash_left_by_a_crash_is_finished_on_open(paths: tuple[Path, Path]) -> None:
    database, blob_dir = paths
    store = await SQLiteStore.open(database, blob_dir)
    await store.close()
    # A crash after the commit that freed the blob, before its file was unlinked.
    stray = blob_dir / "ab" / ("ab" + "0" * 30)
    stray.write_bytes(b"old message")
    conn = sqlite3.connect(database)
    conn.execute("INSERT INTO blob_trash (id) VALUES (?)", (stray.name,))
    conn.commit()
    conn.close()
    store = await SQLiteStore.open(database, blob_dir)
    await store.close()
    assert not stray.exists()
    assert _count(database, "SELECT count(*) FROM blob_trash") == 0


async def test_sweep_orphan_blobs(
    sqlite_store: SQLiteStore, inbox: Mailbox, paths: tuple[Path, Path]
) -> None:
    blob_dir = paths[1]
    kept = await sqlite_store.append(inbox.id, message(1, size=100 * KIB))
    kept_file = blob_dir / kept.blob_id[:2] / kept.blob_id
    old_orphan = blob_dir / "cd" / ("cd" + "1" * 30)
    young_orphan = blob_dir / "ef" / ("ef" + "2" * 30)
    for path in (old_orphan, young_orphan):
        path.write_bytes(b"written, then the process died before the commit")
    two_hours_ago = time.time() - 7200
    os.utime(old_orphan, (two_hours_ago, two_hours_ago))
    os.utime(kept_file, (two_hours_ago, two_hours_ago))
    assert await sqlite_store.sweep_orphan_blobs() == 1
    assert not old_orphan.exists()
    assert young_orphan.exists()  # may belong to a writer about to commit
    assert await sqlite_store.read_message(kept.blob_id) == message(1, size=100 * KIB)


async def test_stale_temp_files_are_removed_on_open(paths: tuple[Path, Path]) -> None:
    database, blob_dir = paths
    store = await SQLiteStore.open(database, blob_dir)
    await store.close()
    stale, fresh = blob_dir / "tmp" / "a.tmp", blob_dir / "tmp" / "b.tmp"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    store = await SQLiteStore.open(database, blob_dir)
    await store.close()
    assert not stale.exists()
    assert fresh.exists()


async def test_blob_ids_cannot_escape_the_blob_dir(sqlite_store: SQLiteStore) -> None:
    for bad in ("../posthouse.sqlite", "/etc/passwd", "AB" * 16, ""):
        with pytest.raises(NotFound):
            await sqlite_store.read_message(bad)


# --- lifecycle ---------------------------------------------------------------------


async def test_close_finishes_submitted_writes(paths: tuple[Path, Path]) -> None:
    store = await SQLiteStore.open(*paths)
    await store.add_domain("example.org")
    user = await store.add_user("alice@example.org", "h")
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    tasks = [
        asyncio.create_task(store.accept(message(n), [LocalDelivery(inbox.id)])) for n in range(50)
    ]
    await asyncio.sleep(0)  # every task has submitted its write
    await store.close()
    results = await asyncio.gather(*tasks)
    assert len({r.messages[0].uid for r in results}) == 50
    with pytest.raises(StoreError):
        await store.accept(message(99), [LocalDelivery(inbox.id)])
    with pytest.raises(StoreError):
        await store.list_messages(inbox.id)
    await store.close()  # twice is fine
    check_database(*paths)
    assert _count(paths[0], "SELECT count(*) FROM messages") == 50


async def test_cancelled_writer_leaves_a_consistent_store(
    sqlite_store: SQLiteStore, inbox: Mailbox, paths: tuple[Path, Path]
) -> None:
    tasks = [
        asyncio.create_task(
            sqlite_store.accept(message(n, size=100 * KIB * (n % 2)), [LocalDelivery(inbox.id)])
        )
        for n in range(20)
    ]
    await asyncio.sleep(0)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Drain: a write submitted after them commits after them.
    await sqlite_store.create_mailbox(inbox.user_id, "After")
    # Cancelled or not, each accept is whole: message, blob and file agree.
    check_database(*paths)
    for record in await sqlite_store.list_messages(inbox.id):
        assert await sqlite_store.read_message(record.blob_id)


# --- sharing the files ------------------------------------------------------------------


async def test_two_stores_on_the_same_files(paths: tuple[Path, Path]) -> None:
    first = await SQLiteStore.open(*paths)
    second = await SQLiteStore.open(*paths)
    try:
        await first.add_domain("example.org")
        user = await second.add_user("alice@example.org", "h")  # sees first's domain
        inbox = await first.get_mailbox(user.id, "INBOX")
        assert inbox is not None
        results = await asyncio.gather(
            *(
                (first if n % 2 else second).accept(
                    message(n, size=(n % 5) * 30 * KIB), [LocalDelivery(inbox.id)]
                )
                for n in range(100)
            )
        )
        uids = sorted(r.messages[0].uid for r in results)
        assert uids == list(range(1, 101))
        for store in (first, second):
            assert [m.uid for m in await store.list_messages(inbox.id)] == uids
    finally:
        await first.close()
        await second.close()
    check_database(*paths)


async def test_another_process_writing_at_the_same_time(paths: tuple[Path, Path]) -> None:
    database, blob_dir = paths
    store = await SQLiteStore.open(database, blob_dir)
    try:
        await store.add_domain("example.org")
        boxes = []
        for address in ("alice@example.org", "bob@example.org"):
            user = await store.add_user(address, "h")
            inbox = await store.get_mailbox(user.id, "INBOX")
            assert inbox is not None
            boxes.append(inbox.id)
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).with_name("crash_worker.py")),
            str(database),
            str(blob_dir),
            "0",
            str(boxes[0]),
            str(boxes[1]),
            "150",
            stdout=subprocess.PIPE,
        )
        mine = await asyncio.gather(
            *(store.accept(crash_message(n), [LocalDelivery(boxes[0])]) for n in range(150))
        )
        output, _ = await worker.communicate()
        assert worker.returncode == 0
        theirs = [line for line in output.decode().splitlines() if line.startswith("ok ")]
        assert len(theirs) == 150
        uids = [m.uid for m in await store.list_messages(boxes[0])]
        assert len(uids) == 300
        assert (
            sorted({r.messages[0].uid for r in mine} | {int(t.split()[3]) for t in theirs}) == uids
        )
    finally:
        await store.close()
    check_database(database, blob_dir)


async def test_blobs_stored_before_version_7_are_looked_at_when_read(
    sqlite_store: SQLiteStore, inbox: Mailbox, paths: tuple[Path, Path]
) -> None:
    safe = await sqlite_store.accept(message(1), [LocalDelivery(inbox.id)])
    dotted = await sqlite_store.accept(b"S: x\r\n\r\n.dot\r\n", [LocalDelivery(inbox.id)])
    conn = sqlite3.connect(paths[0])
    with conn:
        conn.execute("UPDATE blobs SET dot_safe = NULL")  # as the version 7 migration leaves them
    conn.close()
    found = await sqlite_store.read_messages_framed([safe.blob_id, dotted.blob_id])
    assert found[safe.blob_id][1] is True
    assert found[dotted.blob_id][1] is False
