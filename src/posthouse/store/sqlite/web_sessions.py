"""Browser sessions of the webmail (schema version 2), mixed into `SQLiteStore`.

Kept in the database, not in a process's memory, so every worker process serves
every session and a restart logs nobody out.  Only a hash of the cookie's token is
stored: a copy of the database does not let anyone into an account.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from posthouse.store.base import NotFound, WebSession
from posthouse.store.sqlite.values import from_us, to_us

_COLS = "id, user_id, csrf, remote_ip, created, last_seen, expires"


def _now_us() -> int:
    return time.time_ns() // 1000


def _session(row: Sequence[Any]) -> WebSession:
    return WebSession(
        id=row[0],
        user_id=row[1],
        csrf=row[2],
        remote_ip=row[3],
        created=from_us(row[4]),
        last_seen=from_us(row[5]),
        expires=from_us(row[6]),
    )


def _tx_create(
    conn: sqlite3.Connection,
    session_id: str,
    user_id: int,
    csrf: str,
    remote_ip: str,
    expires: int,
) -> WebSession:
    if not conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone():
        raise NotFound(f"no user {user_id}")
    now = _now_us()
    # Sessions that ended are swept here, a few at a time, instead of by a timer.
    conn.execute(
        "DELETE FROM web_sessions WHERE id IN"
        " (SELECT id FROM web_sessions WHERE expires < ? LIMIT 100)",
        (now,),
    )
    row = (session_id, user_id, csrf, remote_ip, now, now, expires)
    conn.execute(f"INSERT INTO web_sessions ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    return _session(row)


def _tx_touch(conn: sqlite3.Connection, session_id: str, expires: int) -> None:
    conn.execute(
        "UPDATE web_sessions SET last_seen = ?, expires = ? WHERE id = ?",
        (_now_us(), expires, session_id),
    )


def _tx_delete(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute("DELETE FROM web_sessions WHERE id = ?", (session_id,))


def _tx_delete_user(conn: sqlite3.Connection, user_id: int, keep: str | None) -> int:
    cur = conn.execute(
        "DELETE FROM web_sessions WHERE user_id = ? AND id IS NOT ?", (user_id, keep)
    )
    return int(cur.rowcount)


class WebSessions:
    """The WebSessionStore methods of SQLiteStore."""

    def _row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        raise NotImplementedError

    async def _write(self, fn: Any) -> Any:
        raise NotImplementedError

    async def create_web_session(
        self, session_id: str, user_id: int, csrf: str, remote_ip: str, expires: datetime
    ) -> WebSession:
        result: WebSession = await self._write(
            functools.partial(
                _tx_create,
                session_id=session_id,
                user_id=user_id,
                csrf=csrf,
                remote_ip=remote_ip,
                expires=to_us(expires),
            )
        )
        return result

    async def get_web_session(self, session_id: str) -> WebSession | None:
        row = self._row(
            f"SELECT {_COLS} FROM web_sessions WHERE id = ? AND expires >= ?",
            (session_id, _now_us()),
        )
        return None if row is None else _session(row)

    async def touch_web_session(self, session_id: str, expires: datetime) -> None:
        await self._write(
            functools.partial(_tx_touch, session_id=session_id, expires=to_us(expires))
        )

    async def delete_web_session(self, session_id: str) -> None:
        await self._write(functools.partial(_tx_delete, session_id=session_id))

    async def delete_web_sessions(self, user_id: int, *, keep: str | None = None) -> int:
        count: int = await self._write(
            functools.partial(_tx_delete_user, user_id=user_id, keep=keep)
        )
        return count
