"""Who receives mail for an address, and who may send as one.

Resolution order for an address on one of our domains:

1. a user with exactly that address;
2. an alias with exactly that source;
3. the address without its `+tag` (`bob+lists@dom` -> `bob@dom`): user, then alias;
4. the domain's catch-all alias (`@dom`).

Alias targets may be local (resolved again the same way, recursively) or remote
(forwarded).  Expansion visits each address once — which both deduplicates and stops
loops (`a -> b -> a`) — and gives up below MAX_DEPTH levels or past MAX_ADDRESSES
addresses.  An alias whose targets all lead nowhere is an unknown recipient, so the SMTP
server refuses the mail instead of accepting it into a black hole.

Disabled users still receive mail: disabling stops logins (a compromised account, a
leaver whose mail someone will read), not delivery.  Delete the user to refuse mail.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from posthouse.accounts.addresses import (
    AddressError,
    domain_of,
    normalize_address,
    normalize_domain,
    strip_plus,
)
from posthouse.store.base import AccountStore, Alias, User

MAX_DEPTH = 10  # alias levels followed from the address asked about
MAX_ADDRESSES = 1000  # addresses one resolution may visit


class Outcome(enum.StrEnum):
    FOUND = "found"  # at least one local user or remote target
    UNKNOWN_RECIPIENT = "unknown_recipient"  # our domain, but nobody receives it
    NOT_LOCAL = "not_local"  # not one of our domains


class Via(enum.StrEnum):
    """How the address asked about matched."""

    USER = "user"
    ALIAS = "alias"
    PLUS = "plus"  # after removing +tag
    CATCH_ALL = "catch_all"


@dataclass(frozen=True, slots=True)
class Resolution:
    address: str  # normalised
    outcome: Outcome
    users: tuple[User, ...] = ()  # local recipients, each once, in the order found
    remote: tuple[str, ...] = ()  # remote addresses to forward to, each once
    via: Via | None = None
    truncated: bool = False  # expansion hit MAX_DEPTH or MAX_ADDRESSES

    @property
    def is_local(self) -> bool:
        return self.outcome is not Outcome.NOT_LOCAL

    @property
    def found(self) -> bool:
        return self.outcome is Outcome.FOUND


@dataclass
class _Expansion:
    catch_all: bool = True
    seen: set[str] = field(default_factory=set)
    users: dict[int, User] = field(default_factory=dict)
    remote: dict[str, None] = field(default_factory=dict)  # ordered set
    local_domains: dict[str, bool] = field(default_factory=dict)
    truncated: bool = False


class Directory:
    def __init__(self, store: AccountStore) -> None:
        self.store = store

    async def is_local_domain(self, name: str) -> bool:
        try:
            domain = normalize_domain(name)
        except AddressError:
            return False
        return await self.store.get_domain(domain) is not None

    async def resolve(self, address: str) -> Resolution:
        """Resolve an envelope recipient.  Raises AddressError when it is not an
        address at all (the SMTP server answers that with a syntax error)."""
        normalized = normalize_address(address)
        if not await self.is_local_domain(domain_of(normalized)):
            return Resolution(normalized, Outcome.NOT_LOCAL)
        state = _Expansion()
        via = await self._expand(normalized, state, depth=0)
        if not state.users and not state.remote:
            return Resolution(
                normalized, Outcome.UNKNOWN_RECIPIENT, via=via, truncated=state.truncated
            )
        return Resolution(
            normalized,
            Outcome.FOUND,
            users=tuple(state.users.values()),
            remote=tuple(state.remote),
            via=via,
            truncated=state.truncated,
        )

    async def addresses_of(self, user: User) -> set[str]:
        """The user's own address and every alias that delivers to exactly this user
        (and nowhere else): the From addresses webmail offers."""
        result = {user.address}
        for alias in await self.store.list_aliases():
            if alias.source.startswith("@") or alias.source in result:
                continue
            try:
                resolution = await self.resolve(alias.source)
            except AddressError:
                continue
            if (
                resolution.via is Via.ALIAS
                and not resolution.remote
                and [u.id for u in resolution.users] == [user.id]
            ):
                result.add(alias.source)
        return result

    async def may_send_as(self, user: User, address: str) -> bool:
        """Whether `user` may use `address` as envelope sender or From: their own
        address, their own plus-address, or an alias (or its plus-address) whose
        expansion includes them.  A catch-all does not count: receiving mail for every
        unassigned name is not a licence to sign as each of them."""
        try:
            normalized = normalize_address(address)
        except AddressError:
            return False
        if normalized == user.address:
            return True
        for candidate in (normalized, strip_plus(normalized)):
            if candidate is None:
                continue
            owner = await self.store.get_user(candidate)
            if owner is not None:
                return owner.id == user.id  # a mailbox is its owner's alone
            alias = await self.store.get_alias(candidate)
            if alias is not None:
                state = _Expansion(catch_all=False, seen={candidate})
                await self._expand_alias(alias, state, depth=0)
                return user.id in state.users
        return False

    async def _expand(self, address: str, state: _Expansion, depth: int) -> Via | None:
        """Add the recipients of one local address to `state`; return how it matched."""
        if address in state.seen:
            return None  # a loop, or a second path to an address already expanded
        if len(state.seen) >= MAX_ADDRESSES:
            state.truncated = True
            return None
        state.seen.add(address)
        user = await self.store.get_user(address)
        if user is not None:
            state.users.setdefault(user.id, user)
            return Via.USER
        alias = await self.store.get_alias(address)
        if alias is not None:
            await self._expand_alias(alias, state, depth)
            return Via.ALIAS
        base = strip_plus(address)
        if base is not None and base not in state.seen:
            user = await self.store.get_user(base)
            if user is not None:
                state.users.setdefault(user.id, user)
                return Via.PLUS
            alias = await self.store.get_alias(base)
            if alias is not None:
                state.seen.add(base)
                await self._expand_alias(alias, state, depth)
                return Via.PLUS
        catch_all = "@" + domain_of(address)
        if state.catch_all and catch_all not in state.seen:
            state.seen.add(catch_all)
            alias = await self.store.get_alias(catch_all)
            if alias is not None:
                await self._expand_alias(alias, state, depth)
                return Via.CATCH_ALL
        return None

    async def _expand_alias(self, alias: Alias, state: _Expansion, depth: int) -> None:
        if depth >= MAX_DEPTH:
            state.truncated = True
            return
        for target in alias.targets:
            try:
                normalized = normalize_address(target)
            except AddressError:
                continue  # a broken target must not stop mail to the others
            domain = domain_of(normalized)
            local = state.local_domains.get(domain)
            if local is None:
                local = await self.store.get_domain(domain) is not None
                state.local_domains[domain] = local
            if local:
                await self._expand(normalized, state, depth + 1)
            else:
                state.remote.setdefault(normalized, None)
