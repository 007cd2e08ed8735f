"""Invariants of an SQLite store's files, checked from outside the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def check_database(database: Path, blob_dir: Path) -> None:
    """Assert the database is sound and its bookkeeping agrees with its rows."""
    conn = sqlite3.connect(database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # refs counts every message copy and queue entry that uses the blob.
        wrong_refs = conn.execute(
            "SELECT b.id, b.refs,"
            " (SELECT count(*) FROM messages m WHERE m.blob_id = b.id)"
            " + (SELECT count(*) FROM queue q WHERE q.blob_id = b.id) AS used"
            " FROM blobs b WHERE b.refs <> used OR used = 0"
        ).fetchall()
        assert wrong_refs == []
        wrong_usage = conn.execute(
            "SELECT u.id, u.used_bytes FROM users u WHERE u.used_bytes <>"
            " (SELECT coalesce(sum(m.size), 0) FROM messages m"
            "  JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.user_id = u.id)"
        ).fetchall()
        assert wrong_usage == []
        # Every external blob has its file, of the right size.
        for blob_id, size in conn.execute("SELECT id, size FROM blobs WHERE external"):
            path = blob_dir / blob_id[:2] / blob_id
            assert path.is_file(), f"missing file for blob {blob_id}"
            assert path.stat().st_size == size
        inline = conn.execute(
            "SELECT count(*) FROM blobs WHERE NOT external AND length(data) <> size"
        ).fetchone()[0]
        assert inline == 0
        # UIDs below uidnext, MODSEQs at most highestmodseq.
        bad_mailboxes = conn.execute(
            "SELECT x.id FROM mailboxes x JOIN messages m ON m.mailbox_id = x.id"
            " GROUP BY x.id HAVING max(m.uid) >= x.uidnext OR max(m.modseq) > x.highestmodseq"
        ).fetchall()
        assert bad_mailboxes == []
    finally:
        conn.close()
