"""The resolver that asks real DNS, through dnspython's asyncio resolver."""

from __future__ import annotations

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import dns.reversename

from posthouse.resolver.errors import NXDomain, ResolverError, TempFail
from posthouse.resolver.names import normalize

DEFAULT_TIMEOUT = 10.0


class DnsResolver:
    """Recursive lookups via the system's configured name servers (or `nameservers`).
    Every lookup gives up after `timeout` seconds in total."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, nameservers: list[str] | None = None):
        try:
            self._resolver = dns.asyncresolver.Resolver(configure=nameservers is None)
        except dns.resolver.NoResolverConfiguration:
            # no /etc/resolv.conf: every lookup fails temporarily instead of the server
            self._resolver = dns.asyncresolver.Resolver(configure=False)
        if nameservers is not None:
            self._resolver.nameservers = nameservers
        self._resolver.lifetime = timeout
        self._resolver.timeout = min(timeout, 5.0)

    async def _query(self, name: str, rdtype: dns.rdatatype.RdataType) -> list[object]:
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, ValueError, UnicodeError) as e:
            # a name no query can carry (empty or long label, bad IDNA): it cannot exist
            raise NXDomain(f"{name!r}: not a domain name ({e})") from None
        try:
            answer = await self._resolver.resolve(qname, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            raise NXDomain(f"{name}: no such name") from None
        except dns.resolver.NoAnswer:
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as e:
            raise TempFail(f"{rdtype.name} {name}: {e}") from None
        except dns.exception.DNSException as e:
            raise TempFail(f"{rdtype.name} {name}: {e}") from None
        except OSError as e:
            raise TempFail(f"{rdtype.name} {name}: {e}") from None
        return list(answer)

    async def mx(self, name: str) -> list[tuple[int, str]]:
        rows = await self._query(name, dns.rdatatype.MX)
        # RFC 7505 §3: the null MX has the root as exchange, normalized to ".".
        pairs = [(r.preference, normalize(r.exchange.to_text()) or ".") for r in rows]  # type: ignore[attr-defined]
        return sorted(pairs)  # an RRset has no order; preference first (RFC 5321 §5.1)

    async def a(self, name: str) -> list[str]:
        return [r.address for r in await self._query(name, dns.rdatatype.A)]  # type: ignore[attr-defined]

    async def aaaa(self, name: str) -> list[str]:
        return [r.address for r in await self._query(name, dns.rdatatype.AAAA)]  # type: ignore[attr-defined]

    async def txt(self, name: str) -> list[bytes]:
        return [b"".join(r.strings) for r in await self._query(name, dns.rdatatype.TXT)]  # type: ignore[attr-defined]

    async def ptr(self, address: str) -> list[str]:
        try:
            rev = dns.reversename.from_address(address.strip().strip("[]")).to_text()
        except (ValueError, dns.exception.SyntaxError) as e:
            raise ResolverError(f"{address}: not an IP address ({e})") from None
        rows = await self._query(rev, dns.rdatatype.PTR)
        return [normalize(r.target.to_text()) for r in rows]  # type: ignore[attr-defined]
