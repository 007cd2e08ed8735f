"""The SQLite schema and its migrations.

The schema version lives in `PRAGMA user_version`.  `migrate` brings any older
database up to `SCHEMA_VERSION`, one step per version, inside the caller's write
transaction so a crash mid-migration leaves the previous version intact.

Bookkeeping that must hold for every way a row can go away (expunge, delete of a
mailbox, delete of a user by cascade, delete of a queue entry) is done by triggers,
so no code path can forget it:

- `blobs.refs` counts the message copies and queue entries that use a blob; when it
  drops to zero the blob row is deleted, and an external blob's id is put into
  `blob_trash` so its file is unlinked after the commit (see writer.py).
- `users.used_bytes` is the sum of the sizes of the user's message copies (quota).

Ids that leave the store (users, mailboxes, messages, queue entries…) are
AUTOINCREMENT: a deleted row's id is never handed out again, so a session or a
link still holding it can never reach somebody else's data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from posthouse.store.base import StoreError

# Version 1: the initial schema.
_V1 = """
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE domains (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name    TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id     INTEGER NOT NULL REFERENCES domains(id) ON DELETE RESTRICT,
    localpart     TEXT NOT NULL,
    address       TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    protocols     TEXT NOT NULL,
    quota_bytes   INTEGER,
    used_bytes    INTEGER NOT NULL DEFAULT 0,
    created       INTEGER NOT NULL
);
CREATE INDEX users_domain ON users(domain_id);

CREATE TABLE aliases (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE RESTRICT,
    source    TEXT NOT NULL UNIQUE,
    targets   TEXT NOT NULL,
    created   INTEGER NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain_id);

CREATE TABLE app_passwords (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    protocols   TEXT NOT NULL,
    created     INTEGER NOT NULL,
    last_used   INTEGER,
    revoked     INTEGER NOT NULL DEFAULT 0
);
-- A name is unique among a user's active app passwords; revoked ones are kept
-- for the record and do not block reusing the name.
CREATE UNIQUE INDEX app_passwords_active_name ON app_passwords(user_id, name)
    WHERE revoked = 0;

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    special_use   TEXT,
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER NOT NULL DEFAULT 1,
    highestmodseq INTEGER NOT NULL DEFAULT 1,
    subscribed    INTEGER NOT NULL DEFAULT 1,
    UNIQUE (user_id, name)
);

CREATE TABLE blobs (
    id       TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    refs     INTEGER NOT NULL DEFAULT 0,
    external INTEGER NOT NULL,
    data     BLOB  -- last, so reading the other columns never touches overflow pages
);

CREATE TABLE blob_trash (
    id TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    modseq        INTEGER NOT NULL,
    flags         TEXT NOT NULL,
    internal_date INTEGER NOT NULL,
    internal_tz   INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    blob_id       TEXT NOT NULL REFERENCES blobs(id),
    meta          TEXT,
    UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob_id);

-- RFC 7162 §3.2.7: what was expunged at which modseq, for QRESYNC / changes_since.
CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);

CREATE TABLE queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sender       TEXT NOT NULL,
    params       TEXT NOT NULL,
    blob_id      TEXT NOT NULL REFERENCES blobs(id),
    size         INTEGER NOT NULL,
    created      INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX queue_next_attempt ON queue(next_attempt);
CREATE INDEX queue_blob ON queue(blob_id);

CREATE TABLE queue_recipients (
    id         INTEGER PRIMARY KEY,
    queue_id   INTEGER NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    address    TEXT NOT NULL,
    dsn        TEXT NOT NULL,
    state      TEXT NOT NULL,
    last_error TEXT,
    UNIQUE (queue_id, address)
);

CREATE TRIGGER messages_added AFTER INSERT ON messages BEGIN
    UPDATE blobs SET refs = refs + 1 WHERE id = NEW.blob_id;
    UPDATE users SET used_bytes = used_bytes + NEW.size
        WHERE id = (SELECT user_id FROM mailboxes WHERE id = NEW.mailbox_id);
END;

CREATE TRIGGER messages_removed AFTER DELETE ON messages BEGIN
    UPDATE users SET used_bytes = used_bytes - OLD.size
        WHERE id = (SELECT user_id FROM mailboxes WHERE id = OLD.mailbox_id);
    UPDATE blobs SET refs = refs - 1 WHERE id = OLD.blob_id;
