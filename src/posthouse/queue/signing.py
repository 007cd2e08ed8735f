"""DKIM signing of outbound mail (RFC 6376) for domains that have a key.

Keys live in the instance directory as `dkim/<domain>/<selector>.pem` (what
`posthouse dkim generate DOMAIN` writes); the newest key of a domain signs. The
signing domain is the header From's, so the signature aligns for DMARC (RFC 7489
§3.1.1). The signature is made before the first attempt and kept with the queue
entry when the message has to wait, so every retry carries the same one.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from posthouse.config import Config
from posthouse.mime.headers import HeaderError, originators, split_message
from posthouse.queue.scheduler import SIGNATURE_PARAM
from posthouse.senderauth.dkim import SIGNED_HEADERS
from posthouse.store.base import QueueEntry

log = logging.getLogger("posthouse.queue")

KEY_DIR = "dkim"
KEY_CACHE_SECONDS = 30.0
_CANON = (b"relaxed", b"relaxed")
__all__ = ["SIGNATURE_PARAM", "DKIMSigner", "key_dir", "signer_for"]


def key_dir(config: Config) -> Path:
    return config.dir / KEY_DIR


@dataclass(frozen=True)
class _Key:
    selector: str
    mtime: float
    rsa: rsa.RSAPrivateKey | None  # for rsa-sha256
    seed: bytes | None  # base64 Ed25519 seed, for ed25519-sha256 (RFC 8463)


def _load(path: Path) -> _Key | None:
    try:
        pem = path.read_bytes()
        key = serialization.load_pem_private_key(pem, None)
    except (OSError, ValueError, TypeError) as e:
        log.warning("DKIM key %s unusable: %s", path, e)
        return None
    mtime = path.stat().st_mtime
    if isinstance(key, rsa.RSAPrivateKey):
        return _Key(path.stem, mtime, key, None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return _Key(path.stem, mtime, None, base64.b64encode(raw))
    log.warning("DKIM key %s: neither RSA nor Ed25519", path)
    return None


def dkim_signature(raw: bytes, domain: str, key: _Key, now: float | None = None) -> bytes:
    """The DKIM-Signature field for `raw`, relaxed/relaxed (RFC 6376 §3.4.2, §3.4.4),
    From oversigned. dkimpy canonicalises and lays the field out; the RSA operation is
    OpenSSL's (through cryptography), dkimpy's own is pure Python and slow."""
    algorithm = b"rsa-sha256" if key.rsa is not None else b"ed25519-sha256"
    signer = dkim.DKIM(raw, logger=log, signature_algorithm=algorithm)
    present = {name.lower() for name, _value in signer.headers}
    include = [h.encode() for h in SIGNED_HEADERS if h.encode() in present]
    if b"from" not in include:
        raise ValueError("a message without From cannot be signed (RFC 6376 §5.4)")
    include.append(b"from")  # RFC 6376 §8.15: an added From would break the signature
    selector, sdid = key.selector.encode("ascii"), domain.encode("ascii")
    if key.seed is not None:
        header: bytes = signer.sign(
            selector, sdid, key.seed, canonicalize=_CANON, include_headers=include
        )
        return header
    assert key.rsa is not None
    policy = dkim.CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    bodyhash = base64.b64encode(hashlib.sha256(policy.canonicalize_body(signer.body)).digest())
    fields = [
        (b"v", b"1"),
        (b"a", algorithm),
        (b"c", b"relaxed/relaxed"),
        (b"d", sdid),
        (b"i", b"@" + sdid),
        (b"q", b"dns/txt"),
        (b"s", selector),
        (b"t", str(int(now if now is not None else time.time())).encode("ascii")),
        (b"h", b" : ".join(include)),
        (b"bh", bodyhash),
        (b"b", b"0" * 60),  # placeholder: b= folds onto a line of its own
    ]
    value = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=14, linesep=b"\r\n")
    value = dkim.RE_BTAG.sub(b"\\1", value)  # RFC 6376 §3.7: hashed with an empty b=
    hasher = dkim.HashThrough(hashlib.sha256(), False)
    headers = policy.canonicalize_headers(signer.headers)
    dkim.hash_headers(
        hasher, policy, headers, include, (b"DKIM-Signature", b" " + value), dict(fields)
    )
    signature = key.rsa.sign(hasher.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    fields[-1] = (b"b", base64.b64encode(signature))
    value = b"; ".join(b"=".join(f) for f in fields) + b"\r\n"
    return b"DKIM-Signature: " + dkim.fold(value, namelen=14, linesep=b"\r\n")


class DKIMSigner:
    """Callable(entry, message) -> the DKIM-Signature field to prepend, or None."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lookups: dict[str, tuple[float, Path | None]] = {}
        self._keys: dict[Path, _Key] = {}

    def key_for(self, domain: str) -> _Key | None:
        """The newest key for `domain` (looked for again every KEY_CACHE_SECONDS)."""
        now = time.monotonic()
        cached = self._lookups.get(domain)
        if cached is None or cached[0] <= now:
            path = None
            folder = self.directory / domain
            if "/" not in domain and not domain.startswith(".") and folder.is_dir():
                pems = sorted(folder.glob("*.pem"), key=lambda p: (p.stat().st_mtime, p.name))
                path = pems[-1] if pems else None
            cached = (now + KEY_CACHE_SECONDS, path)
            self._lookups[domain] = cached
        path = cached[1]
        if path is None:
            return None
        key = self._keys.get(path)
        if key is None:
            # Parsed once: loading an RSA key checks it, which costs far more than a
            # signature.
            loaded = _load(path)
            if loaded is None:
                return None
            key = self._keys[path] = loaded
        return key

    def __call__(self, entry: QueueEntry, raw: bytes) -> bytes | None:
        header, _body = split_message(raw)
        try:
            senders = originators(header).get("from", [])
        except HeaderError:
            return None
        if len(senders) != 1:
            return None  # RFC 7489 §6.6.1: several authors, no single domain to align
        domain = senders[0].rpartition("@")[2].lower()
        key = self.key_for(domain)
        if key is None:
            return None
        try:
            return dkim_signature(raw, domain, key)
        except Exception as e:
            log.warning("queue %s: DKIM signing for %s failed: %s", entry and entry.id, domain, e)
            return None


def signer_for(config: Config) -> DKIMSigner:
    return DKIMSigner(key_dir(config))
