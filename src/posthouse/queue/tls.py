"""TLS contexts for outbound connections, one per policy level."""

from __future__ import annotations

import ssl
from functools import lru_cache


@lru_cache(maxsize=8)
def client_context(verify: bool, ca_file: str = "") -> ssl.SSLContext:
    """`verify`: the certificate must chain to a trusted CA and name the host.
    Otherwise any certificate is taken (opportunistic TLS, RFC 7435: encryption
    without authentication still beats plaintext)."""
    ctx = ssl.create_default_context(cafile=ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
