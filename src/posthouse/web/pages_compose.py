"""Writing: compose, reply, reply-all, forward, drafts, send."""

from __future__ import annotations

import html as html_lib
from email.message import EmailMessage

import nh3
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from posthouse.mime import display
from posthouse.mime.compose import (
    ComposeError,
    Draft,
    Upload,
    build,
    forward_subject,
    parse_addresses,
    reply_references,
    reply_subject,
)
from posthouse.store.base import Mailbox, SpecialUse
from posthouse.web.guard import form, page
from posthouse.web.mail_access import own_message, parse_ref
from posthouse.web.pages_auth import client_ip
from posthouse.web.render import render
from posthouse.web.send import SendError, send
from posthouse.web.session import Auth
from posthouse.web.state import web_state

DRAFT_FLAGS = ("\\Draft", "\\Seen")


def _field(data: FormData, name: str, limit: int = 20_000) -> str:
    value = data.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _join(addresses: list[str]) -> str:
    return ", ".join(dict.fromkeys(a for a in addresses if a))


Source = tuple[Mailbox, EmailMessage, str, int]


async def _source(request: Request, auth: Auth, ref: str | None) -> Source | None:
    """(mailbox, parsed message, its text, uid) of a message the form refers to."""
    parsed = parse_ref(ref)
    if parsed is None:
        return None
    store = web_state(request).store
    mailbox, summary = await own_message(store, auth, *parsed)
    raw = await store.read_message(summary.record.blob_id)
    rendered = display.render(raw)
    text = rendered.text or ""
    if not text and rendered.html:
        text = nh3.clean(rendered.html, tags=set())
        text = html_lib.unescape(text)
    return mailbox, display.parse(raw), text, summary.record.uid


def _addr_list(msg: EmailMessage, name: str) -> list[str]:
    try:
        header = msg.get(name)
        return [a.addr_spec for a in getattr(header, "addresses", ())] if header else []
    except Exception:
        return []


async def compose_page(
    request: Request,
    auth: Auth,
    *,
    draft: Draft | None = None,
    error: str = "",
    status: int = 200,
    carry_ref: str = "",
    draft_ref: str = "",
) -> Response:
    state = web_state(request)
    q = request.query_params
    own = sorted(await state.ctx.directory.addresses_of(auth.user))
    carried: list[display.Attachment] = []
    if draft is None:
        draft = Draft(from_addr=auth.user.address, from_name=auth.user.display_name)
        draft.to = q.get("to", "")[:2000]
        if q.get("reply") or q.get("forward"):
            ref = q.get("reply") or q.get("forward")
            found = await _source(request, auth, ref)
            if found is None:
                raise HTTPException(404, "No such message")
            _box, msg, text, _uid = found
            subject = display.header_text(msg, "subject")
            sender = display.header_text(msg, "from")
            date = display.header_text(msg, "date")
            if q.get("reply"):
                mine = {a.lower() for a in own}
                reply_to = _addr_list(msg, "reply-to") or _addr_list(msg, "from")
                if reply_to and all(a.lower() in mine for a in reply_to):
                    # Replying to one's own message (from Sent): write to its recipients.
                    reply_to = _addr_list(msg, "to") or reply_to
                to = reply_to
                cc: list[str] = []
                if q.get("all") == "1":
                    to = [a for a in reply_to + _addr_list(msg, "to") if a.lower() not in mine]
                    cc = [a for a in _addr_list(msg, "cc") if a.lower() not in mine]
                draft.to, draft.cc = _join(to), _join(cc)
                draft.subject = reply_subject(subject)
                msgid = display.header_text(msg, "message-id")
                refs = display.header_text(msg, "references").split() or (
                    display.header_text(msg, "in-reply-to").split()
                )
                draft.in_reply_to = msgid
                draft.references = reply_references(refs, msgid)
                draft.text = f"\n\nOn {date}, {sender} wrote:\n" + display.quote_text(text)
            else:
                draft.subject = forward_subject(subject)
                draft.text = (
                    "\n\n---------- Forwarded message ----------\n"
                    f"From: {sender}\nDate: {date}\nSubject: {subject}\n"
                    f"To: {display.header_text(msg, 'to')}\n\n{text}"
                )
                carry_ref = ref or ""
                carried = display.attachments(msg)
        elif q.get("draft"):
            found = await _source(request, auth, q.get("draft"))
            if found is None:
                raise HTTPException(404, "No such draft")
            _box, msg, text, _uid = found
            draft.to = display.header_text(msg, "to")
            draft.cc = display.header_text(msg, "cc")
            draft.bcc = display.header_text(msg, "bcc")
            draft.subject = display.header_text(msg, "subject")
            draft.in_reply_to = display.header_text(msg, "in-reply-to")
            draft.references = display.header_text(msg, "references")
            from_list = _addr_list(msg, "from")
            if from_list:
                draft.from_addr = from_list[0]
            draft.text = text
            carry_ref = draft_ref = q.get("draft", "")
            carried = display.attachments(msg)
    elif carry_ref:
        found = await _source(request, auth, carry_ref)
        carried = display.attachments(found[1]) if found else []
    return await render(
        request,
        auth,
        "compose.html",
        status=status,
        draft=draft,
        own_addresses=own,
        error=error,
        carry_ref=carry_ref,
        carried=carried,
        draft_ref=draft_ref,
        max_size=state.ctx.config.smtp.max_message_size,
    )


