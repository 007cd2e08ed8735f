"""Which protocol a connection speaks: `--port` first, then its first bytes (a
greeting, a ClientHello, a SOCKS handshake), then the well-known ports."""

from __future__ import annotations

import re
from dataclasses import dataclass

from posthouse.analyzer.tcp import Connection, Data, Direction

# protocol name -> (application protocol, TLS from the first byte)
SCHEMES: dict[str, tuple[str, bool]] = {
    "smtp": ("SMTP", False),
    "submission": ("SMTP", False),
    "smtps": ("SMTP", True),
    "submissions": ("SMTP", True),
    "pop3": ("POP3", False),
    "pop": ("POP3", False),
    "pop3s": ("POP3", True),
    "imap": ("IMAP", False),
    "imaps": ("IMAP", True),
    "https": ("HTTP", True),
    "http": ("HTTP", False),
    "tls": ("unknown", True),
}

PORTS: dict[int, tuple[str, bool]] = {
    25: ("SMTP", False),
    587: ("SMTP", False),
    2525: ("SMTP", False),
    2587: ("SMTP", False),
    465: ("SMTP", True),
    2465: ("SMTP", True),
    110: ("POP3", False),
    2110: ("POP3", False),
    995: ("POP3", True),
    2995: ("POP3", True),
    143: ("IMAP", False),
    2143: ("IMAP", False),
    993: ("IMAP", True),
    2993: ("IMAP", True),
    443: ("HTTP", True),
    8443: ("HTTP", True),
    1080: ("SOCKS", False),
}

_SMTP_GREETING = re.compile(rb"(220|421|554)[ -]")
_SMTP_CLIENT = re.compile(rb"(EHLO|HELO|LHLO)\b", re.IGNORECASE)
_POP3_CLIENT = re.compile(rb"(CAPA|USER|APOP|STLS|AUTH)\b", re.IGNORECASE)
_IMAP_CLIENT = re.compile(
    rb"[A-Za-z0-9.]+ (CAPABILITY|LOGIN|AUTHENTICATE|STARTTLS|ID|SELECT)\b", re.IGNORECASE
)
_HTTP_CLIENT = re.compile(rb"(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH) \S+ HTTP/1\.[01]\r?\n")


@dataclass(frozen=True, slots=True)
class Detected:
    protocol: str  # SMTP, POP3, IMAP, HTTP, SOCKS, unknown
    tls: bool  # TLS from the first byte
    reason: str


def parse_port_overrides(values: list[str] | tuple[str, ...]) -> dict[int, tuple[str, bool]]:
    """`--port PROTO=PORT` values; ValueError with a readable message on a bad one."""
    out: dict[int, tuple[str, bool]] = {}
    for value in values:
        name, sep, port = value.partition("=")
        if not sep or not port.isdigit() or name.lower() not in SCHEMES:
            raise ValueError(
                f"--port {value!r}: expected PROTO=PORT with PROTO one of "
                + ", ".join(sorted(SCHEMES))
            )
        out[int(port)] = SCHEMES[name.lower()]
    return out


def first_bytes(conn: Connection, direction: Direction, limit: int = 64) -> bytes:
    out = b""
    for event in conn.events:
        if isinstance(event, Data) and event.direction is direction:
            out += event.data
            if len(out) >= limit:
                break
    return out


def detect(conn: Connection, overrides: dict[int, tuple[str, bool]]) -> Detected:
    port = conn.server.port
    if port in overrides:
        proto, tls = overrides[port]
        return Detected(proto, tls, f"--port {port}")
    return detect_bytes(
        first_bytes(conn, Direction.FROM_CLIENT), first_bytes(conn, Direction.FROM_SERVER), port
    )


def detect_bytes(client: bytes, server: bytes, port: int) -> Detected:
    by_port = PORTS.get(port)
    if client[:1] == b"\x16" and client[1:2] == b"\x03":
        plain = _plain_greeting(server)
        if plain is not None:
            # The client expected implicit TLS, the server greets in the clear: the two
            # sides disagree, and what crossed the wire is the server's plaintext.
            return Detected(
                plain,
                False,
                "greeting (the client sent a TLS ClientHello to a server that speaks in the clear)",
            )
        inner = by_port[0] if by_port else "unknown"
        return Detected(inner, True, f"TLS ClientHello (inner protocol by port {port})")
    if _socks5(client, server):
        return Detected("SOCKS", False, "SOCKS5 handshake")
    if _SMTP_GREETING.match(server) or _SMTP_CLIENT.match(client):
        return Detected("SMTP", False, "greeting" if server[:3] == b"220" else "EHLO/HELO")
    if server.startswith((b"+OK", b"-ERR")) or _POP3_CLIENT.match(client):
        return Detected("POP3", False, "greeting" if server else "POP3 command")
    if server.startswith((b"* OK", b"* PREAUTH", b"* BYE")) or _IMAP_CLIENT.match(client):
        return Detected("IMAP", False, "greeting" if server else "IMAP command")
    if _HTTP_CLIENT.match(client):
        return Detected("HTTP", False, "HTTP request")
    if server[:1] == b"\x16" and server[1:2] == b"\x03":
        inner = by_port[0] if by_port else "unknown"
        return Detected(inner, True, "TLS records")
    if by_port is not None:
        proto, tls = by_port
        return Detected(proto, tls, f"port {port}")
    return Detected("unknown", False, "no known port or greeting")


def _socks5(client: bytes, server: bytes) -> bool:
    """RFC 1928 §3: VER=5 NMETHODS METHODS from the client; VER=5 METHOD back, then
    (after any sub-negotiation) a reply that starts with VER=5 again."""
    if len(client) < 3 or client[0] != 5 or not 1 <= client[1] <= 16:
        return False
    if any(m > 0x09 and m < 0x80 for m in client[2 : 2 + client[1]]):
        return False
    return not server or (server[0] == 5 and (len(server) == 2 or server[2] in (1, 5)))


def _plain_greeting(server: bytes) -> str | None:
    if _SMTP_GREETING.match(server):
        return "SMTP"
    if server.startswith((b"+OK", b"-ERR")):
        return "POP3"
    if server.startswith((b"* OK", b"* PREAUTH", b"* BYE")):
        return "IMAP"
    return None
