"""Spreading connections evenly over worker processes.

Worker processes share each listening socket, and the kernel wakes all of them when a
connection arrives; whichever gets there first takes it.  Left at that, one worker
often takes most of a burst of connections and runs them on one core while the other
idles.  So each worker counts its open connections in a table the processes share
(one slot each, written only by its owner), and a worker that already has more than
the least loaded one lets a connection wait a moment for that one to take it.  It
never waits twice in a row: a busy or stuck peer cannot leave a client unanswered.
"""

from __future__ import annotations

import mmap
import struct

_SLOT = struct.Struct("=q")


class WorkerLoads:
    """Open connections per worker in memory shared across fork(): created by the
    parent before it forks, then each worker takes its own slot (`for_slot`)."""

    def __init__(self, workers: int, shared: mmap.mmap | None = None, slot: int = 0) -> None:
        self.workers = workers
        self._shared = shared if shared is not None else mmap.mmap(-1, _SLOT.size * workers)
        self.slot = slot

    def for_slot(self, slot: int) -> WorkerLoads:
        """This table as seen by the worker in `slot`; its count starts from zero."""
        view = WorkerLoads(self.workers, self._shared, slot)
        view._set(0)
        return view

    def _get(self, slot: int) -> int:
        return int(_SLOT.unpack_from(self._shared, slot * _SLOT.size)[0])

    def _set(self, value: int) -> None:
        _SLOT.pack_into(self._shared, self.slot * _SLOT.size, value)

    def opened(self) -> None:
        self._set(self._get(self.slot) + 1)

    def closed(self) -> None:
        self._set(max(0, self._get(self.slot) - 1))

    def counts(self) -> list[int]:
        return [self._get(slot) for slot in range(self.workers)]

    def should_wait(self) -> bool:
        """True when another worker has fewer open connections than this one."""
        counts = self.counts()
        return counts[self.slot] > min(counts)
