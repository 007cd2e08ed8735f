"""Hand-built TLS bytes for the cases real sessions do not produce on demand: GREASE,
unknown extensions, SSL 2.0 hellos, HelloRetryRequest, KeyUpdate, damage.

TLS 1.3 records are sealed with `cryptography` directly (RFC 8446 §5.2-5.3), from
secrets the test chooses and writes into a key log.
"""

from __future__ import annotations

import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from posthouse.proto.tls.decrypt import hkdf_expand_label
from posthouse.proto.tls.handshake import HRR_RANDOM


def u8(v: int) -> bytes:
    return struct.pack("!B", v)


def u16(v: int) -> bytes:
    return struct.pack("!H", v)


def vec8(b: bytes) -> bytes:
    return u8(len(b)) + b


def vec16(b: bytes) -> bytes:
    return u16(len(b)) + b


def vec24(b: bytes) -> bytes:
    return len(b).to_bytes(3, "big") + b


def record(content_type: int, body: bytes, version: int = 0x0303) -> bytes:
    return u8(content_type) + u16(version) + vec16(body)


def handshake(msg_type: int, body: bytes) -> bytes:
    return u8(msg_type) + vec24(body)


def ext(ext_type: int, data: bytes) -> bytes:
    return u16(ext_type) + vec16(data)


def sni(name: str) -> bytes:
    return ext(0, vec16(u8(0) + vec16(name.encode())))


def alpn(*names: str) -> bytes:
    return ext(16, vec16(b"".join(vec8(n.encode()) for n in names)))


def supported_versions(*versions: int) -> bytes:
    return ext(43, vec8(b"".join(u16(v) for v in versions)))


def selected_version(v: int) -> bytes:
    """supported_versions as a ServerHello carries it (RFC 8446 §4.2.1)."""
    return ext(43, u16(v))


def server_key_share(group: int) -> bytes:
    """key_share as a ServerHello carries it: one KeyShareEntry (RFC 8446 §4.2.8)."""
    return ext(51, u16(group) + vec16(b"\x02" * 32))


def supported_groups(*groups: int) -> bytes:
    return ext(10, vec16(b"".join(u16(g) for g in groups)))


def signature_algorithms(*schemes: int) -> bytes:
    return ext(13, vec16(b"".join(u16(s) for s in schemes)))


def key_share(*groups: int) -> bytes:
    return ext(51, vec16(b"".join(u16(g) + vec16(b"\x01" * 32) for g in groups)))


def client_hello(
    suites: list[int],
    extensions: list[bytes] = (),  # type: ignore[assignment]
    version: int = 0x0303,
    random: bytes | None = None,
    session_id: bytes = b"",
) -> bytes:
    body = (
        u16(version)
        + (random or os.urandom(32))
        + vec8(session_id)
        + vec16(b"".join(u16(s) for s in suites))
        + vec8(b"\x00")
        + (vec16(b"".join(extensions)) if extensions is not None else b"")
    )
    return handshake(1, body)


def server_hello(
    suite: int,
    extensions: list[bytes] = (),  # type: ignore[assignment]
    version: int = 0x0303,
    random: bytes | None = None,
    hrr: bool = False,
) -> bytes:
    body = (
        u16(version)
        + (HRR_RANDOM if hrr else (random or os.urandom(32)))
        + vec8(b"")
        + u16(suite)
        + u8(0)
        + vec16(b"".join(extensions))
    )
    return handshake(2, body)


def sslv2_client_hello(kinds: list[int], challenge: bytes, version: int = 0x0301) -> bytes:
    """RFC 5246 §E.2: two-byte header with the top bit set, then CLIENT-HELLO."""
    specs = b"".join(k.to_bytes(3, "big") for k in kinds)
    body = u8(1) + u16(version) + u16(len(specs)) + u16(0) + u16(len(challenge))
    body += specs + challenge
    return u16(0x8000 | len(body)) + body


class Sealer13:
    """Encrypts TLS 1.3 records for one direction (the mirror of the observer's keys)."""

    def __init__(self, secret: bytes, cipher: str = "AES-128-GCM", hash_name: str = "SHA-256"):
        key_len = 16 if cipher == "AES-128-GCM" else 32
        self.secret, self.cipher, self.hash_name = secret, cipher, hash_name
        key = hkdf_expand_label(secret, b"key", b"", key_len, hash_name)
        self.iv = hkdf_expand_label(secret, b"iv", b"", 12, hash_name)
        self.aead = ChaCha20Poly1305(key) if cipher == "ChaCha20-Poly1305" else AESGCM(key)
        self.seq = 0

    def seal(self, content_type: int, plaintext: bytes, padding: int = 0) -> bytes:
        inner = plaintext + u8(content_type) + b"\x00" * padding
        length = len(inner) + 16
        header = u8(23) + u16(0x0303) + u16(length)
        nonce = (int.from_bytes(self.iv, "big") ^ self.seq).to_bytes(12, "big")
        self.seq += 1
        return header + self.aead.encrypt(nonce, inner, header)

    def updated(self) -> Sealer13:
        size = 48 if self.hash_name == "SHA-384" else 32
        nxt = hkdf_expand_label(self.secret, b"traffic upd", b"", size, self.hash_name)
        return Sealer13(nxt, self.cipher, self.hash_name)


def keylog_line(label: str, client_random: bytes, secret: bytes) -> str:
    return f"{label} {client_random.hex()} {secret.hex()}\n"
