"""The JSON API, version 1, under /api/v1: the same features as the pages, for
scripts and for the pages' own JavaScript (suggestions, draft autosave).

Authentication is the browser session (cookie); every call that changes something
needs the session's CSRF token in an `X-CSRF-Token` header.  GET /api/v1 lists the
endpoints.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from posthouse.accounts.app_passwords import DEFAULT_PROTOCOLS, create_app_password
from posthouse.mime import display
from posthouse.mime.compose import Draft
from posthouse.store.base import AlreadyExists, MessageSummary, NotFound, SortKey, StoreError
from posthouse.web.guard import api, error
from posthouse.web.mail_access import own_mailbox, own_message
from posthouse.web.pages_auth import client_ip
from posthouse.web.pages_mail import apply_action
from posthouse.web.send import SendError, send
from posthouse.web.session import Auth
from posthouse.web.state import web_state
from posthouse.web.trust import assess

MAX_JSON = 1024 * 1024

ENDPOINTS = [
    ("GET", "/api/v1/me", "the signed-in user"),
    ("GET", "/api/v1/mailboxes", "folders with message and unread counts"),
    ("GET", "/api/v1/mailboxes/{id}/messages", "a page: offset, limit, sort, dir, threads, unseen"),
    ("GET", "/api/v1/mailboxes/{id}/messages/{uid}", "one message: headers, text, safe HTML"),
    ("POST", "/api/v1/mailboxes/{id}/actions", '{"uids": [..], "action": "read|unread|flag|'
     'unflag|move|delete|junk", "target": id}'),
    ("GET", "/api/v1/search", "full-text search: q, in (folder id)"),
    ("GET", "/api/v1/contacts", "addresses you have written to: q (prefix)"),
    ("POST", "/api/v1/send", '{"from", "to", "cc", "bcc", "subject", "text"}'),
    ("GET", "/api/v1/app-passwords", "your authorization codes"),
    ("POST", "/api/v1/app-passwords", '{"name", "protocols": [..]}: the code, shown once'),
    ("DELETE", "/api/v1/app-passwords/{id}", "revoke a code"),
]


def summary_json(m: MessageSummary) -> dict[str, Any]:
    r = m.record
    return {
        "mailbox": r.mailbox_id,
        "uid": r.uid,
        "flags": sorted(r.flags),
        "size": r.size,
        "received": r.internal_date.isoformat(),
        "date": m.date.isoformat() if m.date else None,
        "from": {"name": m.from_name, "address": m.from_addr},
        "to": m.to_text,
        "subject": m.subject,
        "message_id": m.message_id,
        "in_reply_to": m.in_reply_to,
        "thread": m.thread_key,
        "thread_size": m.thread_size,
        "has_attachment": m.has_attachment,
        "preview": m.preview,
    }


async def _json_body(request: Request) -> dict[str, Any]:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "send application/json")
    body = await request.body()
    if len(body) > MAX_JSON:
        raise HTTPException(413, "too large")
    try:
        data = json.loads(body)
    except ValueError:
        raise HTTPException(400, "not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "expected an object")
    return data


async def index(request: Request) -> Response:
    return JSONResponse(
        {
            "version": 1,
            "auth": "session cookie; X-CSRF-Token header on POST and DELETE",
            "endpoints": [{"method": m, "path": p, "does": d} for m, p, d in ENDPOINTS],
        }
    )


@api
async def me(request: Request, auth: Auth) -> Response:
    u = auth.user
    return JSONResponse(
        {
            "address": u.address,
            "name": u.display_name,
            "admin": u.is_admin,
            "protocols": sorted(u.protocols),
            "csrf": auth.csrf,
        }
    )


@api
async def mailboxes(request: Request, auth: Auth) -> Response:
    state = web_state(request)
    boxes = await state.store.list_mailboxes(auth.user.id)
    counts = await state.folder_counts(auth.user.id, boxes)
    return JSONResponse(
        [
            {
                "id": m.id,
                "name": m.name,
                "special_use": m.special_use,
                "messages": counts.get(m.id, (0, 0))[0],
                "unseen": counts.get(m.id, (0, 0))[1],
            }
            for m in boxes
        ]
    )


@api
async def messages(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    mailbox = await own_mailbox(store, auth, request.path_params["mailbox"])
    q = request.query_params
    try:
        sort = SortKey(q.get("sort", "arrival"))
        offset, limit = int(q.get("offset", 0)), min(200, int(q.get("limit", 50)))
    except ValueError:
        return error(400, "bad sort, offset or limit")
    listing = await store.list_summaries(
        mailbox.id,
        offset=offset,
        limit=limit,
        sort=sort,
        descending=q.get("dir", "desc") != "asc",
        threads=q.get("threads") == "1",
        unseen_only=q.get("unseen") == "1",
    )
    return JSONResponse({"total": listing.total, "items": [summary_json(m) for m in listing.items]})


@api
async def message(request: Request, auth: Auth) -> Response:
    state = web_state(request)
    _box, summary = await own_message(
        state.store, auth, request.path_params["mailbox"], request.path_params["uid"]
    )
    raw = await state.store.read_message(summary.record.blob_id)
    rendered = display.render(raw)
    meta = await state.store.message_meta(summary.record.id)
    domains = {d.name for d in await state.store.list_domains()}
    trust = assess(display.parse(raw), meta, hostname=state.ctx.hostname, local_domains=domains)
    return JSONResponse(
        {
            **summary_json(summary),
            "text": rendered.text,
            "html": rendered.html,
            "remote_images": rendered.remote_images,
            "attachments": [
                {"index": a.index, "filename": a.filename, "type": a.content_type, "size": a.size}
                for a in rendered.attachments
            ],
            "trust": {
                "mailed_by": trust.mailed_by,
                "signed_by": trust.signed_by,
                "verdicts": {v.method: v.result for v in trust.verdicts},
                "tls": trust.tls,
                "warnings": trust.warnings,
            },
        }
    )


@api
async def actions(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    mailbox = await own_mailbox(store, auth, request.path_params["mailbox"])
    data = await _json_body(request)
    uids = data.get("uids")
    if not isinstance(uids, list) or not all(isinstance(u, int) for u in uids):
        return error(400, "uids: a list of numbers")
    target = data.get("target", 0)
    action = str(data.get("action", ""))
    done = await apply_action(
        request, auth, mailbox, uids, action, target if isinstance(target, int) else 0
    )
    return JSONResponse({"done": done})


@api
async def search(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    scope = request.query_params.get("in")
    mailbox_id = None
    if scope and scope.isdigit():
        mailbox_id = (await own_mailbox(store, auth, int(scope))).id
    found = await store.search_messages(
        auth.user.id, request.query_params.get("q", "")[:500], mailbox_id=mailbox_id
    )
    return JSONResponse([summary_json(m) for m in found])


@api
async def contacts(request: Request, auth: Auth) -> Response:
    prefix = request.query_params.get("q", "")[:100]
    found = await web_state(request).store.recent_recipients(auth.user.id, prefix, 10)
    return JSONResponse(found)


@api
async def send_message(request: Request, auth: Auth) -> Response:
    state = web_state(request)
    data = await _json_body(request)

    def text(name: str) -> str:
        value = data.get(name, "")
        return value if isinstance(value, str) else ""

    draft = Draft(
        from_addr=text("from") or auth.user.address,
        from_name=auth.user.display_name,
        to=text("to"),
        cc=text("cc"),
        bcc=text("bcc"),
        subject=text("subject"),
        text=text("text"),
        in_reply_to=text("in_reply_to"),
        references=text("references"),
    )
    try:
        sent = await send(state.ctx, auth.user, draft, remote_ip=client_ip(request))
    except SendError as e:
        return error(400, str(e))
    state.monitor.web_sent.inc()
    return JSONResponse({"message_id": sent.message_id, "queue_id": sent.queue_id})


@api
async def app_passwords(request: Request, auth: Auth) -> Response:
    store = web_state(request).store
    if request.method == "POST":
        data = await _json_body(request)
        protocols = data.get("protocols", sorted(DEFAULT_PROTOCOLS))
        if not isinstance(protocols, list):
            return error(400, "protocols: a list")
        try:
            created = await create_app_password(
                store, auth.user, str(data.get("name", "")), [str(p) for p in protocols]
            )
        except AlreadyExists:
            return error(409, "a code with that name exists")
        except (ValueError, StoreError) as e:
            return error(400, str(e))
        return JSONResponse({"id": created.record.id, "code": created.code}, status_code=201)
    codes = await store.list_app_passwords(auth.user.id)
    return JSONResponse(
        [
            {
                "id": c.id,
                "name": c.name,
                "protocols": sorted(c.protocols),
                "created": c.created.isoformat(),
                "last_used": c.last_used.isoformat() if c.last_used else None,
            }
            for c in codes
            if not c.revoked
        ]
    )


@api
async def revoke_app_password(request: Request, auth: Auth) -> Response:
    try:
        await web_state(request).store.revoke_app_password(
            auth.user.id, int(request.path_params["code"])
        )
    except NotFound:
        return error(404, "no such code")
    return Response(status_code=204)
