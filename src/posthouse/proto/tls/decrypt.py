"""Record decryption from key-log secrets: TLS 1.3 (RFC 8446 §5.2, §7) and the TLS 1.2
AEAD suites (RFC 5246 §6.2.3.3 and §6.3, RFC 5288, RFC 6655, RFC 7905).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from posthouse.proto.tls.suites import Suite

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA-256": hashes.SHA256,
    "SHA-384": hashes.SHA384,
    "SHA-512": hashes.SHA512,
}

AEAD = AESGCM | AESCCM | ChaCha20Poly1305


class DecryptError(Exception):
    pass


def unsupported_reason(chosen: Suite) -> str | None:
    """Why records of this suite cannot be decrypted, or None when they can."""
    if _aead_spec(chosen.cipher) is None:
        return f"decrypting {chosen.cipher} is not supported (only AES-GCM/CCM, ChaCha20)"
    if chosen.tls13 and chosen.hash not in _HASHES:
        return f"hash {chosen.hash} is not supported"
    return None


def _aead_spec(cipher: str) -> tuple[int, str, int] | None:
    """(key length, kind, tag length) for the AEAD ciphers we can open."""
    return {
        "AES-128-GCM": (16, "gcm", 16),
        "AES-256-GCM": (32, "gcm", 16),
        "ChaCha20-Poly1305": (32, "chacha", 16),
        "AES-128-CCM": (16, "ccm", 16),
        "AES-256-CCM": (32, "ccm", 16),
        "AES-128-CCM-8": (16, "ccm", 8),
        "AES-256-CCM-8": (32, "ccm", 8),
    }.get(cipher)


def _aead(kind: str, key: bytes, tag: int) -> AEAD:
    if kind == "gcm":
        return AESGCM(key)
    if kind == "ccm":
        return AESCCM(key, tag_length=tag)
    return ChaCha20Poly1305(key)


# --- key derivation ---------------------------------------------------------------------


def hkdf_expand_label(
    secret: bytes, label: bytes, context: bytes, length: int, hash_name: str
) -> bytes:
    """RFC 8446 §7.1: HKDF-Expand(Secret, HkdfLabel, Length), label prefixed "tls13 "."""
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + struct.pack("!B", len(context)) + context
    return HKDFExpand(_HASHES[hash_name](), length, info).derive(secret)


def tls12_prf(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """RFC 5246 §5: PRF(secret, label, seed) = P_<hash>(secret, label + seed)."""
    digest = getattr(hashlib, hash_name.replace("-", "").lower())
    seed = label + seed
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac.new(secret, a, digest).digest()
        out += hmac.new(secret, a + seed, digest).digest()
    return bytes(out[:length])


def prf_hash(chosen: Suite) -> str:
    """RFC 5288 §3, RFC 5289 §3: SHA-384 suites use a SHA-384 PRF, all others SHA-256."""
    return "SHA-384" if chosen.hash == "SHA-384" else "SHA-256"


# --- record protection ------------------------------------------------------------------


class RecordProtection(Protocol):
    def open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        """Decrypt one record: (true content type, plaintext). Raises DecryptError."""
        ...


class Tls13Protection:
    """One direction's traffic keys in TLS 1.3, with the record sequence number."""

    def __init__(self, chosen: Suite, secret: bytes) -> None:
        spec = _aead_spec(chosen.cipher)
        if spec is None or chosen.hash not in _HASHES:
            raise DecryptError(unsupported_reason(chosen) or chosen.name)
        self.suite = chosen
        self.secret = secret
        key_len, self._kind, self._tag = spec
        # RFC 8446 §7.3: traffic key and IV from the traffic secret.
        self._key = hkdf_expand_label(secret, b"key", b"", key_len, chosen.hash)
        self._iv = hkdf_expand_label(secret, b"iv", b"", 12, chosen.hash)
        self._aead = _aead(self._kind, self._key, self._tag)
        self.seq = 0

    def next_generation(self) -> Tls13Protection:
        """RFC 8446 §7.2: application_traffic_secret_N+1 after a KeyUpdate."""
        size = _HASHES[self.suite.hash].digest_size
        nxt = hkdf_expand_label(self.secret, b"traffic upd", b"", size, self.suite.hash)
        return Tls13Protection(self.suite, nxt)

    def open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        # RFC 8446 §5.3: nonce = IV xor the 64-bit sequence number, left-padded.
        nonce = (int.from_bytes(self._iv, "big") ^ self.seq).to_bytes(12, "big")
        # RFC 8446 §5.2: the additional data is the record header.
        aad = struct.pack("!BHH", content_type, version, len(fragment))
        try:
            inner = self._aead.decrypt(nonce, fragment, aad)
        except InvalidTag:
            raise DecryptError("authentication failed") from None
        self.seq += 1
        # RFC 8446 §5.4: strip zero padding; the last non-zero byte is the real type.
        end = len(inner)
        while end and inner[end - 1] == 0:
            end -= 1
        if not end:
            raise DecryptError("record without a content type")
        return inner[end - 1], inner[: end - 1]


class Tls12AeadProtection:
    """One direction's AEAD keys in TLS 1.2 (GCM/CCM with an explicit nonce, ChaCha20)."""

    def __init__(self, chosen: Suite, key: bytes, iv: bytes) -> None:
        spec = _aead_spec(chosen.cipher)
        if spec is None:
            raise DecryptError(unsupported_reason(chosen) or chosen.name)
        _, self._kind, self._tag = spec
        self._aead = _aead(self._kind, key, self._tag)
        self._iv = iv
        self.seq = 0

    def open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        if self._kind == "chacha":
            # RFC 7905 §2: nonce = IV xor padded sequence number; no explicit part.
            nonce = (int.from_bytes(self._iv, "big") ^ self.seq).to_bytes(12, "big")
            ciphertext = fragment
        else:
            # RFC 5288 §3, RFC 6655 §3: 4-byte implicit salt + 8-byte explicit nonce.
            if len(fragment) < 8 + self._tag:
                raise DecryptError("record shorter than nonce and tag")
            nonce, ciphertext = self._iv + fragment[:8], fragment[8:]
        if len(ciphertext) < self._tag:
            raise DecryptError("record shorter than the tag")
        # RFC 5246 §6.2.3.3: additional_data = seq_num + type + version + length.
        aad = struct.pack("!QBHH", self.seq, content_type, version, len(ciphertext) - self._tag)
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise DecryptError("authentication failed") from None
        self.seq += 1
        return content_type, plaintext


def tls12_protections(
    chosen: Suite, master_secret: bytes, client_random: bytes, server_random: bytes
) -> tuple[Tls12AeadProtection, Tls12AeadProtection]:
    """(client write, server write) from the key block, RFC 5246 §6.3."""
    spec = _aead_spec(chosen.cipher)
    if spec is None:
        raise DecryptError(unsupported_reason(chosen) or chosen.name)
    key_len = spec[0]
    iv_len = 12 if spec[1] == "chacha" else 4
    block = tls12_prf(
        master_secret,
        b"key expansion",
        server_random + client_random,
        2 * (key_len + iv_len),
        prf_hash(chosen),
    )
    # AEAD suites have no MAC keys (RFC 5246 §6.3: mac_key_length = 0).
    ck, sk = block[:key_len], block[key_len : 2 * key_len]
    civ = block[2 * key_len : 2 * key_len + iv_len]
    siv = block[2 * key_len + iv_len :]
    return Tls12AeadProtection(chosen, ck, civ), Tls12AeadProtection(chosen, sk, siv)
