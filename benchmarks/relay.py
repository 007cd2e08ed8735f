"""Relay benchmark: messages submitted to alpha.test for 100 recipients at beta.test,
timed until every one is in beta's mailboxes: messages/s end to end.

    python benchmarks/relay.py [--messages 10000] [--recipients 100] [--sessions 20]
                               [--size 10240] [--no-dkim]

Two posthouse instances on 127.0.0.2 and 127.0.0.3 (tests/integration/relay_pair.py:
one static DNS table, DKIM keys, SPF and DMARC records for both). A small asyncio load
generator submits on alpha's submission port with AUTH (plaintext: loopback); alpha
queues, signs and delivers to beta over SMTP with STARTTLS; beta checks SPF, DKIM and
DMARC and files each message. Both servers and the load generator share the machine.

Prints the submission rate, the end-to-end rate (first submission to last message
filed at beta), the CPU time each server used per message (a figure that other load
on the machine disturbs far less than the rates) and a JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.integration.relay_pair import PASSWORDS, Pair, make_pair  # noqa: E402

from benchmarks.proc_cpu import cpu_seconds  # noqa: E402

SENDER = "alice@alpha.test"


async def submit(
    host: str, port: int, count: int, first: int, recipients: list[str], body: bytes
) -> None:
    reader, writer = await asyncio.open_connection(host, port)

    async def reply() -> bytes:
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("closed")
            if line[3:4] != b"-":
                return line

    await reply()
    writer.write(b"EHLO bench.alpha.test\r\n")
    await reply()
    token = base64.b64encode(f"\0{SENDER}\0{PASSWORDS[SENDER]}".encode()).decode()
    writer.write(f"AUTH PLAIN {token}\r\n".encode())
    line = await reply()
    if not line.startswith(b"235"):
        raise RuntimeError(line)
    for n in range(first, first + count):
        rcpt = recipients[n % len(recipients)]
        # RFC 2920: MAIL, RCPT and DATA in one write.
        writer.write(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
        for _ in range(3):
            line = await reply()
            if line[:1] not in (b"2", b"3"):
                raise RuntimeError(line)
        head = f"From: <{SENDER}>\r\nTo: <{rcpt}>\r\nSubject: relay {n}\r\n\r\n".encode()
        writer.write(head + body + b".\r\n")
        line = await reply()
        if not line.startswith(b"250"):
            raise RuntimeError(line)
    writer.write(b"QUIT\r\n")
    await reply()
    writer.close()


def filed(pair: Pair) -> int:
    db = pair.beta.dir / "data" / "posthouse.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def add_recipients(pair: Pair, count: int) -> list[str]:
    from posthouse.config import load_config
    from posthouse.store import open_store

    addresses = [f"user{n:03d}@beta.test" for n in range(count)]

    async def add() -> None:
        config = load_config(pair.beta.dir)
        store = await open_store(config.database_path, config.blob_dir)
        try:
            for address in addresses:
                await store.add_user(address, "!")  # never logs in
        finally:
            await store.close()

    asyncio.run(add())
    return addresses


def body_of(size: int) -> bytes:
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef\r\n"
    return line * max(1, size // len(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=10240)
    parser.add_argument("--no-dkim", action="store_true")
    parser.add_argument("--concurrency", type=int, default=20, help="alpha's connections to beta")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="posthouse-relay-bench-"))
    pair = make_pair(
        root,
        dkim=not args.no_dkim,
        alpha_relay={"poll_interval": 0.2, "concurrency": args.concurrency},
    )
    try:
        recipients = add_recipients(pair, args.recipients)
        for inst in (pair.alpha, pair.beta):
            inst.edit(lambda data: data.__setitem__("log_level", "warning"))
        pair.beta.start()
        pair.alpha.start()
        body = body_of(args.size)
        per = args.messages // args.sessions

        async def load() -> None:
            await asyncio.gather(
                *(
                    submit(
                        pair.alpha.address,
                        pair.alpha.ports["submission"],
                        per,
                        i * per,
                        recipients,
                        body,
                    )
                    for i in range(args.sessions)
                )
            )

        total = per * args.sessions
        t0 = time.perf_counter()
        own = os.times()
        asyncio.run(load())
        submitted = time.perf_counter() - t0
        own_after = os.times()
        # The load generator shares the machine's cores with both servers.
        load_cpu = own_after.user + own_after.system - own.user - own.system
        while (count := filed(pair)) < total:
            if time.perf_counter() - t0 > 1800:
                raise SystemExit(f"only {count} of {total} arrived in 30 minutes")
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        split = {
            inst.domain: cpu_seconds(inst.proc.pid) if inst.proc is not None else (0.0, 0.0)
            for inst in (pair.alpha, pair.beta)
        }
        cpu = {domain: sum(times) for domain, times in split.items()}
        figures = {
            "messages": total,
            "recipients": args.recipients,
            "size": args.size,
            "dkim": not args.no_dkim,
            "concurrency": args.concurrency,
            "submit_seconds": round(submitted, 2),
            "submit_msgs_per_s": round(total / submitted, 1),
            "end_to_end_seconds": round(elapsed, 2),
            "end_to_end_msgs_per_s": round(total / elapsed, 1),
            "alpha_cpu_ms_per_msg": round(1000 * cpu["alpha.test"] / total, 2),
            "beta_cpu_ms_per_msg": round(1000 * cpu["beta.test"] / total, 2),
            # of which in the kernel (system time): TCP over loopback, files, fsync
            "alpha_sys_ms_per_msg": round(1000 * split["alpha.test"][1] / total, 2),
            "beta_sys_ms_per_msg": round(1000 * split["beta.test"][1] / total, 2),
            "load_generator_cpu_ms_per_msg": round(1000 * load_cpu / total, 2),
        }
        print(
            f"submitted {total} messages to alpha in {submitted:.1f} s "
            f"({figures['submit_msgs_per_s']} msgs/s)"
        )
        print(
            f"all {total} filed at beta after {elapsed:.1f} s: "
            f"{figures['end_to_end_msgs_per_s']} msgs/s end to end"
        )
        print(
            f"CPU per message: alpha {figures['alpha_cpu_ms_per_msg']} ms "
            f"({figures['alpha_sys_ms_per_msg']} ms system), "
            f"beta {figures['beta_cpu_ms_per_msg']} ms ({figures['beta_sys_ms_per_msg']} ms system)"
        )
        print(json.dumps(figures))
    finally:
        pair.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
