"""TLS contexts for the listeners."""

from __future__ import annotations

import ssl
from pathlib import Path


def server_context(cert: Path, key: Path, keylog: Path | None = None) -> ssl.SSLContext:
    """TLS 1.2 and newer with the ssl module's secure defaults.

    `keylog` writes the NSS key log (SSLKEYLOGFILE format) so captures of our own
    traffic can be decrypted by `posthouse analyze --keylog` or Wireshark.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    return ctx


def describe(obj: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, str | int] | None:
    """Version and cipher of an established TLS session, for Received headers and logs."""
    if obj is None:
        return None
    cipher = obj.cipher()
    if cipher is None:
        return None
    name, _proto, bits = cipher
    return {"version": obj.version() or "", "cipher": name, "bits": bits or 0}
