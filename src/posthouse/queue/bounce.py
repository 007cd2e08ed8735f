"""Handing a delivery status notification to the store: into the sender's INBOX when
the sender is ours, into the queue (from the null reverse-path) when not."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from posthouse.accounts.addresses import AddressError
from posthouse.accounts.directory import Directory
from posthouse.config import Config
from posthouse.mime.headers import new_message_id
from posthouse.queue.dsn import Failure, Report, build_report
from posthouse.queue.results import RecipientResult
from posthouse.store.base import (
    LocalDelivery,
    OutboundEnvelope,
    OutboundRecipient,
    QueueEntry,
    Store,
)

log = logging.getLogger("posthouse.queue")


def wants_failure_notice(dsn: dict[str, str]) -> bool:
    """RFC 3461 §4.1: NOTIFY=NEVER, or a NOTIFY list without FAILURE, asks for no
    failure DSN; without NOTIFY one is sent."""
    notify = dsn.get("NOTIFY")
    if notify is None:
        return True
    return "FAILURE" in {n.strip().upper() for n in notify.split(",")}


def wants_success_notice(dsn: dict[str, str]) -> bool:
    """RFC 3461 §4.1: success notices only when NOTIFY asks for SUCCESS."""
    notify = dsn.get("NOTIFY", "")
    return "SUCCESS" in {n.strip().upper() for n in notify.split(",")}


def wants_delay_notice(dsn: dict[str, str]) -> bool:
    """Delay notices only when NOTIFY asks for DELAY (RFC 3461 §4.1 leaves the
    default to the MTA; like Postfix's default, none)."""
    notify = dsn.get("NOTIFY", "")
    return "DELAY" in {n.strip().upper() for n in notify.split(",")}


async def send_bounce(
    store: Store,
    config: Config,
    entry: QueueEntry,
    failed: Sequence[RecipientResult],
    now: datetime,
    *,
    action: str = "failed",
) -> bool:
    """Send one DSN for the recipients of `entry` that failed (or, with action
    "relayed", were handed to a next hop without DSN support); False when none is due
    (null sender, NOTIFY not asking for it, a sender nobody receives for)."""
    if not entry.sender:
        # RFC 5321 §4.5.5 / RFC 3464 §2: never a notification about a notification.
        log.info("queue %d: no DSN for the null sender", entry.id)
        return False
    dsn = {r.address: r.dsn for r in entry.recipients}
    wanted = {"relayed": wants_success_notice, "delayed": wants_delay_notice}.get(
        action, wants_failure_notice
    )
    failures = tuple(
        Failure(result, dsn.get(result.address, {}).get("ORCPT"))
        for result in failed
        if wanted(dsn.get(result.address, {}))
    )
    if not failures:
        return False
    report = Report(
        reporting_mta=config.hostname,
        postmaster=f"MAILER-DAEMON@{config.domain}",
        recipient=entry.sender,
        arrival=entry.created,
        failures=failures,
        original=await store.read_message(entry.blob_id),
        envid=entry.params.get("ENVID"),
        # A success notice returns the header unless RET=FULL asked for more.
        ret=entry.params.get("RET", "").upper() or ("HDRS" if action != "failed" else None),
        action=action,
    )
    raw = b"Return-Path: <>\r\n" + build_report(
        report, now=now, message_id=new_message_id(config.hostname)
    )
    try:
        resolution = await Directory(store).resolve(entry.sender)
    except AddressError:
        log.warning("queue %d: sender <%s> is no address; DSN dropped", entry.id, entry.sender)
        return False
    local: list[LocalDelivery] = []
    remote: list[str] = []
    if resolution.is_local:
        for user in resolution.users:
            inbox = await store.get_mailbox(user.id, "INBOX")
            if inbox is not None:
                local.append(LocalDelivery(inbox.id))
        remote = list(resolution.remote)
        if not local and not remote:
            log.warning("queue %d: nobody receives for <%s>; DSN dropped", entry.id, entry.sender)
            return False
    else:
        remote = [entry.sender]
    outbound = None
    if remote:
        outbound = OutboundEnvelope("", tuple(OutboundRecipient(a) for a in remote))
    await store.accept(raw, local, outbound, meta={"dsn": {"queue_id": entry.id}})
    log.info("queue %d: DSN to <%s> for %d recipient(s)", entry.id, entry.sender, len(failures))
    return True
