"""Subprocess for the crash test: accepts in a loop, acknowledging each one.

    python crash_worker.py DATABASE BLOB_DIR START MAILBOX_ID MAILBOX_ID [COUNT]

After each `accept` returns it prints "ok N BLOB_ID UID1 UID2 QUEUE_ID" and flushes,
so whatever the parent has read was acknowledged as durable before it killed us.
COUNT (default: forever) stops after that many accepts.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

from posthouse.store.base import LocalDelivery, OutboundEnvelope, OutboundRecipient
from posthouse.store.sqlite.backend import SQLiteStore

WRITERS = 8


def crash_message(n: int) -> bytes:
    """Message number n: every fourth one is large (a blob file), the rest inline."""
    size = 100 * 1024 if n % 4 == 0 else 3 * 1024
    head = f"Subject: crash {n}\r\n\r\n".encode()
    line = f"{n:012d} ".encode() * 6 + b"\r\n"
    return head + (line * (size // len(line) + 1))[: size - len(head)]


async def main(argv: list[str]) -> None:
    database, blob_dir = Path(argv[0]), Path(argv[1])
    start, first, second = int(argv[2]), int(argv[3]), int(argv[4])
    stop = start + int(argv[5]) if len(argv) > 5 else None
    store = await SQLiteStore.open(database, blob_dir)
    numbers = itertools.count(start)
    print("ready", flush=True)

    async def writer() -> None:
        while True:
            n = next(numbers)
            if stop is not None and n >= stop:
                return
            result = await store.accept(
                crash_message(n),
                [LocalDelivery(first), LocalDelivery(second)],
                OutboundEnvelope("crash@example.org", (OutboundRecipient("x@remote.test"),)),
            )
            uids = " ".join(str(m.uid) for m in result.messages)
            sys.stdout.write(f"ok {n} {result.blob_id} {uids} {result.queue_id}\n")
            sys.stdout.flush()

    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
