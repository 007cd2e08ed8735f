"""Message bodies too large to keep inline: one file per blob under blob_dir.

Messages up to INLINE_MAX bytes live in the `blobs` table: the WAL fsync that
commits the message rows covers their bytes too, and SQLite reads small BLOBs
faster than the filesystem opens files (sqlite.org, "Internal Versus External
BLOBs": the break-even is around 100 KB on most systems; 64 KiB keeps the common
mail inline and the WAL small).

Larger ones are files, sharded by the first two hex digits of the id into 256
directories (created once when the store opens, so no write has to create and
fsync a directory).  A file is written to tmp/, fsync'd, renamed into its shard,
and the shard directory fsync'd — all BEFORE the transaction that references it
commits.  A crash between that rename and the commit leaves an unreferenced file
(garbage, never a dangling reference); `SQLiteStore.sweep_orphan_blobs` removes
those.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from pathlib import Path

INLINE_MAX = 64 * 1024

_BLOB_ID = re.compile(r"[0-9a-f]{32}")


def new_blob_id() -> str:
    # Random, never derived from content: two accepts of the same bytes get two
    # blobs, so freeing one can never race with another being written.
    return uuid.uuid4().hex


def valid_blob_id(blob_id: str) -> bool:
    return _BLOB_ID.fullmatch(blob_id) is not None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobFiles:
    """The directory tree that holds the external blobs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"

    def prepare(self, stale_after: float = 3600.0) -> None:
        """Create the tree; remove temp files older than `stale_after` seconds.

        Younger temp files may belong to another process sharing the store.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        created = False
        for name in ["tmp", *(f"{i:02x}" for i in range(256))]:
            shard = self.root / name
            if not shard.is_dir():
                shard.mkdir(exist_ok=True)
                created = True
        if created:
            _fsync_dir(self.root)
        limit = time.time() - stale_after
        for entry in os.scandir(self.tmp):
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < limit:
                    os.unlink(entry.path)

    def path(self, blob_id: str) -> Path:
        if not valid_blob_id(blob_id):
            raise ValueError(f"not a blob id: {blob_id!r}")
        return self.root / blob_id[:2] / blob_id

    def write(self, blob_id: str, data: bytes) -> Path:
        """Write durably: on return the file and its name survive a crash."""
        final = self.path(blob_id)
        temp = self.tmp / f"{blob_id}.tmp"
        try:
            with open(temp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        try:
            _fsync_dir(final.parent)
        except BaseException:
            # Not known to be durable, so it must not be referenced.
            with contextlib.suppress(OSError):
                final.unlink()
            raise
        return final

    def read(self, blob_id: str) -> bytes:
        return self.path(blob_id).read_bytes()

    def unlink(self, blob_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(blob_id).unlink()

    def older_than(self, seconds: float) -> list[str]:
        """Ids of every blob file last modified more than `seconds` ago."""
        limit = time.time() - seconds
        found: list[str] = []
        for i in range(256):
            with os.scandir(self.root / f"{i:02x}") as entries:
                for entry in entries:
                    if not valid_blob_id(entry.name):
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        if entry.stat().st_mtime < limit:
                            found.append(entry.name)
        return found
