"""Message summaries and the FTS5 index (schema version 2): list, sort, thread, search.

`SummaryIndex` is mixed into `SQLiteStore`; it uses the store's read connection
(`_rows`, `_row`) and its writer (`_write`).  The transaction body that stores a
summary, `insert_summary`, is called from the accept transaction so a message and
its header summary are committed together.

Reading a message's text (preview, attachments, the full-text index) costs more
than the rest of accepting it, so it is not done on that path (schema version 6):
`index_pending` does it in batches, from a task that waits until no message has been
stored for a moment, and before every search, so a search always sees every message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from posthouse.store.base import MessageSummary, SortKey, SpecialUse, SummaryPage
from posthouse.store.sqlite.schema import set_sort_keys
from posthouse.store.sqlite.values import SEEN, from_us, from_us_tz, parse_flags
from posthouse.store.summary import Summary, summarize_headers_safely, summarize_safely

# Summaries of messages larger than this are computed off the event loop.
_INLINE_SUMMARY_MAX = 256 * 1024
_BACKFILL_BATCH = 200
_INDEX_BATCH = 100  # messages whose text one indexing transaction reads
_QUIET = 0.5  # seconds without a stored message before the text is indexed
_MAX_BACKLOG = 20_000  # index even under load beyond this many pending messages
_THREAD_CHUNK = 500  # messages read at a time while looking for a page of threads
_MAX_UID = 2**32 - 1

_COLS = (
    "m.id, m.mailbox_id, m.uid, m.modseq, m.flags, m.internal_date, m.internal_tz, m.size,"
    " m.blob_id, s.from_name, s.from_addr, s.to_addrs, s.to_text, s.subject, s.date,"
    " s.message_id, s.in_reply_to, s.refs, s.thread_key, s.has_attachment, s.preview"
)
_JOIN = "messages AS m LEFT JOIN summaries AS s ON s.blob_id = m.blob_id"
_NOT_SEEN = f"instr(m.flags, ' {SEEN} ') = 0"
_ORDER: dict[SortKey, str] = {
    SortKey.ARRIVAL: "m.uid",
    # The date the message arrived (IMAP's internal date), as big webmails sort: it
    # is indexed, and a sender cannot put a message on top with a Date in the future.
    SortKey.DATE: "m.internal_date",
    # Copies of each summary's sort keys, indexed per mailbox (schema version 5).
    SortKey.FROM: "m.sort_from",
    SortKey.SUBJECT: "m.sort_subject",
    SortKey.SIZE: "m.size",
}
_FIELD_PREFIX = {"from": "sender", "to": "recipients", "subject": "subject", "body": "body"}
_WORD = re.compile(r"\w+", re.UNICODE)


def summary_values(summary: Summary) -> tuple[Any, ...]:
    """Column values of a summary row (after blob_id), then the FTS columns."""
    return (
        summary.from_name,
        summary.from_addr,
        json.dumps(list(summary.to_addrs)),
        summary.to_text,
        summary.subject,
        summary.date,
        summary.message_id,
        summary.in_reply_to,
        " ".join(summary.references),
        summary.thread_key,
        int(summary.has_attachment),
        summary.preview,
        f"{summary.from_name} {summary.from_addr}",
        f"{summary.to_text} {' '.join(summary.to_addrs)}",
        summary.subject,
        summary.body_text,
    )


def insert_summary(conn: sqlite3.Connection, blob_id: str, values: tuple[Any, ...]) -> None:
    """Store a blob's summary, once per blob: with its text indexed when `values`
    carries the FTS columns, else marked for `index_pending`."""
    indexed = int(len(values) > 12)
    cur = conn.execute(
        "INSERT OR IGNORE INTO summaries (blob_id, from_name, from_addr, to_addrs, to_text,"
        " subject, date, message_id, in_reply_to, refs, thread_key, has_attachment, preview,"
        " indexed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (blob_id, *values[:12], indexed),
    )
    if cur.rowcount and indexed:
        conn.execute(
            "INSERT INTO message_text (rowid, sender, recipients, subject, body)"
            " VALUES (?, ?, ?, ?, ?)",
            (cur.lastrowid, *values[12:]),
        )


def _tx_add_summaries(conn: sqlite3.Connection, items: list[tuple[str, tuple[Any, ...]]]) -> int:
    added = 0
    for blob_id, values in items:
        # The blob may have gone since it was read: never leave an orphan summary.
        if conn.execute("SELECT 1 FROM blobs WHERE id = ?", (blob_id,)).fetchone():
            insert_summary(conn, blob_id, values)
            set_sort_keys(conn, blob_id)
            added += 1
    return added


def _tx_index(conn: sqlite3.Connection, items: list[tuple[str, tuple[Any, ...]]]) -> int:
    """Fill in preview and attachments and index the text of pending summaries."""
    done = 0
    for blob_id, values in items:
        row = conn.execute(
            "UPDATE summaries SET has_attachment = ?, preview = ?, indexed = 1"
            " WHERE blob_id = ? AND indexed = 0 RETURNING rowid",
            (values[10], values[11], blob_id),
        ).fetchone()
        if row is not None:  # not done meanwhile by another process
            conn.execute(
                "INSERT INTO message_text (rowid, sender, recipients, subject, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (row[0], *values[12:]),
            )
            done += 1
    return done


async def compute_summary(raw: bytes) -> tuple[Any, ...]:
    """Everything: the summary with the FTS columns (back-fill, index_pending)."""
    if len(raw) > _INLINE_SUMMARY_MAX:
        summary = await asyncio.to_thread(summarize_safely, raw)
    else:
        summary = summarize_safely(raw)
    return summary_values(summary)


def header_summary(raw: bytes) -> tuple[Any, ...]:
    """The accept path's summary: the header block only (12 columns, no FTS)."""
    return summary_values(summarize_headers_safely(raw))[:12]


