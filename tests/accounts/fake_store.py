"""An in-memory AccountStore for the accounts unit tests.

It follows the interface in posthouse.store.base (NotFound / AlreadyExists / StoreError
where a real backend raises them) and records how often each method is called, so a
test can see that e.g. an app-password login never reached argon2's store path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from posthouse.store.base import (
    ALL_PROTOCOLS,
    Alias,
    AlreadyExists,
    AppPassword,
    Domain,
    NotFound,
    StoreError,
    User,
)

PASSWORD = "correct horse battery"


def _now() -> datetime:
    return datetime.now(UTC)


class FakeAccountStore:
    def __init__(self) -> None:
        self.domains: dict[str, Domain] = {}
        self.users: dict[int, User] = {}
        self.aliases: dict[str, Alias] = {}
        self.app_passwords: dict[int, AppPassword] = {}
        self.calls: Counter[str] = Counter()
        self._next_id = 1

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def seed_user(self, address: str, password_hash: str = "", **kwargs: Any) -> User:
        """Add a user, creating its domain first when needed."""
        domain = address.rpartition("@")[2]
        if domain not in self.domains:
            await self.add_domain(domain)
        return await self.add_user(address, password_hash, **kwargs)

    # --- domains ---

    async def add_domain(self, name: str) -> Domain:
        self.calls["add_domain"] += 1
        if name in self.domains:
            raise AlreadyExists(name)
        domain = Domain(self._id(), name, _now())
        self.domains[name] = domain
        return domain

    async def get_domain(self, name: str) -> Domain | None:
        self.calls["get_domain"] += 1
        return self.domains.get(name)

    async def list_domains(self) -> list[Domain]:
        return sorted(self.domains.values(), key=lambda d: d.name)

    async def delete_domain(self, name: str) -> None:
        domain = self.domains.get(name)
        if domain is None:
            raise NotFound(name)
        if any(u.domain_id == domain.id for u in self.users.values()) or any(
            a.source.endswith("@" + name) for a in self.aliases.values()
        ):
            raise StoreError(f"domain {name} still has users or aliases")
        del self.domains[name]

    # --- users ---

    async def add_user(
        self,
        address: str,
        password_hash: str,
        *,
        display_name: str = "",
        is_admin: bool = False,
        protocols: Iterable[str] = ALL_PROTOCOLS,
        quota_bytes: int | None = None,
    ) -> User:
        self.calls["add_user"] += 1
        localpart, _, domain_name = address.rpartition("@")
        domain = self.domains.get(domain_name)
        if domain is None:
            raise NotFound(f"no domain {domain_name}")
        if any(u.address == address for u in self.users.values()):
            raise AlreadyExists(address)
        user = User(
            id=self._id(),
            domain_id=domain.id,
            localpart=localpart,
            address=address,
            display_name=display_name,
            password_hash=password_hash,
            enabled=True,
            is_admin=is_admin,
            protocols=frozenset(protocols),
            quota_bytes=quota_bytes,
            created=_now(),
        )
        self.users[user.id] = user
        return user

    async def get_user(self, address: str) -> User | None:
        self.calls["get_user"] += 1
        for user in self.users.values():
            if user.address == address:
                return user
        return None

    async def get_user_by_id(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    async def list_users(self, domain: str | None = None) -> list[User]:
        users = [
            u
            for u in self.users.values()
            if domain is None or u.address.rpartition("@")[2] == domain
        ]
        return sorted(users, key=lambda u: u.address)

    async def update_user(
        self,
        user_id: int,
        *,
        password_hash: str | None = None,
        display_name: str | None = None,
        enabled: bool | None = None,
        is_admin: bool | None = None,
        protocols: Iterable[str] | None = None,
        quota_bytes: Any = ...,
    ) -> User:
        self.calls["update_user"] += 1
        user = self.users.get(user_id)
        if user is None:
            raise NotFound(str(user_id))
        changes: dict[str, Any] = {}
        if password_hash is not None:
            changes["password_hash"] = password_hash
        if display_name is not None:
            changes["display_name"] = display_name
        if enabled is not None:
            changes["enabled"] = enabled
        if is_admin is not None:
            changes["is_admin"] = is_admin
        if protocols is not None:
            changes["protocols"] = frozenset(protocols)
        if quota_bytes is not ...:
            changes["quota_bytes"] = quota_bytes
        user = replace(user, **changes)
        self.users[user_id] = user
        return user

    async def delete_user(self, user_id: int) -> None:
        if self.users.pop(user_id, None) is None:
            raise NotFound(str(user_id))
        for key in [k for k, a in self.app_passwords.items() if a.user_id == user_id]:
            del self.app_passwords[key]

    # --- aliases ---

    async def add_alias(self, source: str, targets: Sequence[str]) -> Alias:
        self.calls["add_alias"] += 1
        if source in self.aliases:
            raise AlreadyExists(source)
        alias = Alias(self._id(), source, tuple(targets), _now())
        self.aliases[source] = alias
        return alias

    async def get_alias(self, source: str) -> Alias | None:
        self.calls["get_alias"] += 1
        return self.aliases.get(source)

    async def list_aliases(self, domain: str | None = None) -> list[Alias]:
        aliases = [
            a
            for a in self.aliases.values()
            if domain is None or a.source.rpartition("@")[2] == domain
        ]
        return sorted(aliases, key=lambda a: a.source)

    async def delete_alias(self, source: str) -> None:
        if self.aliases.pop(source, None) is None:
            raise NotFound(source)

    # --- app passwords ---

    async def add_app_password(
        self, user_id: int, name: str, secret_hash: str, protocols: Iterable[str]
    ) -> AppPassword:
        self.calls["add_app_password"] += 1
        if any(
            a.user_id == user_id and a.name == name and not a.revoked
            for a in self.app_passwords.values()
        ):
            raise AlreadyExists(name)
        record = AppPassword(
            id=self._id(),
            user_id=user_id,
            name=name,
            secret_hash=secret_hash,
            protocols=frozenset(protocols),
            created=_now(),
            last_used=None,
            revoked=False,
        )
        self.app_passwords[record.id] = record
        return record

    async def list_app_passwords(self, user_id: int) -> list[AppPassword]:
        self.calls["list_app_passwords"] += 1
        return [a for a in self.app_passwords.values() if a.user_id == user_id]

    async def revoke_app_password(self, user_id: int, name_or_id: str | int) -> None:
        for record in self.app_passwords.values():
            if record.user_id == user_id and name_or_id in (record.name, record.id):
                self.app_passwords[record.id] = replace(record, revoked=True)
                return
        raise NotFound(str(name_or_id))

    async def touch_app_password(self, app_password_id: int) -> None:
        self.calls["touch_app_password"] += 1
        record = self.app_passwords[app_password_id]
        self.app_passwords[record.id] = replace(record, last_used=_now())
