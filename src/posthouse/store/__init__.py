"""Storage: the interface (base) and its backends."""

from __future__ import annotations

from pathlib import Path

from posthouse.store.base import Store


async def open_store(database: Path, blob_dir: Path) -> Store:
    """Open (creating if needed) the embedded SQLite + files store."""
    from posthouse.store.sqlite.backend import SQLiteStore

    return await SQLiteStore.open(database, blob_dir)
