"""POP3 retrieval benchmark: 5,000 messages of 10 KB in a mailbox, several concurrent
clients each retrieving everything with RETR, on loopback.

    python benchmarks/pop3_retr.py [--messages 5000] [--size 10240] [--clients 4]
                                   [--rounds 3] [--no-dovecot]

A POP3 maildrop is locked while a session is in TRANSACTION (RFC 1939 §8), so two
sessions cannot share one mailbox: each client logs in as a user of its own whose
INBOX holds the same 5,000 messages (seeded through the store, one blob shared by
every copy).  Every client sends USER/PASS, STAT, LIST, then RETR 1..n one at a time
(no pipelining, as poplib, fetchmail and getmail do), then QUIT.  Each received body
is checked against the size LIST announced.

Runs, in one go:
  1. posthouse (a fresh instance in a temporary directory), once per `--workers`
     value (default 1 and 2 worker processes: one process uses one core);
  2. Dovecot when it is installed (Debian: dovecot-pop3d): a private instance with its
     own config, base and state directories and a free port, with the same messages
     in a Maildir per user.  Nothing of the system's Dovecot is touched.

Each server gets an untimed warm-up round (Dovecot indexes the Maildir at the first
login; both fill the page cache), then `--rounds` timed rounds; the table shows the
best and the median round and the JSON line has all of them.  Seeding through the
store leaves the webmail's full-text index to be built, which a posthouse server does
in the background once no mail arrives; the rounds start when it is done, as they
would on a server whose mail came in over time.

Throughput depends on what else the machine is running; the CPU time the server's
processes spend per message (user + system, read from /proc for the server and every
process it started, reaped ones included) depends much less on it, so the table shows
that too: compare servers by the ratio of either, measured in the same invocation.

The load runs in this process, on the same cores as the server, so it is kept cheap
and is the very same for every server: raw asyncio Protocol connections that wait
for the terminating CRLF "." CRLF and check the body size without parsing lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.server import MailServer  # noqa: E402

from posthouse.accounts.passwords import hash_password  # noqa: E402
from posthouse.config import load_config  # noqa: E402
from posthouse.store import open_store  # noqa: E402
from posthouse.store.base import LocalDelivery  # noqa: E402

PASSWORD = "bench-Secret-1"


def make_message(i: int, size: int) -> bytes:
    head = (
        f"From: Bench <bench@example.org>\r\nTo: <reader@example.test>\r\n"
        f"Subject: pop3 bench {i}\r\nMessage-ID: <bench-{i}@example.org>\r\n\r\n"
    ).encode()
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


@dataclass
class Result:
    messages: int
    octets: int
    seconds: float
    server_user: float = 0.0  # CPU seconds of the server's processes during the round,
    server_system: float = 0.0  # in user mode and in the kernel
    client_cpu: float = 0.0  # CPU seconds of this process (the load) during the round

    @property
    def cpu_us_per_message(self) -> float:
        return (self.server_user + self.server_system) / self.messages * 1e6

    def row(self) -> dict[str, float]:
        return {
            "messages": self.messages,
            "octets": self.octets,
            "seconds": round(self.seconds, 3),
            "msgs_per_s": round(self.messages / self.seconds, 1),
            "mb_per_s": round(self.octets / self.seconds / 1e6, 2),
            "server_cpu_us_per_msg": round(self.cpu_us_per_message, 1),
            "server_user_us_per_msg": round(self.server_user / self.messages * 1e6, 1),
            "server_sys_us_per_msg": round(self.server_system / self.messages * 1e6, 1),
            "client_cpu_us_per_msg": round(self.client_cpu / self.messages * 1e6, 1),
        }


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds (user, system) used so far by process `pid`, its descendants, and
    every child they have reaped (Linux /proc)."""
    user = system = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile: its time is in its parent's cutime/cstime now
        # Fields after the command name: state is field 3, utime 14 ... cstime 17.
        fields = stat.rsplit(")", 1)[1].split()
        user += int(fields[11]) + int(fields[13])  # utime + cutime
        system += int(fields[12]) + int(fields[14])  # stime + cstime
        for task in tasks:
            try:
                pending.extend(int(c) for c in (task / "children").read_text().split())
            except (FileNotFoundError, ProcessLookupError):
                pass
    return user / _CLOCK_TICKS, system / _CLOCK_TICKS


