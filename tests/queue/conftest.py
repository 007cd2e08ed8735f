"""Fixtures for delivery tests: a real store in tmp_path, a config for alpha.test, and
scripted peers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from posthouse.config import Config, parse_config
from posthouse.queue.scheduler import DeliveryScheduler
from posthouse.resolver import StaticResolver
from posthouse.store import open_store
from posthouse.store.base import OutboundEnvelope, OutboundRecipient, Store
from tests.queue.peer import Peer


def message(token: str = "hello", extra: bytes = b"") -> bytes:
    return (
        b"Return-Path: <alice@alpha.test>\r\n"
        b"From: Alice <alice@alpha.test>\r\n"
        b"To: <bob@beta.test>\r\n"
        + f"Subject: {token}\r\n".encode()
        + b"Message-ID: <"
        + token.encode()
        + b"@alpha.test>\r\n"
        + extra
        + b"\r\n"
        + f"Body {token}\r\n.leading dot\r\n".encode()
    )


def make_config(tmp: Path, **relay: Any) -> Config:
    return parse_config(
        tmp, {"domain": "alpha.test", "hostname": "mail.alpha.test", "relay": relay}
    )


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path / "data" / "posthouse.db", tmp_path / "data" / "blobs")
    await s.add_domain("alpha.test")
    await s.add_user("alice@alpha.test", "x")
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(params=["data", "chunking"])
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[Peer]:
    """A peer taking content after DATA, or (offering CHUNKING, RFC 3030) in BDAT
    chunks too, which our client then writes whole transactions ahead with."""
    p = Peer()
    if request.param == "chunking":
        p.extensions = [*p.extensions, "CHUNKING"]
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
def clock() -> Clock:
    # A little ahead of the wall clock: entries queued during the test are due at once.
    return Clock(datetime.now(UTC) + timedelta(seconds=5))


async def enqueue(
    store: Store,
    *recipients: str,
    sender: str = "alice@alpha.test",
    raw: bytes | None = None,
    params: dict[str, str] | None = None,
    dsn: dict[str, str] | None = None,
) -> int:
    result = await store.accept(
        raw if raw is not None else message(),
        [],
        OutboundEnvelope(
            sender, tuple(OutboundRecipient(r, dict(dsn or {})) for r in recipients), params or {}
        ),
    )
    assert result.queue_id is not None
    return result.queue_id


SchedulerFactory = Callable[..., DeliveryScheduler]


@pytest.fixture
def scheduler_for(tmp_path: Path, store: Store, clock: Clock) -> SchedulerFactory:
    def make(resolver: StaticResolver | None = None, **relay: Any) -> DeliveryScheduler:
        relay.setdefault("retry_schedule", [60, 300])
        relay.setdefault("command_timeout", 5)
        relay.setdefault("connect_timeout", 2)
        config = make_config(tmp_path, **relay)
        return DeliveryScheduler(config, store, resolver or StaticResolver({}), clock=clock)

    return make


async def inbox(store: Store, address: str = "alice@alpha.test") -> list[bytes]:
    user = await store.get_user(address)
    assert user is not None
    box = await store.get_mailbox(user.id, "INBOX")
    assert box is not None
    return [await store.read_message(m.blob_id) for m in await store.list_messages(box.id)]
