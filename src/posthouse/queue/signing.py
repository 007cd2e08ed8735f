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
from pathlib import Path

from posthouse.config import Config
from posthouse.mime.headers import HeaderError, originators, split_message
from posthouse.queue.scheduler import SIGNATURE_PARAM
from posthouse.store.base import QueueEntry

log = logging.getLogger("posthouse.queue")

KEY_DIR = "dkim"
KEY_CACHE_SECONDS = 30.0
__all__ = ["SIGNATURE_PARAM", "DKIMSigner", "key_dir", "signer_for"]


def key_dir(config: Config) -> Path:
    return config.dir / KEY_DIR


class DKIMSigner:
    """Callable(entry, message) -> the DKIM-Signature field to prepend, or None."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._keys: dict[str, tuple[float, tuple[str, bytes] | None]] = {}

    def key_for(self, domain: str) -> tuple[str, bytes] | None:
        """(selector, private key PEM) of the newest key for `domain`, or None."""
        now = time.monotonic()
        cached = self._keys.get(domain)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = None
        folder = self.directory / domain
        if "/" not in domain and not domain.startswith(".") and folder.is_dir():
            pems = sorted(folder.glob("*.pem"), key=lambda p: (p.stat().st_mtime, p.name))
            if pems:
                found = (pems[-1].stem, pems[-1].read_bytes())
        self._keys[domain] = (now + KEY_CACHE_SECONDS, found)
        return found

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
        from posthouse.senderauth import dkim

        selector, pem = key
        try:
            return dkim.sign(raw, domain=domain, selector=selector, private_pem=pem)
        except Exception as e:
            log.warning("queue %d: DKIM signing for %s failed: %s", entry.id, domain, e)
            return None


def signer_for(config: Config) -> DKIMSigner:
    return DKIMSigner(key_dir(config))
