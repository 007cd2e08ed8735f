"""The NSS key log format: `LABEL <client_random hex> <secret hex>` per line.

Written by browsers, curl, OpenSSL (SSLKEYLOGFILE) and Python's
`SSLContext.keylog_filename`; described in draft-ietf-tls-keylogfile. Comments (#),
blank lines, malformed lines and unknown labels are ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

CLIENT_RANDOM = "CLIENT_RANDOM"  # TLS 1.2 and older: the 48-byte master secret
CLIENT_EARLY_TRAFFIC_SECRET = "CLIENT_EARLY_TRAFFIC_SECRET"
CLIENT_HANDSHAKE_TRAFFIC_SECRET = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HANDSHAKE_TRAFFIC_SECRET = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_TRAFFIC_SECRET_0 = "CLIENT_TRAFFIC_SECRET_0"
SERVER_TRAFFIC_SECRET_0 = "SERVER_TRAFFIC_SECRET_0"
EARLY_EXPORTER_SECRET = "EARLY_EXPORTER_SECRET"
EXPORTER_SECRET = "EXPORTER_SECRET"

LABELS = frozenset(
    {
        CLIENT_RANDOM,
        CLIENT_EARLY_TRAFFIC_SECRET,
        CLIENT_HANDSHAKE_TRAFFIC_SECRET,
        SERVER_HANDSHAKE_TRAFFIC_SECRET,
        CLIENT_TRAFFIC_SECRET_0,
        SERVER_TRAFFIC_SECRET_0,
        EARLY_EXPORTER_SECRET,
        EXPORTER_SECRET,
    }
)


@dataclass(slots=True)
class KeyLog:
    """Secrets by client random (32 bytes), then by label."""

    entries: dict[bytes, dict[str, bytes]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | bytes) -> KeyLog:
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        log = cls()
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 3 or parts[0].startswith("#") or parts[0] not in LABELS:
                continue
            try:
                client_random, secret = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
            except ValueError:
                continue
            if len(client_random) != 32 or not secret:
                continue
            log.entries.setdefault(client_random, {})[parts[0]] = secret
        return log

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyLog:
        with open(path, "rb") as fh:
            return cls.parse(fh.read())

    def merge(self, other: KeyLog) -> None:
        for client_random, secrets in other.entries.items():
            self.entries.setdefault(client_random, {}).update(secrets)

    def secrets(self, client_random: bytes) -> dict[str, bytes]:
        return self.entries.get(client_random, {})

    def get(self, client_random: bytes, label: str) -> bytes | None:
        return self.entries.get(client_random, {}).get(label)

    def __contains__(self, client_random: object) -> bool:
        return client_random in self.entries

    def __len__(self) -> int:
        return len(self.entries)