# --- the load: one client connection per user ---------------------------------------
#
# The client shares the machine's cores with the server it measures, so it must cost
# as little as possible, and it costs the same for every server: a bare asyncio
# Protocol (on uvloop when installed) that keeps the received chunks of a response
# and only looks at the last five octets for the terminating CRLF "." CRLF.  No
# StreamReader, no per-line parsing, no copy of the message.


TERMINATOR = b"\r\n.\r\n"


class Pop3Load(asyncio.Protocol):
    """One POP3 connection, one response at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.received = 0
        self.multiline = False
        self.waiter: asyncio.Future[None] | None = None
        self.lost: BaseException | None = None
        self.received_last = 0  # the length of the response response() returned last

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def complete(self) -> bool:
        """The chunks so far hold the whole response awaited."""
        chunks = self.chunks
        if not chunks:
            return False
        last = chunks[-1]
        if self.multiline and not chunks[0].startswith(b"-"):
            if len(last) < 5:
                last = b"".join(chunks[-5:])
            return last.endswith(TERMINATOR)
        return last.endswith(b"\r\n")

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.received += len(data)
        waiter = self.waiter
        if waiter is not None and not waiter.done() and self.complete():
            waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("connection closed by the server")
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(self.lost)

    async def response(self, command: bytes | None, multiline: bool = False) -> list[bytes]:
        """The chunks of the next response (after sending `command`, if any); its
        length is in `received_last` until the next call."""
        self.multiline = multiline
        self.received_last = 0
        if command is not None:
            assert self.transport is not None
            self.transport.write(command)
        # Only the greeting can be here already: there is no pipelining.
        if not self.complete():
            if self.lost is not None:
                raise self.lost
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
            self.waiter = None
        chunks, self.chunks = self.chunks, []
        self.received_last, self.received = self.received, 0
        return chunks


def status_length(chunks: list[bytes]) -> int:
    first = chunks[0]
    end = first.find(b"\r\n")
    if end < 0:  # the status line was split over chunks: rare, join to find it
        first = b"".join(chunks)
        end = first.index(b"\r\n")
    return end + 2


async def retrieve_all(port: int, user: str, password: str, expected: int) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_connection(Pop3Load, "127.0.0.1", port)

    async def status(command: bytes | None = None) -> bytes:
        line = b"".join(await client.response(command))
        if not line.startswith(b"+OK"):
            raise RuntimeError(f"{user}: {command!r} -> {line!r}")
        return line

    try:
        await status()
        await status(f"USER {user}\r\n".encode())
        await status(f"PASS {password}\r\n".encode())
        count = int((await status(b"STAT\r\n")).split()[1])
        if count != expected:
            raise RuntimeError(f"{user}: STAT says {count} messages, expected {expected}")
        listing = b"".join(await client.response(b"LIST\r\n", multiline=True))
        if not listing.startswith(b"+OK"):
            raise RuntimeError(f"{user}: LIST -> {listing[:200]!r}")
        sizes = [int(line.split()[1]) for line in listing.split(b"\r\n")[1 : count + 1]]
        octets = 0
        response = client.response
        for n in range(1, count + 1):
            chunks = await response(b"RETR %d\r\n" % n, multiline=True)
            if not chunks[0].startswith(b"+OK"):
                raise RuntimeError(f"{user}: RETR {n} -> {b''.join(chunks)[:200]!r}")
            # No line of the bench messages starts with ".", so nothing is stuffed:
            # the body is what follows the status line, less the closing ".\r\n".
            got = client.received_last - status_length(chunks) - 3
            if got != sizes[n - 1]:
                raise RuntimeError(f"{user}: RETR {n} sent {got} octets, LIST said {sizes[n - 1]}")
            octets += got
        await status(b"QUIT\r\n")
        return count, octets
    finally:
        transport.close()


async def load(port: int, users: list[str], password: str, expected: int) -> Result:
    t0 = time.perf_counter()
    async with asyncio.timeout(600):  # a stuck round fails instead of hanging the run
        done = await asyncio.gather(*(retrieve_all(port, u, password, expected) for u in users))
    seconds = time.perf_counter() - t0
    return Result(sum(c for c, _ in done), sum(o for _, o in done), seconds)


def run_loop(coro: Coroutine[Any, Any, Result]) -> Result:
    """uvloop when installed (posthouse runs on it too), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def rounds(
    port: int, users: list[str], password: str, expected: int, n: int, server_pid: int
) -> list[Result]:
    run_loop(load(port, users, password, expected))  # warm-up, untimed
    results = []
    for _ in range(n):
        user, system = tree_cpu(server_pid)
        client = time.process_time()
        result = run_loop(load(port, users, password, expected))
        result.client_cpu = time.process_time() - client
        time.sleep(0.2)  # let the server finish the QUITs (and Dovecot reap its pop3s)
        user_after, system_after = tree_cpu(server_pid)
        result.server_user, result.server_system = user_after - user, system_after - system
        print(f"  round: {result.row()}", flush=True)
        results.append(result)
    return results


