"""Running an instance: open the store, start every listener, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from posthouse.accounts.authenticate import Authenticator
from posthouse.accounts.directory import Directory
from posthouse.accounts.throttle import LoginThrottle
from posthouse.config import Config
from posthouse.config import Listener as ListenerConfig
from posthouse.proto.smtp.reply import Reply
from posthouse.queue.service import DeliveryService
from posthouse.server.context import ServerContext
from posthouse.server.imap import OVERLOAD_REPLY as IMAP_OVERLOAD_REPLY
from posthouse.server.imap import serve_imap
from posthouse.server.imap_watch import watcher_for
from posthouse.server.listener import Connection, Listener
from posthouse.server.pop3 import OVERLOAD_REPLY as POP3_OVERLOAD_REPLY
from posthouse.server.pop3 import serve_pop3
from posthouse.server.smtp import serve_smtp
from posthouse.server.tls import server_context
from posthouse.store import open_store

log = logging.getLogger("posthouse")

SHUTDOWN_GRACE = 30.0  # seconds in-flight transactions get to finish


def _smtp_handler(ctx: ServerContext, lc: ListenerConfig) -> Callable[[Connection], object]:
    async def handle(conn: Connection) -> None:
        await serve_smtp(ctx, lc, conn)

    return handle


def _pop3_handler(ctx: ServerContext, lc: ListenerConfig) -> Callable[[Connection], object]:
    async def handle(conn: Connection) -> None:
        await serve_pop3(ctx, lc, conn)

    return handle


def _imap_handler(ctx: ServerContext, lc: ListenerConfig) -> Callable[[Connection], object]:
    async def handle(conn: Connection) -> None:
        await serve_imap(ctx, lc, conn)

    return handle


PROTOCOL_HANDLERS = {
    "smtp": _smtp_handler,
    "submission": _smtp_handler,
    "pop3": _pop3_handler,
    "imap": _imap_handler,
}
OVERLOAD_REPLIES = {
    "smtp": Reply.of(421, "4.3.2", "Too many connections, try again later").to_bytes(),
    "submission": Reply.of(421, "4.3.2", "Too many connections, try again later").to_bytes(),
    "pop3": POP3_OVERLOAD_REPLY,
    "imap": IMAP_OVERLOAD_REPLY,
}


@dataclass
class RunningServer:
    ctx: ServerContext
    listeners: list[Listener] = field(default_factory=list)
    delivery: DeliveryService | None = None  # outbound queue (one process delivers)
    web: list[Any] = field(default_factory=list)  # web.serve.WebServer: https, http redirect

    def ports(self) -> dict[str, int]:
        return {li.name: li.port for li in self.listeners} | {w.name: w.port for w in self.web}

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop accepting, let sessions finish their transaction, close the store."""
        self.ctx.shutting_down.set()
        for li in self.listeners:
            li.stop_accepting()
        await asyncio.gather(
            *(li.wait_sessions(grace) for li in self.listeners),
            *(w.stop(min(grace, 10.0)) for w in self.web),
        )
        if self.delivery is not None:
            await self.delivery.stop(min(grace, 10.0))
        await watcher_for(self.ctx.store).close()
        await self.ctx.store.close()


async def start_server(
    config: Config, sockets: dict[str, socket.socket] | None = None
) -> RunningServer:
    """Open the store and start every listener; `sockets` (by listener name) are
    already bound, as when worker processes share them."""
    store = await open_store(config.database_path, config.blob_dir)
    tls = None
    if config.cert_path.exists() and config.key_path.exists():
        tls = server_context(config.cert_path, config.key_path, config.tls_keylog)
    ctx = ServerContext(
        config=config,
        store=store,
        directory=Directory(store),
        authenticator=Authenticator(store, LoginThrottle()),
        tls=tls,
    )
    running = RunningServer(ctx)
    try:
        for lc in config.listeners:
            make = PROTOCOL_HANDLERS.get(lc.protocol)
            if make is None:
                if lc.protocol not in ("https", "http"):  # the web app's, started below
                    log.info("listener %s: protocol not served yet, skipped", lc.name)
                continue
            if lc.tls == "implicit" and tls is None:
                raise RuntimeError(f"listener {lc.name} needs TLS but no certificate is configured")
            listener = Listener(
                lc.name,
                lc.address,
                lc.port,
                make(ctx, lc),  # type: ignore[arg-type]
                tls=tls if lc.tls == "implicit" else None,
                max_connections=config.smtp.max_connections,
                on_overload=OVERLOAD_REPLIES.get(lc.protocol, b""),
                sock=(sockets or {}).get(lc.name),
            )
            await listener.start()
            running.listeners.append(listener)
        # Webmail (uvicorn) on this same event loop; imported here so processes
        # without an https listener never load the web stack.
        if config.listener("https") is not None:
            from posthouse.web.serve import serve_web

            running.web = await serve_web(ctx, running.listeners, sockets)
        running.delivery = DeliveryService(config, store)
        running.delivery.start()
    except BaseException:
        await running.stop(grace=0)
        raise
    return running


async def serve_forever(
    config: Config,
    on_ready: Callable[[RunningServer], None],
    sockets: dict[str, socket.socket] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM, then shut down gracefully."""
    running = await start_server(config, sockets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP too: a closed terminal must not kill transactions in flight.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    on_ready(running)
    await stop.wait()
    log.info("shutting down: finishing in-flight transactions")
    await running.stop()
    log.info("stopped")


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the servers on uvloop when it is installed (a dependency on POSIX systems): its
    transports cost a fraction of asyncio's per read and write, which is most of
    what an SMTP session does.  The standard loop serves the same code otherwise."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)
