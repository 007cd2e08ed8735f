"""The POP3 session's policy, in process: a real store and authenticator, a connection
whose transport is a recorder, so a client can "come from" a network address or meet
a failing store without any traffic leaving the test.

What it pins down: passwords only inside TLS unless on loopback or in teaching mode
(and CAPA says so before STLS), response codes for throttling, disabled accounts and
storage failures (RFC 3206), the maildrop lock released on every way out, and a
shutdown that reaches a session idle at the prompt.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from posthouse.accounts.authenticate import Authenticator
from posthouse.accounts.directory import Directory
from posthouse.accounts.passwords import hash_password
from posthouse.accounts.throttle import LoginThrottle, ThrottleLimits
from posthouse.config import Listener as ListenerConfig
from posthouse.config import parse_config
from posthouse.server.context import ServerContext
from posthouse.server.listener import Connection
from posthouse.server.pop3 import MAILDROP_LOCKS, lock_directory, serve_pop3
from posthouse.store import open_store
from posthouse.store.base import LocalDelivery, Store, StoreError

ALICE = "alice@example.test"
PASSWORD = "alice-Secret-1"
NETWORK_IP = "192.0.2.10"  # TEST-NET-1: never contacted, only reported as the peer
TLS_INFO: dict[str, str | int] = {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"}


class RecordingTransport(asyncio.Transport):
    """Collects what the session writes; close() ends the stream like a real one."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self.conn = conn
        self.out = bytearray()
        self.written = asyncio.Event()
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out += data
        self.written.set()

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.conn.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


class Client:
    def __init__(self, conn: Connection, transport: RecordingTransport) -> None:
        self.conn = conn
        self.transport = transport

    async def line(self) -> str:
        out = self.transport.out
        while b"\n" not in out:
            self.transport.written.clear()
            await asyncio.wait_for(self.transport.written.wait(), 10)
        raw = bytes(out[: out.index(b"\n") + 1])
        del out[: len(raw)]
        return raw.rstrip(b"\r\n").decode()

    async def cmd(self, text: str) -> str:
        self.conn.data_received(text.encode() + b"\r\n")
        return await self.line()

    async def body(self) -> list[str]:
        lines = []
        while (text := await self.line()) != ".":
            lines.append(text)
        return lines

    async def capa(self) -> list[str]:
        assert await self.cmd("CAPA") == "+OK Capability list follows"
        return await self.body()

    async def login(self) -> str:
        assert await self.cmd(f"USER {ALICE}") == "+OK Send PASS"
        return await self.cmd(f"PASS {PASSWORD}")


@dataclass
class Instance:
    tmp: Path
    store: Store
    mailbox_id: int
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def context(self, *, teaching: bool = False, store: Any = None, **auth: Any) -> ServerContext:
        config = parse_config(
            self.tmp,
            {
                "domain": "example.test",
                "hostname": "mail.example.test",
                "teaching_mode": teaching,
                "storage": {"database": str(self.tmp / "db.sqlite")},
                "listeners": {"pop3": {"port": 2110}, "pop3s": {"port": 2995}},
            },
        )
        authenticator = Authenticator(self.store, auth.pop("throttle", LoginThrottle()), **auth)
        return ServerContext(
            config=config,
            store=store or self.store,
            directory=Directory(self.store),
            authenticator=authenticator,
            # Never used for a handshake here; its presence makes STLS available.
            tls=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER),
        )

    async def messages(self) -> int:
        return len(await self.store.list_messages(self.mailbox_id))


async def no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    store = await open_store(tmp_path / "db.sqlite", tmp_path / "blobs")
    try:
        await store.add_domain("example.test")
        user = await store.add_user(ALICE, hash_password(PASSWORD))
        inbox = await store.get_mailbox(user.id, "INBOX")
        assert inbox is not None
        for i in range(2):
            raw = f"Subject: policy {i}\r\n\r\nbody {i}\r\n".encode()
            await store.accept(raw, [LocalDelivery(inbox.id)])
        instance = Instance(tmp_path, store, inbox.id)
        yield instance
        for task in instance.tasks:  # sessions a test left at the prompt
            task.cancel()
        await asyncio.gather(*instance.tasks, return_exceptions=True)
    finally:
        await store.close()


@dataclass
class Session:
    client: Client
    task: asyncio.Task[None]
    conn: Connection

    async def ended(self) -> None:
        await asyncio.wait_for(self.task, 10)


async def connect(
    instance: Instance,
    ctx: ServerContext,
    *,
    ip: str = NETWORK_IP,
    tls: bool = False,
    listener: ListenerConfig | None = None,
) -> Session:
    conn = Connection()
    transport = RecordingTransport(conn)
    conn.transport = transport
    conn.remote_ip = ip
    conn.tls = dict(TLS_INFO) if tls else None
    listener = listener or ListenerConfig("pop3", "127.0.0.1", 2110, "starttls")
    task = asyncio.get_running_loop().create_task(serve_pop3(ctx, listener, conn))
    instance.tasks.append(task)
    client = Client(conn, transport)
    greeting = await client.line()
    assert greeting.startswith("+OK mail.example.test POP3 posthouse ready"), greeting
    return Session(client, task, conn)


