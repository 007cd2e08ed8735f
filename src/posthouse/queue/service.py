"""Outbound delivery as part of a running server.

With several worker processes only one may deliver, or two would send the same
entry: the process holding an exclusive lock on `data/queue.lock` runs the
scheduler, the others keep trying to take the lock, so a replacement worker takes
over when the delivering one dies (the kernel drops a dead process's lock).

A session that queues a message for another domain calls `queued(store)`, so the
delivering process starts at once instead of at its next look at the queue; in the
other processes the call does nothing and their mail waits for that look.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import weakref
from pathlib import Path

from posthouse.config import Config
from posthouse.queue.scheduler import DeliveryScheduler
from posthouse.queue.signing import signer_for
from posthouse.resolver import Resolver, for_config
from posthouse.store.base import Store

log = logging.getLogger("posthouse.queue")

LOCK_NAME = "queue.lock"
LOCK_RETRY = 2.0  # seconds between attempts to become the delivering process

_services: weakref.WeakKeyDictionary[Store, DeliveryService] = weakref.WeakKeyDictionary()


def queued(store: Store) -> None:
    """Mail for other domains was just queued in `store`: wake its delivery."""
    service = _services.get(store)
    if service is not None and service.scheduler is not None:
        service.scheduler.mail_queued()


def lock_path(config: Config) -> Path:
    return config.database_path.parent / LOCK_NAME


class DeliveryService:
    def __init__(self, config: Config, store: Store, resolver: Resolver | None = None) -> None:
        self.config = config
        self.store = store
        self.resolver = resolver or for_config(config)
        self.scheduler: DeliveryScheduler | None = None
        self._fd: int | None = None
        self._task: asyncio.Task[None] | None = None
        _services[store] = self

    def start(self) -> None:
        self._task = asyncio.create_task(self._take_lock(), name="queue-lock")

    def wake(self) -> None:
        if self.scheduler is not None:
            self.scheduler.wake()

    def _try_lock(self) -> bool:
        path = lock_path(self.config)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def _take_lock(self) -> None:
        while True:
            if self._try_lock():
                break
            await asyncio.sleep(LOCK_RETRY)
        log.info("queue: this process (%d) delivers outbound mail", os.getpid())
        self.scheduler = DeliveryScheduler(
            self.config, self.store, self.resolver, signer=signer_for(self.config)
        )
        self.scheduler.start()

    async def stop(self, grace: float = 10.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if _services.get(self.store) is self:
            del _services[self.store]
        if self.scheduler is not None:
            await self.scheduler.stop(grace)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
