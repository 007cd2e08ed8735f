"""Record decryption from key-log secrets: TLS 1.3 (RFC 8446 §5.2, §7); TLS 1.2 AEAD
suites (RFC 5246 §6.2.3.3 and §6.3, RFC 5288, RFC 6655, RFC 7905); and TLS 1.0-1.2 CBC
and RC4 suites (RFC 2246 §6.2.3, RFC 4346 §6.2.3.2, RFC 5246 §6.2.3.1-2, RFC 7366).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers import algorithms as decrepit
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
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


def unsupported_reason(chosen: Suite, version: int = 0x0303) -> str | None:
    """Why records of this suite cannot be decrypted, or None when they can."""
    if chosen.tls13:
        if _aead_spec(chosen.cipher) is None or chosen.hash not in _HASHES:
            return f"decrypting {chosen.name} is not supported"
        return None
    if version < 0x0301:
        return "decrypting SSL 3.0 is not supported"
    if "(export)" in chosen.key_exchange:
        return "decrypting export suites is not supported"
    if _aead_spec(chosen.cipher) is not None:
        return None if version >= 0x0303 else f"{chosen.cipher} needs TLS 1.2"
    if chosen.cipher not in _BLOCK_CIPHERS and chosen.cipher != "RC4-128":
        return f"decrypting {chosen.cipher} is not supported"
    if chosen.hash not in _MAC_HASHES:
        return f"MAC {chosen.hash} is not supported"
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
    return _p_hash(secret, label + seed, length, digest)


def tls10_prf(secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """RFC 2246 §5 (also TLS 1.1): P_MD5 on the first half of the secret XOR P_SHA-1 on
    the second half; the halves share a byte when the length is odd."""
    half = (len(secret) + 1) // 2
    md5 = _p_hash(secret[:half], label + seed, length, hashlib.md5)
    sha1 = _p_hash(secret[len(secret) - half :], label + seed, length, hashlib.sha1)
    return bytes(a ^ b for a, b in zip(md5, sha1, strict=True))


def _p_hash(secret: bytes, seed: bytes, length: int, digest: Callable[[], Any]) -> bytes:
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
    seq: int  # the sequence number of the next record (RFC 5246 §6.1, RFC 8446 §5.3)

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
        size = _HASHES[self.suite.hash]().digest_size
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


# cipher name -> (algorithm, key length, block size)
_BLOCK_CIPHERS: dict[str, tuple[type, int, int]] = {
    "AES-128-CBC": (algorithms.AES, 16, 16),
    "AES-256-CBC": (algorithms.AES, 32, 16),
    "CAMELLIA-128-CBC": (decrepit.Camellia, 16, 16),
    "CAMELLIA-256-CBC": (decrepit.Camellia, 32, 16),
    "SEED-CBC": (decrepit.SEED, 16, 16),
    "3DES-EDE-CBC": (decrepit.TripleDES, 24, 8),
    "IDEA-CBC": (decrepit.IDEA, 16, 8),
}
_MAC_HASHES = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
}


class Tls12MacProtection:
    """One direction's keys for a CBC or RC4 suite (MAC-then-encrypt, or RFC 7366
    encrypt-then-MAC). The MAC is checked, so wrong keys are noticed."""

    def __init__(
        self,
        chosen: Suite,
        version: int,
        mac_key: bytes,
        key: bytes,
        iv: bytes,
        encrypt_then_mac: bool,
    ) -> None:
        self._digest = _MAC_HASHES[chosen.hash]
        self._mac_len = self._digest().digest_size
        self._mac_key = mac_key
        self._etm = encrypt_then_mac
        self._explicit_iv = version >= 0x0302  # RFC 4346 §6.2.3.2: TLS 1.1 sends the IV
        self._stream: CipherContext | None = None
        spec = _BLOCK_CIPHERS.get(chosen.cipher)
        if spec is None:  # RC4: one key stream across the records (RFC 5246 §6.2.3.1)
            self._stream = Cipher(decrepit.ARC4(key), mode=None).decryptor()
            self._block = 0
        else:
            self._algorithm, _, self._block = spec
        self._key = key
        self._iv = iv  # TLS 1.0: the last ciphertext block of the previous record
        self.seq = 0

    def _mac(self, content_type: int, version: int, data: bytes) -> bytes:
        # RFC 5246 §6.2.3.1: HMAC(seq_num + type + version + length + content)
        header = struct.pack("!QBHH", self.seq, content_type, version, len(data))
        return hmac.new(self._mac_key, header + data, self._digest).digest()

    def open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        if self._stream is not None:
            plain = self._stream.update(fragment)
            content, mac = plain[: -self._mac_len], plain[-self._mac_len :]
            if len(plain) < self._mac_len or not hmac.compare_digest(
                mac, self._mac(content_type, version, content)
            ):
                raise DecryptError("bad record MAC")
            self.seq += 1
            return content_type, content
        body = fragment
        if self._etm:
            # RFC 7366 §3: the MAC covers the IV and ciphertext, and follows them.
            body, mac = fragment[: -self._mac_len], fragment[-self._mac_len :]
            if len(fragment) < self._mac_len or not hmac.compare_digest(
                mac, self._mac(content_type, version, body)
            ):
                raise DecryptError("bad record MAC")
        if self._explicit_iv:
            iv, body = body[: self._block], body[self._block :]
        else:
            iv = self._iv
        if not body or len(body) % self._block or len(iv) != self._block:
            raise DecryptError("ciphertext is not whole blocks")
        decryptor = Cipher(self._algorithm(self._key), modes.CBC(iv)).decryptor()
        plain = decryptor.update(body) + decryptor.finalize()
        # RFC 5246 §6.2.3.2: padding_length bytes of value padding_length, then itself.
        pad = plain[-1]
        if pad + 1 > len(plain) or plain[-pad - 1 :] != bytes([pad]) * (pad + 1):
            raise DecryptError("bad padding")
        plain = plain[: -pad - 1]
        if not self._etm:
            if len(plain) < self._mac_len:
                raise DecryptError("record shorter than its MAC")
            plain, mac = plain[: -self._mac_len], plain[-self._mac_len :]
            if not hmac.compare_digest(mac, self._mac(content_type, version, plain)):
                raise DecryptError("bad record MAC")
        if not self._explicit_iv:
            self._iv = body[-self._block :]
        self.seq += 1
        return content_type, plain


def tls12_protections(
    chosen: Suite,
    version: int,
    master_secret: bytes,
    client_random: bytes,
    server_random: bytes,
    encrypt_then_mac: bool = False,
) -> tuple[RecordProtection, RecordProtection]:
    """(client write, server write) from the key block, RFC 5246 §6.3 / RFC 2246 §6.3."""
    reason = unsupported_reason(chosen, version)
    if reason is not None:
        raise DecryptError(reason)
    seed = server_random + client_random
    aead = _aead_spec(chosen.cipher)
    if aead is not None:
        key_len = aead[0]
        iv_len = 12 if aead[1] == "chacha" else 4
        block = tls12_prf(
            master_secret, b"key expansion", seed, 2 * (key_len + iv_len), prf_hash(chosen)
        )
        # AEAD suites have no MAC keys (RFC 5246 §6.3: mac_key_length = 0).
        ck, sk = block[:key_len], block[key_len : 2 * key_len]
        civ = block[2 * key_len : 2 * key_len + iv_len]
        siv = block[2 * key_len + iv_len :]
        return Tls12AeadProtection(chosen, ck, civ), Tls12AeadProtection(chosen, sk, siv)
    mac_len = _MAC_HASHES[chosen.hash]().digest_size
    spec = _BLOCK_CIPHERS.get(chosen.cipher)
    key_len, iv_len = (spec[1], spec[2]) if spec else (16, 0)
    size = 2 * (mac_len + key_len + iv_len)
    if version >= 0x0303:
        block = tls12_prf(master_secret, b"key expansion", seed, size, prf_hash(chosen))
    else:
        block = tls10_prf(master_secret, b"key expansion", seed, size)
    parts: list[bytes] = []
    pos = 0
    for n in (mac_len, mac_len, key_len, key_len, iv_len, iv_len):
        parts.append(block[pos : pos + n])
        pos += n
    cmac, smac, ck, sk, civ, siv = parts
    return (
        Tls12MacProtection(chosen, version, cmac, ck, civ, encrypt_then_mac),
        Tls12MacProtection(chosen, version, smac, sk, siv, encrypt_then_mac),
    )
