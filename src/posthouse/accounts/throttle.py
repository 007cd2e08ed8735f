"""Login rate limits: slow password guessing down without handing attackers a way to
lock a user out.

Three counters of recent failures (a sliding window):

* per (account, client IP) pair — one attacker hammering one account;
* per client IP — one attacker spraying many accounts;
* per account, from any IP — a botnet hammering one account.

Each failure is answered later and later (0, 0, 1, 2, 4, 8, 8 … seconds with the
defaults), by the largest of the three counts.  Lock-outs are per IP and per pair only:
failures against an account from many IPs add that capped delay and never a lock, so
nobody can lock the owner out of their account from the owner's own IP.

A success clears the pair and removes that account's failures from the IP's and the
account's counts — only its own: an attacker who owns one valid account cannot wipe the
record of spraying other accounts by logging into theirs.

IPv6 clients are counted per /64: one host usually holds a whole /64, so counting per
address would let it step around every limit.  State is in memory, per process.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

IPV6_PREFIX = 64
_PRUNE_EVERY = 1024  # record calls between sweeps of stale entries
_ACCOUNT_HISTORY = 64  # failures kept per account: far more than the delay needs


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    free_failures: int = 2  # failures answered at once
    base_delay: float = 1.0  # delay after the first non-free failure, then doubling
    max_delay: float = 8.0
    window: float = 900.0  # failures older than this are forgotten
    pair_lock_after: int = 10  # failures of one account from one IP
    ip_lock_after: int = 50  # failures from one IP, any account
    lock_seconds: float = 900.0

    def delay_for(self, failures: int) -> float:
        if failures <= self.free_failures:
            return 0.0
        exponent = min(failures - self.free_failures - 1, 30)
        return float(min(self.base_delay * 2.0**exponent, self.max_delay))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool  # False: locked out, answer at once (after `delay`) without checking
    delay: float  # seconds to wait before answering a failed or refused attempt
    retry_after: float  # when refused: seconds until the lock ends


Pair = tuple[str, str]  # (account, ip key)
_K = TypeVar("_K", bound=Hashable)


def ip_key(ip: str) -> str:
    """The unit an IP is counted in: the address itself, an IPv4-mapped IPv6 address as
    IPv4, other IPv6 addresses by their /64."""
    try:
        addr = ipaddress.ip_address(ip.strip().split("%", 1)[0])
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, IPV6_PREFIX), strict=False))
    return str(addr)


class LoginThrottle:
    def __init__(
        self,
        limits: ThrottleLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or ThrottleLimits()
        self._clock = clock
        self._pair: dict[Pair, deque[float]] = {}
        self._ip: dict[str, deque[tuple[float, str]]] = {}  # (time, account)
        self._account: dict[str, deque[tuple[float, str]]] = {}  # (time, ip key)
        self._pair_locks: dict[Pair, float] = {}
        self._ip_locks: dict[str, float] = {}
        self._records = 0

    def check(self, ip: str, account: str) -> Decision:
        now = float(self._clock())
        key, acct = ip_key(ip), account.lower()
        delay = self.limits.delay_for(self._failures(now, key, acct))
        until = max(
            self._lock_until(self._ip_locks, key, now),
            self._lock_until(self._pair_locks, (acct, key), now),
        )
        if until > now:
            return Decision(False, self.limits.max_delay, until - now)
        return Decision(True, delay, 0.0)

    def record_failure(self, ip: str, account: str) -> None:
        now = float(self._clock())
        key, acct = ip_key(ip), account.lower()
        limits = self.limits
        pair = self._pair.setdefault((acct, key), deque())
        pair.append(now)
        self._ip.setdefault(key, deque()).append((now, acct))
        self._account.setdefault(acct, deque(maxlen=_ACCOUNT_HISTORY)).append((now, key))
        _expire(pair, now - limits.window)
        if len(pair) >= limits.pair_lock_after:
            self._pair_locks[(acct, key)] = now + limits.lock_seconds
            del self._pair[(acct, key)]
        from_ip = self._ip[key]
        _expire(from_ip, now - limits.window)
        if len(from_ip) >= limits.ip_lock_after:
            self._ip_locks[key] = now + limits.lock_seconds
            del self._ip[key]
        self._records += 1
        if self._records % _PRUNE_EVERY == 0:
            self.prune()

    def record_success(self, ip: str, account: str) -> None:
        key, acct = ip_key(ip), account.lower()
        self._pair.pop((acct, key), None)
        self._pair_locks.pop((acct, key), None)
        from_ip = self._ip.get(key)
        if from_ip is not None:
            kept = deque(entry for entry in from_ip if entry[1] != acct)
            if kept:
                self._ip[key] = kept
            else:
                del self._ip[key]
        against = self._account.get(acct)
        if against is not None:
            kept_acct = deque((e for e in against if e[1] != key), maxlen=_ACCOUNT_HISTORY)
            if kept_acct:
                self._account[acct] = kept_acct
            else:
                del self._account[acct]

    def prune(self) -> None:
        """Drop counters and locks that have run out (called now and then by
        record_failure so a flood of distinct IPs cannot grow memory for ever)."""
        now = float(self._clock())
        horizon = now - self.limits.window
        _drop_stale(self._pair, horizon)
        _drop_stale(self._ip, horizon)
        _drop_stale(self._account, horizon)
        _drop_expired(self._pair_locks, now)
        _drop_expired(self._ip_locks, now)

    def _failures(self, now: float, key: str, acct: str) -> int:
        horizon = now - self.limits.window
        counts = 0
        for q in (self._pair.get((acct, key)), self._ip.get(key), self._account.get(acct)):
            if q is not None:
                _expire(q, horizon)
                counts = max(counts, len(q))
        return counts

    @staticmethod
    def _lock_until(locks: dict[_K, float], k: _K, now: float) -> float:
        until = locks.get(k, 0.0)
        if until and until <= now:
            del locks[k]
            return 0.0
        return until


def _time(entry: float | tuple[float, str]) -> float:
    return entry[0] if isinstance(entry, tuple) else entry


def _newest(q: deque[float] | deque[tuple[float, str]]) -> float:
    return _time(q[-1])


def _expire(q: deque[float] | deque[tuple[float, str]], horizon: float) -> None:
    while q and _time(q[0]) <= horizon:
        q.popleft()


def _drop_stale(
    table: dict[_K, deque[float]] | dict[_K, deque[tuple[float, str]]], horizon: float
) -> None:
    for k in [k for k, q in table.items() if not q or _newest(q) <= horizon]:
        del table[k]


def _drop_expired(locks: dict[_K, float], now: float) -> None:
    for k in [k for k, until in locks.items() if until <= now]:
        del locks[k]
