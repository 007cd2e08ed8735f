from __future__ import annotations

import pytest

from posthouse.accounts.throttle import LoginThrottle, ThrottleLimits, ip_key

OWNER_IP = "198.51.100.7"
ACCOUNT = "alice@example.test"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def throttle(clock: FakeClock) -> LoginThrottle:
    return LoginThrottle(clock=clock)


def fail(throttle: LoginThrottle, ip: str, account: str, times: int = 1) -> None:
    for _ in range(times):
        throttle.record_failure(ip, account)


def test_delay_grows_and_is_capped() -> None:
    limits = ThrottleLimits()
    delays = [limits.delay_for(n) for n in range(0, 9)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 8, 8]
    assert limits.delay_for(10_000) == limits.max_delay


def test_first_failures_are_free_then_slower(throttle: LoginThrottle) -> None:
    seen = []
    for _ in range(6):
        fail(throttle, OWNER_IP, ACCOUNT)
        seen.append(throttle.check(OWNER_IP, ACCOUNT).delay)
    assert seen == [0, 0, 1, 2, 4, 8]


def test_pair_lock_out_and_expiry(throttle: LoginThrottle, clock: FakeClock) -> None:
    limits = throttle.limits
    fail(throttle, "203.0.113.9", ACCOUNT, limits.pair_lock_after - 1)
    assert throttle.check("203.0.113.9", ACCOUNT).allowed
    fail(throttle, "203.0.113.9", ACCOUNT)
    decision = throttle.check("203.0.113.9", ACCOUNT)
    assert not decision.allowed
    assert decision.retry_after == pytest.approx(limits.lock_seconds)
    assert decision.delay == limits.max_delay
    # the same attacker IP may still try other accounts (until the IP limit)
    assert throttle.check("203.0.113.9", "bob@example.test").allowed
    clock.advance(limits.lock_seconds / 2)
    assert throttle.check("203.0.113.9", ACCOUNT).retry_after == pytest.approx(
        limits.lock_seconds / 2
    )
    clock.advance(limits.lock_seconds / 2 + 1)
    assert throttle.check("203.0.113.9", ACCOUNT).allowed


def test_ip_lock_out_across_accounts(throttle: LoginThrottle) -> None:
    sprayer = "203.0.113.50"
    for i in range(throttle.limits.ip_lock_after):
        fail(throttle, sprayer, f"user{i}@example.test")
    assert not throttle.check(sprayer, "never-tried@example.test").allowed
    assert throttle.check(OWNER_IP, ACCOUNT).allowed


def test_attack_from_many_ips_cannot_lock_out_the_owner(throttle: LoginThrottle) -> None:
    # A botnet: thousands of IPs, each staying under its own pair limit.
    for n in range(5000):
        ip = f"10.{n // 65536}.{(n // 256) % 256}.{n % 256}"
        fail(throttle, ip, ACCOUNT, 3)
    decision = throttle.check(OWNER_IP, ACCOUNT)
    assert decision.allowed  # never a lock for the owner's IP
    assert decision.delay == throttle.limits.max_delay  # only the capped delay
    # and once the owner logs in, their own failures start fresh
    throttle.record_success(OWNER_IP, ACCOUNT)
    assert throttle.check(OWNER_IP, ACCOUNT).allowed


def test_attacker_locking_pair_does_not_touch_owner_ip(throttle: LoginThrottle) -> None:
    fail(throttle, "203.0.113.9", ACCOUNT, 100)
    assert not throttle.check("203.0.113.9", ACCOUNT).allowed
    assert throttle.check(OWNER_IP, ACCOUNT).allowed


def test_success_clears_pair(throttle: LoginThrottle) -> None:
    fail(throttle, OWNER_IP, ACCOUNT, 5)
    assert throttle.check(OWNER_IP, ACCOUNT).delay > 0
    throttle.record_success(OWNER_IP, ACCOUNT)
    assert throttle.check(OWNER_IP, ACCOUNT).delay == 0


def test_success_on_own_account_does_not_hide_spraying(throttle: LoginThrottle) -> None:
    """An attacker with one valid account cannot reset the IP counter by logging in."""
    sprayer = "203.0.113.50"
    limits = throttle.limits
    for i in range(limits.ip_lock_after - 1):
        fail(throttle, sprayer, f"victim{i}@example.test")
        throttle.record_success(sprayer, "attacker@example.test")
    fail(throttle, sprayer, "victim-last@example.test")
    assert not throttle.check(sprayer, "anyone@example.test").allowed


def test_failures_are_forgotten_after_the_window(throttle: LoginThrottle, clock: FakeClock) -> None:
    fail(throttle, OWNER_IP, ACCOUNT, 6)
    assert throttle.check(OWNER_IP, ACCOUNT).delay > 0
    clock.advance(throttle.limits.window + 1)
    assert throttle.check(OWNER_IP, ACCOUNT).delay == 0
    # a slow trickle of failures never reaches a lock
    for _ in range(3 * throttle.limits.pair_lock_after):
        fail(throttle, OWNER_IP, ACCOUNT)
        clock.advance(throttle.limits.window / 4)
    assert throttle.check(OWNER_IP, ACCOUNT).allowed


def test_account_names_are_case_insensitive(throttle: LoginThrottle) -> None:
    fail(throttle, OWNER_IP, "Alice@Example.TEST", throttle.limits.pair_lock_after)
    assert not throttle.check(OWNER_IP, ACCOUNT).allowed


def test_loopback_is_not_exempt(clock: FakeClock) -> None:
    throttle = LoginThrottle(ThrottleLimits(pair_lock_after=3), clock=clock)
    fail(throttle, "127.0.0.1", ACCOUNT, 3)
    assert not throttle.check("127.0.0.1", ACCOUNT).allowed


def test_ipv6_counted_per_64(throttle: LoginThrottle) -> None:
    for i in range(throttle.limits.pair_lock_after):
        fail(throttle, f"2001:db8:1:2::{i + 1:x}", ACCOUNT)
    assert not throttle.check("2001:db8:1:2:ffff::1", ACCOUNT).allowed
    assert throttle.check("2001:db8:1:3::1", ACCOUNT).allowed


def test_ip_key() -> None:
    assert ip_key("192.0.2.1") == "192.0.2.1"
    assert ip_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert ip_key("2001:db8::1") == "2001:db8::/64"
    assert ip_key("fe80::1%eth0") == "fe80::/64"
    assert ip_key("unix-socket") == "unix-socket"


def test_prune_forgets_stale_state(throttle: LoginThrottle, clock: FakeClock) -> None:
    for n in range(300):
        fail(throttle, f"192.0.2.{n % 256}", f"u{n}@example.test")
    fail(throttle, "203.0.113.9", ACCOUNT, throttle.limits.pair_lock_after)
    clock.advance(throttle.limits.window + throttle.limits.lock_seconds + 1)
    throttle.prune()
    assert not throttle._pair and not throttle._ip and not throttle._account
    assert not throttle._pair_locks and not throttle._ip_locks