def _summary(row: Sequence[Any], thread_size: int = 1) -> MessageSummary:
    from posthouse.store.base import MessageRecord

    record = MessageRecord(
        id=row[0],
        mailbox_id=row[1],
        uid=row[2],
        modseq=row[3],
        flags=parse_flags(row[4]),
        internal_date=from_us_tz(row[5], row[6]),
        size=row[7],
        blob_id=row[8],
    )
    if row[9] is None:  # no summary (yet): the record alone
        return MessageSummary(record, "", "", (), "", "", None, "", "", (), "", False, "", 1)
    return MessageSummary(
        record=record,
        from_name=row[9],
        from_addr=row[10],
        to_addrs=tuple(json.loads(row[11])),
        to_text=row[12],
        subject=row[13],
        date=from_us(row[14]) if row[14] else None,
        message_id=row[15],
        in_reply_to=row[16],
        references=tuple(row[17].split()),
        thread_key=row[18],
        has_attachment=bool(row[19]),
        preview=row[20],
        thread_size=thread_size,
    )


def fts_query(text: str) -> str | None:
    """A user's search words as an FTS5 query: every word must match, as a prefix;
    `from:`, `to:`, `subject:` and `body:` limit a word to one field.  Words are
    quoted, so nothing the user types is read as FTS5 syntax."""
    terms: list[str] = []
    for token in text.split():
        column = None
        field, sep, rest = token.partition(":")
        if sep and field.lower() in _FIELD_PREFIX:
            column, token = _FIELD_PREFIX[field.lower()], rest
        for word in _WORD.findall(token):
            quoted = '"' + word.replace('"', '""') + '"*'
            terms.append(f"{column} : {quoted}" if column else quoted)
    return " AND ".join(terms) if terms else None


