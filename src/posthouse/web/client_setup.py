"""Which servers a mail client should use, from the configured listeners: for the
"set up your mail client" page, Thunderbird autoconfig and Outlook autodiscover."""

from __future__ import annotations

from dataclasses import dataclass

from posthouse.config import Config

# listener name -> (protocol shown, kind, what the connection security is called)
_KINDS = {
    "imaps": ("IMAP", "imap", "SSL"),
    "imap": ("IMAP", "imap", "STARTTLS"),
    "pop3s": ("POP3", "pop3", "SSL"),
    "pop3": ("POP3", "pop3", "STARTTLS"),
    "submissions": ("SMTP", "smtp", "SSL"),
    "submission": ("SMTP", "smtp", "STARTTLS"),
}


@dataclass(frozen=True, slots=True)
class ClientServer:
    protocol: str  # IMAP, POP3, SMTP
    kind: str  # imap, pop3, smtp (Thunderbird's server types)
    hostname: str
    port: int
    socket_type: str  # SSL (implicit TLS) or STARTTLS, as Thunderbird spells them
    listener: str


def client_servers(config: Config) -> list[ClientServer]:
    """Incoming then outgoing servers, implicit TLS first (RFC 8314 §3 prefers it)."""
    servers = []
    for name in ("imaps", "imap", "pop3s", "pop3", "submissions", "submission"):
        listener = config.listener(name)
        if listener is None:
            continue
        protocol, kind, socket_type = _KINDS[name]
        if listener.tls == "none":
            socket_type = "plain"
        servers.append(
            ClientServer(protocol, kind, config.hostname, listener.port, socket_type, name)
        )
    return servers
