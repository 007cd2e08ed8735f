"""Domain names and addresses as the resolvers compare and query them."""

from __future__ import annotations

import ipaddress


def normalize(name: str) -> str:
    """Lower case, without the trailing dot: DNS names compare case-insensitively
    (RFC 4343 §3)."""
    return name.strip().rstrip(".").lower()


def reverse_name(address: str) -> str:
    """The in-addr.arpa / ip6.arpa name of an address (RFC 1035 §3.5, RFC 3596 §2.5)."""
    ip = ipaddress.ip_address(address.strip().strip("[]"))
    return ip.reverse_pointer