class SummaryIndex:
    """The MessageIndex methods of SQLiteStore."""

    # Provided by SQLiteStore.
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        raise NotImplementedError

    async def _write(self, fn: Any) -> Any:
        raise NotImplementedError

    async def read_message(self, blob_id: str) -> bytes:
        raise NotImplementedError

    async def list_summaries(
        self,
        mailbox_id: int,
        *,
        offset: int = 0,
        limit: int = 50,
        sort: SortKey = SortKey.ARRIVAL,
        descending: bool = True,
        threads: bool = False,
        unseen_only: bool = False,
    ) -> SummaryPage:
        offset, limit = max(0, int(offset)), max(0, int(limit))
        if threads:
            return self._thread_page(mailbox_id, offset, limit, unseen_only)
        direction = "DESC" if descending else "ASC"
        # Unread messages are found through the partial index of unread messages
        # (schema version 3); without INDEXED BY the planner may walk another index
        # and read every row.
        source = "messages AS m INDEXED BY messages_unseen" if unseen_only else "messages AS m"
        where = "m.mailbox_id = ?" + (f" AND {_NOT_SEEN}" if unseen_only else "")
        # The count needs no summary: an index of messages answers it.
        total_row = self._row(f"SELECT count(*) FROM {source} WHERE {where}", (mailbox_id,))
        order = _ORDER[SortKey(sort)]
        tiebreak = "" if sort is SortKey.ARRIVAL else f", m.uid {direction}"
        if unseen_only and sort is not SortKey.ARRIVAL:
            source = "messages AS m"
        rows = self._rows(
            f"SELECT {_COLS} FROM {source} LEFT JOIN summaries AS s ON s.blob_id = m.blob_id"
            f" WHERE {where} ORDER BY {order} {direction}{tiebreak} LIMIT ? OFFSET ?",
            (mailbox_id, limit, offset),
        )
        total = int(total_row[0]) if total_row else 0
        return SummaryPage(total=total, items=tuple(_summary(row) for row in rows))

    def _thread_page(
        self, mailbox_id: int, offset: int, limit: int, unseen_only: bool
    ) -> SummaryPage:
        """One item per thread, newest thread first.  Messages are walked newest
        first only until the page's threads are found, so the first pages of a huge
        folder cost as little as a plain page; `total` is exact once the walk has
        reached the oldest message, a lower bound (with `more`) before."""
        key = "coalesce(nullif(s.thread_key, ''), 'uid:' || m.uid)"
        where = "m.mailbox_id = ?" + (f" AND {_NOT_SEEN}" if unseen_only else "")
        newest: dict[str, int] = {}  # thread key -> its newest uid, in page order
        wanted = offset + limit + 1
        last_uid = _MAX_UID + 1
        done = False
        while len(newest) < wanted:
            chunk = self._rows(
                f"SELECT m.uid, {key} FROM messages AS m"
                " LEFT JOIN summaries AS s ON s.blob_id = m.blob_id"
                f" WHERE {where} AND m.uid < ? ORDER BY m.uid DESC LIMIT ?",
                (mailbox_id, last_uid, _THREAD_CHUNK),
            )
            for uid, thread in chunk:
                newest.setdefault(thread, uid)
            if len(chunk) < _THREAD_CHUNK:
                done = True
                break
            last_uid = chunk[-1][0]
        keys = list(newest)[offset : offset + limit]
        more = len(newest) > offset + limit
        uids = [newest[k] for k in keys]
        rows = {
            row[2]: row
            for row in self._rows(
                f"SELECT {_COLS} FROM {_JOIN} WHERE m.mailbox_id = ?"
                " AND m.uid IN (SELECT value FROM json_each(?))",
                (mailbox_id, json.dumps(uids)),
            )
        }
        real_keys = [k for k in keys if not k.startswith("uid:")]
        sizes = dict(
            self._rows(
                # CROSS JOIN keeps this order: the threads' summaries by their index,
                # then their messages by blob; never every message of the folder.
                "SELECT s.thread_key, count(*) FROM summaries AS s"
                " CROSS JOIN messages AS m INDEXED BY messages_blob ON m.blob_id = s.blob_id"
                f" WHERE {where} AND s.thread_key IN (SELECT value FROM json_each(?))"
                " GROUP BY s.thread_key",
                (mailbox_id, json.dumps(real_keys)),
            )
        )
        items = tuple(
            _summary(rows[uid], int(sizes.get(k, 1))) for k, uid in zip(keys, uids, strict=True)
            if uid in rows
        )
        total = len(newest) if done else max(len(newest), offset + len(items) + int(more))
        return SummaryPage(total=total, items=items, more=more)

    async def get_summary(self, mailbox_id: int, uid: int) -> MessageSummary | None:
        row = self._row(
            f"SELECT {_COLS} FROM {_JOIN} WHERE m.mailbox_id = ? AND m.uid = ?", (mailbox_id, uid)
        )
        return None if row is None else _summary(row)

    async def thread(self, user_id: int, thread_key: str) -> list[MessageSummary]:
        if not thread_key:
            return []
        rows = self._rows(
            f"SELECT {_COLS} FROM summaries AS s JOIN messages AS m ON m.blob_id = s.blob_id"
            " JOIN mailboxes AS b ON b.id = m.mailbox_id"
            " WHERE s.thread_key = ? AND b.user_id = ?"
            " ORDER BY CASE WHEN s.date > 0 THEN s.date ELSE m.internal_date END, m.id",
            (thread_key, user_id),
        )
        return [_summary(row) for row in rows]

    async def search_messages(
        self,
        user_id: int,
        query: str,
        *,
        mailbox_id: int | None = None,
        limit: int = 100,
    ) -> list[MessageSummary]:
        match = fts_query(query)
        if match is None:
            return []
        await self.index_pending()
        extra = "" if mailbox_id is None else " AND m.mailbox_id = ?"
        params: tuple[Any, ...] = (match, user_id)
        if mailbox_id is not None:
            params += (mailbox_id,)
        rows = self._rows(
            f"SELECT {_COLS} FROM message_text AS f"
            " JOIN summaries AS s ON s.rowid = f.rowid"
            " JOIN messages AS m ON m.blob_id = s.blob_id"
            " JOIN mailboxes AS b ON b.id = m.mailbox_id"
            f" WHERE message_text MATCH ? AND b.user_id = ?{extra}"
            " ORDER BY m.id DESC LIMIT ?",
            (*params, max(0, int(limit))),
        )
        return [_summary(row) for row in rows]

    async def mailbox_counts(self, user_id: int) -> dict[int, tuple[int, int]]:
        # Totals walk an index of messages; unread counts the partial index
        # messages_unseen (schema version 3), so neither reads a message row.
        rows = self._rows(
            "SELECT b.id,"
            " (SELECT count(*) FROM messages AS m WHERE m.mailbox_id = b.id),"
            " (SELECT count(*) FROM messages AS m INDEXED BY messages_unseen"
            f"  WHERE m.mailbox_id = b.id AND {_NOT_SEEN})"
            " FROM mailboxes AS b WHERE b.user_id = ?",
            (user_id,),
        )
        return {row[0]: (int(row[1]), int(row[2])) for row in rows}

    async def recent_recipients(self, user_id: int, prefix: str = "", limit: int = 10) -> list[str]:
        escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._rows(
            "SELECT j.value, count(*) AS c FROM mailboxes AS b"
            " JOIN messages AS m ON m.mailbox_id = b.id"
            " JOIN summaries AS s ON s.blob_id = m.blob_id, json_each(s.to_addrs) AS j"
            " WHERE b.user_id = ? AND b.special_use = ? AND j.value LIKE ? ESCAPE '\\'"
            " GROUP BY j.value ORDER BY c DESC, j.value LIMIT ?",
            (user_id, str(SpecialUse.SENT), escaped + "%", max(0, int(limit))),
        )
        return [str(row[0]) for row in rows]

    async def index_pending(self, limit: int | None = None) -> int:
        """Index the text of messages stored since the last run (all of them, or up
        to `limit`); returns how many."""
        done = 0
        tried: set[str] = set()
        while limit is None or done < limit:
            batch = _INDEX_BATCH if limit is None else min(_INDEX_BATCH, limit - done)
            ids = [
                row[0]
                for row in self._rows(
                    "SELECT blob_id FROM summaries WHERE indexed = 0 LIMIT ?",
                    (batch + len(tried),),
                )
                if row[0] not in tried
            ][:batch]
            if not ids:
                break
            tried.update(ids)
            items = await self._summaries_of(ids)
            done += await self._write(functools.partial(_tx_index, items=items))
        return done

    def stored_something(self) -> None:
        """Called after each accept/append: index the text once the store is quiet."""
        self._last_store = time.monotonic()
        task: asyncio.Task[None] | None = getattr(self, "_indexer", None)
        if task is None or task.done():
            self._indexer = asyncio.get_running_loop().create_task(self._index_when_quiet())

    async def _index_when_quiet(self) -> None:
        while True:
            await asyncio.sleep(_QUIET)
            backlog = self._row("SELECT count(*) FROM summaries WHERE indexed = 0")
            pending = int(backlog[0]) if backlog else 0
            if pending == 0:
                return
            if time.monotonic() - self._last_store < _QUIET and pending < _MAX_BACKLOG:
                continue  # still busy storing: accepting mail comes first
            await self.index_pending(_INDEX_BATCH)

    async def _summaries_of(self, blob_ids: list[str]) -> list[tuple[str, tuple[Any, ...]]]:
        """The full summary (with the FTS columns) of each blob that is still there;
        one that went meanwhile takes its summary row with it, so it is left out."""
        items = []
        for blob_id in blob_ids:
            try:
                raw = await self.read_message(blob_id)
            except Exception:
                continue
            items.append((blob_id, await compute_summary(raw)))
        return items

    async def stop_indexing(self) -> None:
        task: asyncio.Task[None] | None = getattr(self, "_indexer", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def backfill_summaries(self) -> int:
        """Summarise blobs stored before schema version 2; returns how many."""
        done = 0
        tried: set[str] = set()
        while True:
            ids = [
                row[0]
                for row in self._rows(
                    "SELECT b.id FROM blobs AS b"
                    " WHERE NOT EXISTS (SELECT 1 FROM summaries AS s WHERE s.blob_id = b.id)"
                    " AND EXISTS (SELECT 1 FROM messages AS m WHERE m.blob_id = b.id)"
                    " LIMIT ?",
                    (_BACKFILL_BATCH,),
                )
                if row[0] not in tried
            ]
            if not ids:
                return done
            tried.update(ids)
            items = await self._summaries_of(ids)
            done += await self._write(functools.partial(_tx_add_summaries, items=items))
