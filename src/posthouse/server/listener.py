"""TCP listeners: plain, implicit TLS and STARTTLS upgrades, connection limits,
timeouts, and the byte pipe every protocol session reads from and writes to.

A session sees a `Connection`: `await read()` returns whatever bytes arrived,
`write()` queues bytes, `await start_tls()` upgrades in place.  Sessions never see
sockets, and protocol cores never see sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from posthouse.server.tls import describe

log = logging.getLogger("posthouse.listener")

READ_LIMIT = 256 * 1024  # pause reading when this much is buffered unread


class ConnectionLost(Exception):
    pass


class Connection(asyncio.Protocol):
    """One client connection as a byte pipe with flow control both ways."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        # The read timeout: one timer per connection, re-armed only when it fires
        # early, instead of a timeout context (two timer operations) on every read.
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._drain_waiter: asyncio.Future[None] | None = None
        # The loop of the first read(): asyncio.get_running_loop() costs a getpid(2)
        # system call each time, which is one more per command.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._write_paused = False
        self._read_paused = False
        self.closed = asyncio.Event()
        self.remote_ip = ""
        self.remote_port = 0
        self.local_port = 0
        self.tls: dict[str, str | int] | None = None

    # --- asyncio.Protocol -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername") or ("", 0)
        sock = transport.get_extra_info("sockname") or ("", 0)
        self.remote_ip, self.remote_port = str(peer[0]), int(peer[1])
        self.local_port = int(sock[1])
        self.tls = describe(transport.get_extra_info("ssl_object"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > READ_LIMIT and self.transport is not None and not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
        self.closed.set()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def interrupt(self) -> None:
        """Make a pending read() return early (with b"" while not at_eof), so the
        session can notice a shutdown between commands."""
        self._wake()

    @property
    def write_paused(self) -> bool:
        """The transport's buffer is over its high-water mark: the peer is not reading."""
        return self._write_paused and not self.closed.is_set()

    @property
    def at_eof(self) -> bool:
        return self._eof and not self._buffer

    # --- what sessions use -------------------------------------------------
    async def read(self, timeout: float | None = None) -> bytes:
        """Bytes received so far (waiting for some); b"" at end of stream.
        Raises TimeoutError after `timeout` seconds without input."""
        if not self._buffer and not self._eof:
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            if timeout is None:
                self._deadline = None
            else:
                deadline = self._deadline = loop.time() + timeout
                if self._timer is None or self._timer_at > deadline:
                    self._arm(loop, deadline)
            try:
                await waiter
            finally:
                self._waiter = None
        data = bytes(self._buffer)
        self._buffer.clear()
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        return data

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = loop.call_at(when, self._on_timer, loop)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        """The timer of the read waiting now, or of an earlier one: re-armed for the
        present read's deadline, or dropped when no read is waiting."""
        self._timer = None
        waiter, deadline = self._waiter, self._deadline
        if waiter is None or waiter.done() or deadline is None:
            return  # the next read with a timeout arms a new timer
        if loop.time() < deadline:
            self._arm(loop, deadline)
        else:
            waiter.set_exception(TimeoutError())

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def writelines(self, parts: Iterable[bytes]) -> None:
        """Write `parts` in order.  Plain TCP takes them as they are (uvloop sends them
        in one writev); under TLS they are joined first, making one record, not several."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if self.tls is None:
                transport.writelines(parts)
            else:
                transport.write(b"".join(parts))

    async def drain(self) -> None:
        if self._write_paused and not self.closed.is_set():
            self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None

    async def start_tls(self, context: ssl.SSLContext, timeout: float = 30.0) -> None:
        """Upgrade to TLS.  Anything the client sent before the handshake is
        discarded (RFC 3207 §4.2, RFC 2595 §3.1: no command injection)."""
        assert self.transport is not None
        self._buffer.clear()
        loop = asyncio.get_running_loop()
        new = await loop.start_tls(
            self.transport, self, context, server_side=True, ssl_handshake_timeout=timeout
        )
        if new is None:
            raise ConnectionLost("connection closed during TLS handshake")
        self.transport = new
        self.tls = describe(new.get_extra_info("ssl_object"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


SessionHandler = Callable[[Connection], Awaitable[None]]


class Listener:
    """A listening socket that runs `handler` for each connection."""

    def __init__(
        self,
        name: str,
        address: str,
        port: int,
        handler: SessionHandler,
        *,
        tls: ssl.SSLContext | None = None,
        max_connections: int = 1000,
        on_overload: bytes = b"",
        sock: socket.socket | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.port = port
        self.handler = handler
        self.tls = tls
        self.max_connections = max_connections
        self.on_overload = on_overload
        self.sock = sock  # already bound and listening (shared by worker processes)
        self.server: asyncio.Server | None = None
        self.sessions: set[asyncio.Task[None]] = set()
        self.connections: set[Connection] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        tls_args: dict[str, Any] = (
            {"ssl": self.tls, "ssl_handshake_timeout": 30.0} if self.tls else {}
        )
        if self.sock is not None:
            self.server = await loop.create_server(self._make_protocol, sock=self.sock, **tls_args)
        else:
            self.server = await loop.create_server(
                self._make_protocol,
                self.address,
                self.port,
                reuse_address=True,
                backlog=1024,
                **tls_args,
            )
        if self.port == 0:
            self.port = self.server.sockets[0].getsockname()[1]

    def _make_protocol(self) -> Connection:
        return _ListenedConnection(self)

    def _spawn(self, conn: Connection) -> None:
        if len(self.sessions) >= self.max_connections:
            # RFC 5321 §3.8 / RFC 2449: refuse politely, then close.
            conn.write(self.on_overload)
            conn.close()
            return
        task = asyncio.get_running_loop().create_task(self._run(conn))
        self.sessions.add(task)
        self.connections.add(conn)
        task.add_done_callback(self.sessions.discard)
        task.add_done_callback(lambda _t: self.connections.discard(conn))

    async def _run(self, conn: Connection) -> None:
        try:
            await self.handler(conn)
        except (ConnectionLost, ConnectionError, ssl.SSLError, TimeoutError) as e:
            log.debug("%s %s: connection ended: %s", self.name, conn.remote_ip, e)
        except Exception:
            log.exception("%s %s: session failed", self.name, conn.remote_ip)
        finally:
            conn.close()

    def stop_accepting(self) -> None:
        """Close the listening socket and wake every session waiting for input."""
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.interrupt()

    async def wait_sessions(self, grace: float) -> None:
        """Let sessions finish (they see the shutdown flag), then cancel stragglers."""
        if self.sessions:
            _done, pending = await asyncio.wait(set(self.sessions), timeout=grace)
            for conn in list(self.connections):
                if not conn.closed.is_set():
                    conn.abort()  # close() would wait for a client that never reads
            for task in pending:
                task.cancel()
            if pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*pending, return_exceptions=True)
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1.0)


class _ListenedConnection(Connection):
    def __init__(self, listener: Listener) -> None:
        super().__init__()
        self._listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._listener._spawn(self)
