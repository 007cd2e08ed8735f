"""SMTP ingest benchmark: 10 KB messages over 20 concurrent sessions to port 2525,
durable delivery to INBOX.

    python benchmarks/smtp_ingest.py [--messages 5000] [--sessions 20] [--size 10240]

Runs, in one go:
  1. posthouse (a fresh instance in a temporary directory) driven by a small asyncio
     load generator that opens a new connection per message (as smtp-source does) and
     records per-message latency (connect to 250 after the final dot);
  2. posthouse driven by Postfix's `smtp-source -s 20 -m N -l 10240` when it is
     installed (Debian: postfix);
  3. the same smtp-source load against a private Postfix configured alike (Maildir
     delivery, fsync on) when Postfix is installed, via ../shared/interop/scratch_pair.sh.

Prints a table and a JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.server import MailServer, stored_messages  # noqa: E402

from benchmarks.proc_cpu import tree_cpu_seconds  # noqa: E402

SHARED = ROOT.parent / "shared" / "interop"


async def one_message(port: int, body: bytes, rcpt: str) -> float:
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> bytes:
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("closed")
            if line[3:4] != b"-":
                return line

    await reply()
    writer.write(b"EHLO bench.example\r\n")
    await reply()
    writer.write(b"MAIL FROM:<bench@example.org>\r\n")
    await reply()
    writer.write(f"RCPT TO:<{rcpt}>\r\n".encode())
    line = await reply()
    if not line.startswith(b"250"):
        raise RuntimeError(line)
    writer.write(b"DATA\r\n")
    await reply()
    writer.write(body + b".\r\n")
    line = await reply()
    if not line.startswith(b"250"):
        raise RuntimeError(line)
    elapsed = time.perf_counter() - t0
    writer.write(b"QUIT\r\n")
    await reply()
    writer.close()
    return elapsed


def make_body(size: int) -> bytes:
    head = b"From: bench@example.org\r\nTo: alice@example.test\r\nSubject: bench\r\n\r\n"
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef\r\n"
    n = max(0, (size - len(head)) // len(line))
    return head + line * n


async def python_load(port: int, messages: int, sessions: int, size: int) -> dict[str, float]:
    body = make_body(size)
    latencies: list[float] = []
    counter = iter(range(messages))

    async def worker() -> None:
        for _ in counter:
            latencies.append(await one_message(port, body, "alice@example.test"))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(sessions)))
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "messages": len(latencies),
        "seconds": round(wall, 2),
        "msgs_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def smtp_source(port: int, messages: int, sessions: int, size: int, rcpt: str) -> dict[str, float]:
    exe = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    t0 = time.perf_counter()
    subprocess.run(
        [
            exe,
            "-s",
            str(sessions),
            "-m",
            str(messages),
            "-l",
            str(size),
            "-f",
            "bench@example.org",
            "-t",
            rcpt,
            f"127.0.0.1:{port}",
        ],
        check=True,
        capture_output=True,
        timeout=3600,
    )
    wall = time.perf_counter() - t0
    return {
        "messages": messages,
        "seconds": round(wall, 2),
        "msgs_per_s": round(messages / wall, 1),
    }


def have_smtp_source() -> bool:
    return shutil.which("smtp-source") is not None or Path("/usr/sbin/smtp-source").exists()


def postfix_run(messages: int, sessions: int, size: int) -> dict[str, float] | None:
    script = SHARED / "scratch_pair.sh"
    if not ((have_smtp_source() and shutil.which("postfix")) or Path("/usr/sbin/postfix").exists()):
        return None
    if not script.exists():
        return None
    status = subprocess.run(
        ["bash", str(script), "status"], capture_output=True, text=True, timeout=60
    )
    already = "127.0.0.1:12525" in status.stdout
    if not already:
        # The daemons inherit stdout: hand them /dev/null, not a pipe we would wait on.
        subprocess.run(
            ["bash", str(script), "start"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
    try:
        return smtp_source(12525, messages, sessions, size, "alice@example.test")
    finally:
        if not already:
            subprocess.run(
                ["bash", str(script), "stop"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=120,
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--size", type=int, default=10240)
    ap.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="posthouse worker counts to run"
    )
    args = ap.parse_args()
    results: dict[str, dict[str, float] | None] = {}
    delivered = 0
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            server = MailServer.create(
                Path(tmp) / "instance", workers=workers, max_connections=2000
            ).start()
            label = f"posthouse {workers}w"
            try:
                port = server.ports["smtp"]
                assert server.proc is not None
                pid = server.proc.pid
                before = tree_cpu_seconds(pid)
                run = asyncio.run(python_load(port, args.messages, args.sessions, args.size))
                after = tree_cpu_seconds(pid)
                # Server CPU per message: little disturbed by other load on the machine.
                run["server_cpu_us_per_msg"] = round(1e6 * (after - before) / run["messages"])
                results[f"{label} (asyncio load)"] = run
                if have_smtp_source():
                    results[f"{label} (smtp-source)"] = smtp_source(
                        port, args.messages, args.sessions, args.size, "alice@example.test"
                    )
            finally:
                server.stop()
            delivered += len(stored_messages(server.dir, "alice@example.test"))
    results["postfix (smtp-source)"] = postfix_run(args.messages, args.sessions, args.size)
    print(
        f"{'run':32} {'msgs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'messages':>9} {'CPU us/msg':>10}"
    )
    for name, r in results.items():
        if r is None:
            print(f"{name:32} {'(not installed)':>8}")
            continue
        cpu = r.get("server_cpu_us_per_msg", "-")
        print(
            f"{name:32} {r['msgs_per_s']:>8} {r.get('p50_ms', '-'):>8} "
            f"{r.get('p99_ms', '-'):>8} {r['messages']:>9} {cpu:>10}"
        )
    print(f"delivered to INBOX (all posthouse runs): {delivered}")
    print(
        json.dumps(
            {"args": vars(args), "results": results, "delivered": delivered, "cpus": os.cpu_count()}
        )
    )


if __name__ == "__main__":
    main()