@page
async def compose(request: Request, auth: Auth) -> Response:
    return await compose_page(request, auth)


async def _draft_from_form(request: Request, auth: Auth, data: FormData) -> Draft:
    draft = Draft(
        from_addr=_field(data, "from", 320) or auth.user.address,
        from_name=auth.user.display_name,
        to=_field(data, "to"),
        cc=_field(data, "cc"),
        bcc=_field(data, "bcc"),
        subject=_field(data, "subject", 2000),
        text=_field(data, "body", 5_000_000),
        in_reply_to=_field(data, "in_reply_to", 2000),
        references=_field(data, "references"),
    )
    if data.get("format") == "html":
        # The user's own HTML, kept to simple formatting; the text part is its words.
        draft.html = nh3.clean(draft.text)
        draft.text = html_lib.unescape(nh3.clean(draft.text, tags=set()))
    # Attachments carried from the message being forwarded or the draft being edited.
    found = await _source(request, auth, _field(data, "carry", 100) or None)
    if found is not None:
        msg = found[1]
        keep = {int(i) for i in data.getlist("keep") if isinstance(i, str) and i.isdigit()}
        for att in display.attachments(msg):
            got = display.part_bytes(msg, att.index)
            if att.index in keep and got is not None:
                draft.attachments.append(Upload(att.filename, att.content_type, got[1]))
    for item in data.getlist("files"):
        if isinstance(item, UploadFile) and item.filename:
            content = await item.read()
            draft.attachments.append(
                Upload(item.filename, item.content_type or "application/octet-stream", content)
            )
    return draft


async def _drop_draft(request: Request, auth: Auth, ref: str) -> None:
    parsed = parse_ref(ref)
    if parsed is None:
        return
    store = web_state(request).store
    drafts = await store.mailbox_by_role(auth.user.id, str(SpecialUse.DRAFTS))
    if drafts is not None and parsed[0] == drafts.id:
        await store.expunge(drafts.id, [parsed[1]])


@page
async def compose_submit(request: Request, auth: Auth) -> Response:
    state = web_state(request)
    data = await form(request)
    action = _field(data, "action", 10)
    draft_ref = _field(data, "draft", 100)
    carry_ref = _field(data, "carry", 100)
    wants_json = "application/json" in request.headers.get("accept", "")
    draft = await _draft_from_form(request, auth, data)
    size = sum(len(a.data) for a in draft.attachments) + len(draft.text)
    if size > state.ctx.config.smtp.max_message_size * 0.74:  # base64 grows by 4/3
        return await compose_page(
            request, auth, draft=draft, error="Attachments are too large.", status=413,
            carry_ref=carry_ref, draft_ref=draft_ref,
        )
    if action == "save":
        try:
            parse_addresses(draft.to)
            parse_addresses(draft.cc)
            raw, _mid = build(draft, hostname=state.ctx.hostname)
        except ComposeError as e:
            if wants_json:
                return JSONResponse({"error": str(e)}, status_code=400)
            return await compose_page(request, auth, draft=draft, error=str(e), status=400,
                                      carry_ref=carry_ref, draft_ref=draft_ref)
        drafts = await state.store.mailbox_by_role(auth.user.id, str(SpecialUse.DRAFTS))
        if drafts is None:
            raise HTTPException(409, "No Drafts folder")
        if draft.bcc:
            # Bcc is kept in the draft only, so it survives until the message is sent.
            bcc = ", ".join(a.addr_spec for a in parse_addresses(draft.bcc))
            raw = f"Bcc: {bcc}\r\n".encode() + raw
        record = await state.store.append(drafts.id, raw, DRAFT_FLAGS)
        await _drop_draft(request, auth, draft_ref)
        ref = f"{drafts.id}:{record.uid}"
        if wants_json:
            kept = display.attachments(display.parse(raw))
            listed = [{"index": a.index, "filename": a.filename} for a in kept]
            return JSONResponse({"draft": ref, "attachments": listed})
        return RedirectResponse(f"/compose?draft={ref}&done=saved", status_code=303)
    try:
        result = await send(state.ctx, auth.user, draft, remote_ip=client_ip(request))
    except SendError as e:
        if wants_json:
            return JSONResponse({"error": str(e)}, status_code=400)
        return await compose_page(request, auth, draft=draft, error=str(e), status=400,
                                  carry_ref=carry_ref, draft_ref=draft_ref)
    state.monitor.web_sent.inc()
    await _drop_draft(request, auth, draft_ref)
    if wants_json:
        return JSONResponse({"sent": result.message_id, "queued": result.queue_id})
    inbox = await state.store.get_mailbox(auth.user.id, "INBOX")
    target = f"/mail/{inbox.id}" if inbox else "/mail"
    return RedirectResponse(f"{target}?done=sent", status_code=303)
