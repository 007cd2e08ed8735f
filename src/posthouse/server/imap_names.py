"""Mailbox names for the IMAP server: what a user may create, and LIST pattern matching.

Every user has one personal namespace with "/" as the hierarchy delimiter (RFC 9051
§5.1.1, §6.3.10) and nothing else: there is no other users' or shared namespace, so a
name can only ever reach the user's own mailboxes.  Names that would look like paths
elsewhere ("..", "."), wildcards, control characters and namespace prefixes are refused
when creating, so every name listed can be typed back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DELIMITER = "/"
INBOX = "INBOX"
MAX_NAME = 1000  # characters in a whole name
MAX_LEVELS = 32  # hierarchy depth


class InvalidName(ValueError):
    """A name the server refuses, with the reason for the client."""


def normalize(name: str) -> str:
    """INBOX in any case, alone or as the first level, is spelled INBOX (RFC 9051 §5.1)."""
    head, sep, rest = name.partition(DELIMITER)
    if head.upper() == INBOX:
        return INBOX + sep + rest
    return name


def check_new_name(name: str) -> str:
    """The normalised name if a user may create a mailbox so called, else InvalidName."""
    if not name:
        raise InvalidName("Mailbox name is empty")
    if len(name) > MAX_NAME:
        raise InvalidName("Mailbox name is too long")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise InvalidName("Mailbox name contains control characters")
    # RFC 9051 §5.1: "%" and "*" are wildcards in LIST; a name holding them could not be
    # listed on its own.
    if "%" in name or "*" in name:
        raise InvalidName("Mailbox name contains a wildcard (% or *)")
    if name.startswith(DELIMITER) or name.endswith(DELIMITER) or DELIMITER * 2 in name:
        raise InvalidName("Mailbox name has an empty level (leading, trailing or double /)")
    if name.startswith(("#", "~")):
        # RFC 2342 §5: "#" starts a namespace prefix; "~" names another user's home on
        # many servers.  Neither exists here.
        raise InvalidName("Mailbox names may not start with # or ~")
    levels = name.split(DELIMITER)
    if len(levels) > MAX_LEVELS:
        raise InvalidName("Mailbox hierarchy is too deep")
    if any(level in (".", "..") for level in levels):
        raise InvalidName("Mailbox name levels may not be . or ..")
    if any(level != level.strip() for level in levels):
        raise InvalidName("Mailbox name levels may not begin or end with spaces")
    return normalize(name)


def parents(name: str) -> list[str]:
    """ "a/b/c" → ["a", "a/b"]."""
    levels = name.split(DELIMITER)
    return [DELIMITER.join(levels[:i]) for i in range(1, len(levels))]


def pattern_regex(reference: str, pattern: str) -> re.Pattern[str]:
    """RFC 9051 §6.3.9: the reference and the pattern joined; "*" matches anything,
    "%" anything but the delimiter.  INBOX at the start matches case-insensitively."""
    full = reference + pattern
    if full[:5].upper() == INBOX and (len(full) == 5 or full[5] in (DELIMITER, "*", "%")):
        full = INBOX + full[5:]
    parts = []
    for ch in full:
        if ch == "*":
            parts.append(".*")
        elif ch == "%":
            parts.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True, slots=True)
class Entry:
    """One name LIST may report: a mailbox, or a level that only exists as a parent."""

    name: str
    exists: bool
    subscribed: bool
    special_use: str | None
    has_children: bool


def hierarchy(mailboxes: Iterable[tuple[str, bool, str | None]]) -> dict[str, Entry]:
    """Every mailbox (name, subscribed, special use) and every missing parent level."""
    real = {name: (subscribed, special) for name, subscribed, special in mailboxes}
    names = set(real)
    for name in real:
        names.update(parents(name))
    with_children = {p for name in names for p in parents(name)}
    entries = {}
    for name in names:
        subscribed, special = real.get(name, (False, None))
        entries[name] = Entry(
            name=name,
            exists=name in real,
            subscribed=subscribed,
            special_use=special,
            has_children=name in with_children,
        )
    return entries


def sort_key(name: str) -> tuple[int, str]:
    """INBOX first, then the rest in name order (what clients show)."""
    return (0 if name == INBOX or name.startswith(INBOX + DELIMITER) else 1, name)
