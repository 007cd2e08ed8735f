"""Who may do what: sign-in required, CSRF on every state-changing request, admin only.

CSRF (the OWASP synchronizer-token pattern): each session has a random token that
every form carries in a hidden `csrf` field and every API call in an
`X-CSRF-Token` header; a request that changes state without it is refused with 403.
The SameSite=Strict cookie already keeps other sites' requests from arriving signed
in; the token also covers browsers that ignore SameSite.  A cross-origin `Origin`
header is refused as well.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from posthouse.web import session
from posthouse.web.session import Auth
from posthouse.web.state import web_state

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_FIELDS = 2000

Handler = Callable[[Request, Auth], Awaitable[Response]]


async def current_auth(request: Request) -> Auth | None:
    if hasattr(request.state, "auth"):
        cached: Auth | None = request.state.auth
        return cached
    auth = await session.resume(web_state(request).store, request.cookies.get(session.COOKIE))
    request.state.auth = auth
    return auth


def origin_ok(request: Request) -> bool:
    """A browser's Origin (when sent) must be this site's own."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own


async def form(request: Request) -> FormData:
    cached = getattr(request.state, "form", None)
    if cached is None:
        cached = await request.form(max_files=100, max_fields=MAX_FORM_FIELDS)
        request.state.form = cached
    return cached


async def csrf_ok(request: Request, auth: Auth) -> bool:
    if not origin_ok(request):
        return False
    given = request.headers.get("x-csrf-token")
    if given is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await form(request)).get("csrf")
            given = value if isinstance(value, str) else None
    return session.same_token(auth.csrf, given)


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """An HTML page or form action for a signed-in user."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        auth = await current_auth(request)
        if auth is None:
            if request.method in SAFE_METHODS:
                return _login_redirect(request)
            return PlainTextResponse("Sign in first", status_code=401)
        if request.method not in SAFE_METHODS and not await csrf_ok(request, auth):
            return PlainTextResponse("Bad or missing CSRF token", status_code=403)
        return await handler(request, auth)

    return endpoint


def admin(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page only administrators reach; others get 404, as if it did not exist."""

    async def only_admins(request: Request, auth: Auth) -> Response:
        if not auth.user.is_admin:
            return PlainTextResponse("Not found", status_code=404)
        return await handler(request, auth)

    return page(functools.wraps(handler)(only_admins))


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A JSON API call: 401/403 as JSON, never a redirect."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        auth = await current_auth(request)
        if auth is None:
            return error(401, "not signed in")
        if request.method not in SAFE_METHODS and not await csrf_ok(request, auth):
            return error(403, "bad or missing CSRF token")
        return await handler(request, auth)

    return endpoint


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)
