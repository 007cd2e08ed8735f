"""A real posthouse (SMTP, submission, IMAP, POP3, HTTPS webmail) on loopback ports,
in a thread of this process, and Debian's Chromium driven by Playwright.

Chromium runs with the flags of ../shared/INTEROP.md so it fetches nothing of its
own, and with a host resolver that knows only 127.0.0.1: nothing a hostile message
tries can leave the machine.  Tests are skipped, with the reason, when
/usr/bin/chromium (or $CHROMIUM) is missing; scripts/test.sh installs it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import socket
import ssl
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from posthouse.accounts.passwords import hash_password
from posthouse.certificates import write_self_signed
from posthouse.config import Config, Listener
from posthouse.server.runner import RunningServer, start_server
from posthouse.store import open_store

T = TypeVar("T")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
DOMAIN = "example.test"
USERS = {"alice@example.test": "alice-browser-pw1", "bob@example.test": "bob-browser-pw22"}
ARTIFACTS = Path(
    os.environ.get("BROWSER_ARTIFACTS", Path(__file__).resolve().parents[2] / "build/browser")
)

if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's chromium package (scripts/test.sh does)",
        allow_module_level=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    root: Path
    config: Config
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    running: RunningServer | None = None

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def port(self, name: str) -> int:
        listener = self.config.listener(name)
        assert listener is not None
        return listener.port

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port('https')}"

    @property
    def cert(self) -> str:
        return str(self.root / "tls/cert.pem")

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cert)
        context.check_hostname = False
        return context

    def deliver(self, sender: str, recipients: list[str], raw: bytes) -> None:
        """Hand a message to the MTA port, as a peer server would."""
        with smtplib.SMTP("127.0.0.1", self.port("smtp"), timeout=30) as smtp:
            smtp.ehlo("peer.example")
            smtp.starttls(context=self.tls_context())
            smtp.ehlo("peer.example")
            smtp.sendmail(sender, recipients, raw)


async def _prepare(config: Config) -> None:
    store = await open_store(config.database_path, config.blob_dir)
    try:
        await store.add_domain(DOMAIN)
        for address, password in USERS.items():
            await store.add_user(address, hash_password(password), display_name=address[:3])
    finally:
        await store.close()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("live")
    write_self_signed(root / "tls/cert.pem", root / "tls/key.pem", "mail.example.test")
    config = Config(
        dir=root,
        hostname="mail.example.test",
        domain=DOMAIN,
        dns={},  # a static, empty DNS: the servers never ask the real one
        listeners=(
            Listener("smtp", "127.0.0.1", free_port(), "starttls"),
            Listener("submission", "127.0.0.1", free_port(), "starttls"),
            Listener("imap", "127.0.0.1", free_port(), "starttls"),
            Listener("pop3", "127.0.0.1", free_port(), "starttls"),
            Listener("https", "127.0.0.1", free_port(), "implicit"),
        ),
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="posthouse-live", daemon=True)
    thread.start()
    server = LiveServer(root, config, loop, thread)
    try:
        server.call(_prepare(config))
        server.running = server.call(start_server(config))
        yield server
    finally:
        if server.running is not None:
            server.call(server.running.stop(grace=2))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: the sync API keeps an event loop running on this
    # thread, so it must be gone before tests that run their own loop.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, live: LiveServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) that records every request it makes."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    context.requests = []  # type: ignore[attr-defined]
    context.on("request", lambda request: context.requests.append(request.url))
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        context.close()


def sign_in(page: Any, live: LiveServer, address: str) -> None:
    page.goto(live.url + "/login")
    page.fill("#username", address)
    page.fill("#password", USERS[address])
    page.click("#sign-in")
    page.wait_for_url("**/mail/*")


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def copy_artifact(path: Path, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / name)
