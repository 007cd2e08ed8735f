"""Account settings: password, protocol switches, authorization codes (app passwords),
and the "set up your mail client" page."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from posthouse.accounts.app_passwords import DEFAULT_PROTOCOLS, create_app_password
from posthouse.accounts.passwords import (
    PasswordPolicyError,
    check_password_policy,
    hash_password,
    verify_password,
)
from posthouse.store.base import AlreadyExists, NotFound, Protocols, StoreError
from posthouse.web.client_setup import client_servers
from posthouse.web.guard import form, page
from posthouse.web.render import render
from posthouse.web.session import Auth
from posthouse.web.state import web_state

# The switches a user may flip here; webmail itself stays on (it is where they are).
USER_SWITCHES = (Protocols.IMAP.value, Protocols.POP3.value, Protocols.SMTP.value)
CODE_PROTOCOLS = (*USER_SWITCHES, Protocols.WEB.value)


async def settings_page(
    request: Request, auth: Auth, *, error: str = "", new_code: str = "", status: int = 200
) -> Response:
    store = web_state(request).store
    user = await store.get_user_by_id(auth.user.id) or auth.user
    codes = [c for c in await store.list_app_passwords(user.id) if not c.revoked]
    return await render(
        request,
        auth,
        "settings.html",
        status=status,
        account=user,
        switches=USER_SWITCHES,
        code_protocols=CODE_PROTOCOLS,
        default_code_protocols=DEFAULT_PROTOCOLS,
        codes=codes,
        new_code=new_code,
        error=error,
        usage=await store.usage(user.id),
    )


@page
async def settings(request: Request, auth: Auth) -> Response:
    return await settings_page(request, auth)


@page
async def change_password(request: Request, auth: Auth) -> Response:
    state = web_state(request)
    data = await form(request)
    current = str(data.get("current", ""))
    new = str(data.get("new", ""))
    if new != str(data.get("confirm", "")):
        return await settings_page(request, auth, error="The new passwords differ.", status=400)
    user = await state.store.get_user_by_id(auth.user.id) or auth.user
    if not await asyncio.to_thread(verify_password, user.password_hash, current):
        ip = request.client.host if request.client else ""
        state.monitor.login_failed(user.address, ip, "web:password-change")
        wrong = "The current password is wrong."
        return await settings_page(request, auth, error=wrong, status=400)
    try:
        check_password_policy(new)
    except PasswordPolicyError as e:
        return await settings_page(request, auth, error=str(e), status=400)
    new_hash = await asyncio.to_thread(hash_password, new)
    await state.store.update_user(user.id, password_hash=new_hash)
    # Whoever else was signed in with the old password is signed out.
    await state.store.delete_web_sessions(user.id, keep=auth.session.id)
    return RedirectResponse("/settings?done=password", status_code=303)


@page
async def set_protocols(request: Request, auth: Auth) -> Response:
    state = web_state(request)
    data = await form(request)
    chosen = {p for p in USER_SWITCHES if data.get(p) == "on"}
    user = await state.store.get_user_by_id(auth.user.id) or auth.user
    kept = {p for p in user.protocols if p not in USER_SWITCHES}
    await state.store.update_user(user.id, protocols=kept | chosen)
    return RedirectResponse("/settings?done=protocols", status_code=303)


@page
async def create_code(request: Request, auth: Auth) -> Response:
    state = web_state(request)
    data = await form(request)
    name = str(data.get("name", ""))
    protocols = [p for p in CODE_PROTOCOLS if data.get(f"code_{p}") == "on"]
    try:
        created = await create_app_password(state.store, auth.user, name, protocols)
    except AlreadyExists:
        return await settings_page(request, auth, error="A code with that name exists.", status=400)
    except (ValueError, StoreError) as e:
        return await settings_page(request, auth, error=str(e), status=400)
    # Shown once, in this response only; the store keeps a hash.
    return await settings_page(request, auth, new_code=created.code)


@page
async def revoke_code(request: Request, auth: Auth) -> Response:
    try:
        await web_state(request).store.revoke_app_password(
            auth.user.id, int(request.path_params["code"])
        )
    except NotFound:
        return RedirectResponse("/settings", status_code=303)
    return RedirectResponse("/settings?done=revoked", status_code=303)


@page
async def sign_out_others(request: Request, auth: Auth) -> Response:
    await web_state(request).store.delete_web_sessions(auth.user.id, keep=auth.session.id)
    return RedirectResponse("/settings?done=updated", status_code=303)


@page
async def clients(request: Request, auth: Auth) -> Response:
    ctx = web_state(request).ctx
    return await render(request, auth, "clients.html", servers=client_servers(ctx.config))