# --- posthouse -----------------------------------------------------------------------


async def seed_posthouse(directory: Path, users: list[str], messages: list[bytes]) -> None:
    config = load_config(directory)
    store = await open_store(config.database_path, config.blob_dir)
    try:
        password_hash = hash_password(PASSWORD)
        inboxes = []
        for address in users:
            user = await store.add_user(address, password_hash)
            inbox = await store.get_mailbox(user.id, "INBOX")
            assert inbox is not None
            inboxes.append(LocalDelivery(inbox.id))
        batch = 250  # concurrent accepts share one fsync (group commit)
        for start in range(0, len(messages), batch):
            await asyncio.gather(
                *(store.accept(raw, inboxes) for raw in messages[start : start + batch])
            )
    finally:
        await store.close()


def wait_until_indexed(database: Path, timeout: float = 300.0) -> None:
    """Until the server has indexed the text of every seeded message."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        try:
            (pending,) = conn.execute("SELECT count(*) FROM summaries WHERE indexed = 0").fetchone()
        finally:
            conn.close()
        if pending == 0:
            print(f"posthouse: text indexed in {time.perf_counter() - t0:.1f} s", flush=True)
            return
        time.sleep(0.5)
    raise TimeoutError(f"{pending} messages still unindexed after {timeout:.0f} s")


def posthouse_run(users: list[str], messages: list[bytes], n: int, workers: int) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        server = MailServer.create(Path(tmp) / "instance", workers=workers)
        t0 = time.perf_counter()
        asyncio.run(seed_posthouse(server.dir, users, messages))
        print(f"posthouse: seeded in {time.perf_counter() - t0:.1f} s", flush=True)
        server.start()
        assert server.proc is not None
        try:
            wait_until_indexed(load_config(server.dir).database_path)
            return rounds(server.ports["pop3"], users, PASSWORD, len(messages), n, server.proc.pid)
        finally:
            server.stop()


# --- Dovecot -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dovecot_config(base: Path, port: int, protocol: str = "pop3") -> Path:
    """A private Dovecot serving `protocol` (pop3 or imap) on `port`, the other off."""
    pop3_port, imap_port = (port, 0) if protocol == "pop3" else (0, port)
    conf = base / "dovecot.conf"
    conf.write_text(
        f"""base_dir = {base}/run
state_dir = {base}/state
instance_name = posthouse-{protocol}-bench-{os.getpid()}
protocols = {protocol}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{base}/mail/%u
pop3_uidl_format = %08Xu%08Xv
first_valid_uid = 1
mail_privileged_group =
log_path = {base}/dovecot.log
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={base}/mail/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
    )
    return conf


def seed_maildirs(base: Path, users: list[str], messages: list[bytes]) -> None:
    stamp = int(time.time())
    for user in users:
        cur = base / "mail" / user / "cur"
        (base / "mail" / user / "new").mkdir(parents=True)
        (base / "mail" / user / "tmp").mkdir()
        cur.mkdir()
        for i, raw in enumerate(messages):
            # Maildir holds LF line ends; Dovecot sends CRLF and counts them in LIST.
            # S= is the size on disk, W= the size with CRLF (what Dovecot itself writes).
            lf = raw.replace(b"\r\n", b"\n")
            name = f"{stamp + i}.M{i}P1.bench,S={len(lf)},W={len(raw)}:2,S"
            (cur / name).write_bytes(lf)
    subprocess.run(["chown", "-R", "nobody:nogroup", str(base / "mail")], check=True)


