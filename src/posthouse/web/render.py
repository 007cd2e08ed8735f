"""Templates: one Jinja2 environment, autoescaping on, and the sidebar every page shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from posthouse import __version__
from posthouse.store.base import Mailbox, SpecialUse
from posthouse.web.session import Auth
from posthouse.web.state import web_state

# Special-use folders first, in this order (RFC 6154 names), then the rest by name.
FOLDER_ORDER = {
    None: 0,
    str(SpecialUse.DRAFTS): 1,
    str(SpecialUse.SENT): 2,
    str(SpecialUse.ARCHIVE): 3,
    str(SpecialUse.JUNK): 4,
    str(SpecialUse.TRASH): 5,
}

NOTICES = {
    "sent": "Message sent.",
    "saved": "Draft saved.",
    "moved": "Moved.",
    "deleted": "Moved to Trash.",
    "expunged": "Deleted for good.",
    "updated": "Updated.",
    "emptied": "Emptied.",
    "created": "Created.",
    "renamed": "Renamed.",
    "removed": "Removed.",
    "password": "Password changed. Other sessions were signed out.",
    "protocols": "Access switches saved.",
    "revoked": "Authorization code revoked.",
    "retry": "Delivery will be retried now.",
}


def filesize(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def shortdate(when: datetime | None) -> str:
    if when is None:
        return ""
    local = when.astimezone()
    now = datetime.now(UTC).astimezone()
    if local.date() == now.date():
        return local.strftime("%H:%M")
    if local.year == now.year:
        return local.strftime("%d %b")
    return local.strftime("%d %b %Y")


def longdate(when: datetime | None) -> str:
    return "" if when is None else when.astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


def folder_label(mailbox: Mailbox) -> str:
    return mailbox.name.replace("/", " / ")


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("posthouse.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["filesize"] = filesize
    env.filters["shortdate"] = shortdate
    env.filters["longdate"] = longdate
    env.filters["folder_label"] = folder_label
    env.filters["clock"] = lambda t: datetime.fromtimestamp(t).strftime("%d %b %H:%M:%S")
    env.globals["version"] = __version__
    return env


def sort_folders(mailboxes: list[Mailbox]) -> list[Mailbox]:
    def key(m: Mailbox) -> tuple[int, str]:
        if m.name == "INBOX":
            return (-1, "")
        return (FOLDER_ORDER.get(m.special_use, 9), m.name.lower())

    return sorted(mailboxes, key=key)


async def render(
    request: Request,
    auth: Auth | None,
    template: str,
    *,
    status: int = 200,
    current_mailbox: int | None = None,
    **context: Any,
) -> HTMLResponse:
    state = web_state(request)
    folders: list[Mailbox] = []
    counts: dict[int, tuple[int, int]] = {}
    if auth is not None:
        folders = sort_folders(await state.store.list_mailboxes(auth.user.id))
        counts = await state.folder_counts(auth.user.id, folders)
    notice = NOTICES.get(request.query_params.get("done", ""), "")
    html = state.env.get_template(template).render(
        auth=auth,
        user=auth.user if auth else None,
        csrf=auth.csrf if auth else "",
        folders=folders,
        counts=counts,
        current_mailbox=current_mailbox,
        notice=notice,
        hostname=state.ctx.hostname,
        **context,
    )
    return HTMLResponse(html, status_code=status)
