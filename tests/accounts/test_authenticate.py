from __future__ import annotations

import time

import pytest
from argon2 import PasswordHasher

from posthouse.accounts.app_passwords import create_app_password
from posthouse.accounts.authenticate import Authenticator, AuthReason
from posthouse.accounts.passwords import needs_rehash, verify_password
from posthouse.accounts.throttle import LoginThrottle, ThrottleLimits
from tests.accounts.fake_store import PASSWORD, FakeAccountStore

IP = "192.0.2.10"
ALICE = "alice@example.test"


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class FakeClock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def throttle() -> LoginThrottle:
    return LoginThrottle(ThrottleLimits(pair_lock_after=5), clock=FakeClock())


@pytest.fixture
async def auth(
    store: FakeAccountStore, password_hash: str, throttle: LoginThrottle, sleep: RecordingSleep
) -> Authenticator:
    await store.seed_user(ALICE, password_hash)
    return Authenticator(store, throttle, sleep=sleep)


async def test_account_password(auth: Authenticator, sleep: RecordingSleep) -> None:
    result = await auth.authenticate(ALICE, PASSWORD, protocol="imap", remote_ip=IP)
    assert result.ok and result.reason is AuthReason.OK
    assert result.user is not None and result.user.address == ALICE
    assert result.via_app_password is None
    assert sleep.delays == []


async def test_username_is_case_insensitive(auth: Authenticator) -> None:
    result = await auth.authenticate("ALICE@Example.Test", PASSWORD, protocol="pop3", remote_ip=IP)
    assert result.ok


@pytest.mark.parametrize(
    ("username", "password"),
    [
        (ALICE, "wrong password"),
        (ALICE, ""),
        ("nobody@example.test", PASSWORD),
        ("alice", PASSWORD),  # only the full address is a username
        ("alice+tag@example.test", PASSWORD),
        ("", ""),
    ],
)
async def test_bad_credentials(auth: Authenticator, username: str, password: str) -> None:
    result = await auth.authenticate(username, password, protocol="imap", remote_ip=IP)
    assert not result.ok
    assert result.reason is AuthReason.BAD_CREDENTIALS
    assert result.user is None


async def test_protocol_switch_governs_account_password(
    store: FakeAccountStore, auth: Authenticator
) -> None:
    alice = await store.get_user(ALICE)
    assert alice is not None
    await store.update_user(alice.id, protocols={"web", "smtp"})
    assert (await auth.authenticate(ALICE, PASSWORD, protocol="smtp", remote_ip=IP)).ok
    result = await auth.authenticate(ALICE, PASSWORD, protocol="pop3", remote_ip=IP)
    assert result.reason is AuthReason.PROTOCOL_DISABLED and not result.ok
    assert result.user is not None  # the credentials were right: sessions may log who


async def test_app_password(store: FakeAccountStore, auth: Authenticator) -> None:
    alice = await store.get_user(ALICE)
    assert alice is not None
    new = await create_app_password(store, alice, "Thunderbird", ["imap", "smtp"])
    calls_before = store.calls["touch_app_password"]
    for typed in (new.code, new.code.replace(" ", ""), new.code.upper()):
        result = await auth.authenticate(ALICE, typed, protocol="imap", remote_ip=IP)
        assert result.ok and result.via_app_password == "Thunderbird"
    assert store.calls["touch_app_password"] == calls_before + 3
    assert store.app_passwords[new.record.id].last_used is not None
    # not for a protocol it was not given
    result = await auth.authenticate(ALICE, new.code, protocol="pop3", remote_ip=IP)
    assert result.reason is AuthReason.PROTOCOL_DISABLED
    assert result.via_app_password == "Thunderbird"


async def test_app_password_works_when_account_password_is_switched_off(
    store: FakeAccountStore, auth: Authenticator
) -> None:
    """The big-provider model: the account password only on the web, mail clients
    each with their own code."""
    alice = await store.get_user(ALICE)
    assert alice is not None
    await store.update_user(alice.id, protocols={"web"})
    new = await create_app_password(store, alice, "phone", ["imap"])
    assert (await auth.authenticate(ALICE, new.code, protocol="imap", remote_ip=IP)).ok
    result = await auth.authenticate(ALICE, PASSWORD, protocol="imap", remote_ip=IP)
    assert result.reason is AuthReason.PROTOCOL_DISABLED


async def test_revoked_app_password(store: FakeAccountStore, auth: Authenticator) -> None:
    alice = await store.get_user(ALICE)
    assert alice is not None
    new = await create_app_password(store, alice, "phone")
    await store.revoke_app_password(alice.id, "phone")
    result = await auth.authenticate(ALICE, new.code, protocol="imap", remote_ip=IP)
    assert result.reason is AuthReason.BAD_CREDENTIALS


