"""What a DNS lookup can fail with, apart from an empty answer (NODATA)."""

from __future__ import annotations


class ResolverError(Exception):
    """A lookup gave no usable answer."""


class NXDomain(ResolverError):
    """The name does not exist (RCODE 3, RFC 1035 §4.1.1)."""


class TempFail(ResolverError):
    """SERVFAIL, a timeout or a network error: asking again later may work."""
