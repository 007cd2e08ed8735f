"""The Starlette application: routes, security headers, error pages, static files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from posthouse.server.context import ServerContext
from posthouse.web import (
    api,
    autoconfig,
    pages_admin,
    pages_auth,
    pages_compose,
    pages_mail,
    pages_settings,
)
from posthouse.web.guard import current_auth
from posthouse.web.headers import SecurityHeaders
from posthouse.web.metrics import metrics
from posthouse.web.monitor import ListenerStatus, Monitor
from posthouse.web.render import make_env, render
from posthouse.web.state import WebState

STATIC = Path(__file__).parent / "static"
POST = ["POST"]


def routes() -> list[Route | Mount]:
    m, c, s, a = pages_mail, pages_compose, pages_settings, pages_admin
    return [
        Route("/", m.home),
        Route("/mail", m.home),
        Route("/login", pages_auth.login_page),
        Route("/login", pages_auth.login, methods=POST),
        Route("/logout", pages_auth.logout, methods=POST),
        Route("/mail/{mailbox:int}", m.message_list),
        Route("/mail/{mailbox:int}/actions", m.actions, methods=POST),
        Route("/mail/{mailbox:int}/empty", m.empty, methods=POST),
        Route("/mail/{mailbox:int}/{uid:int}", m.read),
        Route("/mail/{mailbox:int}/{uid:int}/body", m.body),
        Route("/mail/{mailbox:int}/{uid:int}/source", m.source),
        Route("/mail/{mailbox:int}/{uid:int}/original", m.original),
        Route("/mail/{mailbox:int}/{uid:int}/thread", m.thread_view),
        Route("/mail/{mailbox:int}/{uid:int}/part/{index:int}", m.part),
        Route("/search", m.search),
        Route("/folders", m.folders),
        Route("/folders", m.folder_create, methods=POST),
        Route("/folders/{mailbox:int}/rename", m.folder_rename, methods=POST),
        Route("/folders/{mailbox:int}/delete", m.folder_delete, methods=POST),
        Route("/compose", c.compose),
        Route("/compose", c.compose_submit, methods=POST),
        Route("/settings", s.settings),
        Route("/settings/password", s.change_password, methods=POST),
        Route("/settings/protocols", s.set_protocols, methods=POST),
        Route("/settings/app-passwords", s.create_code, methods=POST),
        Route("/settings/app-passwords/{code:int}/revoke", s.revoke_code, methods=POST),
        Route("/settings/sessions/end-others", s.sign_out_others, methods=POST),
        Route("/settings/clients", s.clients),
        Route("/admin", a.console),
        Route("/admin/domains", a.domain_add, methods=POST),
        Route("/admin/domains/delete", a.domain_delete, methods=POST),
        Route("/admin/users", a.user_add, methods=POST),
        Route("/admin/users/{user:int}", a.user_update, methods=POST),
        Route("/admin/users/{user:int}/delete", a.user_delete, methods=POST),
        Route("/admin/aliases", a.alias_add, methods=POST),
        Route("/admin/aliases/delete", a.alias_delete, methods=POST),
        Route("/admin/queue/{entry:int}/retry", a.queue_retry, methods=POST),
        Route("/admin/queue/{entry:int}/delete", a.queue_delete, methods=POST),
        Route("/admin/dkim", a.dkim_generate, methods=POST),
        Route("/.well-known/autoconfig/mail/config-v1.1.xml", autoconfig.thunderbird),
        Route("/mail/config-v1.1.xml", autoconfig.thunderbird),
        Route("/autodiscover/autodiscover.xml", autoconfig.autodiscover, methods=["GET", "POST"]),
        Route("/Autodiscover/Autodiscover.xml", autoconfig.autodiscover, methods=["GET", "POST"]),
        Route("/metrics", metrics),
        Route("/api/v1", api.index),
        Route("/api/v1/me", api.me),
        Route("/api/v1/mailboxes", api.mailboxes),
        Route("/api/v1/mailboxes/{mailbox:int}/messages", api.messages),
        Route("/api/v1/mailboxes/{mailbox:int}/messages/{uid:int}", api.message),
        Route("/api/v1/mailboxes/{mailbox:int}/actions", api.actions, methods=POST),
        Route("/api/v1/search", api.search),
        Route("/api/v1/contacts", api.contacts),
        Route("/api/v1/send", api.send_message, methods=POST),
        Route("/api/v1/app-passwords", api.app_passwords, methods=["GET", "POST"]),
        Route("/api/v1/app-passwords/{code:int}", api.revoke_app_password, methods=["DELETE"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    if exc.status_code == 405 and request.method == "GET":
        return RedirectResponse("/mail", status_code=303)
    auth = await current_auth(request)
    return await render(
        request, auth, "error.html", status=exc.status_code, message=str(exc.detail)
    )


def create_app(
    ctx: ServerContext,
    *,
    status: Callable[[], list[ListenerStatus]] | None = None,
    monitor: Monitor | None = None,
) -> Starlette:
    """The web app over one running instance's store, accounts and settings."""
    monitor = monitor or Monitor()
    if status is not None:
        monitor.status = status
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(
                SecurityHeaders,
                on_status=lambda code: monitor.web_requests.labels(str(code)).inc(),
            )
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.web = WebState(ctx=ctx, env=make_env(), monitor=monitor)
    return app
