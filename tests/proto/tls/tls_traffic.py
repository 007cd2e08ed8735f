"""Real TLS sessions made in memory: Python's ssl on two MemoryBIO pairs, no sockets.

`make_session()` runs a client and a server SSLObject against each other, records the
bytes each side sent, and returns them with the key log the client wrote. Python 3.11
cannot choose TLS 1.3 suites, so `make_session_with_tls13_suite()` runs this file in a
child process whose OpenSSL configuration (OPENSSL_CONF) allows only that suite.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import trustme

HOSTNAME = "mail.example.test"


@dataclass(frozen=True)
class Session:
    client_stream: bytes  # every byte the client sent
    server_stream: bytes
    keylog: str
    cipher: str  # OpenSSL's name for the negotiated suite, e.g. TLS_AES_256_GCM_SHA384
    version: str  # e.g. "TLSv1.3"
    client_data: bytes  # application data the client wrote
    server_data: bytes
    flights: tuple[tuple[bool, bytes], ...] = ()  # (from client, bytes) in the order sent


@cache
def certificate_authority() -> tuple[trustme.CA, trustme.LeafCert]:
    ca = trustme.CA(organization_name="posthouse test CA", key_type=trustme.KeyType.RSA)
    leaf = ca.issue_cert(
        HOSTNAME,
        "mx.example.test",
        organization_name="posthouse test",
        key_type=trustme.KeyType.RSA,
    )
    return ca, leaf


class _Pair:
    def __init__(self, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext) -> None:
        self.c_in, self.c_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.s_in, self.s_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.client = client_ctx.wrap_bio(self.c_in, self.c_out, server_hostname=HOSTNAME)
        self.server = server_ctx.wrap_bio(self.s_in, self.s_out, server_side=True)
        self.client_stream = bytearray()
        self.server_stream = bytearray()
        self.flights: list[tuple[bool, bytes]] = []

    def pump(self) -> bool:
        moved = False
        data = self.c_out.read()
        if data:
            self.flights.append((True, data))
            self.client_stream += data
            self.s_in.write(data)
            moved = True
        data = self.s_out.read()
        if data:
            self.flights.append((False, data))
            self.server_stream += data
            self.c_in.write(data)
            moved = True
        return moved

    def handshake(self) -> None:
        done = {"c": False, "s": False}
        for _ in range(50):
            for key, obj in (("c", self.client), ("s", self.server)):
                if not done[key]:
                    try:
                        obj.do_handshake()
                        done[key] = True
                    except ssl.SSLWantReadError:
                        pass
            if not self.pump() and all(done.values()):
                return
        raise RuntimeError("handshake did not finish")

    def send(self, sender: ssl.SSLObject, receiver: ssl.SSLObject, data: bytes) -> None:
        sender.write(data)
        got = bytearray()
        for _ in range(10_000):
            self.pump()
            try:
                while True:
                    chunk = receiver.read(65536)
                    if not chunk:
                        break
                    got += chunk
            except ssl.SSLWantReadError:
                pass
            if len(got) >= len(data):
                break
        assert bytes(got) == data

    def close(self) -> None:
        for obj in (self.client, self.server):
            try:
                obj.unwrap()
            except (ssl.SSLWantReadError, ssl.SSLError):
                pass
            self.pump()


def make_session(
    *,
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
    min_version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    options: int = 0,
    alpn: list[str] | None = None,
    exchanges: list[tuple[bytes, bytes]] | None = None,
    close: bool = True,
) -> Session:
    """A session with `exchanges` of (client says, server answers)."""
    ca, leaf = certificate_authority()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(server_ctx)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client_ctx)
    for ctx in (server_ctx, client_ctx):
        with warnings.catch_warnings():  # TLS 1.0 and 1.1 on purpose: old peers exist
            warnings.simplefilter("ignore", DeprecationWarning)
            if min_version is not None:
                ctx.minimum_version = min_version
            ctx.maximum_version = max_version
        ctx.options |= options
    if ciphers:
        server_ctx.set_ciphers(ciphers)
        client_ctx.set_ciphers(ciphers)
    if alpn:
        server_ctx.set_alpn_protocols(alpn)
        client_ctx.set_alpn_protocols(alpn)
    if exchanges is None:
        exchanges = [
            (b"EHLO client.example\r\n", b"250-mail.example.test\r\n250 PIPELINING\r\n"),
            (b"x" * 40_000 + b"\r\n", b"250 2.0.0 queued as " + b"y" * 20_000 + b"\r\n"),
        ]
    with tempfile.TemporaryDirectory() as tmp:
        keylog_path = Path(tmp) / "keys.log"
        client_ctx.keylog_filename = str(keylog_path)
        pair = _Pair(client_ctx, server_ctx)
        pair.handshake()
        cipher, version, _ = pair.client.cipher() or ("", "", 0)
        for said, answer in exchanges:
            pair.send(pair.client, pair.server, said)
            pair.send(pair.server, pair.client, answer)
        if close:
            pair.close()
        keylog = keylog_path.read_text()
    return Session(
        bytes(pair.client_stream),
        bytes(pair.server_stream),
        keylog,
        cipher,
        version,
        b"".join(c for c, _ in exchanges),
        b"".join(s for _, s in exchanges),
        tuple(pair.flights),
    )


_OPENSSL_CONF = """openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = {suite}
"""


def make_session_with_tls13_suite(suite: str) -> Session:
    """A TLS 1.3 session on `suite` (OpenSSL name), made in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "openssl.cnf"
        conf.write_text(_OPENSSL_CONF.format(suite=suite))
        env = dict(os.environ, OPENSSL_CONF=str(conf))
        proc = subprocess.run(
            [sys.executable, __file__],
            env=env,
            capture_output=True,
            check=True,
            timeout=120,
        )
    raw = json.loads(proc.stdout)
    for key in ("client_stream", "server_stream", "client_data", "server_data"):
        raw[key] = bytes.fromhex(raw[key])
    raw["flights"] = tuple((side, bytes.fromhex(data)) for side, data in raw["flights"])
    return Session(**raw)


def _main() -> None:
    session = make_session()
    out = asdict(session)
    for key in ("client_stream", "server_stream", "client_data", "server_data"):
        out[key] = out[key].hex()
    out["flights"] = [(side, data.hex()) for side, data in session.flights]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    _main()
