from __future__ import annotations

import re

import pytest

from posthouse.accounts.app_passwords import (
    DEFAULT_PROTOCOLS,
    create_app_password,
    find_app_password,
    format_code,
    generate_code,
    hash_code,
    normalize_code,
    verify_code,
)
from posthouse.store.base import AlreadyExists
from tests.accounts.fake_store import FakeAccountStore


def test_code_shape() -> None:
    code = generate_code()
    assert re.fullmatch(r"[a-z]{16}", code)
    assert re.fullmatch(r"[a-z]{4}( [a-z]{4}){3}", format_code(code))
    assert len({generate_code() for _ in range(100)}) == 100


@pytest.mark.parametrize(
    "typed",
    ["abcdefghijklmnop", "abcd efgh ijkl mnop", "ABCD EFGH IJKL MNOP", " abcdefgh ijklmnop "],
)
def test_code_accepted_with_or_without_spaces(typed: str) -> None:
    stored = hash_code("abcdefghijklmnop")
    assert normalize_code(typed) == "abcdefghijklmnop"
    assert verify_code(stored, typed)


@pytest.mark.parametrize(
    "not_a_code",
    ["abcdefghijklmno", "abcdefghijklmnopq", "abcd-efgh-ijkl-mnop", "abcdefghijklmno1"],
)
def test_not_a_code(not_a_code: str) -> None:
    assert normalize_code(not_a_code) is None
    assert not verify_code(hash_code("abcdefghijklmnop"), not_a_code)


def test_hash_is_salted_hmac_and_never_the_code() -> None:
    h1, h2 = hash_code("abcdefghijklmnop"), hash_code("abcdefghijklmnop")
    assert h1 != h2
    assert h1.startswith("hmac-sha256$")
    assert "abcdefghijklmnop" not in h1
    assert not verify_code(h1, "abcdefghijklmnoq")


@pytest.mark.parametrize("broken", ["", "hmac-sha256$zz$00", "argon2$x$y", "hmac-sha256$"])
def test_verify_never_raises_on_broken_hash(broken: str) -> None:
    assert verify_code(broken, "abcdefghijklmnop") is False


async def test_create_and_find(store: FakeAccountStore) -> None:
    user = await store.seed_user("alice@example.test")
    new = await create_app_password(store, user, "  Thunderbird  ", ["imap", "smtp"])
    assert new.record.name == "Thunderbird"
    assert new.record.protocols == {"imap", "smtp"}
    assert new.code not in new.record.secret_hash
    found = await find_app_password(store, user, new.code.replace(" ", ""))
    assert found is not None and found.id == new.record.id
    assert await find_app_password(store, user, "aaaa bbbb cccc dddd") is None


async def test_default_protocols_leave_out_web(store: FakeAccountStore) -> None:
    user = await store.seed_user("alice@example.test")
    new = await create_app_password(store, user, "phone")
    assert new.record.protocols == DEFAULT_PROTOCOLS
    assert "web" not in new.record.protocols


async def test_revoked_code_is_not_found(store: FakeAccountStore) -> None:
    user = await store.seed_user("alice@example.test")
    new = await create_app_password(store, user, "phone")
    await store.revoke_app_password(user.id, "phone")
    assert await find_app_password(store, user, new.code) is None


async def test_codes_are_per_user(store: FakeAccountStore) -> None:
    alice = await store.seed_user("alice@example.test")
    bob = await store.seed_user("bob@example.test")
    new = await create_app_password(store, alice, "phone")
    assert await find_app_password(store, bob, new.code) is None


@pytest.mark.parametrize(
    ("name", "protocols"),
    [("", ["imap"]), ("ok", []), ("ok", ["gopher"]), ("bad\nname", ["imap"])],
)
async def test_create_refuses_bad_input(
    store: FakeAccountStore, name: str, protocols: list[str]
) -> None:
    user = await store.seed_user("alice@example.test")
    with pytest.raises(ValueError):
        await create_app_password(store, user, name, protocols)


async def test_duplicate_name(store: FakeAccountStore) -> None:
    user = await store.seed_user("alice@example.test")
    await create_app_password(store, user, "phone")
    with pytest.raises(AlreadyExists):
        await create_app_password(store, user, "phone")