def lock_key(ctx: ServerContext, user_id: int = 1) -> tuple[str, int]:
    return (str(lock_directory(ctx)), user_id)


# --- passwords and TLS (RFC 2595 §2, DESIGN.md principle 5) -------------------------


async def test_network_client_without_tls_is_told_to_use_stls(instance: Instance) -> None:
    s = await connect(instance, instance.context())
    caps = await s.client.capa()
    assert "STLS" in caps
    assert "USER" not in caps and not any(c.startswith("SASL") for c in caps)
    refusal = "-ERR [AUTH] Passwords are not accepted without TLS: send STLS first"
    assert await s.client.cmd(f"USER {ALICE}") == refusal
    assert await s.client.cmd("AUTH PLAIN") == refusal
    assert await s.client.cmd("AUTH") == refusal
    assert await s.client.cmd("QUIT") == "+OK mail.example.test POP3 server signing off"
    await s.ended()


async def test_network_client_without_stls_is_sent_to_the_implicit_port(
    instance: Instance,
) -> None:
    plain = ListenerConfig("pop3", "127.0.0.1", 2110, "none")
    s = await connect(instance, instance.context(), listener=plain)
    assert "STLS" not in await s.client.capa()
    assert await s.client.cmd(f"USER {ALICE}") == (
        "-ERR [AUTH] Passwords are not accepted without TLS: connect to the implicit-TLS port 2995"
    )
    assert await s.client.cmd("STLS") == "-ERR STLS is not available on this port"


async def test_network_client_inside_tls_may_log_in(instance: Instance) -> None:
    s = await connect(instance, instance.context(), tls=True)
    caps = await s.client.capa()
    assert "STLS" not in caps and "USER" in caps and "SASL PLAIN LOGIN" in caps
    assert (await s.client.login()).startswith(f"+OK {ALICE} has 2 messages")
    # RFC 2449 §5: after login, nothing about logging in is offered.
    caps = await s.client.capa()
    assert "USER" not in caps and not any(c.startswith(("SASL", "STLS", "UTF8")) for c in caps)
    assert await s.client.cmd("QUIT") == (
        "+OK mail.example.test POP3 server signing off (0 messages deleted, 2 left)"
    )
    await s.ended()


async def test_loopback_may_log_in_without_tls(instance: Instance) -> None:
    s = await connect(instance, instance.context(), ip="127.0.0.1")
    assert "USER" in await s.client.capa()
    assert (await s.client.login()).startswith("+OK ")


async def test_teaching_mode_allows_plaintext_and_says_so(instance: Instance) -> None:
    ctx = instance.context(teaching=True)
    conn = Connection()
    conn.transport = RecordingTransport(conn)
    conn.remote_ip = NETWORK_IP
    listener = ListenerConfig("pop3", "127.0.0.1", 2110, "starttls")
    task = asyncio.get_running_loop().create_task(serve_pop3(ctx, listener, conn))
    instance.tasks.append(task)
    client = Client(conn, conn.transport)  # type: ignore[arg-type]
    assert await client.line() == (
        "+OK mail.example.test POP3 posthouse ready - TEACHING MODE: passwords accepted without TLS"
    )
    assert "USER" in await client.capa()
    assert (await client.login()).startswith("+OK ")
    assert (await client.cmd("QUIT")).startswith("+OK ")
    await asyncio.wait_for(task, 10)


# --- login outcomes (RFC 3206) -------------------------------------------------------


async def test_disabled_account(instance: Instance) -> None:
    user = await instance.store.get_user(ALICE)
    assert user is not None
    await instance.store.update_user(user.id, enabled=False)
    s = await connect(instance, instance.context(), tls=True)
    assert await s.client.login() == "-ERR [AUTH] Account disabled"


async def test_throttled_login_is_a_temporary_error(instance: Instance) -> None:
    throttle = LoginThrottle(ThrottleLimits(free_failures=5, pair_lock_after=2))
    s = await connect(instance, instance.context(throttle=throttle, sleep=no_sleep), tls=True)
    for _ in range(2):
        assert await s.client.cmd(f"USER {ALICE}") == "+OK Send PASS"
        assert await s.client.cmd("PASS wrong") == "-ERR [AUTH] Invalid username or password"
    # Locked out: even the right password gets a "try later", not "wrong password".
    assert await s.client.login() == (
        "-ERR [SYS/TEMP] Too many failed logins from your address; try again in 900 seconds"
    )


# --- storage failures (RFC 3206 §4 SYS/TEMP) ------------------------------------------


