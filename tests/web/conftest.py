"""A web app over a fresh store, driven by Starlette's TestClient over https://."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.testclient import TestClient

from posthouse.accounts.authenticate import Authenticator
from posthouse.accounts.directory import Directory
from posthouse.accounts.passwords import hash_password
from posthouse.accounts.throttle import LoginThrottle
from posthouse.config import Config, Listener
from posthouse.server.context import ServerContext
from posthouse.store.base import LocalDelivery, Store
from posthouse.store.sqlite.backend import SQLiteStore
from posthouse.web.app import create_app

T = TypeVar("T")
BASE = "https://mail.example.test"
PASSWORDS = {
    "alice@example.test": "alice-password-1",
    "bob@example.test": "bob-password-22",
    "admin@example.test": "admin-password-333",
}


@dataclass
class Site:
    client: TestClient
    store: Store
    ctx: ServerContext
    ids: dict[str, int]  # address -> user id

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        return self.client.portal.call(fn, *args)  # type: ignore[union-attr]

    def mailbox(self, address: str, name: str = "INBOX") -> int:
        box = self.run(self.store.get_mailbox, self.ids[address], name)
        assert box is not None
        return box.id

    def deliver(self, address: str, raw: bytes, meta: dict[str, Any] | None = None) -> int:
        """Put a message in a user's INBOX as SMTP would; returns its UID."""
        inbox = self.mailbox(address)

        async def go() -> int:
            result = await self.store.accept(raw, [LocalDelivery(inbox)], meta=meta)
            return result.messages[0].uid

        return self.run(go)

    def login(self, address: str, password: str | None = None) -> str:
        """Sign in; returns the session's CSRF token."""
        self.client.cookies.clear()
        page = self.client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        response = self.client.post(
            "/login",
            data={
                "username": address,
                "password": password or PASSWORDS[address],
                "csrf": token.group(1),
                "next": "/mail",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return self.csrf()

    def csrf(self) -> str:
        me = self.client.get("/api/v1/me")
        assert me.status_code == 200
        return str(me.json()["csrf"])


def mail(
    subject: str = "hello",
    body: str = "plain body",
    *,
    sender: str = "Carol <carol@remote.example>",
    to: str = "alice@example.test",
    extra: str = "",
    msgid: str = "",
) -> bytes:
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
    head += "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
    if msgid:
        head += f"Message-ID: {msgid}\r\n"
    return (head + extra + "\r\n" + body + "\r\n").encode()


async def _open(root: Path) -> tuple[Store, dict[str, int]]:
    store = await SQLiteStore.open(root / "db.sqlite", root / "blobs")
    await store.add_domain("example.test")
    ids = {}
    for address, password in PASSWORDS.items():
        user = await store.add_user(
            address, hash_password(password), is_admin=address.startswith("admin")
        )
        ids[address] = user.id
    return store, ids


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    config = Config(
        dir=tmp_path,
        hostname="mail.example.test",
        domain="example.test",
        dns={},  # a static, empty DNS: the servers never ask the real one
        listeners=(
            Listener("submission", "127.0.0.1", 2587, "starttls"),
            Listener("imaps", "127.0.0.1", 2993, "implicit"),
            Listener("imap", "127.0.0.1", 2143, "starttls"),
            Listener("pop3s", "127.0.0.1", 2995, "implicit"),
            Listener("https", "127.0.0.1", 8443, "implicit"),
        ),
    )
    # The store is opened on the app's own event loop (the TestClient's portal), so
    # no second loop is needed while, say, a browser test's loop is running.
    ctx = ServerContext(
        config=config,
        store=None,  # type: ignore[arg-type]
        directory=None,  # type: ignore[arg-type]
        authenticator=None,  # type: ignore[arg-type]
        tls=None,
    )
    app = create_app(ctx)
    with TestClient(app, base_url=BASE) as client:
        store, ids = client.portal.call(_open, tmp_path)  # type: ignore[union-attr]
        ctx.store = store
        ctx.directory = Directory(store)
        ctx.authenticator = Authenticator(store, LoginThrottle(), sleep=_no_sleep)
        try:
            yield Site(client, store, ctx, ids)
        finally:
            client.portal.call(store.close)  # type: ignore[union-attr]


async def _no_sleep(_seconds: float) -> None:
    return None
