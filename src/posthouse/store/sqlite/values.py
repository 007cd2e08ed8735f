"""How values are normalised and spelled in the database (pure functions).

Times are integer microseconds since the epoch (UTC): exact, sortable, compact.
A message's internal date also keeps its UTC offset, because IMAP shows it back
in the zone it was given (RFC 9051 §2.3.3).
Flags are one text column, " flag flag " (sorted, space-delimited with a space at
both ends) so `instr(flags, ' \\Seen ')` finds a flag exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone

from posthouse.store.base import ALL_PROTOCOLS, StoreError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- time ---------------------------------------------------------------------


def to_us(when: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is local time, as in Python."""
    if when.tzinfo is None:
        when = when.astimezone()
    return (when - _EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def to_us_tz(when: datetime) -> tuple[int, int]:
    """(microseconds since the epoch, UTC offset in seconds)."""
    if when.tzinfo is None:
        when = when.astimezone()
    offset = when.utcoffset() or timedelta(0)
    return to_us(when), int(offset.total_seconds())


def from_us_tz(us: int, offset: int) -> datetime:
    when = from_us(us)
    if offset:
        when = when.astimezone(timezone(timedelta(seconds=offset)))
    return when


# --- flags --------------------------------------------------------------------

# RFC 9051 §2.3.2: system flags; their spelling is normalised, keywords kept as given.
_SYSTEM_FLAGS = {
    f.lower(): f for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent")
}
SEEN = "\\Seen"


def normalize_flags(flags: Iterable[str]) -> dict[str, str]:
    """Flags keyed by their lower-case form (flags compare case-insensitively)."""
    if isinstance(flags, str):
        raise StoreError(f"flags must be a collection of flags, not the string {flags!r}")
    result: dict[str, str] = {}
    for flag in flags:
        if not flag or any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in flag):
            raise StoreError(f"invalid flag {flag!r}")
        key = flag.lower()
        result.setdefault(key, _SYSTEM_FLAGS.get(key, flag))
    return result


def flags_text(flags: Iterable[str]) -> str:
    return " " + " ".join(sorted(flags)) + " " if flags else " "


_FLAG_SETS: dict[str, frozenset[str]] = {}


def parse_flags(text: str) -> frozenset[str]:
    """The flag set stored as `text`; a mailbox has few distinct ones, so each is
    built once and shared (listing 50,000 messages parses no flag twice)."""
    flags = _FLAG_SETS.get(text)
    if flags is None:
        flags = frozenset(text.split())
        if len(_FLAG_SETS) < 10_000:
            _FLAG_SETS[text] = flags
    return flags


# --- names --------------------------------------------------------------------


def normalize_domain(name: str) -> str:
    """Lower-case IDNA A-label form, without a trailing dot."""
    name = name.strip().rstrip(".").lower()
    if not name or any(c.isspace() or c in "@/\\" for c in name):
        raise StoreError(f"invalid domain name {name!r}")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise StoreError(f"invalid domain name {name!r}") from exc
    return name


def split_address(address: str, *, allow_catch_all: bool = False) -> tuple[str, str]:
    """(local part, domain), both lower-case; "@dom" only if allow_catch_all."""
    address = address.strip()
    localpart, at, domain = address.rpartition("@")
    if not at or any(c.isspace() or ord(c) < 0x20 for c in localpart):
        raise StoreError(f"invalid address {address!r}")
    if not localpart and not allow_catch_all:
        raise StoreError(f"invalid address {address!r}")
    return localpart.lower(), normalize_domain(domain)


def normalize_address(address: str) -> str:
    localpart, domain = split_address(address)
    return f"{localpart}@{domain}"


def normalize_protocols(protocols: Iterable[str]) -> frozenset[str]:
    found = frozenset(str(p).lower() for p in protocols)
    unknown = found - ALL_PROTOCOLS
    if unknown:
        raise StoreError(f"unknown protocols: {', '.join(sorted(unknown))}")
    return found


def protocols_text(protocols: frozenset[str]) -> str:
    return ",".join(sorted(protocols))


def parse_protocols(text: str) -> frozenset[str]:
    return frozenset(p for p in text.split(",") if p)


INBOX = "INBOX"


def normalize_mailbox_name(name: str) -> str:
    """RFC 9051 §5.1: INBOX is case-insensitive (also as the first level of a
    hierarchy, "inbox/x"); every other name is case-sensitive.  "/" separates levels.
    """
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        raise StoreError(f"invalid mailbox name {name!r}")
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise StoreError(f"invalid mailbox name {name!r}")
    head, sep, rest = name.partition("/")
    if head.upper() == INBOX:
        return INBOX + sep + rest
    return name
