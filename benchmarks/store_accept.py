"""Store micro-benchmark: durable `accept`s per second with concurrent writers.

    python benchmarks/store_accept.py [--messages 5000] [--writers 20] [--size 10240]
                                      [--dir DIR]

Each writer is a coroutine that calls `SQLiteStore.accept` for one local delivery
in a loop, as SMTP sessions do after DATA.  Every accept returns only after its
group commit is fsync'd, so the figure is the rate of *durable* accepts.  Also
prints the commits (fsyncs) the writer made and per-accept latency percentiles.
The store lives in a fresh temporary directory (under --dir, which should be on
the disk you care about; /dev/shm would measure no fsync at all).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from posthouse.store.base import LocalDelivery
from posthouse.store.sqlite.backend import SQLiteStore


def _message(n: int, size: int) -> bytes:
    head = f"From: bench@example.net\r\nTo: bench@example.org\r\nSubject: {n}\r\n\r\n".encode()
    line = b"x" * 76 + b"\r\n"
    body = line * (max(size - len(head), 0) // len(line) + 1)
    return head + body[: max(size - len(head), 0)]


async def run(messages: int, writers: int, size: int, root: Path) -> dict[str, float]:
    store = await SQLiteStore.open(root / "bench.sqlite", root / "blobs")
    try:
        await store.add_domain("example.org")
        user = await store.add_user("bench@example.org", "x")
        inbox = await store.get_mailbox(user.id, "INBOX")
        assert inbox is not None
        raws = [_message(n, size) for n in range(writers)]
        latencies: list[float] = []
        remaining = messages

        async def writer(index: int) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                await store.accept(raws[index], [LocalDelivery(inbox.id)])
                latencies.append(time.perf_counter() - started)

        commits = store.commits
        started = time.perf_counter()
        await asyncio.gather(*(writer(i) for i in range(writers)))
        elapsed = time.perf_counter() - started
        commits = store.commits - commits
    finally:
        await store.close()
    latencies.sort()
    return {
        "messages": messages,
        "writers": writers,
        "size": size,
        "seconds": round(elapsed, 3),
        "accepts_per_second": round(messages / elapsed, 1),
        "commits": commits,
        "accepts_per_commit": round(messages / max(commits, 1), 2),
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--size", type=int, default=10 * 1024)
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="posthouse-bench-") as tmp:
        result = asyncio.run(run(args.messages, args.writers, args.size, Path(tmp)))
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
