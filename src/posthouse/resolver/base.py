"""The one interface every part of posthouse asks DNS questions through."""

from __future__ import annotations

from typing import Protocol


class Resolver(Protocol):
    """Async DNS lookups.  An empty list means the name exists but has no records of
    that type (NODATA); a name that does not exist raises NXDomain; a failure that may
    go away raises TempFail.  Names are returned lower case without the trailing dot."""

    async def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, exchange) pairs; a null MX (RFC 7505 §3) has exchange "."."""
        ...

    async def a(self, name: str) -> list[str]: ...

    async def aaaa(self, name: str) -> list[str]: ...

    async def txt(self, name: str) -> list[bytes]:
        """One item per record, its character-strings joined (RFC 7208 §3.3)."""
        ...

    async def ptr(self, address: str) -> list[str]:
        """The names an IPv4 or IPv6 address points back to."""
        ...
