"""Fixtures for the store conformance suite.

Every test that takes `store` runs once per backend in OPENERS, each built fresh in
the test's tmp_path; a new backend joins the suite by adding an opener here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from posthouse.store.base import Mailbox, Store, User
from posthouse.store.sqlite.backend import SQLiteStore
from tests.store.samples import StoreFactory


async def _open_sqlite(root: Path) -> Store:
    return await SQLiteStore.open(root / "posthouse.sqlite", root / "blobs")


OPENERS: dict[str, Callable[[Path], Awaitable[Store]]] = {"sqlite": _open_sqlite}


@pytest.fixture(params=sorted(OPENERS))
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Opens (again) the same backend on the same storage: for reopen tests."""
    opener = OPENERS[request.param]

    async def open_store() -> Store:
        return await opener(tmp_path)

    return open_store


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[Store]:
    opened = await store_factory()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def user(store: Store) -> User:
    await store.add_domain("example.org")
    return await store.add_user("alice@example.org", "hash")


@pytest.fixture
async def inbox(store: Store, user: User) -> Mailbox:
    mailbox = await store.get_mailbox(user.id, "INBOX")
    assert mailbox is not None
    return mailbox
