"""IMAP IDLE benchmark: 10,000 connections waiting in IDLE; the server's memory, and the
time for a new message to reach every one of them.

    python benchmarks/imap_idle.py [--connections 10000] [--users 200] [--workers 1]

Each of `--users` users holds connections/users sessions, each logged in with an app
password (an HMAC check, as a desktop client configured with an authorization code
would), SELECT INBOX, IDLE.  Once all are idling, the server's resident memory (the
main process and its workers, from /proc) is read; then one SMTP transaction delivers
one message to every user at once, and the clock runs until every connection has seen
its `* n EXISTS`.  Reported: memory in MiB (and KiB per connection), and the time to
the first, median, 99th percentile and last notification.

The goals in issue 4: under 1 GiB of server memory for 10,000 IDLE connections, every
one notified within 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import smtplib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.server import MailServer  # noqa: E402

from posthouse.accounts.app_passwords import create_app_password  # noqa: E402
from posthouse.accounts.passwords import hash_password  # noqa: E402
from posthouse.config import load_config  # noqa: E402
from posthouse.store import open_store  # noqa: E402


class Idler(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiting: tuple[bytes, asyncio.Future[None]] | None = None
        self.notified: float | None = None
        self.idling = False
        self.on_notified: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.idling and self.notified is None and b" EXISTS\r\n" in self.buffer:
            self.notified = time.perf_counter()
            if self.on_notified is not None:
                self.on_notified()
        if self.waiting is not None and self.waiting[0] in self.buffer:
            future = self.waiting[1]
            self.waiting = None
            if not future.done():
                future.set_result(None)
        if len(self.buffer) > 4096:
            self.buffer = self.buffer[-512:]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting is not None and not self.waiting[1].done():
            self.waiting[1].set_exception(ConnectionError("closed"))

    async def until(self, marker: bytes, send: bytes | None = None) -> None:
        future = asyncio.get_running_loop().create_future()
        self.waiting = (marker, future)
        if send is not None:
            assert self.transport is not None
            self.transport.write(send)
        if marker in self.buffer:
            self.waiting = None
            return
        await asyncio.wait_for(future, 120)
        self.buffer = b""


async def open_idler(port: int, user: str, code: str, gate: asyncio.Semaphore) -> Idler:
    async with gate:
        loop = asyncio.get_running_loop()
        _, idler = await loop.create_connection(Idler, "127.0.0.1", port)
        await idler.until(b"\r\n")  # greeting
        await idler.until(b"a OK", f'a LOGIN "{user}" "{code}"\r\n'.encode())
        await idler.until(b"b OK", b"b SELECT INBOX\r\n")
        await idler.until(b"+ idling", b"c IDLE\r\n")
        idler.idling = True
        return idler


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (worker processes)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


async def seed(directory: Path, users: list[str]) -> dict[str, str]:
    config = load_config(directory)
    store = await open_store(config.database_path, config.blob_dir)
    codes = {}
    try:
        password_hash = hash_password("bench-Secret-1")
        for address in users:
            user = await store.add_user(address, password_hash)
            codes[address] = (await create_app_password(store, user, "bench", ["imap"])).code
    finally:
        await store.close()
    return codes


async def run(server: MailServer, codes: dict[str, str], connections: int) -> dict[str, float]:
    users = list(codes)
    gate = asyncio.Semaphore(200)  # logins in flight at once
    t0 = time.perf_counter()
    idlers = await asyncio.gather(
        *(
            open_idler(
                server.ports["imap"], users[i % len(users)], codes[users[i % len(users)]], gate
            )
            for i in range(connections)
        )
    )
    setup = time.perf_counter() - t0
    print(f"{connections} connections idling after {setup:.1f} s", flush=True)
    await asyncio.sleep(2)  # let the server settle
    assert server.proc is not None
    memory = rss_kib(server.proc.pid)
    print(f"server memory: {memory / 1024:.0f} MiB ({memory / connections:.1f} KiB/connection)")

    def deliver() -> float:
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=60) as smtp:
            smtp.ehlo()
            message = b"From: <bench@example.org>\r\nSubject: wake up\r\n\r\nnew mail\r\n"
            sent = time.perf_counter()
            smtp.sendmail("bench@example.org", users, message)
            return sent

    everyone = asyncio.Event()
    left = len(idlers)

    def one_more() -> None:
        nonlocal left
        left -= 1
        if left == 0:
            everyone.set()

    for idler in idlers:
        idler.on_notified = one_more
    sent = await asyncio.to_thread(deliver)
    try:
        await asyncio.wait_for(everyone.wait(), 30)
    except TimeoutError:
        pass
    delays = sorted((i.notified - sent) for i in idlers if i.notified is not None)
    missed = connections - len(delays)
    for idler in idlers:
        if idler.transport is not None:
            idler.transport.write(b"DONE\r\nz LOGOUT\r\n")
    await asyncio.sleep(1)
    for idler in idlers:
        if idler.transport is not None:
            idler.transport.close()
    return {
        "connections": connections,
        "setup_seconds": setup,
        "memory_mib": memory / 1024,
        "kib_per_connection": memory / connections,
        "notified": len(delays),
        "missed": missed,
        "first_s": delays[0] if delays else -1,
        "median_s": statistics.median(delays) if delays else -1,
        "p99_s": delays[int(len(delays) * 0.99) - 1] if delays else -1,
        "last_s": delays[-1] if delays else -1,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 1000
    if hard < need:
        raise SystemExit(f"needs {need} file descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    users = [f"idle{k}@example.test" for k in range(args.users)]
    per_user = -(-args.connections // args.users)
    with tempfile.TemporaryDirectory() as tmp:
        server = MailServer.create(
            Path(tmp) / "instance",
            workers=args.workers,
            imap={"max_connections_per_user": per_user + 10},
            max_connections=args.connections + 100,
            max_recipients=max(100, args.users),
        )
        codes = asyncio.run(seed(server.dir, users))
        server.start()
        try:
            result = asyncio.run(run(server, codes, args.connections))
        finally:
            server.stop()
    print(
        f"\nnotified {result['notified']}/{args.connections} (missed {result['missed']}): "
        f"first {result['first_s'] * 1000:.0f} ms, median {result['median_s'] * 1000:.0f} ms, "
        f"p99 {result['p99_s'] * 1000:.0f} ms, last {result['last_s'] * 1000:.0f} ms; "
        f"server memory {result['memory_mib']:.0f} MiB"
    )
    print(json.dumps({"args": vars(args), "result": result}))


if __name__ == "__main__":
    main()
