"""The admin console: domains, users, aliases, quotas, the outbound queue, DNS and
DKIM records, live status, failed logins and throttled addresses.  Admins only."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from posthouse.accounts.addresses import AddressError, normalize_address
from posthouse.accounts.passwords import (
    PasswordPolicyError,
    check_password_policy,
    hash_password,
)
from posthouse.senderauth.dkim import KEY_KINDS
from posthouse.senderauth.keys import KeyStoreError, StoredKey, create_key, list_keys
from posthouse.senderauth.publish import DnsRecord, records
from posthouse.store.base import ALL_PROTOCOLS, NotFound, RecipientState, StoreError
from posthouse.web.guard import admin, form
from posthouse.web.render import render
from posthouse.web.session import Auth
from posthouse.web.state import WebState, web_state


def dns_records(state: WebState, domain: str) -> list[DnsRecord]:
    """What to publish for a domain (MX, SPF, DKIM keys, DMARC, client SRV): the
    same list as `posthouse dns`."""
    return records(state.ctx.config, domain)


def dkim_keys(state: WebState) -> list[StoredKey]:
    try:
        return list_keys(state.ctx.config.dir)
    except KeyStoreError:
        return []


def throttled(state: WebState) -> list[tuple[str, float]]:
    """Addresses (IP or account@IP) locked out of logging in, with seconds left."""
    throttle = state.ctx.authenticator.throttle
    now = time.monotonic()
    locked: list[tuple[str, float]] = []
    for ip, until in getattr(throttle, "_ip_locks", {}).items():
        if until > now:
            locked.append((ip, until - now))
    for (account, ip), until in getattr(throttle, "_pair_locks", {}).items():
        if until > now:
            locked.append((f"{account} from {ip}", until - now))
    return sorted(locked, key=lambda item: -item[1])


async def admin_page(
    request: Request, auth: Auth, *, error: str = "", status: int = 200
) -> Response:
    state = web_state(request)
    store = state.store
    users = await store.list_users()
    usage = {u.id: await store.usage(u.id) for u in users}
    domains = await store.list_domains()
    queue = await store.list_queue()
    listeners = state.monitor.status()
    return await render(
        request,
        auth,
        "admin.html",
        status=status,
        error=error,
        domains=domains,
        users=users,
        usage=usage,
        aliases=await store.list_aliases(),
        queue=queue,
        pending=RecipientState.PENDING,
        listeners=listeners,
        uptime=int(time.time() - state.monitor.started),
        per_minute=state.monitor.messages_per_minute(),
        failed=list(reversed(state.monitor.failed_logins))[:50],
        failures_by_ip=state.monitor.failures_by_ip(),
        throttled=throttled(state),
        records={d.name: dns_records(state, d.name) for d in domains},
        dkim_keys=dkim_keys(state),
        key_kinds=KEY_KINDS,
        all_protocols=sorted(ALL_PROTOCOLS),
        now=datetime.now(UTC),
    )


@admin
async def console(request: Request, auth: Auth) -> Response:
    return await admin_page(request, auth)


def _done(code: str) -> Response:
    return RedirectResponse(f"/admin?done={code}", status_code=303)


@admin
async def domain_add(request: Request, auth: Auth) -> Response:
    name = str((await form(request)).get("name", "")).strip()
    try:
        await web_state(request).store.add_domain(name)
    except (StoreError, ValueError) as e:
        return await admin_page(request, auth, error=str(e), status=400)
    return _done("created")


@admin
async def domain_delete(request: Request, auth: Auth) -> Response:
    name = str((await form(request)).get("name", ""))
    try:
        await web_state(request).store.delete_domain(name)
    except (StoreError, ValueError) as e:
        return await admin_page(request, auth, error=str(e), status=400)
    return _done("removed")


def _quota(text: str) -> int | None:
    text = text.strip().upper()
    if not text:
        return None
    factor = 1
    for suffix, size in (("K", 1024), ("M", 1024**2), ("G", 1024**3)):
        if text.endswith(suffix):
            text, factor = text[:-1], size
    if not text.isdigit():
        raise ValueError("quota: a number of bytes, optionally with K, M or G")
    return int(text) * factor


@admin
async def user_add(request: Request, auth: Auth) -> Response:
    data = await form(request)
    password = str(data.get("password", ""))
    try:
        address = normalize_address(str(data.get("address", "")))
        check_password_policy(password)
        quota = _quota(str(data.get("quota", "")))
        await web_state(request).store.add_user(
            address,
            await asyncio.to_thread(hash_password, password),
            display_name=str(data.get("display_name", ""))[:200],
            is_admin=data.get("is_admin") == "on",
            quota_bytes=quota,
        )
    except (StoreError, ValueError, AddressError, PasswordPolicyError) as e:
        return await admin_page(request, auth, error=str(e), status=400)
    return _done("created")


@admin
async def user_update(request: Request, auth: Auth) -> Response:
    data = await form(request)
    user_id = int(request.path_params["user"])
    store = web_state(request).store
    protocols = [p for p in sorted(ALL_PROTOCOLS) if data.get(f"p_{p}") == "on"]
    is_self = user_id == auth.user.id
    try:
        await store.update_user(
            user_id,
            quota_bytes=_quota(str(data.get("quota", ""))),
            # An admin cannot lock themselves out of the console.
            enabled=True if is_self else data.get("enabled") == "on",
            is_admin=True if is_self else data.get("is_admin") == "on",
            protocols=sorted({*protocols, "web"}) if is_self else protocols,
        )
    except (StoreError, ValueError) as e:
        return await admin_page(request, auth, error=str(e), status=400)
    return _done("updated")


@admin
async def user_delete(request: Request, auth: Auth) -> Response:
    user_id = int(request.path_params["user"])
    if user_id == auth.user.id:
        return await admin_page(request, auth, error="You cannot delete yourself.", status=400)
    try:
        await web_state(request).store.delete_user(user_id)
    except StoreError as e:
        return await admin_page(request, auth, error=str(e), status=400)
    return _done("removed")


@admin
async def alias_add(request: Request, auth: Auth) -> Response:
    data = await form(request)
    targets = [t.strip() for t in str(data.get("targets", "")).replace(";", ",").split(",")]
    try:
        await web_state(request).store.add_alias(
            str(data.get("source", "")).strip(), [t for t in targets if t]
        )
    except (StoreError, ValueError) as e:
        return await admin_page(request, auth, error=str(e), status=400)
    return _done("created")


@admin
async def alias_delete(request: Request, auth: Auth) -> Response:
    try:
        await web_state(request).store.delete_alias(str((await form(request)).get("source", "")))
    except (StoreError, ValueError) as e:
        return await admin_page(request, auth, error=str(e), status=400)
    return _done("removed")


@admin
async def queue_retry(request: Request, auth: Auth) -> Response:
    try:
        await web_state(request).store.update_queue_entry(
            int(request.path_params["entry"]), next_attempt=datetime.now(UTC)
        )
    except NotFound:
        pass
    return _done("retry")


@admin
async def queue_delete(request: Request, auth: Auth) -> Response:
    try:
        await web_state(request).store.delete_queue_entry(int(request.path_params["entry"]))
    except NotFound:
        pass
    return _done("removed")


@admin
async def dkim_generate(request: Request, auth: Auth) -> Response:
    """A new DKIM key for a domain; the queue signs with the newest one, so publish
    its record (shown below) before relying on it."""
    data = await form(request)
    state = web_state(request)
    domain = str(data.get("domain", ""))
    kind = str(data.get("kind", "rsa"))
    if await state.store.get_domain(domain) is None or kind not in KEY_KINDS:
        return await admin_page(request, auth, error="Choose one of your domains.", status=400)
    try:
        await asyncio.to_thread(create_key, state.ctx.config.dir, domain, kind)
    except (KeyStoreError, ValueError) as e:
        return await admin_page(request, auth, error=str(e), status=400)
    return _done("created")
