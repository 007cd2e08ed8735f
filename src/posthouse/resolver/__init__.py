"""DNS for posthouse: one `Resolver` interface, a live `DnsResolver` over dnspython and
a `StaticResolver` answering from a table (tests, local labs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from posthouse.resolver.base import Resolver
from posthouse.resolver.dnsresolver import DnsResolver
from posthouse.resolver.errors import NXDomain, ResolverError, TempFail
from posthouse.resolver.names import normalize, reverse_name
from posthouse.resolver.static import StaticResolver

if TYPE_CHECKING:
    from posthouse.config import Config

__all__ = [
    "DnsResolver",
    "NXDomain",
    "Resolver",
    "ResolverError",
    "StaticResolver",
    "TempFail",
    "for_config",
    "normalize",
    "reverse_name",
]


def for_config(config: Config) -> Resolver:
    """A StaticResolver when the configuration has a `[dns]` table of records (a lab
    that must not reach real DNS), else the live resolver."""
    table = getattr(config, "dns", None)
    if table is not None:
        return StaticResolver.from_config(table)
    return DnsResolver()
