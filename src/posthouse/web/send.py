"""Sending from webmail: the rules of the submission port (2587), applied to a form.

As on submission (RFC 6409): the signed-in user sends only as an address they own
(§6.1, `Directory.may_send_as`), the server adds Message-ID and Date (§8.2-8.3),
local recipients get the message in their INBOX and remote ones go to the outbound
queue, in one durable `store.accept` together with the copy in the sender's Sent
mailbox — the send is done only once all of it is on disk.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from posthouse import __version__
from posthouse.accounts.addresses import AddressError
from posthouse.mime.compose import ComposeError, Draft, build, recipients
from posthouse.mime.headers import fold_received, format_date
from posthouse.server.context import ServerContext
from posthouse.store.base import (
    LocalDelivery,
    OutboundEnvelope,
    OutboundRecipient,
    QuotaExceeded,
    SpecialUse,
    User,
)

log = logging.getLogger("posthouse.web.send")


class SendError(Exception):
    """Why a message was not sent; nothing was stored."""


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: str
    local: int  # local recipients' mailboxes that got it
    remote: int  # addresses queued for relay
    queue_id: int | None
    sent_uid: int | None  # the copy in Sent


async def send(ctx: ServerContext, user: User, draft: Draft, *, remote_ip: str) -> Sent:
    if not await ctx.directory.may_send_as(user, draft.from_addr):
        raise SendError(f"{user.address} may not send as {draft.from_addr}")
    try:
        envelope_rcpts = recipients(draft)
        raw, message_id = build(draft, hostname=ctx.hostname)
    except ComposeError as e:
        raise SendError(str(e)) from None
    if not envelope_rcpts:
        raise SendError("add at least one recipient")
    if len(raw) > ctx.config.smtp.max_message_size:
        raise SendError("the message is larger than this server accepts")
    local_users: dict[int, User] = {}
    remote: list[OutboundRecipient] = []
    for address in envelope_rcpts:
        try:
            res = await ctx.directory.resolve(address)
        except AddressError:
            raise SendError(f"{address}: not a valid address") from None
        if res.is_local and not res.users and not res.remote:
            raise SendError(f"{address}: no such user here")
        for target in res.users:
            if target.quota_bytes is not None and (
                await ctx.store.usage(target.id) + len(raw) > target.quota_bytes
            ):
                raise SendError(f"{address}: mailbox full")
            local_users.setdefault(target.id, target)
        if res.is_local:
            remote.extend(OutboundRecipient(t) for t in res.remote)
        else:
            remote.append(OutboundRecipient(res.address))
    ident = secrets.token_hex(8)
    clauses = [f"from webmail ([{remote_ip or 'unknown'}])", f"by {ctx.hostname}"]
    clauses += [f"(posthouse {__version__})", f"with HTTPS id {ident}"]
    if len(envelope_rcpts) == 1:
        clauses.append(f"for <{envelope_rcpts[0]}>;")
    else:
        clauses[-1] += ";"
    trace = fold_received([*clauses, format_date()])
    sender = draft.from_addr.strip().lower()
    # RFC 5321 §4.4: Return-Path is added at final delivery.
    delivered = f"Return-Path: <{sender}>\r\n".encode() + trace + raw
    deliveries = []
    for target in local_users.values():
        inbox = await ctx.store.get_mailbox(target.id, "INBOX")
        if inbox is None:
            raise SendError(f"{target.address} has no INBOX")
        deliveries.append(LocalDelivery(inbox.id))
    sent_box = await ctx.store.mailbox_by_role(user.id, SpecialUse.SENT)
    if sent_box is not None:
        deliveries.append(LocalDelivery(sent_box.id, frozenset({"\\Seen"})))
    outbound = OutboundEnvelope(sender, tuple(remote)) if remote else None
    meta = {
        "web": {
            "remote_ip": remote_ip,
            "authenticated": user.address,
            "sender": sender,
            "recipients": envelope_rcpts,
        }
    }
    try:
        result = await ctx.store.accept(delivered, deliveries, outbound, meta=meta)
    except QuotaExceeded:
        raise SendError("a mailbox is full (yours or a recipient's)") from None
    log.info(
        "web %s sent %s from=<%s> rcpts=%d size=%d",
        remote_ip,
        ident,
        sender,
        len(envelope_rcpts),
        len(delivered),
    )
    sent_uid = result.messages[-1].uid if sent_box is not None and result.messages else None
    return Sent(
        message_id=message_id,
        local=len(local_users),
        remote=len(remote),
        queue_id=result.queue_id,
        sent_uid=sent_uid,
    )