async def test_other_users_code_does_not_work(store: FakeAccountStore, auth: Authenticator) -> None:
    bob = await store.seed_user("bob@example.test")
    new = await create_app_password(store, bob, "phone")
    result = await auth.authenticate(ALICE, new.code, protocol="imap", remote_ip=IP)
    assert result.reason is AuthReason.BAD_CREDENTIALS


async def test_disabled_user(store: FakeAccountStore, auth: Authenticator) -> None:
    alice = await store.get_user(ALICE)
    assert alice is not None
    new = await create_app_password(store, alice, "phone")
    await store.update_user(alice.id, enabled=False)
    result = await auth.authenticate(ALICE, PASSWORD, protocol="imap", remote_ip=IP)
    assert result.reason is AuthReason.DISABLED and not result.ok
    result = await auth.authenticate(ALICE, new.code, protocol="imap", remote_ip=IP)
    assert result.reason is AuthReason.DISABLED
    # a wrong password says nothing about the account's state
    result = await auth.authenticate(ALICE, "wrong password", protocol="imap", remote_ip=IP)
    assert result.reason is AuthReason.BAD_CREDENTIALS


async def test_failures_are_delayed_then_throttled(
    auth: Authenticator, sleep: RecordingSleep
) -> None:
    for _ in range(5):
        result = await auth.authenticate(ALICE, "guess", protocol="imap", remote_ip=IP)
        assert result.reason is AuthReason.BAD_CREDENTIALS
    # the fifth failure locks the pair (pair_lock_after=5) and is answered slowest
    assert sleep.delays == [0, 0, 1, 2, ThrottleLimits().max_delay]
    # locked (pair_lock_after=5): even the right password is refused, without argon2
    result = await auth.authenticate(ALICE, PASSWORD, protocol="imap", remote_ip=IP)
    assert result.reason is AuthReason.THROTTLED and result.retry_after > 0
    assert sleep.delays[-1] > 0
    # the owner on another IP is unaffected
    assert (await auth.authenticate(ALICE, PASSWORD, protocol="imap", remote_ip="192.0.2.99")).ok


async def test_success_resets_the_delay(auth: Authenticator, sleep: RecordingSleep) -> None:
    for _ in range(4):
        await auth.authenticate(ALICE, "guess", protocol="imap", remote_ip=IP)
    assert (await auth.authenticate(ALICE, PASSWORD, protocol="imap", remote_ip=IP)).ok
    sleep.delays.clear()
    await auth.authenticate(ALICE, "guess", protocol="imap", remote_ip=IP)
    assert sleep.delays == [0]


async def test_unknown_users_are_throttled_too(auth: Authenticator) -> None:
    for _ in range(5):
        await auth.authenticate("ghost@example.test", "x", protocol="imap", remote_ip=IP)
    result = await auth.authenticate("ghost@example.test", "x", protocol="imap", remote_ip=IP)
    assert result.reason is AuthReason.THROTTLED


async def test_unknown_user_costs_as_much_as_a_known_one(auth: Authenticator) -> None:
    async def cost(username: str) -> float:
        start = time.perf_counter()
        for _ in range(3):
            await auth.authenticate(username, "guess", protocol="smtp", remote_ip="192.0.2.200")
        return time.perf_counter() - start

    await cost(ALICE)  # warm the dummy hash
    known, unknown = await cost(ALICE), await cost("nobody@example.test")
    assert unknown > known / 3


async def test_code_shaped_password_still_tries_the_account_password(
    store: FakeAccountStore, throttle: LoginThrottle, sleep: RecordingSleep
) -> None:
    from posthouse.accounts.passwords import hash_password

    await store.seed_user("dave@example.test", hash_password("abcdefghijklmnop"))
    auth = Authenticator(store, throttle, sleep=sleep)
    result = await auth.authenticate(
        "dave@example.test", "abcdefghijklmnop", protocol="imap", remote_ip=IP
    )
    assert result.ok and result.via_app_password is None


async def test_old_hash_is_upgraded_on_login(
    store: FakeAccountStore, throttle: LoginThrottle, sleep: RecordingSleep
) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    user = await store.seed_user("old@example.test", old)
    auth = Authenticator(store, throttle, sleep=sleep)
    assert (await auth.authenticate("old@example.test", PASSWORD, protocol="imap", remote_ip=IP)).ok
    upgraded = store.users[user.id].password_hash
    assert upgraded != old and not needs_rehash(upgraded)
    assert verify_password(upgraded, PASSWORD)


async def test_unknown_protocol_is_a_programming_error(auth: Authenticator) -> None:
    with pytest.raises(ValueError):
        await auth.authenticate(ALICE, PASSWORD, protocol="gopher", remote_ip=IP)
