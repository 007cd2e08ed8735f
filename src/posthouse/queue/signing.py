"""DKIM signing of outbound mail (RFC 6376) for domains that have a key.

Keys live in the instance directory as `dkim/<domain>/<selector>.pem` (what
`posthouse dkim generate DOMAIN` writes); the newest key of a domain signs. The
signing domain is the header From's, so the signature aligns for DMARC (RFC 7489
§3.1.1). The signature is made before the first attempt and kept with the queue
entry when the message has to wait, so every retry carries the same one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from posthouse.config import Config
from posthouse.queue.scheduler import SIGNATURE_PARAM
from posthouse.senderauth.dkim import PrivateKey, load_private_key, signature_field
from posthouse.senderauth.results import from_domains
from posthouse.store.base import QueueEntry

log = logging.getLogger("posthouse.queue")

KEY_DIR = "dkim"
KEY_CACHE_SECONDS = 30.0
__all__ = ["SIGNATURE_PARAM", "DKIMSigner", "key_dir", "signer_for"]


def key_dir(config: Config) -> Path:
    return config.dir / KEY_DIR


@dataclass(frozen=True)
class _Key:
    selector: str
    mtime: float
    private: PrivateKey  # RSA (rsa-sha256) or Ed25519 (ed25519-sha256, RFC 8463)


def _load(path: Path) -> _Key | None:
    try:
        pem = path.read_bytes()
        key = load_private_key(pem)
    except (OSError, ValueError, TypeError) as e:
        log.warning("DKIM key %s unusable: %s", path, e)
        return None
    return _Key(path.stem, path.stat().st_mtime, key)


def dkim_signature(raw: bytes, domain: str, key: _Key, now: float | None = None) -> bytes:
    """The DKIM-Signature field for `raw`, relaxed/relaxed (RFC 6376 §3.4.2, §3.4.4),
    From oversigned (senderauth.dkim.signature_field)."""
    return signature_field(raw, domain=domain, selector=key.selector, key=key.private, now=now)


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
        # The From domain as DMARC at the receiver reads it (RFC 7489 §3.1.1).
        try:
            domains, fields = from_domains(raw)
        except Exception:
            return None
        if fields != 1 or len(domains) != 1:
            return None  # RFC 7489 §6.6.1: several authors, no single domain to align
        domain = domains[0]
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
