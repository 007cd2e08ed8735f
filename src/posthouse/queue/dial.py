"""Dialing a route: try its hosts in order until one greets us, then EHLO, STARTTLS
(per the TLS policy) and, for a smarthost, AUTH.

A host that refuses, times out or greets with something other than 220 is skipped
for the next one (RFC 5321 §5.1); when none works, DialError says why.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, replace

from posthouse.config import RelaySettings
from posthouse.proto.smtp.events import Auth
from posthouse.queue.connection import ConnectionLost, OutboundConnection
from posthouse.queue.routes import Route, RouteError, Target, addresses_of
from posthouse.queue.tls import client_context
from posthouse.resolver import Resolver

log = logging.getLogger("posthouse.queue")


class DialError(Exception):
    def __init__(self, permanent: bool, status: str, text: str) -> None:
        super().__init__(text)
        self.permanent = permanent
        self.status = status
        self.text = text


class _Skip(Exception):
    """This host did not work out; try the next one."""

    def __init__(
        self, status: str, text: str, permanent: bool = False, retry_plain: bool = False
    ) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.permanent = permanent
        self.retry_plain = retry_plain


@dataclass(frozen=True)
class DialOptions:
    helo_name: str
    settings: RelaySettings


async def dial(route: Route, resolver: Resolver, options: DialOptions) -> OutboundConnection:
    """An open, greeted connection ready for MAIL FROM."""
    last = DialError(False, "4.4.1", "no host to try")
    for target in route.targets:
        try:
            addresses = await addresses_of(target, resolver)
        except RouteError as e:
            last = DialError(e.permanent, e.status, e.text)
            continue
        if not addresses:
            last = DialError(False, "4.4.4", f"{target.host} has no address")
            continue
        for address in addresses:
            try:
                return await _try(route, target, address, options)
            except _Skip as e:
                log.info("queue: %s [%s]:%d: %s", target.host, address, target.port, e.text)
                last = DialError(e.permanent, e.status, e.text)
                if not e.retry_plain:
                    continue
            # RFC 7435 §4 / RFC 3207 §4.1: opportunistic TLS that fails is retried in
            # plaintext, where the policy ("may") allows it.
            try:
                return await _try(replace(route, tls="none"), target, address, options)
            except _Skip as e:
                last = DialError(e.permanent, e.status, e.text)
    raise last


async def _try(
    route: Route, target: Target, address: str, options: DialOptions
) -> OutboundConnection:
    settings = options.settings
    verify = route.tls == "verify"
    implicit = client_context(verify, settings.tls_ca_file) if route.implicit_tls else None
    try:
        conn = await OutboundConnection.open(
            address,
            target.port,
            host=target.host,
            connect_timeout=settings.connect_timeout,
            command_timeout=settings.command_timeout,
            source_address=settings.source_address,
            tls=implicit,
        )
    except (OSError, TimeoutError, ssl.SSLError) as e:
        raise _Skip("4.4.1", f"connect to {target.host}[{address}]:{target.port}: {e}") from None
    try:
        await _prepare(conn, route, target, options)
    except _Skip:
        await conn.close()
        raise
    except ConnectionLost as e:
        await conn.close(quit=False)
        raise _Skip("4.4.2", str(e)) from None
    except BaseException:
        await conn.close(quit=False)
        raise
    return conn


async def _prepare(
    conn: OutboundConnection, route: Route, target: Target, options: DialOptions
) -> None:
    greeting = await conn.read_reply()
    if greeting.code != 220:
        # RFC 5321 §3.1: a 554 greeting means no service here; try the next host.
        raise _Skip("4.4.2", f"{target.host} greeted with {greeting.code} {greeting.text}")
    reply = await conn.hello(options.helo_name)
    if reply.code != 250:
        raise _Skip("4.4.2", f"{target.host} refused EHLO/HELO: {reply.code} {reply.text}")
    if route.tls != "none" and not conn.tls:
        await _starttls(conn, route, target, options)
    if route.smarthost and options.settings.smarthost_username:
        await _authenticate(conn, target, options.settings)


async def _starttls(
    conn: OutboundConnection, route: Route, target: Target, options: DialOptions
) -> None:
    required = route.tls in ("encrypt", "verify")
    if not conn.offers("STARTTLS"):
        if required:
            raise _Skip("4.7.4", f"{target.host} offers no STARTTLS and policy requires TLS")
        return
    verify = route.tls == "verify"
    context = client_context(verify, options.settings.tls_ca_file)
    try:
        reply = await conn.starttls(context, target.host if verify else None)
    except (ssl.SSLError, ConnectionLost) as e:
        text = f"TLS with {target.host} failed: {e}"
        raise _Skip("4.7.5", text, retry_plain=not required) from None
    if reply.code != 220:
        if required:
            raise _Skip("4.7.4", f"{target.host} refused STARTTLS: {reply.code} {reply.text}")
        return
    reply = await conn.hello(options.helo_name)
    if reply.code != 250:
        raise _Skip("4.4.2", f"{target.host} refused EHLO after TLS: {reply.code}")


async def _authenticate(conn: OutboundConnection, target: Target, settings: RelaySettings) -> None:
    if not conn.tls and settings.smarthost_tls != "none":
        raise _Skip("4.7.0", f"not sending credentials to {target.host} without TLS")
    mechanisms = conn.extensions.get("AUTH", "").upper().split()
    user = settings.smarthost_username.encode()
    password = settings.smarthost_password.encode()
    if "PLAIN" in mechanisms:
        # RFC 4616 §2: authzid NUL authcid NUL passwd.
        reply = await conn.command(Auth("PLAIN", b"\0" + user + b"\0" + password))
    elif "LOGIN" in mechanisms:
        reply = await conn.command(Auth("LOGIN", None))
        for secret in (user, password):
            if reply.code != 334:
                break
            conn.write(conn.core.send_auth_response(secret))
            await conn.drain()
            reply = await conn.read_reply()
    else:
        raise _Skip("4.7.0", f"{target.host} offers no AUTH PLAIN or LOGIN")
    if reply.code != 235:
        # Not permanent even on 535: credentials are fixed by the operator, and the
        # mail waits in the queue meanwhile.
        raise _Skip("4.7.8", f"AUTH at {target.host}: {reply.code} {reply.text}")
