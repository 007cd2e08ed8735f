"""Sign-in and sign-out."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from posthouse.accounts.authenticate import AuthReason
from posthouse.web import session
from posthouse.web.guard import current_auth, form, origin_ok, page
from posthouse.web.render import render
from posthouse.web.session import Auth
from posthouse.web.state import web_state

_REASONS = {
    AuthReason.BAD_CREDENTIALS: "Wrong address or password.",
    AuthReason.DISABLED: "This account is disabled.",
    AuthReason.PROTOCOL_DISABLED: "Webmail is switched off for this account.",
    AuthReason.THROTTLED: "Too many failed sign-ins. Try again later.",
}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host` or `https://…` (open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/mail"
    if any(c in target for c in "\r\n\\"):
        return "/mail"
    return target


def set_cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict"
    )


async def _login_form(
    request: Request, error: str = "", status: int = 200, username: str = ""
) -> Response:
    token = secrets.token_urlsafe(24)
    response = await render(
        request,
        None,
        "login.html",
        status=status,
        login_csrf=token,
        error=error,
        username=username,
        next=safe_next(request.query_params.get("next")),
    )
    set_cookie(response, session.LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


async def login_page(request: Request) -> Response:
    if await current_auth(request) is not None:
        return RedirectResponse("/mail", status_code=303)
    return await _login_form(request)


async def login(request: Request) -> Response:
    data = await form(request)
    expected = request.cookies.get(session.LOGIN_CSRF_COOKIE, "")
    given = data.get("csrf")
    if not origin_ok(request) or not expected or not session.same_token(
        expected, given if isinstance(given, str) else None
    ):
        return PlainTextResponse("Bad or missing CSRF token: reload the page", status_code=403)
    username = str(data.get("username", "")).strip()[:320]
    password = str(data.get("password", ""))[:1024]
    state = web_state(request)
    result = await state.ctx.authenticator.authenticate(
        username, password, protocol="web", remote_ip=client_ip(request)
    )
    if not result.ok or result.user is None:
        if result.reason is not AuthReason.BAD_CREDENTIALS:
            state.monitor.login_failed(username, client_ip(request), f"web:{result.reason}")
        status = 429 if result.reason is AuthReason.THROTTLED else 401
        response = await _login_form(
            request, _REASONS.get(result.reason, "Sign-in refused."), status, username
        )
        if result.retry_after:
            response.headers["Retry-After"] = str(int(result.retry_after) + 1)
        return response
    token, _record = await session.start(state.store, result.user, client_ip(request))
    target = safe_next(str(data.get("next", "")) or None)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, session.COOKIE, token)
    response.delete_cookie(session.LOGIN_CSRF_COOKIE, path="/", secure=True, httponly=True)
    return response


@page
async def logout(request: Request, auth: Auth) -> Response:
    await web_state(request).store.delete_web_session(auth.session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response
