"""Reading and organising mail: folder list, message list, read view, source,
attachments, threads, search, bulk actions, folders."""

from __future__ import annotations

from email.utils import encode_rfc2231
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from posthouse.mime import display
from posthouse.store.base import (
    AlreadyExists,
    FlagMode,
    Mailbox,
    NotFound,
    SortKey,
    SpecialUse,
    StoreError,
)
from posthouse.web.guard import form, page
from posthouse.web.mail_access import own_mailbox, own_message
from posthouse.web.pages_auth import safe_next
from posthouse.web.render import render, sort_folders
from posthouse.web.session import Auth
from posthouse.web.state import web_state
from posthouse.web.trust import assess

PAGE_SIZE = 50
SEEN, FLAGGED, DRAFT = "\\Seen", "\\Flagged", "\\Draft"

# The frame that shows a message's HTML: no script, no form, no plugin, no request
# except data: images (and remote images once the user asks), links open outside.
BODY_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:{remote}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)
BODY_STYLE = (
    "body{font-family:system-ui,sans-serif;font-size:15px;line-height:1.45;margin:12px;"
    "color:#111;background:#fff;overflow-wrap:anywhere}img{max-width:100%;height:auto}"
    "table{max-width:100%}pre{white-space:pre-wrap}"
)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@page
async def home(request: Request, auth: Auth) -> Response:
    inbox = await web_state(request).store.get_mailbox(auth.user.id, "INBOX")
    if inbox is None:
        raise HTTPException(404, "No INBOX")
    return RedirectResponse(f"/mail/{inbox.id}", status_code=303)


