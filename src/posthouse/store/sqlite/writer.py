"""The single writer thread: group commit over one SQLite connection.

Every write operation is a function `fn(conn) -> result` submitted from the event
loop.  The writer thread takes everything that is waiting in the queue, runs it in
ONE transaction — each operation inside its own SAVEPOINT, so an operation that
raises is rolled back alone and the others still commit — and then issues ONE
COMMIT.  With `journal_mode=WAL` and `synchronous=FULL` that commit is one fsync of
the WAL for the whole batch.  Only after COMMIT has returned are the waiting
futures resolved (via `loop.call_soon_threadsafe`), so a coroutine that sees its
result knows its change is on stable storage (DESIGN.md principle 3).

While one batch is being fsync'd, new operations pile up in the queue and form the
next batch: the busier the store, the more writers share each fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posthouse.store.base import StoreError

log = logging.getLogger(__name__)

# An upper bound on one transaction, so a flood of writers still sees commits at a
# steady pace and one batch's rollback (on a transaction-wide error) stays small.
MAX_BATCH = 256


@dataclass(slots=True, eq=False)
class WriteOp:
    fn: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    # Blob files written (and fsync'd) for this operation before it was submitted;
    # unlinked again if the operation does not commit.
    files: tuple[Path, ...] = ()


@dataclass(slots=True)
class _Outcome:
    op: WriteOp
    ok: bool
    value: Any


def _settle(outcomes: list[_Outcome]) -> None:
    """Runs on the event loop: hand every waiting coroutine its own result."""
    for outcome in outcomes:
        future = outcome.op.future
        if future.done():  # the awaiting coroutine was cancelled
            continue
        if outcome.ok:
            future.set_result(outcome.value)
        else:
            future.set_exception(outcome.value)


def _unlink(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            # Left behind, it is only garbage: sweep_orphan_blobs finds it later.
            log.warning("cannot remove blob file %s", path, exc_info=True)


@dataclass(eq=False)
class Writer:
    """Owns the write connection and the thread that uses it."""

    conn: sqlite3.Connection
    # Maps a blob id from `blob_trash` to its file, to unlink after a commit.
    blob_path: Callable[[str], Path]
    # A file every process writing this database locks around its transactions.
    lock_path: Path | None = None
    commits: int = 0
    batches_ops: int = 0
    _queue: queue.SimpleQueue[WriteOp | None] = field(default_factory=queue.SimpleQueue)
    _thread: threading.Thread | None = None
    _stopping: bool = False
    # Trash rows whose files are already unlinked; deleted in the next transaction.
    _trash_done: set[str] = field(default_factory=set)
    _lock_fd: int | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="posthouse-store-writer", daemon=True
        )
        self._thread.start()

    def submit(self, op: WriteOp) -> None:
        if self._stopping:
            raise StoreError("store is closed")
        self._queue.put(op)

    def stop(self) -> None:
        """Ask the thread to finish what is queued, then exit (join separately)."""
        if not self._stopping:
            self._stopping = True
            self._queue.put(None)

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    # --- the thread -----------------------------------------------------------

    def _run(self) -> None:
        try:
            stop = False
            while not stop:
                first = self._queue.get()
                batch: list[WriteOp] = []
                if first is None:
                    stop = True
                else:
                    batch.append(first)
                stop = self._drain(batch, stop)
                if batch:
                    with self._write_lock():
                        # What arrived while another process held the lock joins
                        # this commit too.
                        stop = self._drain(batch, stop)
                        self._run_batch_guarded(batch)
            if self._trash_done:
                self._forget_trash_in_own_transaction()
        finally:
            self.conn.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)

    def _drain(self, batch: list[WriteOp], stop: bool) -> bool:
        while not stop and len(batch) < MAX_BATCH:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                break
            if op is None:
                stop = True
            else:
                batch.append(op)
        return stop

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Serialise writers of several processes (worker processes share one
        database) with a blocking flock: the kernel hands the lock over the moment
        it is released, where SQLite's busy handler would poll with sleeps of up to
        100 ms, and each process's batch grows while it waits (group commit across
        processes)."""
        if self.lock_path is None:
            yield
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _run_batch_guarded(self, batch: list[WriteOp]) -> None:
        try:
            self._run_batch(batch)
        except Exception as exc:
            # A bug here must not leave coroutines waiting forever (or the thread
            # dead).  Futures already settled keep their result: _settle skips them.
            log.exception("store writer failed")
            with contextlib.suppress(sqlite3.Error):
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
            error = StoreError(f"store writer failed: {exc}")
            error.__cause__ = exc
            # Whether the batch committed is unknown, so its blob files stay (at
            # worst as orphans for sweep_orphan_blobs, never as dangling references).
            self._deliver([_Outcome(op, False, error) for op in batch], unlink_failed=False)

    def _run_batch(self, batch: list[WriteOp]) -> None:
        pending = list(batch)
        failed: list[_Outcome] = []
        while pending:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                error = StoreError(f"cannot start a write transaction: {exc}")
                error.__cause__ = exc
                self._deliver(failed + [_Outcome(op, False, error) for op in pending])
                return
            self._forget_trash()
            outcomes, culprit = self._run_ops(pending)
            if culprit is not None:
                # SQLite rolled the whole transaction back (I/O error, disk full…):
                # the culprit fails; every other operation is run again afresh.
                failed.append(culprit)
                pending = [op for op in pending if op is not culprit.op]
                if self.conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self.conn.execute("ROLLBACK")
                continue
            try:
                trash = [row[0] for row in self.conn.execute("SELECT id FROM blob_trash")]
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                error = StoreError(f"commit failed: {exc}")
                error.__cause__ = exc
                self._deliver(failed)
                # A commit that failed in its fsync may still come back from the WAL
                # after a crash, so the blob files of its operations stay (as
                # orphans at worst, never as dangling references).
                self._deliver([_Outcome(o.op, False, error) for o in outcomes], unlink_failed=False)
                return
            self.commits += 1
            self.batches_ops += len(outcomes)
            # Files of blobs nothing references any more go only after the commit
            # that dropped the last reference is durable (and before the callers
            # hear back, so an expunge that returned has freed the disk).  A crash
            # in between leaves the trash rows, which the next commit (at the latest
            # the first one after the next open) collects again.
            _unlink(self.blob_path(blob_id) for blob_id in trash)
            self._trash_done.update(trash)
            self._deliver(failed + outcomes)
            return
        self._deliver(failed)

    def _run_ops(self, ops: list[WriteOp]) -> tuple[list[_Outcome], _Outcome | None]:
        conn = self.conn
        outcomes: list[_Outcome] = []
        for op in ops:
            try:
                conn.execute("SAVEPOINT op")
            except sqlite3.Error as exc:
                return outcomes, _Outcome(op, False, exc)
            try:
                value = op.fn(conn)
            except Exception as exc:
                if not conn.in_transaction:
                    return outcomes, _Outcome(op, False, exc)
                try:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                except sqlite3.Error:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    return outcomes, _Outcome(op, False, exc)
                outcomes.append(_Outcome(op, False, exc))
            else:
                conn.execute("RELEASE op")
                outcomes.append(_Outcome(op, True, value))
        return outcomes, None

    def _deliver(self, outcomes: list[_Outcome], *, unlink_failed: bool = True) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in outcomes:
            if not outcome.ok and unlink_failed:
                _unlink(outcome.op.files)
            by_loop.setdefault(outcome.op.loop, []).append(outcome)
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, items)
            except RuntimeError:  # that loop is closed; nobody is waiting any more
                log.debug("dropping %d results for a closed event loop", len(items))

    def _forget_trash(self) -> None:
        if self._trash_done:
            self.conn.executemany(
                "DELETE FROM blob_trash WHERE id = ?", [(i,) for i in self._trash_done]
            )
            # If this transaction does not commit, the rows stay and a later commit
            # collects them again (their files are gone already: harmless).
            self._trash_done.clear()

    def _forget_trash_in_own_transaction(self) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self._forget_trash()
            self.conn.execute("COMMIT")
        except sqlite3.Error:
            # The rows stay; the next open collects them again (harmless).
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
