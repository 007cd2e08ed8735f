"""DKIM keys kept in the instance directory: `dkim/<domain>/<selector>.pem`.

The outbound queue signs with the newest key of the From domain (queue/signing.py);
`posthouse dns` and the admin pages publish every key present.  Files are 0600: a
private key never leaves the instance directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from posthouse.senderauth.dkim import generate_key, key_kind, public_record

KEY_DIR = "dkim"
# RFC 6376 §3.1: a selector is one or more DNS labels.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_SELECTOR = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


class KeyStoreError(ValueError):
    pass


@dataclass(frozen=True)
class StoredKey:
    domain: str
    selector: str
    kind: str  # rsa or ed25519 ("?" when the file cannot be read)
    path: Path
    record: str  # the TXT value to publish ("" when the file cannot be read)
    modified: float


def key_dir(instance_dir: Path) -> Path:
    return instance_dir / KEY_DIR


def check_domain(domain: str) -> str:
    d = domain.strip().lower().rstrip(".")
    if not _DOMAIN.fullmatch(d) or len(d) > 253:
        raise KeyStoreError(f"{domain!r} is not a domain name")
    return d


def check_selector(selector: str) -> str:
    s = selector.strip().lower()
    if not _SELECTOR.fullmatch(s):
        raise KeyStoreError(f"{selector!r} is not a valid selector (DNS labels)")
    return s


def default_selector(kind: str, now: datetime | None = None) -> str:
    """e.g. rsa202611: one new name a month lets keys rotate without clashing."""
    return f"{kind}{(now or datetime.now(UTC)):%Y%m}"


def create_key(
    instance_dir: Path, domain: str, kind: str, selector: str | None = None
) -> StoredKey:
    """Generate and store a key; refuses to replace an existing selector."""
    domain = check_domain(domain)
    selector = check_selector(selector or default_selector(kind))
    pem, record = generate_key(kind)
    folder = key_dir(instance_dir) / domain
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{selector}.pem"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyStoreError(f"{path} exists: choose another --selector") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    return StoredKey(domain, selector, kind, path, record, path.stat().st_mtime)


def list_keys(instance_dir: Path, domain: str | None = None) -> list[StoredKey]:
    """Stored keys, oldest first within each domain (the last one signs)."""
    root = key_dir(instance_dir)
    if not root.is_dir():
        return []
    folders = [root / check_domain(domain)] if domain else sorted(root.iterdir())
    out = []
    for folder in folders:
        if not folder.is_dir():
            continue
        pems = sorted(folder.glob("*.pem"), key=lambda p: (p.stat().st_mtime, p.name))
        for path in pems:
            try:
                pem = path.read_bytes()
                kind, record = key_kind(pem), public_record(pem)
            except (OSError, ValueError):
                kind, record = "?", ""
            out.append(StoredKey(folder.name, path.stem, kind, path, record, path.stat().st_mtime))
    return out
