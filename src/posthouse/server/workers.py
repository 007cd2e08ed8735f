"""Serving with several worker processes: the parent binds every listening socket,
forks `workers` children that each run the full server on those shared sockets
(the kernel spreads connections between them), and supervises them.

One process (workers = 1) is the default; more workers let a busy server use more
CPU cores.  Everything shared lives in the store (SQLite serialises writers across
processes), so any worker can serve any connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from posthouse.config import Config
from posthouse.server.runner import PROTOCOL_HANDLERS, run_event_loop, serve_forever
from posthouse.store import open_store

log = logging.getLogger("posthouse.workers")

RESTART_DELAY = 1.0  # seconds before a crashed worker is replaced


@dataclass(frozen=True)
class BoundListener:
    name: str
    address: str
    port: int


def bind(config: Config) -> dict[str, socket.socket]:
    """Listening sockets for every listener this version serves."""
    sockets: dict[str, socket.socket] = {}
    try:
        for lc in config.listeners:
            if lc.protocol not in PROTOCOL_HANDLERS:
                continue
            info = socket.getaddrinfo(lc.address, lc.port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(info[0], socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if info[0] == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(info[4])
            sock.listen(1024)
            sock.setblocking(False)
            sockets[lc.name] = sock
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


def _prepare_store(config: Config) -> None:
    """Create or migrate the schema once, before any worker opens the store."""

    async def touch() -> None:
        store = await open_store(config.database_path, config.blob_dir)
        await store.close()

    asyncio.run(touch())


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _run_worker(config: Config, sockets: dict[str, socket.socket]) -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    # Blocked around fork() by the parent: the event loop installs its own handlers.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    code = 0
    try:
        run_event_loop(serve_forever(config, lambda _running: None, sockets))
    except BaseException:
        log.exception("worker %d failed", os.getpid())
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def serve_with_workers(config: Config, on_ready: Callable[[list[BoundListener]], None]) -> None:
    """Run `config.workers` worker processes until SIGINT/SIGTERM."""
    _prepare_store(config)
    sockets = bind(config)
    bound = [
        BoundListener(name, str(sock.getsockname()[0]), int(sock.getsockname()[1]))
        for name, sock in sockets.items()
    ]
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        if stopping:
            return
        # A stop signal between fork() and the child's own handlers must neither
        # run the parent's handler in the child nor be lost: block it meanwhile.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                _run_worker(config, sockets)
            children.add(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for sock in sockets.values():
            sock.close()  # the workers close theirs: then new connections are refused

    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        for _ in range(config.workers):
            spawn()
        on_ready(bound)
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            children.discard(pid)
            if not stopping:
                log.error("worker %d exited (status %d); starting another", pid, status)
                time.sleep(RESTART_DELAY)
                if not stopping:
                    spawn()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for sock in sockets.values():
            sock.close()