@page
async def message_list(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    mailbox = await own_mailbox(store, auth, request.path_params["mailbox"])
    q = request.query_params
    try:
        sort = SortKey(q.get("sort", "arrival"))
    except ValueError:
        sort = SortKey.ARRIVAL
    descending = q.get("dir", "desc") != "asc"
    threads = q.get("threads") == "1"
    unseen = q.get("unseen") == "1"
    page_no = max(1, _int(q.get("page"), 1))
    listing = await store.list_summaries(
        mailbox.id,
        offset=(page_no - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        sort=sort,
        descending=descending,
        threads=threads,
        unseen_only=unseen,
    )
    pages = max(1, -(-listing.total // PAGE_SIZE))
    if threads:  # threads are counted only as far as this page needed
        pages = page_no + 1 if listing.more else page_no
    base = {"sort": sort.value, "dir": "desc" if descending else "asc"}
    if threads:
        base["threads"] = "1"
    if unseen:
        base["unseen"] = "1"

    def link(**changes: Any) -> str:
        params = {**base, **{k: str(v) for k, v in changes.items()}}
        return f"/mail/{mailbox.id}?{urlencode(params)}"

    return await render(
        request,
        auth,
        "list.html",
        current_mailbox=mailbox.id,
        mailbox=mailbox,
        items=listing.items,
        total=listing.total,
        page=page_no,
        pages=pages,
        sort=sort.value,
        descending=descending,
        threads=threads,
        more=listing.more,
        unseen=unseen,
        link=link,
        search=None,
        targets=await _move_targets(request, auth, mailbox),
        is_trash=mailbox.special_use in (str(SpecialUse.TRASH), str(SpecialUse.JUNK)),
        back=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    )


async def _move_targets(request: Request, auth: Auth, current: Mailbox | None) -> list[Mailbox]:
    boxes = await web_state(request).store.list_mailboxes(auth.user.id)
    return [m for m in sort_folders(boxes) if current is None or m.id != current.id]


@page
async def read(request: Request, auth: Auth) -> Response:
    state = web_state(request)
    store = state.store
    mailbox, summary = await own_message(
        store, auth, request.path_params["mailbox"], request.path_params["uid"]
    )
    if DRAFT in summary.record.flags and mailbox.special_use == str(SpecialUse.DRAFTS):
        return RedirectResponse(f"/compose?draft={mailbox.id}:{summary.record.uid}", 303)
    raw = await store.read_message(summary.record.blob_id)
    rendered = display.render(raw)
    if SEEN not in summary.record.flags:
        changed, _ = await store.store_flags(mailbox.id, [summary.record.uid], [SEEN], FlagMode.ADD)
        if changed:
            state.note_unseen_change(auth.user.id, mailbox.id, changed[0].modseq, -1)
    msg = display.parse(raw)
    meta = await store.message_meta(summary.record.id)
    domains = {d.name for d in await store.list_domains()}
    trust = assess(msg, meta, hostname=state.ctx.hostname, local_domains=domains)
    thread = await store.thread(auth.user.id, summary.thread_key) if summary.thread_key else []
    return await render(
        request,
        auth,
        "message.html",
        current_mailbox=mailbox.id,
        mailbox=mailbox,
        m=summary,
        headers={
            name: display.header_text(msg, name)
            for name in ("from", "to", "cc", "reply-to", "date", "subject")
        },
        rendered=rendered,
        images=request.query_params.get("images") == "1",
        trust=trust,
        thread=thread,
        targets=await _move_targets(request, auth, mailbox),
        flagged=FLAGGED in summary.record.flags,
    )


@page
async def body(request: Request, auth: Auth) -> Response:
    """The sanitised HTML of a message, for the sandboxed frame of the read view."""
    store = web_state(request).store
    _mailbox, summary = await own_message(
        store, auth, request.path_params["mailbox"], request.path_params["uid"]
    )
    images = request.query_params.get("images") == "1"
    rendered = display.render(
        await store.read_message(summary.record.blob_id), allow_remote_images=images
    )
    html = rendered.html if rendered.html is not None else ""
    document = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<base target="_blank"><style>{BODY_STYLE}</style></head><body>{html}</body></html>'
    )
    response = HTMLResponse(document)
    response.headers["Content-Security-Policy"] = BODY_CSP.format(
        remote=" https: http:" if images else ""
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@page
async def source(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    _mailbox, summary = await own_message(
        store, auth, request.path_params["mailbox"], request.path_params["uid"]
    )
    raw = await store.read_message(summary.record.blob_id)
    disposition = "attachment" if request.query_params.get("download") == "1" else "inline"
    return Response(
        raw,
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'{disposition}; filename="message-{summary.record.uid}.eml"',
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@page
async def part(request: Request, auth: Auth) -> Response:
    """One attachment (or inline image), always as a download in a sandbox: a part
    that claims to be HTML or SVG must never run on this origin."""
    store = web_state(request).store
    _mailbox, summary = await own_message(
        store, auth, request.path_params["mailbox"], request.path_params["uid"]
    )
    msg = display.parse(await store.read_message(summary.record.blob_id))
    index = request.path_params["index"]
    found = next((a for a in display.attachments(msg) if a.index == index), None)
    got = display.part_bytes(msg, index)
    if found is None or got is None:
        raise HTTPException(404, "No such attachment")
    _part, data = got
    ascii_name = found.filename.encode("ascii", "replace").decode().replace("?", "_")
    # RFC 6266 §4.3: filename for old clients, filename* (RFC 5987) for the real name.
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != found.filename:
        disposition += f"; filename*={encode_rfc2231(found.filename, 'utf-8')}"
    return Response(
        data,
        media_type=found.content_type,
        headers={
            "Content-Disposition": disposition,
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@page
async def original(request: Request, auth: Auth) -> Response:
    """Trust and transport: what "show original" shows, with the SMTP conversation."""
    state = web_state(request)
    store = state.store
    mailbox, summary = await own_message(
        store, auth, request.path_params["mailbox"], request.path_params["uid"]
    )
    raw = await store.read_message(summary.record.blob_id)
    msg = display.parse(raw)
    meta = await store.message_meta(summary.record.id)
    domains = {d.name for d in await store.list_domains()}
    trust = assess(msg, meta, hostname=state.ctx.hostname, local_domains=domains)
    return await render(
        request,
        auth,
        "original.html",
        current_mailbox=mailbox.id,
        mailbox=mailbox,
        m=summary,
        trust=trust,
        meta=meta.get("smtp") or meta.get("web") or {},
        headers=[(k, " ".join(str(v).split())) for k, v in msg.items()],
    )


@page
async def thread_view(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    mailbox, summary = await own_message(
        store, auth, request.path_params["mailbox"], request.path_params["uid"]
    )
    items = await store.thread(auth.user.id, summary.thread_key) or [summary]
    boxes = {m.id: m for m in await store.list_mailboxes(auth.user.id)}
    return await render(
        request,
        auth,
        "thread.html",
        current_mailbox=mailbox.id,
        items=items,
        boxes=boxes,
        subject=summary.subject,
    )


@page
async def search(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    query = request.query_params.get("q", "")[:500]
    scope = _int(request.query_params.get("in"), 0)
    mailbox = await own_mailbox(store, auth, scope) if scope else None
    items = (
        await store.search_messages(
            auth.user.id, query, mailbox_id=mailbox.id if mailbox else None, limit=200
        )
        if query.strip()
        else []
    )
    return await render(
        request,
        auth,
        "list.html",
        current_mailbox=mailbox.id if mailbox else None,
        mailbox=mailbox,
        items=items,
        total=len(items),
        page=1,
        pages=1,
        sort="arrival",
        descending=True,
        threads=False,
        more=False,
        unseen=False,
        link=lambda **_: "",
        search=query,
        targets=await _move_targets(request, auth, None),
        is_trash=False,
        back=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    )


async def _by_role(request: Request, auth: Auth, role: SpecialUse) -> Mailbox:
    box = await web_state(request).store.mailbox_by_role(auth.user.id, str(role))
    if box is None:
        raise HTTPException(409, f"No {role.value[1:]} folder")
    return box


async def apply_action(
    request: Request, auth: Auth, mailbox: Mailbox, uids: list[int], action: str, target: int
) -> str:
    """Do one bulk action; returns the notice code.  Shared by the form and the API."""
    store = web_state(request).store
    flag_actions = {
        "read": ([SEEN], FlagMode.ADD),
        "unread": ([SEEN], FlagMode.REMOVE),
        "flag": ([FLAGGED], FlagMode.ADD),
        "unflag": ([FLAGGED], FlagMode.REMOVE),
    }
    if action in flag_actions:
        flags, mode = flag_actions[action]
        await store.store_flags(mailbox.id, uids, flags, mode)
        return "updated"
    if action == "move":
        if not target:
            raise HTTPException(400, "Choose a folder to move to")
        destination = await own_mailbox(store, auth, target)
        if destination.id != mailbox.id:
            await store.move(mailbox.id, uids, destination.id)
        return "moved"
    if action == "junk":
        await store.move(mailbox.id, uids, (await _by_role(request, auth, SpecialUse.JUNK)).id)
        return "moved"
    if action == "delete":
        trash = await _by_role(request, auth, SpecialUse.TRASH)
        if mailbox.id == trash.id:
            await store.expunge(mailbox.id, uids)
            return "expunged"
        await store.move(mailbox.id, uids, trash.id)
        return "deleted"
    raise HTTPException(400, "Unknown action")


@page
async def actions(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    mailbox = await own_mailbox(store, auth, request.path_params["mailbox"])
    data = await form(request)
    uids = sorted({_int(u, 0) for u in data.getlist("uid")} - {0})
    action = str(data.get("action", ""))
    back = safe_next(str(data.get("back", "")) or f"/mail/{mailbox.id}")
    if not uids:
        return RedirectResponse(back, status_code=303)
    done = await apply_action(request, auth, mailbox, uids, action, _int(data.get("target"), 0))
    if action in ("move", "delete", "junk", "unread") and back.startswith(f"/mail/{mailbox.id}/"):
        # The message shown has left this folder, or showing it again would mark it
        # read again: back to the list.
        back = f"/mail/{mailbox.id}"
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}done={done}", status_code=303)


@page
async def empty(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    mailbox = await own_mailbox(store, auth, request.path_params["mailbox"])
    if mailbox.special_use not in (str(SpecialUse.TRASH), str(SpecialUse.JUNK)):
        raise HTTPException(400, "Only Trash and Junk can be emptied")
    uids = [m.uid for m in await store.list_messages(mailbox.id)]
    if uids:
        await store.expunge(mailbox.id, uids)
    return RedirectResponse(f"/mail/{mailbox.id}?done=emptied", status_code=303)


@page
async def folders(request: Request, auth: Auth) -> Response:
    return await render(request, auth, "folders.html", error=request.query_params.get("error"))


def _folder_error(e: Exception) -> Response:
    message = "exists" if isinstance(e, AlreadyExists) else "invalid"
    return RedirectResponse(f"/folders?error={message}", status_code=303)


@page
async def folder_create(request: Request, auth: Auth) -> Response:
    name = str((await form(request)).get("name", "")).strip()
    try:
        await web_state(request).store.create_mailbox(auth.user.id, name)
    except (StoreError, ValueError) as e:
        return _folder_error(e)
    return RedirectResponse("/folders?done=created", status_code=303)


@page
async def folder_rename(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    mailbox = await own_mailbox(store, auth, request.path_params["mailbox"])
    name = str((await form(request)).get("name", "")).strip()
    if mailbox.special_use or mailbox.name == "INBOX":
        return RedirectResponse("/folders?error=special", status_code=303)
    try:
        await store.rename_mailbox(mailbox.id, name)
    except (StoreError, ValueError) as e:
        return _folder_error(e)
    return RedirectResponse("/folders?done=renamed", status_code=303)


@page
async def folder_delete(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    mailbox = await own_mailbox(store, auth, request.path_params["mailbox"])
    if mailbox.special_use or mailbox.name == "INBOX":
        return RedirectResponse("/folders?error=special", status_code=303)
    try:
        await store.delete_mailbox(mailbox.id)
    except (StoreError, NotFound) as e:
        return _folder_error(e)
    return RedirectResponse("/folders?done=removed", status_code=303)
