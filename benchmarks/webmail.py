"""Webmail benchmark: server time for the pages a user waits on, in a big mailbox.

    python benchmarks/webmail.py [--messages 100000] [--requests 200] [--dir DIR] [--keep]

Fills one INBOX through the store's public `append` (so each message gets its
summary and full-text entry as real delivery does), then drives the Starlette app
in-process (httpx's ASGI transport: no sockets, no TLS) as a signed-in user and
reports p50/p95 of:

- list:   the first page of the message list (50 rows, folder list with counts);
- open:   a random unread message (which marks it \\Seen: one durable write);
- search: a full-text search for a word found in about 1 % of the messages;
- and, beyond the issue's goals, the conversations view and the list by date.

Goals from the issue: list <= 50 ms p95, open <= 50 ms p95, search <= 200 ms p95.
A store built by an earlier run is reused with --dir DIR --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from posthouse.accounts.authenticate import Authenticator
from posthouse.accounts.directory import Directory
from posthouse.accounts.passwords import hash_password
from posthouse.accounts.throttle import LoginThrottle
from posthouse.config import Config
from posthouse.server.context import ServerContext
from posthouse.store.sqlite.backend import SQLiteStore
from posthouse.web.app import create_app

ADDRESS, PASSWORD = "bench@example.org", "bench-password-1"
WORDS = [f"w{n:04d}" for n in range(5000)]
RARE = "quokka"  # in 1 message of 100


def _message(n: int, rng: random.Random) -> bytes:
    words = " ".join(rng.choice(WORDS) for _ in range(120))
    if n % 100 == 7:
        words += f" {RARE}"
    thread = f"<t{n // 5}@bench.example>"
    return (
        f"From: Sender {n % 500} <s{n % 500}@example.net>\r\n"
        f"To: {ADDRESS}\r\nSubject: Message {n} about {rng.choice(WORDS)}\r\n"
        f"Date: Mon, 02 Mar 2026 {n % 24:02d}:{n % 60:02d}:00 +0000\r\n"
        f"Message-ID: <m{n}@bench.example>\r\n"
        + (f"References: {thread}\r\nIn-Reply-To: {thread}\r\n" if n % 5 else "")
        + "\r\n"
        + "\r\n".join(words[i : i + 70] for i in range(0, len(words), 70))
        + "\r\n"
    ).encode()


async def fill(store: SQLiteStore, inbox_id: int, count: int) -> float:
    rng = random.Random(1)
    started = time.perf_counter()
    batch = 500  # concurrent appends share group commits, as busy SMTP sessions do
    for first in range(0, count, batch):
        await asyncio.gather(
            *(
                store.append(inbox_id, _message(n, rng))
                for n in range(first, min(first + batch, count))
            )
        )
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def run(messages: int, requests: int, root: Path) -> dict[str, Any]:
    store = await SQLiteStore.open(root / "bench.sqlite", root / "blobs")
    result: dict[str, Any] = {"messages": messages, "requests": requests}
    try:
        user = await store.get_user(ADDRESS)
        if user is None:
            await store.add_domain("example.org")
            user = await store.add_user(ADDRESS, hash_password(PASSWORD))
        inbox = await store.get_mailbox(user.id, "INBOX")
        assert inbox is not None
        have = (await store.mailbox_status(inbox.id)).messages
        if have < messages:
            result["fill_seconds"] = round(await fill(store, inbox.id, messages - have), 1)
        # Text is indexed after accepting (when the store is quiet, or before a
        # search); do all of it now so the search timings are of searching alone.
        started = time.perf_counter()
        indexed = await store.index_pending()
        if indexed:
            result["index_seconds"] = round(time.perf_counter() - started, 1)
        config = Config(dir=root, hostname="mail.example.org", domain="example.org", dns={})
        ctx = ServerContext(
            config=config,
            store=store,
            directory=Directory(store),
            authenticator=Authenticator(store, LoginThrottle()),
            tls=None,
        )
        app = create_app(ctx)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://bench") as client:
            page = await client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token is not None
            await client.post(
                "/login",
                data={"username": ADDRESS, "password": PASSWORD, "csrf": token.group(1)},
            )
            # Opening an unread message is the common case, and the dearer one: it
            # marks the message \Seen (a durable write) and changes the unread count.
            unread = [m.uid for m in await store.list_messages(inbox.id) if "\\Seen" not in m.flags]
            rng = random.Random()
            opened = rng.sample(unread, min(requests, len(unread)))

            async def timed(path: str) -> float:
                started = time.perf_counter()
                response = await client.get(path)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (path, response.status_code)
                return elapsed

            for _ in range(5):  # warm caches
                await timed(f"/mail/{inbox.id}")
            result["list"] = _percentiles(
                [await timed(f"/mail/{inbox.id}") for _ in range(requests)]
            )
            result["open"] = _percentiles(
                [await timed(f"/mail/{inbox.id}/{uid}") for uid in opened]
            )
            result["list_conversations"] = _percentiles(
                [await timed(f"/mail/{inbox.id}?threads=1") for _ in range(requests)]
            )
            result["list_by_date_oldest_first"] = _percentiles(
                [await timed(f"/mail/{inbox.id}?sort=date&dir=asc") for _ in range(requests)]
            )
            result["search"] = _percentiles(
                [await timed(f"/search?q={RARE}") for _ in range(requests)]
            )
            found = await store.search_messages(user.id, RARE, limit=100_000)
            result["search_hits"] = len(found)
    finally:
        await store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="where the store lives")
    parser.add_argument("--keep", action="store_true", help="keep the store for another run")
    args = parser.parse_args()
    if args.dir is not None and args.keep:
        args.dir.mkdir(parents=True, exist_ok=True)
        print(json.dumps(asyncio.run(run(args.messages, args.requests, args.dir)), indent=2))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(json.dumps(asyncio.run(run(args.messages, args.requests, Path(tmp))), indent=2))


if __name__ == "__main__":
    main()
