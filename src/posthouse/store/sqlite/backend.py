"""The embedded store: SQLite (WAL) for records, files for large message bodies.

Writes: every write method builds a function `fn(conn) -> result` and hands it to
the single writer thread (writer.py), which runs everything waiting in one
transaction with one fsync'd COMMIT (group commit) and resolves each caller's
future only after that commit.  Values are validated and encoded on the event loop
before submitting, so the writer thread spends its time in SQLite only.  The
functions `_tx_*` below are those transaction bodies; they run inside a SAVEPOINT,
so raising rolls back exactly that operation.

Reads run inline on the event-loop thread, on a second connection (query_only).
Why not a reader thread: every read here is an indexed lookup in a local file that
is almost always in the page cache — tens of microseconds — while a hop to a thread
and back costs about as much again and reorders nothing useful; and in WAL mode a
reader never waits for the writer (sqlite.org/wal.html), so the loop never blocks
on a commit or an fsync.  Each read statement (or `_snapshot` block, for reads of
several statements that must agree) is its own read transaction, which starts from
the newest commit: a coroutine resumed by the writer after its commit therefore
sees that commit.  The only reads that may be slow — large blob files — go to a
thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import EllipsisType
from typing import Any, TypeVar

from posthouse.store.base import (
    ALL_PROTOCOLS,
    DEFAULT_MAILBOXES,
    AcceptResult,
    Alias,
    AlreadyExists,
    AppPassword,
    Domain,
    FlagMode,
    LocalDelivery,
    Mailbox,
    MailboxChange,
    MailboxStatus,
    MessageRecord,
    NotFound,
    OutboundEnvelope,
    QueueEntry,
    QueueRecipient,
    QuotaExceeded,
    RecipientState,
    StoreError,
    User,
)
from posthouse.store.dotsafe import dot_safe
from posthouse.store.sqlite import schema
from posthouse.store.sqlite.blobs import INLINE_MAX, BlobFiles, new_blob_id, valid_blob_id
from posthouse.store.sqlite.index import SummaryIndex, header_summary, insert_summary
from posthouse.store.sqlite.values import (
    INBOX,
    SEEN,
    flags_text,
    from_us,
    from_us_tz,
    normalize_address,
    normalize_domain,
    normalize_flags,
    normalize_mailbox_name,
    normalize_protocols,
    parse_flags,
    parse_protocols,
    protocols_text,
    split_address,
    to_us,
    to_us_tz,
)
from posthouse.store.sqlite.web_sessions import WebSessions
from posthouse.store.sqlite.writer import WriteOp, Writer

T = TypeVar("T")

# IMAP UIDs and UIDVALIDITY are 32-bit nz-numbers (RFC 9051 §9, "nz-number").
_MAX_UID = 2**32 - 1

_DOMAIN_COLS = "id, name, created"
_USER_COLS = (
    "id, domain_id, localpart, address, display_name, password_hash, enabled, is_admin,"
    " protocols, quota_bytes, created"
)
_ALIAS_COLS = "id, source, targets, created"
_APP_PASSWORD_COLS = "id, user_id, name, secret_hash, protocols, created, last_used, revoked"
_MAILBOX_COLS = "id, user_id, name, special_use, uidvalidity, uidnext, highestmodseq, subscribed"
_MESSAGE_COLS = "id, mailbox_id, uid, modseq, flags, internal_date, internal_tz, size, blob_id"
_QUEUE_COLS = "id, sender, params, blob_id, size, created, next_attempt, attempts, last_error"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _now_us() -> int:
    return time.time_ns() // 1000


# --- rows to records ------------------------------------------------------------


def _domain(row: tuple[Any, ...]) -> Domain:
    return Domain(id=row[0], name=row[1], created=from_us(row[2]))


def _user(row: tuple[Any, ...]) -> User:
    return User(
        id=row[0],
        domain_id=row[1],
        localpart=row[2],
        address=row[3],
        display_name=row[4],
        password_hash=row[5],
        enabled=bool(row[6]),
        is_admin=bool(row[7]),
        protocols=parse_protocols(row[8]),
        quota_bytes=row[9],
        created=from_us(row[10]),
    )


def _alias(row: tuple[Any, ...]) -> Alias:
    return Alias(
        id=row[0], source=row[1], targets=tuple(json.loads(row[2])), created=from_us(row[3])
    )


def _app_password(row: tuple[Any, ...]) -> AppPassword:
    return AppPassword(
        id=row[0],
        user_id=row[1],
        name=row[2],
        secret_hash=row[3],
        protocols=parse_protocols(row[4]),
        created=from_us(row[5]),
        last_used=None if row[6] is None else from_us(row[6]),
        revoked=bool(row[7]),
    )


def _mailbox(row: tuple[Any, ...]) -> Mailbox:
    return Mailbox(
        id=row[0],
        user_id=row[1],
        name=row[2],
        special_use=row[3],
        uidvalidity=row[4],
        uidnext=row[5],
        highestmodseq=row[6],
        subscribed=bool(row[7]),
    )


def _message(row: tuple[Any, ...]) -> MessageRecord:
    return MessageRecord(
        id=row[0],
        mailbox_id=row[1],
        uid=row[2],
        modseq=row[3],
        flags=parse_flags(row[4]),
        internal_date=from_us_tz(row[5], row[6]),
        size=row[7],
        blob_id=row[8],
    )


# --- lookups shared by the read path and the transactions ------------------------


def _select_user(conn: sqlite3.Connection, user_id: int) -> User | None:
    row = conn.execute(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,)).fetchone()
    return None if row is None else _user(row)


def _select_mailbox(conn: sqlite3.Connection, mailbox_id: int) -> Mailbox | None:
    row = conn.execute(
        f"SELECT {_MAILBOX_COLS} FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    return None if row is None else _mailbox(row)


def _require_mailbox(conn: sqlite3.Connection, mailbox_id: int) -> Mailbox:
    mailbox = _select_mailbox(conn, mailbox_id)
    if mailbox is None:
        raise NotFound(f"no mailbox {mailbox_id}")
    return mailbox


def _queue_entries(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[QueueEntry]:
    if not rows:
        return []
    recipients: dict[int, list[QueueRecipient]] = {row[0]: [] for row in rows}
    for queue_id, address, dsn, state, last_error in conn.execute(
        "SELECT queue_id, address, dsn, state, last_error FROM queue_recipients"
        " WHERE queue_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (_json(list(recipients)),),
    ):
        recipients[queue_id].append(
            QueueRecipient(
                address=address,
                dsn=json.loads(dsn),
                state=RecipientState(state),
                last_error=last_error,
            )
        )
    return [
        QueueEntry(
            id=row[0],
            sender=row[1],
            params=json.loads(row[2]),
            recipients=tuple(recipients[row[0]]),
            blob_id=row[3],
            size=row[4],
            created=from_us(row[5]),
            next_attempt=from_us(row[6]),
            attempts=row[7],
            last_error=row[8],
        )
        for row in rows
    ]


def _select_queue_entry(conn: sqlite3.Connection, queue_id: int) -> QueueEntry | None:
    rows = conn.execute(f"SELECT {_QUEUE_COLS} FROM queue WHERE id = ?", (queue_id,)).fetchall()
    entries = _queue_entries(conn, rows)
    return entries[0] if entries else None


# --- transaction bodies: accounts ------------------------------------------------


def _tx_add_domain(conn: sqlite3.Connection, name: str) -> Domain:
    if conn.execute("SELECT 1 FROM domains WHERE name = ?", (name,)).fetchone():
        raise AlreadyExists(f"domain {name} exists")
    now = _now_us()
    cur = conn.execute("INSERT INTO domains (name, created) VALUES (?, ?)", (name, now))
    assert cur.lastrowid is not None
    return Domain(id=cur.lastrowid, name=name, created=from_us(now))


def _tx_delete_domain(conn: sqlite3.Connection, name: str) -> None:
    row = conn.execute("SELECT id FROM domains WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no domain {name}")
    in_use = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM users WHERE domain_id = ?1)"
        " OR EXISTS (SELECT 1 FROM aliases WHERE domain_id = ?1)",
        (row[0],),
    ).fetchone()[0]
    if in_use:
        raise StoreError(f"domain {name} still has users or aliases")
    conn.execute("DELETE FROM domains WHERE id = ?", (row[0],))


def _domain_id(conn: sqlite3.Connection, domain: str) -> int:
    row = conn.execute("SELECT id FROM domains WHERE name = ?", (domain,)).fetchone()
    if row is None:
        raise NotFound(f"no domain {domain}")
    return int(row[0])


def _next_uidvalidity(conn: sqlite3.Connection) -> int:
    """A value never handed out before by this database (RFC 9051 §2.3.1.1: a name
    re-created after a delete must not get the old UIDVALIDITY back).  Starting from
    the clock also keeps values fresh if the database itself is ever re-created."""
    row = conn.execute("SELECT value FROM counters WHERE name = 'uidvalidity'").fetchone()
    value = max(int(time.time()), row[0] + 1 if row else 1)
    if value > _MAX_UID:
        raise StoreError("UIDVALIDITY values exhausted")
    conn.execute(
        "INSERT INTO counters (name, value) VALUES ('uidvalidity', ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (value,),
    )
    return value


def _tx_create_mailbox(
    conn: sqlite3.Connection, user_id: int, name: str, special_use: str | None
) -> Mailbox:
    if not conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone():
        raise NotFound(f"no user {user_id}")
    if conn.execute(
        "SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?", (user_id, name)
    ).fetchone():
        raise AlreadyExists(f"mailbox {name} exists")
    uidvalidity = _next_uidvalidity(conn)
    cur = conn.execute(
        "INSERT INTO mailboxes (user_id, name, special_use, uidvalidity) VALUES (?, ?, ?, ?)",
        (user_id, name, special_use, uidvalidity),
    )
    assert cur.lastrowid is not None
    return Mailbox(
        id=cur.lastrowid,
        user_id=user_id,
        name=name,
        special_use=special_use,
        uidvalidity=uidvalidity,
        uidnext=1,
        highestmodseq=1,
        subscribed=True,
    )


def _tx_add_user(
    conn: sqlite3.Connection,
    localpart: str,
    domain: str,
    password_hash: str,
    display_name: str,
    is_admin: bool,
    protocols: frozenset[str],
    quota_bytes: int | None,
) -> User:
    domain_id = _domain_id(conn, domain)
    address = f"{localpart}@{domain}"
    if conn.execute("SELECT 1 FROM users WHERE address = ?", (address,)).fetchone():
        raise AlreadyExists(f"user {address} exists")
    now = _now_us()
    cur = conn.execute(
        "INSERT INTO users (domain_id, localpart, address, display_name, password_hash,"
        " enabled, is_admin, protocols, quota_bytes, created)"
        " VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
        (
            domain_id,
            localpart,
            address,
            display_name,
            password_hash,
            int(is_admin),
            protocols_text(protocols),
            quota_bytes,
            now,
        ),
    )
    assert cur.lastrowid is not None
    user_id = cur.lastrowid
    for name, special_use in DEFAULT_MAILBOXES:
        _tx_create_mailbox(conn, user_id, name, None if special_use is None else str(special_use))
    user = _select_user(conn, user_id)
    assert user is not None
    return user


def _tx_update_user(conn: sqlite3.Connection, user_id: int, changes: dict[str, Any]) -> User:
    if changes:
        assignments = ", ".join(f"{column} = ?" for column in changes)
        cur = conn.execute(
            f"UPDATE users SET {assignments} WHERE id = ?", (*changes.values(), user_id)
        )
        if cur.rowcount == 0:
            raise NotFound(f"no user {user_id}")
    user = _select_user(conn, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def _tx_delete_user(conn: sqlite3.Connection, user_id: int) -> None:
    # Mailboxes, messages, expunge logs and app passwords go by ON DELETE CASCADE;
    # the message triggers release the blobs.
    if conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount == 0:
        raise NotFound(f"no user {user_id}")


def _tx_add_alias(
    conn: sqlite3.Connection, source: str, domain: str, targets: tuple[str, ...]
) -> Alias:
    domain_id = _domain_id(conn, domain)
    if conn.execute("SELECT 1 FROM aliases WHERE source = ?", (source,)).fetchone():
        raise AlreadyExists(f"alias {source} exists")
    now = _now_us()
    cur = conn.execute(
        "INSERT INTO aliases (domain_id, source, targets, created) VALUES (?, ?, ?, ?)",
        (domain_id, source, _json(list(targets)), now),
    )
    assert cur.lastrowid is not None
    return Alias(id=cur.lastrowid, source=source, targets=targets, created=from_us(now))


def _tx_delete_alias(conn: sqlite3.Connection, source: str) -> None:
    if conn.execute("DELETE FROM aliases WHERE source = ?", (source,)).rowcount == 0:
        raise NotFound(f"no alias {source}")


def _tx_add_app_password(
    conn: sqlite3.Connection,
    user_id: int,
    name: str,
    secret_hash: str,
    protocols: frozenset[str],
) -> AppPassword:
    if not conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone():
        raise NotFound(f"no user {user_id}")
    if conn.execute(
        "SELECT 1 FROM app_passwords WHERE user_id = ? AND name = ? AND revoked = 0",
        (user_id, name),
    ).fetchone():
        raise AlreadyExists(f"app password {name!r} exists")
    now = _now_us()
    cur = conn.execute(
        "INSERT INTO app_passwords (user_id, name, secret_hash, protocols, created)"
        " VALUES (?, ?, ?, ?, ?)",
        (user_id, name, secret_hash, protocols_text(protocols), now),
    )
    assert cur.lastrowid is not None
    return AppPassword(
        id=cur.lastrowid,
        user_id=user_id,
        name=name,
        secret_hash=secret_hash,
        protocols=protocols,
        created=from_us(now),
        last_used=None,
        revoked=False,
    )


def _tx_revoke_app_password(conn: sqlite3.Connection, user_id: int, name_or_id: str | int) -> None:
    if isinstance(name_or_id, int):
        cur = conn.execute(
            "UPDATE app_passwords SET revoked = 1 WHERE user_id = ? AND id = ?",
            (user_id, name_or_id),
        )
    else:
        cur = conn.execute(
            "UPDATE app_passwords SET revoked = 1 WHERE user_id = ? AND name = ? AND revoked = 0",
            (user_id, name_or_id),
        )
    if cur.rowcount == 0:
        raise NotFound(f"no app password {name_or_id!r} for user {user_id}")


def _tx_touch_app_password(conn: sqlite3.Connection, app_password_id: int) -> None:
    cur = conn.execute(
        "UPDATE app_passwords SET last_used = ? WHERE id = ?", (_now_us(), app_password_id)
    )
    if cur.rowcount == 0:
        raise NotFound(f"no app password {app_password_id}")


# --- transaction bodies: mailboxes -------------------------------------------------


def _tx_rename_mailbox(conn: sqlite3.Connection, mailbox_id: int, new_name: str) -> Mailbox:
    mailbox = _require_mailbox(conn, mailbox_id)
    old = mailbox.name
    if old == INBOX:
        # Renaming INBOX moves its messages to a new mailbox (RFC 9051 §6.3.6);
        # the IMAP layer does that with create + move.
        raise StoreError("INBOX cannot be renamed")
    if new_name.startswith(old + "/"):
        raise StoreError(f"cannot rename {old} to its own child {new_name}")
    prefix = old + "/"
    moving = [(mailbox_id, new_name)] + [
        (child_id, new_name + child_name[len(old) :])
        for child_id, child_name in conn.execute(
            "SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?",
            (mailbox.user_id, len(prefix), prefix),
        ).fetchall()
    ]
    taken = conn.execute(
        "SELECT name FROM mailboxes WHERE user_id = ?"
        " AND name IN (SELECT value FROM json_each(?)) LIMIT 1",
        (mailbox.user_id, _json([name for _, name in moving])),
    ).fetchone()
    if taken is not None:
        raise AlreadyExists(f"mailbox {taken[0]} exists")
    conn.executemany(
        "UPDATE mailboxes SET name = ? WHERE id = ?", [(name, i) for i, name in moving]
    )
    renamed = _select_mailbox(conn, mailbox_id)
    assert renamed is not None
    return renamed


def _tx_delete_mailbox(conn: sqlite3.Connection, mailbox_id: int) -> None:
    mailbox = _require_mailbox(conn, mailbox_id)
    if mailbox.name == INBOX:
        raise StoreError("INBOX cannot be deleted")
    # Messages and the expunge log go by ON DELETE CASCADE; children stay
    # (RFC 9051 §6.3.5: deleting a parent does not delete its inferiors).
    conn.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox_id,))


def _tx_set_subscribed(conn: sqlite3.Connection, mailbox_id: int, subscribed: bool) -> None:
    cur = conn.execute(
        "UPDATE mailboxes SET subscribed = ? WHERE id = ?", (int(subscribed), mailbox_id)
    )
    if cur.rowcount == 0:
        raise NotFound(f"no mailbox {mailbox_id}")


# --- transaction bodies: messages ------------------------------------------------


def _allocate(conn: sqlite3.Connection, mailbox_id: int, count: int) -> tuple[int, int]:
    """Reserve `count` UIDs and one new MODSEQ: (first uid, modseq).

    UIDs only ever grow (RFC 9051 §2.3.1.1) and MODSEQ grows on every change
    (RFC 7162 §3.1: one value per operation is allowed, each operation a new one).
    """
    rows = conn.execute(
        "UPDATE mailboxes SET uidnext = uidnext + ?, highestmodseq = highestmodseq + 1"
        " WHERE id = ? RETURNING uidnext, highestmodseq",
        (count, mailbox_id),
    ).fetchall()
    if not rows:
        raise NotFound(f"no mailbox {mailbox_id}")
    uidnext, modseq = rows[0]
    if uidnext - 1 > _MAX_UID:
        raise StoreError(f"mailbox {mailbox_id} has run out of UIDs")
    return uidnext - count, modseq


def _owners(conn: sqlite3.Connection, mailbox_ids: Iterable[int]) -> dict[int, int]:
    """mailbox id -> user id; NotFound if any mailbox is missing."""
    wanted = set(mailbox_ids)
    found = dict(
        conn.execute(
            "SELECT id, user_id FROM mailboxes WHERE id IN (SELECT value FROM json_each(?))",
            (_json(sorted(wanted)),),
        ).fetchall()
    )
    missing = wanted - found.keys()
    if missing:
        raise NotFound(f"no mailbox {min(missing)}")
    return found


def _check_quota(conn: sqlite3.Connection, additions: dict[int, int]) -> None:
    for user_id, added in additions.items():
        quota, used = conn.execute(
            "SELECT quota_bytes, used_bytes FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        if quota is not None and used + added > quota:
            raise QuotaExceeded(user_id, used, quota, added)


def _insert_message(
    conn: sqlite3.Connection,
    mailbox_id: int,
    uid: int,
    modseq: int,
    flags: str,
    date: tuple[int, int],
    size: int,
    blob_id: str,
    meta: str | None,
) -> MessageRecord:
    cur = conn.execute(
        "INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, internal_tz,"
        " size, blob_id, meta, sort_from, sort_subject)"
        f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {schema.SORT_KEY_VALUES})",
        (mailbox_id, uid, modseq, flags, date[0], date[1], size, blob_id, meta, blob_id, blob_id),
    )
    assert cur.lastrowid is not None
    return _message((cur.lastrowid, mailbox_id, uid, modseq, flags, *date, size, blob_id))


def _tx_accept(
    conn: sqlite3.Connection,
    blob_id: str,
    inline: bytes | None,
    size: int,
    local: list[tuple[int, str]],
    outbound: tuple[str, str, list[tuple[str, str]]] | None,
    date: tuple[int, int],
    meta: str | None,
    summary: tuple[Any, ...] | None = None,
    safe: bool | None = None,
) -> AcceptResult:
    owners = _owners(conn, (mailbox_id for mailbox_id, _ in local))
    additions: Counter[int] = Counter()
    for mailbox_id, _ in local:
        additions[owners[mailbox_id]] += size
    _check_quota(conn, additions)
    conn.execute(
        "INSERT INTO blobs (id, size, external, data, dot_safe) VALUES (?, ?, ?, ?, ?)",
        (blob_id, size, int(inline is None), inline, None if safe is None else int(safe)),
    )
    if summary is not None:
        insert_summary(conn, blob_id, summary)
    records: list[MessageRecord] = []
    for mailbox_id, flags in local:
        uid, modseq = _allocate(conn, mailbox_id, 1)
        records.append(
            _insert_message(conn, mailbox_id, uid, modseq, flags, date, size, blob_id, meta)
        )
    queue_id: int | None = None
    if outbound is not None:
        sender, params, recipients = outbound
        now = _now_us()
        cur = conn.execute(
            "INSERT INTO queue (sender, params, blob_id, size, created, next_attempt)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (sender, params, blob_id, size, now, now),
        )
        queue_id = cur.lastrowid
        conn.executemany(
            "INSERT INTO queue_recipients (queue_id, address, dsn, state) VALUES (?, ?, ?, ?)",
            [(queue_id, address, dsn, RecipientState.PENDING.value) for address, dsn in recipients],
        )
    return AcceptResult(blob_id=blob_id, messages=tuple(records), queue_id=queue_id)


def _select_by_uids(
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int], extra: str = ""
) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT {_MESSAGE_COLS}{extra} FROM messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (mailbox_id, _json(list(uids))),
    ).fetchall()


def _tx_store_flags(
    conn: sqlite3.Connection,
    mailbox_id: int,
    uids: Sequence[int],
    flags: dict[str, str],
    mode: FlagMode,
    unchanged_since: int | None,
) -> tuple[list[MessageRecord], list[int]]:
    _require_mailbox(conn, mailbox_id)
    skipped: list[int] = []
    changes: list[tuple[tuple[Any, ...], str]] = []
    for row in _select_by_uids(conn, mailbox_id, uids):
        # RFC 7162 §3.1.3: UNCHANGEDSINCE fails a message whose modseq is higher.
        if unchanged_since is not None and row[3] > unchanged_since:
            skipped.append(row[2])
            continue
        current = {f.lower(): f for f in row[4].split()}
        if mode is FlagMode.SET:
            new = dict(flags)
        elif mode is FlagMode.ADD:
            new = {**flags, **current}
        else:
            new = {k: v for k, v in current.items() if k not in flags}
        text = flags_text(new.values())
        if text != row[4]:
            changes.append((row, text))
    if not changes:
        return [], skipped
    _, modseq = _allocate(conn, mailbox_id, 0)
    conn.executemany(
        "UPDATE messages SET flags = ?, modseq = ? WHERE id = ?",
        [(text, modseq, row[0]) for row, text in changes],
    )
    changed = [_message((*row[:3], modseq, text, *row[5:])) for row, text in changes]
    return changed, skipped


def _expunge_rows(
    conn: sqlite3.Connection, mailbox_id: int, rows: list[tuple[Any, ...]]
) -> list[int]:
    if not rows:
        return []
    _, modseq = _allocate(conn, mailbox_id, 0)
    conn.execute(
        "DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))",
        (_json([row[0] for row in rows]),),
    )
    conn.executemany(
        "INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
        [(mailbox_id, row[2], modseq) for row in rows],
    )
    return [row[2] for row in rows]


def _tx_expunge(conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int]) -> list[int]:
    _require_mailbox(conn, mailbox_id)
    return _expunge_rows(conn, mailbox_id, _select_by_uids(conn, mailbox_id, uids))


def _tx_copy(
    conn: sqlite3.Connection, src: int, uids: Sequence[int], dst: int, remove: bool
) -> list[tuple[int, int]]:
    owners = _owners(conn, (src, dst))
    rows = _select_by_uids(conn, src, uids, ", meta")
    if not rows:
        return []
    if not remove or owners[src] != owners[dst]:
        _check_quota(conn, {owners[dst]: sum(row[7] for row in rows)})
    first, modseq = _allocate(conn, dst, len(rows))
    pairs: list[tuple[int, int]] = []
    for offset, row in enumerate(rows):
        uid = first + offset
        conn.execute(
            "INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, internal_tz,"
            " size, blob_id, meta, sort_from, sort_subject)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {schema.SORT_KEY_VALUES})",
            (dst, uid, modseq, *row[4:10], row[8], row[8]),
        )
        pairs.append((row[2], uid))
    if remove:
        # RFC 6851 §3.3: MOVE = COPY + STORE \Deleted + EXPUNGE of the source, atomically.
        _expunge_rows(conn, src, rows)
    return pairs


def _tx_update_queue_entry(
    conn: sqlite3.Connection,
    queue_id: int,
    recipient_states: dict[str, tuple[RecipientState, str | None]] | None,
    changes: dict[str, Any],
) -> QueueEntry:
    if not conn.execute("SELECT 1 FROM queue WHERE id = ?", (queue_id,)).fetchone():
        raise NotFound(f"no queue entry {queue_id}")
    for address, (state, error) in (recipient_states or {}).items():
        cur = conn.execute(
            "UPDATE queue_recipients SET state = ?, last_error = ?"
            " WHERE queue_id = ? AND address = ?",
            (RecipientState(state).value, error, queue_id, address),
        )
        if cur.rowcount == 0:
            raise NotFound(f"queue entry {queue_id} has no recipient {address}")
    if changes:
        assignments = ", ".join(f"{column} = ?" for column in changes)
        conn.execute(f"UPDATE queue SET {assignments} WHERE id = ?", (*changes.values(), queue_id))
    entry = _select_queue_entry(conn, queue_id)
    assert entry is not None
    return entry


def _tx_delete_queue_entry(conn: sqlite3.Connection, queue_id: int) -> None:
    # Recipients go by ON DELETE CASCADE; the queue trigger releases the blob.
    if conn.execute("DELETE FROM queue WHERE id = ?", (queue_id,)).rowcount == 0:
        raise NotFound(f"no queue entry {queue_id}")


def _tx_migrate(conn: sqlite3.Connection) -> int:
    return schema.migrate(conn)


# --- connections -------------------------------------------------------------------


def _connect(database: Path, busy_timeout: float, *, write: bool) -> sqlite3.Connection:
    # isolation_level=None: the sqlite3 module opens no transactions of its own;
    # the writer issues BEGIN IMMEDIATE / SAVEPOINT / COMMIT itself.
    conn = sqlite3.connect(
        database, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        if write:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if str(mode).lower() != "wal":
                raise StoreError(f"cannot put {database} in WAL mode (got {mode})")
            # FULL: every commit fsyncs the WAL — "accepted means durable".
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        else:
            conn.execute("PRAGMA query_only = ON")
            # Reads through a memory map: a message read (POP3 RETR, IMAP FETCH) costs
            # no pread() system calls for the pages already mapped.
            conn.execute("PRAGMA mmap_size = 1073741824")
    except BaseException:
        conn.close()
        raise
    return conn


class SQLiteStore(SummaryIndex, WebSessions):
    """The `Store` on one SQLite database file plus a directory of blob files.

    Several `SQLiteStore`s (in one or several processes) may open the same files:
    each has its own writer, and SQLite's locks (with a busy timeout) order their
    transactions.
    """

    def __init__(
        self,
        database: Path,
        blobs: BlobFiles,
        writer: Writer,
    ) -> None:
        self.database = database
        self._blobs = blobs
        self._writer = writer
        self._reader: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(
        cls, database: Path, blob_dir: Path, *, busy_timeout: float = 30.0
    ) -> SQLiteStore:
        """Open (creating and migrating if needed) the store."""
        database, blob_dir = Path(database), Path(blob_dir)
        blobs = BlobFiles(blob_dir)
        await asyncio.to_thread(blobs.prepare)
        await asyncio.to_thread(database.parent.mkdir, parents=True, exist_ok=True)
        conn = await asyncio.to_thread(_connect, database, busy_timeout, write=True)
        writer = Writer(conn, blobs.path, database.with_name(database.name + "-writelock"))
        writer.start()
        store = cls(database, blobs, writer)
        try:
            # The first batch also finishes deleting blob files left in blob_trash
            # by a crash after a commit.
            await store._write(_tx_migrate)
            # A reader on the loop thread must not wait long: a few seconds covers
            # another process recovering the WAL after a crash.
            store._reader = _connect(database, min(busy_timeout, 5.0), write=False)
            # Messages stored before schema version 2 get their summaries now, and
            # text left unindexed by a previous run is indexed once it is quiet.
            await store.backfill_summaries()
            store.stored_something()
        except BaseException:
            await store.close()
            raise
        return store

    @property
    def commits(self) -> int:
        """How many transactions the writer has committed (each one fsync)."""
        return self._writer.commits

    @property
    def committed_operations(self) -> int:
        """How many write operations those commits carried."""
        return self._writer.batches_ops

    async def close(self) -> None:
        """Finish every write already submitted, then close the connections."""
        if self._closed:
            return
        # Text not yet indexed stays marked; the next open's indexer takes it up.
        await self.stop_indexing()
        self._closed = True
        self._writer.stop()
        await asyncio.to_thread(self._writer.join)
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # --- plumbing ----------------------------------------------------------------

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._writer.submit(WriteOp(fn, loop, future))
        return await future

    async def _write_with_blob(
        self, fn: Callable[[sqlite3.Connection], T], blob_id: str, raw: bytes
    ) -> T:
        """Write the blob file durably first, then submit `fn` which references it."""
        if self._closed:
            raise StoreError("store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def write_then_submit() -> None:
            # One thread call does both, so a caller cancelled meanwhile still
            # submits: the file is then either referenced or unlinked by the writer.
            path = self._blobs.write(blob_id, raw)
            try:
                self._writer.submit(WriteOp(fn, loop, future, (path,)))
            except BaseException:
                path.unlink(missing_ok=True)
                raise

        await asyncio.to_thread(write_then_submit)
        return await future

    def _conn(self) -> sqlite3.Connection:
        if self._reader is None:
            raise StoreError("store is closed")
        return self._reader

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction for several statements that must agree."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn().execute(sql, params).fetchall()

    def _row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._conn().execute(sql, params).fetchone()
        return row

    async def sweep_orphan_blobs(self, min_age: float = 3600.0) -> int:
        """Unlink blob files no blob row refers to; returns how many.

        Such files exist only if a process died between writing a large blob's file
        and committing its transaction.  `min_age` (seconds) spares files a live
        writer — in this or another process — is about to commit.
        """
        candidates = await asyncio.to_thread(self._blobs.older_than, min_age)
        if not candidates:
            return 0
        known = {
            row[0]
            for row in self._rows(
                "SELECT id FROM blobs WHERE id IN (SELECT value FROM json_each(?))",
                (_json(candidates),),
            )
        }
        orphans = [blob_id for blob_id in candidates if blob_id not in known]
        for blob_id in orphans:
            await asyncio.to_thread(self._blobs.unlink, blob_id)
        return len(orphans)

    # --- accounts ----------------------------------------------------------------

    async def add_domain(self, name: str) -> Domain:
        return await self._write(functools.partial(_tx_add_domain, name=normalize_domain(name)))

    async def get_domain(self, name: str) -> Domain | None:
        try:
            name = normalize_domain(name)
        except StoreError:
            return None
        row = self._row(f"SELECT {_DOMAIN_COLS} FROM domains WHERE name = ?", (name,))
        return None if row is None else _domain(row)

    async def list_domains(self) -> list[Domain]:
        return [
            _domain(row) for row in self._rows(f"SELECT {_DOMAIN_COLS} FROM domains ORDER BY name")
        ]

    async def delete_domain(self, name: str) -> None:
        await self._write(functools.partial(_tx_delete_domain, name=normalize_domain(name)))

    async def add_user(
        self,
        address: str,
        password_hash: str,
        *,
        display_name: str = "",
        is_admin: bool = False,
        protocols: Iterable[str] = ALL_PROTOCOLS,
        quota_bytes: int | None = None,
    ) -> User:
        localpart, domain = split_address(address)
        if quota_bytes is not None and quota_bytes < 0:
            raise StoreError("quota must not be negative")
        return await self._write(
            functools.partial(
                _tx_add_user,
                localpart=localpart,
                domain=domain,
                password_hash=password_hash,
                display_name=display_name,
                is_admin=is_admin,
                protocols=normalize_protocols(protocols),
                quota_bytes=quota_bytes,
            )
        )

    async def get_user(self, address: str) -> User | None:
        try:
            address = normalize_address(address)
        except StoreError:
            return None
        row = self._row(f"SELECT {_USER_COLS} FROM users WHERE address = ?", (address,))
        return None if row is None else _user(row)

    async def get_user_by_id(self, user_id: int) -> User | None:
        return _select_user(self._conn(), user_id)

    async def list_users(self, domain: str | None = None) -> list[User]:
        if domain is None:
            rows = self._rows(f"SELECT {_USER_COLS} FROM users ORDER BY address")
        else:
            rows = self._rows(
                f"SELECT {_USER_COLS} FROM users WHERE domain_id ="
                " (SELECT id FROM domains WHERE name = ?) ORDER BY address",
                (normalize_domain(domain),),
            )
        return [_user(row) for row in rows]

    async def update_user(
        self,
        user_id: int,
        *,
        password_hash: str | None = None,
        display_name: str | None = None,
        enabled: bool | None = None,
        is_admin: bool | None = None,
        protocols: Iterable[str] | None = None,
        quota_bytes: int | EllipsisType | None = ...,
    ) -> User:
        changes: dict[str, Any] = {}
        if password_hash is not None:
            changes["password_hash"] = password_hash
        if display_name is not None:
            changes["display_name"] = display_name
        if enabled is not None:
            changes["enabled"] = int(enabled)
        if is_admin is not None:
            changes["is_admin"] = int(is_admin)
        if protocols is not None:
            changes["protocols"] = protocols_text(normalize_protocols(protocols))
        if quota_bytes is not ...:
            if quota_bytes is not None and not isinstance(quota_bytes, int):
                raise StoreError(f"invalid quota {quota_bytes!r}")
            if isinstance(quota_bytes, int) and quota_bytes < 0:
                raise StoreError("quota must not be negative")
            changes["quota_bytes"] = quota_bytes
        return await self._write(
            functools.partial(_tx_update_user, user_id=user_id, changes=changes)
        )

    async def delete_user(self, user_id: int) -> None:
        await self._write(functools.partial(_tx_delete_user, user_id=user_id))

    async def add_alias(self, source: str, targets: Sequence[str]) -> Alias:
        if isinstance(targets, str):
            raise StoreError("alias targets must be a sequence of addresses")
        localpart, domain = split_address(source, allow_catch_all=True)
        normalized = tuple(dict.fromkeys(normalize_address(t) for t in targets))
        if not normalized:
            raise StoreError("an alias needs at least one target")
        return await self._write(
            functools.partial(
                _tx_add_alias,
                source=f"{localpart}@{domain}",
                domain=domain,
                targets=normalized,
            )
        )

    async def get_alias(self, source: str) -> Alias | None:
        try:
            localpart, domain = split_address(source, allow_catch_all=True)
        except StoreError:
            return None
        row = self._row(
            f"SELECT {_ALIAS_COLS} FROM aliases WHERE source = ?", (f"{localpart}@{domain}",)
        )
        return None if row is None else _alias(row)

    async def list_aliases(self, domain: str | None = None) -> list[Alias]:
        if domain is None:
            rows = self._rows(f"SELECT {_ALIAS_COLS} FROM aliases ORDER BY source")
        else:
            rows = self._rows(
                f"SELECT {_ALIAS_COLS} FROM aliases WHERE domain_id ="
                " (SELECT id FROM domains WHERE name = ?) ORDER BY source",
                (normalize_domain(domain),),
            )
        return [_alias(row) for row in rows]

    async def delete_alias(self, source: str) -> None:
        localpart, domain = split_address(source, allow_catch_all=True)
        await self._write(functools.partial(_tx_delete_alias, source=f"{localpart}@{domain}"))

    async def add_app_password(
        self, user_id: int, name: str, secret_hash: str, protocols: Iterable[str]
    ) -> AppPassword:
        if not name:
            raise StoreError("an app password needs a name")
        return await self._write(
            functools.partial(
                _tx_add_app_password,
                user_id=user_id,
                name=name,
                secret_hash=secret_hash,
                protocols=normalize_protocols(protocols),
            )
        )

    async def list_app_passwords(self, user_id: int) -> list[AppPassword]:
        rows = self._rows(
            f"SELECT {_APP_PASSWORD_COLS} FROM app_passwords WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        return [_app_password(row) for row in rows]

    async def revoke_app_password(self, user_id: int, name_or_id: str | int) -> None:
        await self._write(
            functools.partial(_tx_revoke_app_password, user_id=user_id, name_or_id=name_or_id)
        )

    async def touch_app_password(self, app_password_id: int) -> None:
        # Goes through the writer like any write: it shares a commit with whatever
        # else is pending, so the durability costs nothing extra under load.
        await self._write(
            functools.partial(_tx_touch_app_password, app_password_id=app_password_id)
        )

    # --- mailboxes ---------------------------------------------------------------

    async def list_mailboxes(self, user_id: int) -> list[Mailbox]:
        rows = self._rows(
            f"SELECT {_MAILBOX_COLS} FROM mailboxes WHERE user_id = ?"
            " ORDER BY name <> 'INBOX', name",
            (user_id,),
        )
        return [_mailbox(row) for row in rows]

    async def get_mailbox(self, user_id: int, name: str) -> Mailbox | None:
        try:
            name = normalize_mailbox_name(name)
        except StoreError:
            return None
        row = self._row(
            f"SELECT {_MAILBOX_COLS} FROM mailboxes WHERE user_id = ? AND name = ?",
            (user_id, name),
        )
        return None if row is None else _mailbox(row)

    async def get_mailbox_by_id(self, mailbox_id: int) -> Mailbox | None:
        return _select_mailbox(self._conn(), mailbox_id)

    async def mailbox_by_role(self, user_id: int, special_use: str) -> Mailbox | None:
        row = self._row(
            f"SELECT {_MAILBOX_COLS} FROM mailboxes WHERE user_id = ? AND special_use = ?"
            " ORDER BY id LIMIT 1",
            (user_id, str(special_use)),
        )
        return None if row is None else _mailbox(row)

    async def create_mailbox(
        self, user_id: int, name: str, special_use: str | None = None
    ) -> Mailbox:
        return await self._write(
            functools.partial(
                _tx_create_mailbox,
                user_id=user_id,
                name=normalize_mailbox_name(name),
                special_use=None if special_use is None else str(special_use),
            )
        )

    async def rename_mailbox(self, mailbox_id: int, new_name: str) -> Mailbox:
        return await self._write(
            functools.partial(
                _tx_rename_mailbox,
                mailbox_id=mailbox_id,
                new_name=normalize_mailbox_name(new_name),
            )
        )

    async def delete_mailbox(self, mailbox_id: int) -> None:
        await self._write(functools.partial(_tx_delete_mailbox, mailbox_id=mailbox_id))

    async def set_subscribed(self, mailbox_id: int, subscribed: bool) -> None:
        await self._write(
            functools.partial(_tx_set_subscribed, mailbox_id=mailbox_id, subscribed=subscribed)
        )

    # --- messages ----------------------------------------------------------------

    async def _store_blob(
        self, raw: bytes, make: Callable[[str, bytes | None], Callable[[sqlite3.Connection], T]]
    ) -> T:
        """Run the transaction `make(blob_id, inline_bytes_or_None)` with a new blob."""
        blob_id = new_blob_id()
        if len(raw) <= INLINE_MAX:
            return await self._write(make(blob_id, bytes(raw)))
        return await self._write_with_blob(make(blob_id, None), blob_id, bytes(raw))

    async def accept(
        self,
        raw: bytes,
        local: Sequence[LocalDelivery],
        outbound: OutboundEnvelope | None = None,
        *,
        internal_date: datetime | None = None,
        meta: dict[str, Any] | None = None,
    ) -> AcceptResult:
        if not local and outbound is None:
            raise StoreError("accept needs a local delivery or an outbound envelope")
        envelope: tuple[str, str, list[tuple[str, str]]] | None = None
        if outbound is not None:
            if not outbound.recipients:
                raise StoreError("an outbound envelope needs recipients")
            # One row per address (the first one wins): recipient states are keyed
            # by address.
            recipients: dict[str, str] = {}
            for recipient in outbound.recipients:
                recipients.setdefault(recipient.address, _json(dict(recipient.dsn)))
            envelope = (outbound.sender, _json(dict(outbound.params)), list(recipients.items()))
        deliveries = [(d.mailbox_id, flags_text(normalize_flags(d.flags).values())) for d in local]
        date = to_us_tz(internal_date) if internal_date is not None else (_now_us(), 0)
        meta_text = None if meta is None else _json(meta)
        summary = header_summary(raw) if local else None
        result = await self._store_blob(
            raw,
            lambda blob_id, inline: functools.partial(
                _tx_accept,
                blob_id=blob_id,
                inline=inline,
                size=len(raw),
                local=deliveries,
                outbound=envelope,
                date=date,
                meta=meta_text,
                summary=summary,
                safe=dot_safe(raw),
            ),
        )
        if local:
            self.stored_something()
        return result

    async def append(
        self,
        mailbox_id: int,
        raw: bytes,
        flags: Iterable[str] = (),
        internal_date: datetime | None = None,
    ) -> MessageRecord:
        result = await self.accept(
            raw, [LocalDelivery(mailbox_id, frozenset(flags))], internal_date=internal_date
        )
        return result.messages[0]

    async def list_messages(self, mailbox_id: int) -> list[MessageRecord]:
        rows = self._rows(
            f"SELECT {_MESSAGE_COLS} FROM messages WHERE mailbox_id = ? ORDER BY uid",
            (mailbox_id,),
        )
        return [_message(row) for row in rows]

    async def get_message(self, mailbox_id: int, uid: int) -> MessageRecord | None:
        row = self._row(
            f"SELECT {_MESSAGE_COLS} FROM messages WHERE mailbox_id = ? AND uid = ?",
            (mailbox_id, uid),
        )
        return None if row is None else _message(row)

    async def message_meta(self, message_id: int) -> dict[str, Any]:
        row = self._row("SELECT meta FROM messages WHERE id = ?", (message_id,))
        if row is None:
            raise NotFound(f"no message {message_id}")
        meta: dict[str, Any] = {} if row[0] is None else json.loads(row[0])
        return meta

    async def read_message(self, blob_id: str) -> bytes:
        if not valid_blob_id(blob_id):
            raise NotFound(f"no blob {blob_id!r}")
        row = self._row("SELECT external, data FROM blobs WHERE id = ?", (blob_id,))
        if row is None:
            raise NotFound(f"no blob {blob_id}")
        if not row[0]:
            return bytes(row[1])
        try:
            return await asyncio.to_thread(self._blobs.read, blob_id)
        except FileNotFoundError:
            # Its last reference went away between the lookup and the read.
            raise NotFound(f"no blob {blob_id}") from None

    async def read_messages(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        found, _ = await self._read_blobs(blob_ids)
        return found

    async def read_messages_framed(self, blob_ids: Sequence[str]) -> dict[str, tuple[bytes, bool]]:
        found, safe = await self._read_blobs(blob_ids)
        return {
            blob_id: (raw, dot_safe(raw) if safe.get(blob_id) is None else bool(safe[blob_id]))
            for blob_id, raw in found.items()
        }

    async def _read_blobs(
        self, blob_ids: Sequence[str]
    ) -> tuple[dict[str, bytes], dict[str, int | None]]:
        """The octets of the blobs that exist, and their `dot_safe` column."""
        wanted = [b for b in dict.fromkeys(blob_ids) if valid_blob_id(b)]
        rows = self._rows(
            "SELECT id, external, data, dot_safe FROM blobs"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (_json(wanted),),
        )
        found: dict[str, bytes] = {}
        safe: dict[str, int | None] = {}
        external = []
        for blob_id, is_external, data, is_safe in rows:
            safe[blob_id] = is_safe
            if is_external:
                external.append(blob_id)
            else:
                found[blob_id] = bytes(data)
        if external:

            def read_files() -> dict[str, bytes]:
                out = {}
                for blob_id in external:
                    with contextlib.suppress(FileNotFoundError):
                        out[blob_id] = self._blobs.read(blob_id)
                return out

            found.update(await asyncio.to_thread(read_files))
        return found, safe

    async def store_flags(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        flags: Iterable[str],
        mode: FlagMode,
        *,
        unchanged_since: int | None = None,
    ) -> tuple[list[MessageRecord], list[int]]:
        return await self._write(
            functools.partial(
                _tx_store_flags,
                mailbox_id=mailbox_id,
                uids=list(uids),
                flags=normalize_flags(flags),
                mode=FlagMode(mode),
                unchanged_since=unchanged_since,
            )
        )

    async def expunge(self, mailbox_id: int, uids: Sequence[int]) -> list[int]:
        return await self._write(
            functools.partial(_tx_expunge, mailbox_id=mailbox_id, uids=list(uids))
        )

    async def copy(
        self, src_mailbox_id: int, uids: Sequence[int], dst_mailbox_id: int
    ) -> list[tuple[int, int]]:
        return await self._write(
            functools.partial(
                _tx_copy, src=src_mailbox_id, uids=list(uids), dst=dst_mailbox_id, remove=False
            )
        )

    async def move(
        self, src_mailbox_id: int, uids: Sequence[int], dst_mailbox_id: int
    ) -> list[tuple[int, int]]:
        return await self._write(
            functools.partial(
                _tx_copy, src=src_mailbox_id, uids=list(uids), dst=dst_mailbox_id, remove=True
            )
        )

    async def changes_since(self, mailbox_id: int, modseq: int) -> MailboxChange:
        with self._snapshot() as conn:
            mailbox = _require_mailbox(conn, mailbox_id)
            updated = conn.execute(
                f"SELECT {_MESSAGE_COLS} FROM messages WHERE mailbox_id = ? AND modseq > ?"
                " ORDER BY uid",
                (mailbox_id, modseq),
            ).fetchall()
            expunged = conn.execute(
                "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
                (mailbox_id, modseq),
            ).fetchall()
        return MailboxChange(
            highestmodseq=mailbox.highestmodseq,
            updated=tuple(_message(row) for row in updated),
            expunged_uids=tuple(row[0] for row in expunged),
        )

    async def mailbox_status(self, mailbox_id: int) -> MailboxStatus:
        with self._snapshot() as conn:
            mailbox = _require_mailbox(conn, mailbox_id)
            messages, unseen, size = conn.execute(
                "SELECT count(*), coalesce(sum(instr(flags, ?) = 0), 0), coalesce(sum(size), 0)"
                " FROM messages WHERE mailbox_id = ?",
                (f" {SEEN} ", mailbox_id),
            ).fetchone()
        return MailboxStatus(
            messages=messages,
            unseen=unseen,
            recent=0,  # RFC 9051 removed \Recent
            size=size,
            uidnext=mailbox.uidnext,
            uidvalidity=mailbox.uidvalidity,
            highestmodseq=mailbox.highestmodseq,
        )

    async def highest_modseqs(self, mailbox_ids: Sequence[int]) -> dict[int, int]:
        rows = self._rows(
            "SELECT id, highestmodseq FROM mailboxes WHERE id IN (SELECT value FROM json_each(?))",
            (_json(list(mailbox_ids)),),
        )
        return {row[0]: row[1] for row in rows}

    def change_token(self) -> int:
        # PRAGMA data_version changes when another connection (the writer thread, or
        # another worker process) committed since this connection last looked.
        row = self._conn().execute("PRAGMA data_version").fetchone()
        return int(row[0])

    async def usage(self, user_id: int) -> int:
        row = self._row("SELECT used_bytes FROM users WHERE id = ?", (user_id,))
        if row is None:
            raise NotFound(f"no user {user_id}")
        return int(row[0])

    # --- queue -------------------------------------------------------------------

    async def list_queue(self) -> list[QueueEntry]:
        with self._snapshot() as conn:
            rows = conn.execute(f"SELECT {_QUEUE_COLS} FROM queue ORDER BY id").fetchall()
            return _queue_entries(conn, rows)

    async def get_queue_entry(self, queue_id: int) -> QueueEntry | None:
        with self._snapshot() as conn:
            return _select_queue_entry(conn, queue_id)

    async def due_queue_entries(
        self, now: datetime, limit: int = 100, exclude: Collection[int] = ()
    ) -> list[QueueEntry]:
        with self._snapshot() as conn:
            rows = conn.execute(
                f"SELECT {_QUEUE_COLS} FROM queue AS q WHERE next_attempt <= ?"
                " AND EXISTS (SELECT 1 FROM queue_recipients AS r"
                "             WHERE r.queue_id = q.id AND r.state = ?)"
                " AND q.id NOT IN (SELECT value FROM json_each(?))"
                " ORDER BY next_attempt, id LIMIT ?",
                (to_us(now), RecipientState.PENDING.value, _json(list(exclude)), limit),
            ).fetchall()
            return _queue_entries(conn, rows)

    async def update_queue_entry(
        self,
        queue_id: int,
        *,
        recipient_states: dict[str, tuple[RecipientState, str | None]] | None = None,
        next_attempt: datetime | None = None,
        attempts: int | None = None,
        last_error: str | None = None,
        params: dict[str, str] | None = None,
    ) -> QueueEntry:
        changes: dict[str, Any] = {}
        if params is not None:
            changes["params"] = _json(dict(params))
        if next_attempt is not None:
            changes["next_attempt"] = to_us(next_attempt)
        if attempts is not None:
            changes["attempts"] = attempts
        if last_error is not None:
            changes["last_error"] = last_error
        return await self._write(
            functools.partial(
                _tx_update_queue_entry,
                queue_id=queue_id,
                recipient_states=None if recipient_states is None else dict(recipient_states),
                changes=changes,
            )
        )

    async def delete_queue_entry(self, queue_id: int) -> None:
        await self._write(functools.partial(_tx_delete_queue_entry, queue_id=queue_id))
