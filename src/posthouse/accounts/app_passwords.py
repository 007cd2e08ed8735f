"""App passwords ("authorization codes"): one random code per mail client.

As the big providers do it: the user creates a code for one client, names it
("Thunderbird on laptop"), limits it to the protocols that client needs, sees it once,
and revokes it when the laptop is gone — without changing the account password, which
never has to be typed into a mail client at all.

A code is 16 random lowercase letters, shown in four groups (`abcd efgh ijkl mnop`)
and accepted with or without the spaces, in any case.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass

from posthouse.store.base import ALL_PROTOCOLS, AccountStore, AppPassword, Protocols, User

CODE_LENGTH = 16
_GROUP = 4
_ALPHABET = string.ascii_lowercase
_SCHEME = "hmac-sha256"
MAX_NAME_LENGTH = 100

# What a new code may do unless told otherwise: the mail protocols, not webmail (the
# web login is where the account password and its owner belong).
DEFAULT_PROTOCOLS = frozenset({Protocols.SMTP.value, Protocols.POP3.value, Protocols.IMAP.value})


@dataclass(frozen=True, slots=True)
class NewAppPassword:
    record: AppPassword
    code: str  # formatted for display; shown once, never stored


def generate_code() -> str:
    """16 random lowercase letters: 26**16 ≈ 2**75."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """`abcdefghijklmnop` -> `abcd efgh ijkl mnop`."""
    return " ".join(code[i : i + _GROUP] for i in range(0, len(code), _GROUP))


def normalize_code(text: str) -> str | None:
    """The 16 letters of a code as typed (spaces anywhere, any case), or None when the
    text cannot be a code — then it is worth trying as the account password instead."""
    compact = "".join(text.split(" ")).lower()
    if len(compact) != CODE_LENGTH or not all(c in _ALPHABET for c in compact):
        return None
    return compact


# Why HMAC-SHA-256 and not argon2: a slow hash exists to protect low-entropy secrets
# that people choose.  A code is 75 random bits that nobody chose; even with the stored
# hash and its salt, guessing one takes ~2**74 HMAC computations — thousands of years
# on a rack of GPUs — so making each guess 20 ms slower buys nothing.  Being fast
# matters: mail clients log in on every poll and every IMAP connection, and checking a
# user's codes costs microseconds instead of a core's worth of argon2.  The per-code
# random salt (the HMAC key) keeps equal codes from having equal hashes.
def hash_code(code: str) -> str:
    normalized = normalize_code(code)
    if normalized is None:
        raise ValueError("not an app password code")
    salt = secrets.token_bytes(16)
    digest = hmac.new(salt, normalized.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{_SCHEME}${salt.hex()}${digest}"


def verify_code(secret_hash: str, text: str) -> bool:
    """Constant-time check of a typed code against a stored hash; never raises."""
    code = normalize_code(text)
    scheme, _, rest = secret_hash.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    if code is None or scheme != _SCHEME:
        return False
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    digest = hmac.new(salt, code.encode("ascii"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest, digest_hex)


def check_protocols(protocols: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(str(p).lower() for p in protocols)
    unknown = chosen - ALL_PROTOCOLS
    if unknown:
        raise ValueError(f"unknown protocol: {', '.join(sorted(unknown))}")
    if not chosen:
        raise ValueError("an app password needs at least one protocol")
    return chosen


def check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("an app password needs a name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValueError(f"app password name longer than {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in cleaned):
        raise ValueError("app password name contains a control character")
    return cleaned


async def create_app_password(
    store: AccountStore,
    user: User,
    name: str,
    protocols: Iterable[str] = DEFAULT_PROTOCOLS,
) -> NewAppPassword:
    """Create a code for `user`; the returned `code` is the only copy in clear.
    Raises ValueError for a bad name or protocol, AlreadyExists for a taken name."""
    chosen = check_protocols(protocols)
    cleaned = check_name(name)
    code = generate_code()
    record = await store.add_app_password(user.id, cleaned, hash_code(code), chosen)
    return NewAppPassword(record, format_code(code))


async def find_app_password(store: AccountStore, user: User, text: str) -> AppPassword | None:
    """The user's non-revoked app password matching the typed code, if any."""
    if normalize_code(text) is None:
        return None
    for record in await store.list_app_passwords(user.id):
        if not record.revoked and verify_code(record.secret_hash, text):
            return record
    return None