@contextlib.contextmanager
def private_dovecot(
    protocol: str, users: list[str], messages: list[bytes]
) -> Iterator[tuple[int, int] | None]:
    """A private Dovecot for `protocol` with `messages` in each user's Maildir, started
    and stopped around the block: yields (port, master pid), or None when Dovecot (or
    its `protocol` server) is not installed.  Nothing of the system's Dovecot is used."""
    dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(dovecot).exists() or not Path(f"/usr/lib/dovecot/{protocol}").exists():
        yield None
        return
    base = Path(tempfile.mkdtemp(prefix=f"posthouse-{protocol}-bench-"))
    base.chmod(0o755)  # the mail processes run as nobody and must reach the Maildirs
    port = free_port()
    conf = dovecot_config(base, port, protocol)
    (base / "users").write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}::::::\n" for u in users))
    t0 = time.perf_counter()
    seed_maildirs(base, users, messages)
    print(f"dovecot: seeded in {time.perf_counter() - t0:.1f} s", flush=True)
    try:
        subprocess.run(
            [dovecot, "-c", str(conf)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        deadline = time.monotonic() + 20
        pid_file = base / "run" / "master.pid"
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                master = int(pid_file.read_text())  # written once the master has forked
                break
            except (OSError, ValueError):  # not listening yet, or no (whole) pid file
                if time.monotonic() > deadline:
                    raise RuntimeError((base / "dovecot.log").read_text()) from None
                time.sleep(0.1)
        yield port, master
    finally:
        subprocess.run(
            [dovecot, "-c", str(conf), "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        time.sleep(0.5)
        shutil.rmtree(base, ignore_errors=True)


def dovecot_run(users: list[str], messages: list[bytes], n: int) -> list[Result] | None:
    with private_dovecot("pop3", users, messages) as running:
        if running is None:
            return None
        port, master = running
        return rounds(port, users, PASSWORD, len(messages), n, master)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--size", type=int, default=10240)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--workers", default="1,2", help="posthouse worker processes, one run per value"
    )
    ap.add_argument("--no-dovecot", action="store_true")
    args = ap.parse_args()
    messages = [make_message(i, args.size) for i in range(args.messages)]
    users = [f"bench{k}@example.test" for k in range(1, args.clients + 1)]
    results: dict[str, list[Result] | None] = {}
    for workers in (int(w) for w in args.workers.split(",")):
        name = f"posthouse, workers={workers}"
        print(f"{name}: {args.clients} clients x {args.messages} messages", flush=True)
        results[name] = posthouse_run(users, messages, args.rounds, workers)
    if not args.no_dovecot:
        print(f"dovecot: {args.clients} clients x {args.messages} messages", flush=True)
        results["dovecot"] = dovecot_run(users, messages, args.rounds)
    print(
        f"\n{'server':24} {'best msgs/s':>11} {'MB/s':>7} {'median msgs/s':>13} {'MB/s':>7}"
        f" {'server CPU µs/msg':>17} {'rounds':>6}"
    )
    for name, runs in results.items():
        if not runs:
            print(f"{name:24} {'(not installed)':>11}")
            continue
        rates = sorted(r.messages / r.seconds for r in runs)
        sizes = sorted(r.octets / r.seconds / 1e6 for r in runs)
        cpu = statistics.median(r.cpu_us_per_message for r in runs)
        print(
            f"{name:24} {rates[-1]:>11.0f} {sizes[-1]:>7.1f} {statistics.median(rates):>13.0f}"
            f" {statistics.median(sizes):>7.1f} {cpu:>17.1f} {len(runs):>6}"
        )
    print(
        json.dumps(
            {
                "args": vars(args),
                "cpus": os.cpu_count(),
                "results": {
                    name: [r.row() for r in runs] if runs else None
                    for name, runs in results.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