END;

CREATE TRIGGER queue_added AFTER INSERT ON queue BEGIN
    UPDATE blobs SET refs = refs + 1 WHERE id = NEW.blob_id;
END;

CREATE TRIGGER queue_removed AFTER DELETE ON queue BEGIN
    UPDATE blobs SET refs = refs - 1 WHERE id = OLD.blob_id;
END;

CREATE TRIGGER blobs_unreferenced AFTER UPDATE OF refs ON blobs
WHEN NEW.refs <= 0 BEGIN
    INSERT OR IGNORE INTO blob_trash(id) SELECT NEW.id WHERE NEW.external;
    DELETE FROM blobs WHERE id = NEW.id;
END;
"""


def _statements(script: str) -> list[str]:
    """Split a script into statements (triggers contain ';' inside BEGIN...END).

    `executescript` is not used because it commits the caller's transaction first.
    """
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement: {current!r}")
    return statements


def _to_v1(conn: sqlite3.Connection) -> None:
    for statement in _statements(_V1):
        conn.execute(statement)


# Version 2: what webmail reads.  One summary per blob (copies and moves share it)
# for listing, sorting and threading without parsing messages; an FTS5 index of
# sender, recipients, subject and text keyed by the summary's rowid; and browser
# sessions.  Summaries are written with the blob (accept/append); blobs stored
# before version 2 are summarised after the migration (SQLiteStore.open), since
# large blobs live in files the migration cannot read.
_V2 = """
CREATE TABLE summaries (
    blob_id        TEXT PRIMARY KEY,
    from_name      TEXT NOT NULL,
    from_addr      TEXT NOT NULL,
    to_addrs       TEXT NOT NULL,  -- JSON list of lower-case addr-specs (To and Cc)
    to_text        TEXT NOT NULL,
    subject        TEXT NOT NULL,
    date           INTEGER NOT NULL,  -- Date: header, microseconds; 0 when absent
    message_id     TEXT NOT NULL,
    in_reply_to    TEXT NOT NULL,
    refs           TEXT NOT NULL,  -- References, space-separated
    thread_key     TEXT NOT NULL,
    has_attachment INTEGER NOT NULL,
    preview        TEXT NOT NULL
);
CREATE INDEX summaries_thread ON summaries(thread_key);

