"""Serving the web app with uvicorn on the event loop the mail listeners run on.

HTTPS uses the instance's TLS context (server/tls.py: TLS 1.2 and newer, the same
certificate and key log as the mail ports).  An optional plain-HTTP port answers
every request with a redirect to HTTPS (RFC 9110 §15.4.2: 301).  Signals stay with
the runner: the embedded uvicorn server installs no handlers of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from posthouse.config import Listener as ListenerConfig
from posthouse.server.context import ServerContext
from posthouse.server.listener import Listener
from posthouse.web.app import create_app
from posthouse.web.monitor import ListenerStatus, Monitor

log = logging.getLogger("posthouse.web")


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the runner owns SIGINT/SIGTERM/SIGHUP


def bind(address: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    info = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if info[0] == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(info[4])
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class WebServer:
    name: str
    server: _EmbeddedServer
    task: asyncio.Task[None]
    sock: socket.socket
    monitor: Monitor | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def connections(self) -> int:
        return len(self.server.server_state.connections)

    async def stop(self, grace: float = 10.0) -> None:
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), grace)
        except TimeoutError:
            self.server.force_exit = True
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.task, 2.0)
        if self.monitor is not None:
            self.monitor.detach()
        self.sock.close()


def _config(app: ASGIApp, tls: ssl.SSLContext | None) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,  # keep the instance's logging as configured
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        ws="none",
        timeout_keep_alive=30,
        ssl_context_factory=(lambda _config, _default: tls) if tls is not None else None,
    )


async def _start(
    name: str, app: ASGIApp, tls: ssl.SSLContext | None, sock: socket.socket
) -> tuple[_EmbeddedServer, asyncio.Task[None]]:
    server = _EmbeddedServer(_config(app, tls))
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError(f"{name}: web server stopped during startup")
        await asyncio.sleep(0.01)
    return server, task


async def start_web(
    ctx: ServerContext,
    listener: ListenerConfig,
    *,
    sock: socket.socket | None = None,
    status: Callable[[], list[ListenerStatus]] | None = None,
) -> WebServer:
    """Serve webmail, settings, admin, autoconfig, /metrics and the API over HTTPS."""
    if listener.tls != "none" and ctx.tls is None:
        raise RuntimeError(f"listener {listener.name} needs TLS but no certificate is configured")
    monitor = Monitor()
    monitor.attach()
    app = create_app(ctx, status=status, monitor=monitor)
    sock = sock or bind(listener.address, listener.port)
    tls = ctx.tls if listener.tls != "none" else None
    server, task = await _start(listener.name, app, tls, sock)
    web = WebServer(listener.name, server, task, sock, monitor)
    log.info("%s: webmail on %s port %d", listener.name, listener.address, web.port)
    return web


def redirect_app(https_port: int) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        host = ""
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1").rsplit(":", 1)[0].strip("[]")
        if not host or any(c in host for c in "/\\@ \r\n"):
            host = "localhost"
        if ":" in host:
            host = f"[{host}]"
        path = scope.get("raw_path", b"/").decode("latin-1") or "/"
        if not path.startswith("/") or path.startswith("//"):
            path = "/"
        query = scope.get("query_string", b"").decode("latin-1")
        if query and not any(c in query for c in "\r\n"):
            path += "?" + query
        port = "" if https_port == 443 else f":{https_port}"
        location = f"https://{host}{port}{path}"
        await send(
            {
                "type": "http.response.start",
                "status": 301,
                "headers": [(b"location", location.encode("latin-1")), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    return app


async def start_redirect(
    listener: ListenerConfig, https_port: int, *, sock: socket.socket | None = None
) -> WebServer:
    """Plain HTTP that sends every browser to the HTTPS port."""
    sock = sock or bind(listener.address, listener.port)
    server, task = await _start(listener.name, redirect_app(https_port), None, sock)
    return WebServer(listener.name, server, task, sock)


def listener_status(
    ctx: ServerContext, listeners: Sequence[Listener], web: Sequence[WebServer]
) -> list[ListenerStatus]:
    """Open connections per listener, for the admin console and /metrics."""
    found = []
    for li in listeners:
        lc = ctx.config.listener(li.name)
        mode = lc.tls if lc is not None else ""
        found.append(ListenerStatus(li.name, li.address, li.port, mode, len(li.connections)))
    for w in web:
        lc = ctx.config.listener(w.name)
        address = lc.address if lc is not None else ""
        mode = lc.tls if lc is not None else ""
        found.append(ListenerStatus(w.name, address, w.port, mode, w.connections))
    return found


async def serve_web(
    ctx: ServerContext,
    listeners: Sequence[Listener],
    sockets: dict[str, socket.socket] | None = None,
) -> list[WebServer]:
    """Start the https listener (and the http redirect) when configured; the caller
    stops each returned server before closing the store."""
    https = ctx.config.listener("https")
    if https is None:
        return []
    sockets = sockets or {}
    # Worker processes each bind the web port themselves; SO_REUSEPORT lets the
    # kernel share connections between them, as it does for the mail ports.
    reuse = ctx.config.workers > 1
    servers: list[WebServer] = []
    try:
        sock = sockets.get("https") or bind(https.address, https.port, reuse_port=reuse)
        servers.append(
            await start_web(
                ctx, https, sock=sock, status=lambda: listener_status(ctx, listeners, servers)
            )
        )
        http = ctx.config.listener("http")
        if http is not None:
            sock = sockets.get("http") or bind(http.address, http.port, reuse_port=reuse)
            servers.append(await start_redirect(http, servers[0].port, sock=sock))
    except BaseException:
        for server in servers:
            await server.stop(0)
        raise
    return servers