class FailingStore:
    """The real store, except for the methods told to fail."""

    def __init__(self, store: Store, *failing: str) -> None:
        self._store = store
        self._failing = set(failing)

    def __getattr__(self, name: str) -> Any:
        if name in self._failing:

            async def fail(*args: Any, **kwargs: Any) -> Any:
                raise StoreError(f"{name}: disk on fire")

            return fail
        return getattr(self._store, name)


async def test_storage_failure_at_login(instance: Instance) -> None:
    ctx = instance.context(store=FailingStore(instance.store, "list_messages"))
    s = await connect(instance, ctx, tls=True)
    assert await s.client.login() == (
        "-ERR [SYS/TEMP] Cannot open your maildrop: storage failure, try again later"
    )
    assert not MAILDROP_LOCKS.held(lock_key(ctx))
    assert await s.client.cmd("STAT") == (
        "-ERR Not logged in: STAT is valid only after USER/PASS, APOP or AUTH"
    )


async def test_storage_failure_reading_a_message(instance: Instance) -> None:
    ctx = instance.context(
        store=FailingStore(instance.store, "read_message", "read_messages", "read_messages_framed")
    )
    s = await connect(instance, ctx, tls=True)
    assert (await s.client.login()).startswith("+OK ")
    assert await s.client.cmd("RETR 1") == (
        "-ERR [SYS/TEMP] Cannot read message 1: storage failure, try again later"
    )
    assert await s.client.cmd("NOOP") == "+OK"  # the session goes on


async def test_storage_failure_at_quit_keeps_the_messages(instance: Instance) -> None:
    ctx = instance.context(store=FailingStore(instance.store, "expunge"))
    s = await connect(instance, ctx, tls=True)
    assert (await s.client.login()).startswith("+OK ")
    assert await s.client.cmd("DELE 1") == "+OK message 1 deleted"
    # RFC 1939 §6: -ERR when some deleted messages could not be removed.
    assert await s.client.cmd("QUIT") == (
        "-ERR [SYS/TEMP] Deleted messages were not removed (storage failure); "
        "they are still on the server"
    )
    await s.ended()
    assert not MAILDROP_LOCKS.held(lock_key(ctx))
    assert await instance.messages() == 2


# --- the maildrop lock (RFC 1939 §8, RFC 2449 §8.1.1) ---------------------------------


async def test_lock_is_released_when_the_client_vanishes(instance: Instance) -> None:
    ctx = instance.context()
    s = await connect(instance, ctx, tls=True)
    assert (await s.client.login()).startswith("+OK ")
    assert await s.client.cmd("DELE 1") == "+OK message 1 deleted"
    other = await connect(instance, ctx, tls=True)
    assert (await other.client.login()).startswith("-ERR [IN-USE] ")
    s.conn.eof_received()  # the peer closed without QUIT
    await s.ended()
    assert not MAILDROP_LOCKS.held(lock_key(ctx))
    assert (await other.client.login()).startswith(f"+OK {ALICE} has 2 messages")
    assert await instance.messages() == 2


async def test_lock_is_released_when_the_session_is_cancelled(instance: Instance) -> None:
    ctx = instance.context()
    s = await connect(instance, ctx, tls=True)
    assert (await s.client.login()).startswith("+OK ")
    assert MAILDROP_LOCKS.held(lock_key(ctx))
    s.task.cancel()  # what the listener does to sessions left after the shutdown grace
    with pytest.raises(asyncio.CancelledError):
        await s.task
    assert not MAILDROP_LOCKS.held(lock_key(ctx))


async def test_shutdown_reaches_an_idle_session(instance: Instance) -> None:
    ctx = instance.context()
    s = await connect(instance, ctx, tls=True)
    assert (await s.client.login()).startswith("+OK ")
    assert await s.client.cmd("DELE 2") == "+OK message 2 deleted"
    # What RunningServer.stop does: raise the flag, then wake every waiting read.
    ctx.shutting_down.set()
    s.conn.interrupt()
    assert await s.client.line() == (
        "-ERR [SYS/TEMP] Server shutting down; nothing was deleted, log in again later"
    )
    await s.ended()
    assert not MAILDROP_LOCKS.held(lock_key(ctx))
    assert await instance.messages() == 2


async def test_lock_holds_across_processes_and_dies_with_its_holder(
    instance: Instance,
) -> None:
    """Worker processes share the listeners: the lock is a flock, seen by every process
    and dropped by the kernel when its holder dies (here: SIGKILL, as in a crash)."""
    ctx = instance.context()
    lock_file = lock_directory(ctx) / "pop3-1.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import fcntl, sys, time\n"
        f"f = open({str(lock_file)!r}, 'a')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"locked\n"
        s = await connect(instance, ctx, tls=True)
        assert (await s.client.login()).startswith("-ERR [IN-USE] ")
        holder.kill()
        await holder.wait()
        assert (await s.client.login()).startswith(f"+OK {ALICE} has 2 messages")
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
