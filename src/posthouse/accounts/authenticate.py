"""Checking a username and password for one protocol, as every login path does
(SMTP AUTH, POP3 USER/PASS and AUTH, IMAP LOGIN and AUTHENTICATE, webmail).

The username is the user's full address, in any case.  The password is either the
account password — accepted for protocol P only when the user has P switched on — or a
non-revoked app password whose own protocols include P.  Mail clients log in with app
passwords all day, so a text shaped like one is checked against the user's codes first
(microseconds) before argon2 (milliseconds) is tried.

Reasons are told apart only once the credentials are right: a wrong password for a
disabled account is `bad_credentials`, so an outsider learns nothing about accounts.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from posthouse.accounts.addresses import AddressError, normalize_address
from posthouse.accounts.app_passwords import find_app_password
from posthouse.accounts.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from posthouse.accounts.throttle import LoginThrottle
from posthouse.store.base import AccountStore, AppPassword, Protocols, StoreError, User

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class AuthReason(enum.StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    DISABLED = "disabled"
    PROTOCOL_DISABLED = "protocol_disabled"
    THROTTLED = "throttled"


@dataclass(frozen=True, slots=True)
class AuthResult:
    ok: bool
    user: User | None  # set when the credentials were right, even if refused
    reason: AuthReason
    via_app_password: str | None = None  # the app password's name
    retry_after: float = 0.0  # for THROTTLED: seconds until the lock ends


class Authenticator:
    def __init__(
        self,
        store: AccountStore,
        throttle: LoginThrottle,
        *,
        sleep: Sleep = asyncio.sleep,
        max_parallel_hashes: int | None = None,
    ) -> None:
        self.store = store
        self.throttle = throttle
        self._sleep = sleep
        # Each argon2 verification holds 19 MiB and a core for ~20 ms: a burst of logins
        # waits its turn here instead of filling the shared thread pool and memory.
        self._hash_slots = asyncio.Semaphore(max_parallel_hashes or os.cpu_count() or 1)

    async def authenticate(
        self, username: str, password: str, *, protocol: str, remote_ip: str
    ) -> AuthResult:
        proto = Protocols(protocol.lower())  # ValueError: a caller's bug, not a login
        account = _account_key(username)
        decision = self.throttle.check(remote_ip, account)
        if not decision.allowed:
            # Locked out: answer slowly and spend no CPU on the guess.
            await self._sleep(decision.delay)
            return AuthResult(False, None, AuthReason.THROTTLED, retry_after=decision.retry_after)

        user, app_password = await self._check_credentials(account, password)
        if user is None:
            self.throttle.record_failure(remote_ip, account)
            await self._sleep(self.throttle.check(remote_ip, account).delay)
            log.info("login failed: %r from %s (%s)", account, remote_ip, proto.value)
            return AuthResult(False, None, AuthReason.BAD_CREDENTIALS)

        app_name = app_password.name if app_password else None
        if not user.enabled:
            return AuthResult(False, user, AuthReason.DISABLED, app_name)
        allowed = app_password.protocols if app_password else user.protocols
        if proto.value not in allowed:
            return AuthResult(False, user, AuthReason.PROTOCOL_DISABLED, app_name)

        self.throttle.record_success(remote_ip, account)
        if app_password is not None:
            await self._touch(app_password)
        elif needs_rehash(user.password_hash):
            await self._rehash(user, password)
        return AuthResult(True, user, AuthReason.OK, app_name)

    async def _check_credentials(
        self, account: str, password: str
    ) -> tuple[User | None, AppPassword | None]:
        """(user, None) for the account password, (user, code) for an app password,
        (None, None) for anything wrong — after the same argon2 work either way."""
        user = await self.store.get_user(account)
        if user is None:
            await self._verify(dummy_hash(), password)
            return None, None
        app_password = await find_app_password(self.store, user, password)
        if app_password is not None:
            return user, app_password
        if await self._verify(user.password_hash, password):
            return user, None
        return None, None

    async def _verify(self, password_hash: str, password: str) -> bool:
        async with self._hash_slots:
            return await asyncio.to_thread(verify_password, password_hash, password)

    async def _touch(self, app_password: AppPassword) -> None:
        try:
            await self.store.touch_app_password(app_password.id)
        except StoreError as e:  # bookkeeping only: never fail a good login over it
            log.warning("could not record use of app password %d: %s", app_password.id, e)

    async def _rehash(self, user: User, password: str) -> None:
        """Upgrade a hash made with older parameters while we hold the password."""
        async with self._hash_slots:
            new_hash = await asyncio.to_thread(hash_password, password)
        try:
            await self.store.update_user(user.id, password_hash=new_hash)
        except StoreError as e:
            log.warning("could not upgrade password hash of %s: %s", user.address, e)


def _account_key(username: str) -> str:
    """The normalised address; a username that is not an address still gets a stable
    key so failures against it are throttled like any other."""
    try:
        return normalize_address(username)
    except AddressError:
        return username.strip().lower()
