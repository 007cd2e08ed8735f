"""Where mail for a domain goes: a static route, the smarthost, or the domain's MX hosts.

Deciding only: the lookups go through a `Resolver`, nothing here dials.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from posthouse.config import RelaySettings
from posthouse.resolver import NXDomain, Resolver, ResolverError, TempFail


class RouteError(Exception):
    """No way to the domain now (temporary) or ever (permanent)."""

    def __init__(self, permanent: bool, status: str, text: str) -> None:
        super().__init__(text)
        self.permanent = permanent
        self.status = status
        self.text = text


@dataclass(frozen=True, slots=True)
class Target:
    """One host to try: a name (looked up for A/AAAA) or an IP address."""

    host: str
    port: int

    @property
    def is_address(self) -> bool:
        return _ip(self.host) is not None


@dataclass(frozen=True, slots=True)
class Route:
    key: str  # destinations sharing a key share connections and concurrency limits
    targets: tuple[Target, ...]  # in the order to try them
    tls: str  # TLS policy level (config.TLS_POLICIES)
    smarthost: bool = False
    implicit_tls: bool = False


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_hostport(text: str, default_port: int) -> Target:
    """ "host", "host:port", "[host]:port", "[::1]:25", "192.0.2.1:2525"."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""  # a bare IPv6 address or a name
    if not host or (port and not port.isdigit()):
        raise ValueError(f"not host:port: {text!r}")
    number = int(port) if port else default_port
    if not 0 < number <= 65535:
        raise ValueError(f"port out of range: {text!r}")
    return Target(host.lower().rstrip("."), number)


def tls_level(settings: RelaySettings, domain: str) -> str:
    return settings.tls_policy.get(domain, settings.tls)


async def find_route(domain: str, settings: RelaySettings, resolver: Resolver) -> Route:
    """The route for a recipient domain (lower case, A-label form, or an address
    literal in brackets). RouteError when there is none."""
    static = settings.routes.get(domain)
    if static is not None:
        target = parse_hostport(static, settings.port)
        return Route(f"static:{target.host}:{target.port}", (target,), tls_level(settings, domain))
    if domain.startswith("["):
        # RFC 5321 §4.1.3: an address literal names the host itself.
        literal = domain[1:-1]
        if literal.lower().startswith("ipv6:"):
            literal = literal[5:]
        ip = _ip(literal)
        if ip is None:
            raise RouteError(True, "5.1.2", f"bad address literal {domain}")
        target = Target(ip, settings.port)
        return Route(f"literal:{ip}", (target,), tls_level(settings, domain))
    if settings.smarthost:
        target = parse_hostport(settings.smarthost, 587)
        # Credentials go to the smarthost: TLS is required unless switched off outright;
        # a tls_policy entry for its host name may ask for "verify".
        level = "none" if settings.smarthost_tls == "none" else "encrypt"
        level = settings.tls_policy.get(target.host, level)
        implicit = settings.smarthost_tls == "implicit"
        return Route("smarthost", (target,), level, smarthost=True, implicit_tls=implicit)
    return await _mx_route(domain, settings, resolver)


async def _mx_route(domain: str, settings: RelaySettings, resolver: Resolver) -> Route:
    try:
        records = await resolver.mx(domain)
    except NXDomain:
        raise RouteError(True, "5.1.2", f"domain {domain} does not exist") from None
    except (TempFail, ResolverError) as e:
        raise RouteError(False, "4.4.3", f"MX lookup for {domain} failed: {e}") from None
    hosts = [(pref, name) for pref, name in records if name not in (".", "")]
    if records and not hosts:
        # RFC 7505 §4.1: a domain with a null MX accepts no mail; 556 5.1.10.
        raise RouteError(True, "5.1.10", f"domain {domain} accepts no mail (null MX)")
    if not hosts:
        # RFC 5321 §5.1: no MX records, the domain itself is the implicit MX.
        return Route(f"mx:{domain}", (Target(domain, settings.port),), tls_level(settings, domain))
    # RFC 5321 §5.1: lowest preference first, equal preferences in random order.
    shuffled = random.sample(hosts, len(hosts))
    shuffled.sort(key=lambda pair: pair[0])
    targets = tuple(Target(name, settings.port) for _pref, name in shuffled)
    return Route(f"mx:{domain}", targets, tls_level(settings, domain))


async def addresses_of(target: Target, resolver: Resolver) -> list[str]:
    """The addresses to dial for a target: IPv4 first, then IPv6 (RFC 5321 §5.1)."""
    if target.is_address:
        return [target.host]
    found: list[str] = []
    errors: list[str] = []
    for lookup in (resolver.a, resolver.aaaa):
        try:
            found += await lookup(target.host)
        except NXDomain:
            break
        except (TempFail, ResolverError) as e:
            errors.append(str(e))
    if not found and errors:
        raise RouteError(False, "4.4.3", f"address lookup for {target.host} failed: {errors[0]}")
    return found
