"""A resolver answering from a table: for tests and for local labs, never the network.

    StaticResolver({
        "beta.test": {"MX": [(10, "mx.beta.test")], "TXT": ["v=spf1 ip4:127.0.0.3 -all"]},
        "mx.beta.test": {"A": ["127.0.0.3"]},
        "down.test": {"TEMPFAIL": True},          # or a list of types: ["TXT"]
    })

Types: MX (pairs, or "10 mx.example" strings), A, AAAA, TXT (a string, bytes, or a list
of character-strings making one record), PTR (keyed by the reverse name or by the
address itself), CNAME (followed for every type, as a recursive resolver does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from posthouse.resolver.errors import NXDomain, TempFail
from posthouse.resolver.names import normalize, reverse_name

RECORD_TYPES = ("MX", "A", "AAAA", "TXT", "PTR", "CNAME")
MAX_CNAME_CHAIN = 8


@dataclass
class _Entry:
    mx: list[tuple[int, str]] = field(default_factory=list)
    a: list[str] = field(default_factory=list)
    aaaa: list[str] = field(default_factory=list)
    txt: list[bytes] = field(default_factory=list)
    ptr: list[str] = field(default_factory=list)
    cname: str | None = None
    tempfail: frozenset[str] = frozenset()  # record types whose lookups fail


def _as_text(value: Any, where: str) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {value!r}")
    return value


def _txt(value: Any, where: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, list | tuple):
        return b"".join(_txt(part, where) for part in value)
    raise ValueError(f"{where}: expected a string or a list of strings, got {value!r}")


def _mx(value: Any, where: str) -> tuple[int, str]:
    if isinstance(value, str):
        parts = value.split()
        if len(parts) == 1:
            value = (10, parts[0])
        elif len(parts) == 2 and parts[0].isdigit():
            value = (int(parts[0]), parts[1])
        else:
            raise ValueError(f"{where}: expected 'PREFERENCE EXCHANGE', got {value!r}")
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not isinstance(value[0], int)
        or isinstance(value[0], bool)
        or not isinstance(value[1], str)
    ):
        raise ValueError(f"{where}: expected [preference, exchange], got {value!r}")
    exchange = normalize(value[1])
    # RFC 7505 §3: a single MX with exchange "." says the domain accepts no mail.
    return int(value[0]), exchange or "."


def _tempfail_types(value: Any, where: str) -> frozenset[str]:
    """true: every lookup fails; a list of types: only lookups of those types."""
    if isinstance(value, bool):
        return frozenset(RECORD_TYPES) if value else frozenset()
    kinds = frozenset(_as_text(v, where).upper() for v in _values(value))
    if not kinds <= set(RECORD_TYPES):
        raise ValueError(f"{where}: record types among {', '.join(RECORD_TYPES)}")
    return kinds


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _parse_entry(name: str, spec: Any) -> _Entry:
    if not isinstance(spec, Mapping):
        raise ValueError(f"dns.{name}: expected a table of records, got {spec!r}")
    entry = _Entry()
    for key, value in spec.items():
        kind = str(key).upper()
        where = f"dns.{name}.{kind}"
        if kind in ("TEMPFAIL", "TIMEOUT"):
            entry.tempfail = _tempfail_types(value, where)
        elif kind == "MX":
            # A bare pair is one record, not two.
            if isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], int):
                value = [value]
            entry.mx += [_mx(v, where) for v in _values(value)]
        elif kind in ("A", "AAAA", "PTR"):
            items = [_as_text(v, where).strip() for v in _values(value)]
            if kind == "PTR":
                items = [normalize(v) for v in items]
            getattr(entry, kind.lower()).extend(items)
        elif kind == "TXT":
            # A list of lists is several records; a list of strings is several records too
            # (write [["part1", "part2"]] for one record in several strings).
            entry.txt += [_txt(v, where) for v in _values(value)]
        elif kind == "CNAME":
            targets = _values(value)
            if len(targets) != 1:
                raise ValueError(f"{where}: exactly one target")
            entry.cname = normalize(_as_text(targets[0], where))
        else:
            raise ValueError(f"{where}: unknown record type (one of {', '.join(RECORD_TYPES)})")
    return entry


class StaticResolver:
    """Answers from a table; a name missing from it does not exist (NXDomain), unless a
    name below it is present (an empty non-terminal, which exists with no records)."""

    def __init__(
        self,
        table: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        tempfail: Iterable[str] = (),
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self._exists: set[str] = set()
        self.queries: list[tuple[str, str]] = []  # (type, name) in order, for tests
        for name, spec in (table or {}).items():
            self.add(name, spec)
        for name in tempfail:
            self.fail(name)

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> StaticResolver:
        """From the `[dns]` table of posthouse.toml; ValueError says what is wrong."""
        if not isinstance(table, Mapping):
            raise ValueError("dns: expected a table of domain names")
        return cls(table)

    def add(self, name: str, spec: Mapping[str, Any]) -> None:
        """Add records for a name (merged with any already there)."""
        key = normalize(name)
        new = _parse_entry(key, spec)
        old = self._entries.get(key)
        if old is not None:
            old.mx += new.mx
            old.a += new.a
            old.aaaa += new.aaaa
            old.txt += new.txt
            old.ptr += new.ptr
            old.cname = new.cname or old.cname
            old.tempfail = old.tempfail | new.tempfail
        else:
            self._entries[key] = new
        labels = key.split(".")
        for i in range(len(labels)):
            self._exists.add(".".join(labels[i:]))

    def fail(self, name: str, failing: bool = True, *, types: Iterable[str] = RECORD_TYPES) -> None:
        """Make lookups of this name (of these types) raise TempFail, or stop doing so."""
        key = normalize(name)
        if key not in self._entries:
            self.add(key, {})
        kinds = frozenset(t.upper() for t in types)
        entry = self._entries[key]
        entry.tempfail = entry.tempfail | kinds if failing else entry.tempfail - kinds

    def _lookup(self, kind: str, name: str) -> _Entry:
        key = normalize(name)
        self.queries.append((kind, key))
        seen: set[str] = set()
        while True:
            entry = self._entries.get(key)
            if entry is not None and (kind in entry.tempfail or "CNAME" in entry.tempfail):
                raise TempFail(f"{kind} {key}: lookup failed (as configured)")
            if entry is None:
                if key in self._exists:
                    return _Entry()
                raise NXDomain(f"{key}: no such name")
            if entry.cname is None or kind == "CNAME":
                return entry
            # RFC 1034 §3.6.2: follow the alias; a loop is a server failure.
            seen.add(key)
            key = entry.cname
            if key in seen or len(seen) > MAX_CNAME_CHAIN:
                raise TempFail(f"{kind} {name}: CNAME loop")

    async def mx(self, name: str) -> list[tuple[int, str]]:
        return list(self._lookup("MX", name).mx)

    async def a(self, name: str) -> list[str]:
        return list(self._lookup("A", name).a)

    async def aaaa(self, name: str) -> list[str]:
        return list(self._lookup("AAAA", name).aaaa)

    async def txt(self, name: str) -> list[bytes]:
        return list(self._lookup("TXT", name).txt)

    async def ptr(self, address: str) -> list[str]:
        try:
            rev = reverse_name(address)
        except ValueError:
            rev = address
        if normalize(rev) not in self._exists and normalize(address) in self._entries:
            rev = address  # a table keyed by the address itself
        return list(self._lookup("PTR", rev).ptr)
