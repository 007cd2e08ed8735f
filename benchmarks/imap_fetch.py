"""IMAP FETCH benchmark: one mailbox of 50,000 messages, on loopback.

    python benchmarks/imap_fetch.py [--messages 50000] [--size 4096] [--rounds 3]
                                    [--workers 1] [--no-dovecot]

Two workloads, each timed from the command to its tagged OK:
  * headers: `FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE)` — what a client does to show a
    message list;
  * bodies:  `UID FETCH 1:* (BODY.PEEK[])` — what a sync tool (mbsync, offlineimap)
    does on a first sync.

Runs posthouse (a fresh instance; messages seeded through the store) and, when it is
installed, Dovecot (a private instance with its own config, base and state
directories and a free port, the same messages in a Maildir; nothing of the system's
Dovecot is touched).  Each server gets an untimed warm-up round of both workloads
(Dovecot builds its index and cache file, posthouse its structure cache, both fill
the page cache), then `--rounds` timed rounds; the table shows the best and the
median and the JSON line has every round.

The client runs in this process and is the same for both servers: it reads the
response stream and only looks for the tagged completion, so its own cost is small.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.server import MailServer  # noqa: E402

from benchmarks.pop3_retr import PASSWORD, private_dovecot  # noqa: E402
from posthouse.accounts.passwords import hash_password  # noqa: E402
from posthouse.config import load_config  # noqa: E402
from posthouse.store import open_store  # noqa: E402
from posthouse.store.base import LocalDelivery  # noqa: E402

USER = "reader@example.test"
WORKLOADS = {
    "headers": b"FETCH 1:* (FLAGS ENVELOPE RFC822.SIZE)",
    "bodies": b"UID FETCH 1:* (BODY.PEEK[])",
}


def make_message(i: int, size: int) -> bytes:
    head = (
        f'From: "Bench Sender {i % 97}" <sender{i % 97}@example.org>\r\n'
        f"To: Reader <reader@example.test>, other{i % 13}@example.net\r\n"
        f"Cc: list{i % 7}@lists.example.org\r\n"
        f"Subject: imap bench message {i}\r\n"
        f"Date: Thu, 26 Nov 2026 12:{i // 60 % 60:02d}:{i % 60:02d} +0000\r\n"
        f"Message-ID: <bench-{i}@example.org>\r\n"
        f"In-Reply-To: <bench-{max(0, i - 1)}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


class Client(asyncio.Protocol):
    """Reads the stream; wakes the waiter when the tagged response of `tag` arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.tail = b""
        self.octets = 0
        self.fetches = 0
        self.done: asyncio.Future[bytes] | None = None
        self.pattern: re.Pattern[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.octets += len(data)
        # Counting "FETCH (" is enough: bodies are generated and hold no such text.
        # (the last 7 octets of what came before: a marker split between reads counts
        # once, and one already counted cannot fit in them)
        self.fetches += (self.tail[-7:] + data[:7]).count(b" FETCH (") + data.count(b" FETCH (")
        window = self.tail + data
        self.tail = window[-2000:]
        if self.pattern is not None and self.done is not None and not self.done.done():
            match = self.pattern.search(window[-2000:])
            if match:
                self.done.set_result(match[0])

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("server closed the connection"))

    async def command(self, tag: str, text: bytes) -> bytes:
        assert self.transport is not None
        self.done = asyncio.get_running_loop().create_future()
        self.pattern = re.compile(rb"(?:^|\r\n)" + tag.encode() + rb" (OK|NO|BAD)[^\r\n]*\r\n")
        self.transport.write(tag.encode() + b" " + text + b"\r\n")
        line = await self.done
        if b" OK" not in line:
            raise RuntimeError(f"{text!r} failed: {line!r}")
        return line


async def session(port: int, rounds: int, expected: int) -> dict[str, list[dict[str, float]]]:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(Client, "127.0.0.1", port)
    await asyncio.sleep(0.05)  # the greeting
    await client.command("a1", f'LOGIN "{USER}" "{PASSWORD}"'.encode())
    await client.command("a2", b"SELECT INBOX")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in WORKLOADS}
    for r in range(rounds + 1):  # round 0 is the warm-up
        for name, text in WORKLOADS.items():
            client.octets = client.fetches = 0
            t0 = time.perf_counter()
            await client.command(f"r{r}{name}", text)
            seconds = time.perf_counter() - t0
            if client.fetches < expected:
                raise RuntimeError(f"{name}: {client.fetches} FETCH responses of {expected}")
            if r:
                results[name].append(
                    {"messages": client.fetches, "octets": client.octets, "seconds": seconds}
                )
            print(
                f"  {'warm-up' if not r else f'round {r}'} {name}: "
                f"{client.fetches / seconds:,.0f} msgs/s, "
                f"{client.octets / seconds / 1e6:.1f} MB/s",
                flush=True,
            )
    await client.command("z", b"LOGOUT")
    return results


async def seed_posthouse(directory: Path, messages: list[bytes]) -> None:
    config = load_config(directory)
    store = await open_store(config.database_path, config.blob_dir)
    try:
        user = await store.add_user(USER, hash_password(PASSWORD))
        inbox = await store.get_mailbox(user.id, "INBOX")
        assert inbox is not None
        batch = 500  # concurrent accepts share one fsync (group commit)
        for start in range(0, len(messages), batch):
            await asyncio.gather(
                *(
                    store.accept(raw, [LocalDelivery(inbox.id)])
                    for raw in messages[start : start + batch]
                )
            )
    finally:
        await store.close()


def posthouse_run(
    messages: list[bytes], rounds: int, workers: int
) -> dict[str, list[dict[str, float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        server = MailServer.create(Path(tmp) / "instance", workers=workers)
        t0 = time.perf_counter()
        asyncio.run(seed_posthouse(server.dir, messages))
        print(f"posthouse: seeded {len(messages)} messages in {time.perf_counter() - t0:.1f} s")
        server.start()
        try:
            return asyncio.run(session(server.ports["imap"], rounds, len(messages)))
        finally:
            server.stop()


def dovecot_run(messages: list[bytes], rounds: int) -> dict[str, list[dict[str, float]]] | None:
    with private_dovecot("imap", [USER], messages) as running:
        if running is None:
            return None
        port, _ = running
        return asyncio.run(session(port, rounds, len(messages)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-dovecot", action="store_true")
    args = ap.parse_args()
    messages = [make_message(i, args.size) for i in range(args.messages)]
    results: dict[str, dict[str, list[dict[str, float]]] | None] = {}
    print(f"posthouse (workers={args.workers}): {args.messages} messages of ~{args.size} octets")
    results["posthouse"] = posthouse_run(messages, args.rounds, args.workers)
    if not args.no_dovecot:
        print("dovecot:")
        results["dovecot"] = dovecot_run(messages, args.rounds)
    print(f"\n{'server':12} {'workload':9} {'best msgs/s':>11} {'MB/s':>7} {'median msgs/s':>13}")
    for server, runs in results.items():
        if runs is None:
            print(f"{server:12} (not installed)")
            continue
        for name, rows in runs.items():
            rates = sorted(r["messages"] / r["seconds"] for r in rows)
            mbs = sorted(r["octets"] / r["seconds"] / 1e6 for r in rows)
            print(
                f"{server:12} {name:9} {rates[-1]:>11,.0f} {mbs[-1]:>7.1f}"
                f" {statistics.median(rates):>13,.0f}"
            )
    print(json.dumps({"args": vars(args), "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
