"""Noticing mailbox changes for IMAP sessions, whichever process made them.

One watcher per process polls the store: a cheap change token first (SQLite's
`PRAGMA data_version`, which moves when any connection of any process commits), and only
when it moved, one query for the HIGHESTMODSEQ of every mailbox some session watches.
Sessions whose mailbox changed are woken at once.  So a message delivered over SMTP by
another worker reaches every IDLE-ing client within one poll interval, and 10,000 IDLE
connections cost one query per interval, not 10,000.

A session of this process that changes a mailbox itself calls `poke()`, which wakes
the other sessions on that mailbox without waiting for the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from posthouse.store.base import MailboxChange, MessageRecord, Store

log = logging.getLogger("posthouse.imap")

POLL_INTERVAL = 0.2  # seconds


class MailboxWatcher:
    def __init__(self, store: Store, interval: float = POLL_INTERVAL) -> None:
        self.store = store
        self.interval = interval
        # mailbox -> key -> [wake, the highest modseq that watcher has seen]
        self._watchers: dict[int, dict[int, list[Any]]] = {}
        self._token: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_key = 0
        # Answers valid while the store's change token stays `_answers_token`.
        self._cache: dict[tuple[int, int], MailboxChange] = {}
        self._lists: dict[int, list[MessageRecord]] = {}
        self._answers_token: int | None = None

    def watch(self, mailbox_id: int, modseq: int, wake: Callable[[], None]) -> int:
        """Call `wake()` once the mailbox's HIGHESTMODSEQ passes `modseq` (what the
        session has seen); returns a key for `unwatch`."""
        self._next_key += 1
        key = self._next_key
        self._watchers.setdefault(mailbox_id, {})[key] = [wake, modseq]
        self._token = None  # look at once on the next poll
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return key

    def unwatch(self, mailbox_id: int, key: int) -> None:
        watchers = self._watchers.get(mailbox_id)
        if watchers is None:
            return
        watchers.pop(key, None)
        if not watchers:
            del self._watchers[mailbox_id]

    def poke(self, mailbox_id: int, *, skip: int | None = None) -> None:
        """This process changed the mailbox: wake its watchers (but `skip`) now."""
        for key, entry in list(self._watchers.get(mailbox_id, {}).items()):
            if key != skip:
                entry[0]()

    def _forget_if_changed(self) -> None:
        """Drop the kept answers once anything was committed since they were read."""
        token = self.store.change_token()
        if token != self._answers_token:
            self._cache.clear()
            self._lists.clear()
            self._answers_token = token

    async def changes_since(self, mailbox_id: int, modseq: int) -> MailboxChange:
        """`store.changes_since`, shared: when a delivery wakes the 50 sessions IDLE-ing
        on one mailbox, they all ask the same question, and one query answers it.
        Answers are kept until the store's change token moves."""
        self._forget_if_changed()
        key = (mailbox_id, modseq)
        change = self._cache.get(key)
        if change is None:
            change = await self.store.changes_since(mailbox_id, modseq)
            if len(self._cache) < 10_000:
                self._cache[key] = change
        return change

    async def list_messages(self, mailbox_id: int) -> list[MessageRecord]:
        """`store.list_messages`, kept for the few mailboxes read last while nothing is
        committed: a client that fetches or searches a big mailbox again, or several
        sessions on one mailbox, read its index once."""
        self._forget_if_changed()
        records = self._lists.get(mailbox_id)
        if records is None:
            records = await self.store.list_messages(mailbox_id)
            if len(self._lists) >= 8:
                self._lists.pop(next(iter(self._lists)))
            self._lists[mailbox_id] = records
        return records

    @property
    def watched(self) -> int:
        return sum(len(w) for w in self._watchers.values())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while self._watchers:
            await asyncio.sleep(self.interval)
            try:
                await self._poll()
            except Exception as e:  # a closed or failing store: keep trying, quietly
                log.debug("mailbox watcher: %s", e)

    async def _poll(self) -> None:
        token = self.store.change_token()
        if token == self._token:
            return
        self._token = token
        ids = list(self._watchers)
        current = await self.store.highest_modseqs(ids)
        for mailbox_id in ids:
            modseq = current.get(mailbox_id)
            for entry in list(self._watchers.get(mailbox_id, {}).values()):
                if modseq is None or modseq > entry[1]:  # None: the mailbox was deleted
                    entry[1] = modseq if modseq is not None else entry[1]
                    entry[0]()


_WATCHERS: dict[int, MailboxWatcher] = {}


def watcher_for(store: Store) -> MailboxWatcher:
    """The watcher of this process for `store` (one per running server)."""
    watcher = _WATCHERS.get(id(store))
    if watcher is None or watcher.store is not store:
        watcher = _WATCHERS[id(store)] = MailboxWatcher(store)
    return watcher


def mailboxes_changed(store: Store, mailbox_ids: Iterable[int]) -> None:
    """A delivery in this process changed these mailboxes: wake their IDLE sessions
    now rather than at the next poll."""
    watcher = _WATCHERS.get(id(store))
    if watcher is not None and watcher.store is store:
        for mailbox_id in set(mailbox_ids):
            watcher.poke(mailbox_id)
