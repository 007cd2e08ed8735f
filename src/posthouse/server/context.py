"""What every session of one running instance shares."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from dataclasses import dataclass, field

from posthouse.accounts.authenticate import Authenticator
from posthouse.accounts.directory import Directory
from posthouse.config import Config
from posthouse.config import Listener as ListenerConfig
from posthouse.resolver import Resolver, for_config
from posthouse.store.base import Store

log = logging.getLogger("posthouse")


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@dataclass
class ServerContext:
    config: Config
    store: Store
    directory: Directory
    authenticator: Authenticator
    tls: ssl.SSLContext | None
    shutting_down: asyncio.Event = field(default_factory=asyncio.Event)
    resolver: Resolver | None = None  # DNS for sender checks; made from the config when None

    @property
    def hostname(self) -> str:
        return self.config.hostname

    def dns(self) -> Resolver:
        """The resolver: the config's [dns] table (a lab), else real DNS."""
        if self.resolver is None:
            self.resolver = for_config(self.config)
        return self.resolver

    def plaintext_auth_allowed(self, remote_ip: str, tls_active: bool) -> bool:
        """Passwords travel only inside TLS, except from loopback (nothing crosses a
        network) or when the operator turned teaching mode on (DESIGN.md principle 5)."""
        return tls_active or is_loopback(remote_ip) or self.config.teaching_mode

    def starttls_available(self, listener: ListenerConfig, tls_active: bool) -> bool:
        """The listener offers the upgrade (STARTTLS, STLS) and it has not happened."""
        return not tls_active and self.tls is not None and listener.tls == "starttls"

    def plaintext_refusal(
        self, listener: ListenerConfig, tls_active: bool, upgrade: str, implicit: str
    ) -> str:
        """Why a password was refused and what to do: send `upgrade` (STARTTLS, STLS)
        first, or connect to the `implicit` TLS listener."""
        if self.starttls_available(listener, tls_active):
            how = f"send {upgrade} first"
        else:
            port = self.config.listener(implicit)
            how = f"connect to the implicit-TLS port {port.port}" if port else "use TLS"
        return f"Passwords are not accepted without TLS: {how}"
