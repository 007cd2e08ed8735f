"""The web app served by the runner: HTTPS with the instance certificate on the mail
servers' event loop, and the plain-HTTP redirect."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import httpx

from posthouse.certificates import write_self_signed
from posthouse.config import Config, Listener
from posthouse.server.runner import start_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(tmp_path: Path) -> Config:
    write_self_signed(tmp_path / "tls/cert.pem", tmp_path / "tls/key.pem", "mail.example.test")
    return Config(
        dir=tmp_path,
        hostname="mail.example.test",
        domain="example.test",
        dns={},  # a static, empty DNS: the servers never ask the real one
        listeners=(
            Listener("smtp", "127.0.0.1", free_port(), "starttls"),
            Listener("https", "127.0.0.1", free_port(), "implicit"),
            Listener("http", "127.0.0.1", free_port(), "none"),
        ),
    )


async def test_https_and_redirect(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    running = await start_server(cfg)
    try:
        ports = running.ports()
        assert {"smtp", "https", "http"} <= ports.keys()
        context = ssl.create_default_context(cafile=str(tmp_path / "tls/cert.pem"))
        context.check_hostname = False
        async with httpx.AsyncClient(verify=context) as client:
            page = await client.get(f"https://127.0.0.1:{ports['https']}/login")
            assert page.status_code == 200
            assert "Sign in" in page.text
            assert page.headers["strict-transport-security"].startswith("max-age=")
            assert "server" not in page.headers
            plain = await client.get(f"http://127.0.0.1:{ports['http']}/mail/1?x=y")
            assert plain.status_code == 301
            assert plain.headers["location"] == f"https://127.0.0.1:{ports['https']}/mail/1?x=y"
        # TLS 1.1 and older are refused (server/tls.py: TLS 1.2 minimum).
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        with socket.create_connection(("127.0.0.1", ports["https"]), timeout=5) as raw:
            try:
                old.wrap_socket(raw).close()
                refused = False
            except (ssl.SSLError, OSError):
                refused = True
        assert refused
    finally:
        await running.stop(grace=1)


async def test_no_https_listener_no_web(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    cfg = Config(
        dir=cfg.dir,
        hostname=cfg.hostname,
        domain=cfg.domain,
        dns={},
        listeners=cfg.listeners[:1],
    )
    running = await start_server(cfg)
    try:
        assert running.web == []
    finally:
        await running.stop(grace=1)
