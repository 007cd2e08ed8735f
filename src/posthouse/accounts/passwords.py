"""Account passwords: argon2id hashes (RFC 9106) and generated passwords.

Parameters: argon2id, t=2 passes, m=19 MiB, p=1 — the OWASP Password Storage Cheat
Sheet's first recommendation.  RFC 9106 §4's second recommended set (t=3, m=64 MiB,
p=4) costs ~130 ms per verification on a two-core machine; logins are on the path of
every POP3/IMAP/SMTP session, so we keep one verification near 20 ms and run it in a
worker thread.  `needs_rehash` lets a successful login upgrade older hashes when these
parameters change.
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1

MIN_PASSWORD_LENGTH = 8

_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

# No 0/o, 1/l/i: a generated password is read off a screen and typed on a phone.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS = 4
_GROUP_LEN = 5  # 20 symbols of log2(31) ≈ 4.95 bits: 99 bits


class PasswordPolicyError(ValueError):
    pass


def _secret(password: str) -> bytes:
    # surrogateescape: a password decoded from invalid UTF-8 by a protocol layer still
    # hashes to its original bytes instead of raising.
    return password.encode("utf-8", "surrogateescape")


def hash_password(password: str) -> str:
    """An argon2id PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`)."""
    return _HASHER.hash(_secret(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches.  Never raises: a malformed or empty hash (an
    account that has no usable password) is a mismatch that costs the same time."""
    try:
        return _HASHER.verify(password_hash, _secret(password))
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError):
        _spend_equal_time(password)
        return False


def _spend_equal_time(password: str) -> None:
    try:
        _HASHER.verify(dummy_hash(), _secret(password))
    except VerificationError:
        pass


@cache
def dummy_hash() -> str:
    """A hash of a random password no one knows: verifying against it takes exactly as
    long as verifying a real user, so unknown usernames cannot be told apart by timing."""
    return _HASHER.hash(secrets.token_urlsafe(32))


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters (or is not ours at all)."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


def generate_password() -> str:
    """A readable random password: `k7mqz-8xwpe-3tnfa-hr2cd` (99 bits)."""
    return "-".join(
        "".join(secrets.choice(_ALPHABET) for _ in range(_GROUP_LEN)) for _ in range(_GROUPS)
    )


def check_password_policy(password: str) -> None:
    """Refuse passwords that cannot work or are trivially short.

    Control characters cannot be typed into POP3 PASS, IMAP LOGIN or SASL PLAIN (which
    uses NUL as its separator, RFC 4616 §2), so such a password could never log in.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password too short (at least {MIN_PASSWORD_LENGTH} characters)")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in password):
        raise PasswordPolicyError("password contains a control character")
