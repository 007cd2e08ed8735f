from __future__ import annotations

import math
import re
import time

import pytest
from argon2 import PasswordHasher

from posthouse.accounts import passwords
from posthouse.accounts.passwords import (
    PasswordPolicyError,
    check_password_policy,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from tests.accounts.fake_store import PASSWORD


def test_hash_is_argon2id_and_verifies(password_hash: str) -> None:
    assert password_hash.startswith("$argon2id$v=19$")
    assert verify_password(password_hash, PASSWORD)
    assert not verify_password(password_hash, PASSWORD + "x")
    assert not verify_password(password_hash, "")


def test_hashes_are_salted() -> None:
    assert hash_password("same password") != hash_password("same password")


@pytest.mark.parametrize(
    "malformed",
    ["", "plaintext", "$argon2id$v=19$m=1$broken", "$2b$12$" + "a" * 53, "$argon2id$"],
)
def test_verify_never_raises_on_malformed_hash(malformed: str) -> None:
    assert verify_password(malformed, "anything") is False


def test_malformed_hash_costs_as_much_as_a_real_one(password_hash: str) -> None:
    def cost(h: str) -> float:
        start = time.perf_counter()
        for _ in range(3):
            verify_password(h, "guess")
        return time.perf_counter() - start

    real, broken = cost(password_hash), cost("not a hash")
    assert broken > real / 3


def test_verify_is_fast_enough(password_hash: str) -> None:
    verify_password(password_hash, "warm up")
    start = time.perf_counter()
    verify_password(password_hash, PASSWORD)
    # the brief: under ~50 ms on this machine; allow a loaded CI machine some room
    assert time.perf_counter() - start < 0.2


def test_needs_rehash() -> None:
    assert not needs_rehash(hash_password("pw-pw-pw-pw"))
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw-pw-pw-pw")
    assert needs_rehash(weaker)
    assert verify_password(weaker, "pw-pw-pw-pw")  # old hashes keep working
    assert needs_rehash("garbage")


def test_generated_password_is_readable_and_strong() -> None:
    pw = generate_password()
    assert re.fullmatch(r"[a-z2-9]{5}(-[a-z2-9]{5}){3}", pw)
    assert not set(pw) & set("01ilo")
    symbols = len(pw.replace("-", ""))
    assert symbols * math.log2(len(passwords._ALPHABET)) >= 80
    assert len({generate_password() for _ in range(50)}) == 50
    check_password_policy(pw)


@pytest.mark.parametrize("bad", ["short", "", "has\nnewline", "nul\x00inside"])
def test_password_policy_refuses(bad: str) -> None:
    with pytest.raises(PasswordPolicyError):
        check_password_policy(bad)


def test_password_from_invalid_utf8_does_not_raise() -> None:
    """A protocol layer may decode bad UTF-8 with surrogateescape; that must not crash."""
    weird = b"caf\xe9-latin1-pw".decode("utf-8", "surrogateescape")
    h = hash_password(weird)
    assert verify_password(h, weird)
    assert not verify_password(h, "cafe-latin1-pw")
    assert not verify_password(hash_password("anything-else"), weird)
