"""Conformance: webmail browser sessions (WebSessionStore)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from posthouse.store.base import Store, User


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_create_get_delete(store: Store, user: User) -> None:
    created = await store.create_web_session("h1", user.id, "csrf1", "127.0.0.1", later(60))
    got = await store.get_web_session("h1")
    assert got == created and got.user_id == user.id and got.csrf == "csrf1"
    await store.delete_web_session("h1")
    assert await store.get_web_session("h1") is None
    assert await store.get_web_session("unknown") is None


async def test_expired_sessions_are_not_returned(store: Store, user: User) -> None:
    await store.create_web_session("old", user.id, "c", "::1", later(-1))
    assert await store.get_web_session("old") is None
    await store.create_web_session("new", user.id, "c", "::1", later(60))
    await store.touch_web_session("new", later(-1))
    assert await store.get_web_session("new") is None


async def test_end_all_but_one(store: Store, user: User) -> None:
    for name in ("a", "b", "c"):
        await store.create_web_session(name, user.id, "c", "::1", later(60))
    assert await store.delete_web_sessions(user.id, keep="b") == 2
    assert await store.get_web_session("a") is None
    assert await store.get_web_session("b") is not None


async def test_sessions_go_with_the_user(store: Store, user: User) -> None:
    await store.create_web_session("s", user.id, "c", "::1", later(60))
    await store.delete_user(user.id)
    assert await store.get_web_session("s") is None