CREATE VIRTUAL TABLE message_text USING fts5(
    sender, recipients, subject, body, tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER blobs_removed_summary AFTER DELETE ON blobs BEGIN
    DELETE FROM summaries WHERE blob_id = OLD.id;
END;

CREATE TRIGGER summaries_removed AFTER DELETE ON summaries BEGIN
    DELETE FROM message_text WHERE rowid = OLD.rowid;
END;

CREATE TABLE web_sessions (
    id        TEXT PRIMARY KEY,  -- SHA-256 of the cookie's token, never the token
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf      TEXT NOT NULL,
    remote_ip TEXT NOT NULL,
    created   INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    expires   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX web_sessions_user ON web_sessions(user_id);
"""


def _to_v2(conn: sqlite3.Connection) -> None:
    for statement in _statements(_V2):
        conn.execute(statement)


# Version 3: unread counts without reading every message of a folder.  A partial
# index holds only messages without \Seen; a query whose WHERE repeats the index's
# condition word for word (index.py, _NOT_SEEN) counts those alone.
_V3 = """
CREATE INDEX messages_unseen ON messages(mailbox_id, uid)
    WHERE instr(flags, ' \\Seen ') = 0;
"""


def _to_v3(conn: sqlite3.Connection) -> None:
    for statement in _statements(_V3):
        conn.execute(statement)


# Version 4: a folder sorted by date received or by size reads one page of an index
# instead of sorting every message.
_V4 = """
CREATE INDEX messages_received ON messages(mailbox_id, internal_date, uid);
CREATE INDEX messages_size ON messages(mailbox_id, size, uid);
"""


def _to_v4(conn: sqlite3.Connection) -> None:
    for statement in _statements(_V4):
        conn.execute(statement)


# Version 5: sorting a folder by sender or subject.  Each message copy carries the
# two sort keys of its summary, set by a trigger when the copy is inserted (accept,
# append, copy and move all insert), so an index per key gives a page directly.
_SORT_FROM = "lower(coalesce(nullif(s.from_name, ''), s.from_addr, ''))"
_SORT_SUBJECT = "lower(s.subject)"
_V5 = f"""
ALTER TABLE messages ADD COLUMN sort_from TEXT;
ALTER TABLE messages ADD COLUMN sort_subject TEXT;

CREATE TRIGGER messages_sort_keys AFTER INSERT ON messages BEGIN
    UPDATE messages SET
        sort_from = (SELECT {_SORT_FROM} FROM summaries AS s WHERE s.blob_id = NEW.blob_id),
        sort_subject = (SELECT {_SORT_SUBJECT} FROM summaries AS s WHERE s.blob_id = NEW.blob_id)
    WHERE id = NEW.id;
END;

UPDATE messages SET
    sort_from = (SELECT {_SORT_FROM} FROM summaries AS s WHERE s.blob_id = messages.blob_id),
    sort_subject = (SELECT {_SORT_SUBJECT} FROM summaries AS s WHERE s.blob_id = messages.blob_id);

CREATE INDEX messages_by_from ON messages(mailbox_id, sort_from, uid);
CREATE INDEX messages_by_subject ON messages(mailbox_id, sort_subject, uid);
"""


def _to_v5(conn: sqlite3.Connection) -> None:
    for statement in _statements(_V5):
        conn.execute(statement)


# The values of messages' sort_from and sort_subject in an INSERT: two subqueries,
# each taking the message's blob id as its parameter.
SORT_KEY_VALUES = (
    f"(SELECT {_SORT_FROM} FROM summaries AS s WHERE s.blob_id = ?),"
    f" (SELECT {_SORT_SUBJECT} FROM summaries AS s WHERE s.blob_id = ?)"
)


def set_sort_keys(conn: sqlite3.Connection, blob_id: str) -> None:
    """Fill the sort keys of the copies of a blob whose summary came after them
    (summaries back-filled for messages stored before version 2)."""
    conn.execute(
        f"UPDATE messages SET"
        f" sort_from = (SELECT {_SORT_FROM} FROM summaries AS s WHERE s.blob_id = ?1),"
        f" sort_subject = (SELECT {_SORT_SUBJECT} FROM summaries AS s WHERE s.blob_id = ?1)"
        " WHERE blob_id = ?1",
        (blob_id,),
    )


# Version 6: accepting a message writes only what its header block says; the text
# for the preview and the full-text index is read later (index.py), in batches,
# when the store is quiet or before a search.  `indexed` = 0 marks those pending.
# The sort keys of version 5 are written by the INSERT of each copy itself
# (SORT_KEY_VALUES), no longer by a trigger that rewrote the new row.
_V6 = """
ALTER TABLE summaries ADD COLUMN indexed INTEGER NOT NULL DEFAULT 1;
CREATE INDEX summaries_pending ON summaries(indexed) WHERE indexed = 0;
DROP TRIGGER messages_sort_keys;
"""


def _to_v6(conn: sqlite3.Connection) -> None:
    for statement in _statements(_V6):
        conn.execute(statement)


# Version 7: whether a blob's octets can be sent in a dot-terminated body as they are
# (dotsafe.py), noted when it is stored; NULL for blobs stored before, which are
# looked at when read.
_V7 = """
ALTER TABLE blobs ADD COLUMN dot_safe INTEGER;
"""


def _to_v7(conn: sqlite3.Connection) -> None:
    for statement in _statements(_V7):
        conn.execute(statement)


# MIGRATIONS[i] turns a version-i database into version i+1.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _to_v1,
    _to_v2,
    _to_v3,
    _to_v4,
    _to_v5,
    _to_v6,
    _to_v7,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Upgrade the schema to SCHEMA_VERSION; returns the version found.

    Must run inside a write transaction (BEGIN IMMEDIATE) so two processes opening
    the same new database do not both create the tables.
    """
    (found,) = conn.execute("PRAGMA user_version").fetchone()
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {found} is newer than this posthouse ({SCHEMA_VERSION})"
        )
    for version in range(found, SCHEMA_VERSION):
        MIGRATIONS[version](conn)
        # PRAGMA takes no bound parameters; the value is an int we computed.
        conn.execute(f"PRAGMA user_version = {version + 1:d}")
    return int(found)
