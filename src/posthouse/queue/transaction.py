"""One mail transaction (RFC 5321 §3.3): one message, many recipients of one domain,
one result per recipient.

With PIPELINING (RFC 2920) MAIL, every RCPT and DATA leave in one write and the
replies are read in order; without it, command by command. On a reused connection
the next transaction's group may leave in the same write as this message's content
(RFC 2920 §3.1: the content may be the first "command" of a group), so a run of
messages to one destination costs one round trip each, not two.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from posthouse.proto.smtp.client import crlf_lines
from posthouse.proto.smtp.events import Data, MailFrom, RcptTo, Rset
from posthouse.proto.smtp.reply import Reply
from posthouse.queue.connection import ConnectionLost, OutboundConnection
from posthouse.queue.results import (
    Outcome,
    RecipientResult,
    from_reply,
    local_result,
)

# RFC 3461 §4: the parameters of MAIL and RCPT that travel on when the next hop
# offers DSN.
_DSN_MAIL = ("RET", "ENVID")
_DSN_RCPT = ("NOTIFY", "ORCPT")
_RETURN_PATH = re.compile(rb"(?i)return-path:[^\n]*\n(?:[ \t][^\n]*\n)*")


@dataclass(frozen=True)
class Recipient:
    address: str
    dsn: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: tuple[Recipient, ...]
    params: dict[str, str] = field(default_factory=dict)  # MAIL FROM parameters as queued


@dataclass
class TransactionResult:
    results: list[RecipientResult]
    reusable: bool  # the connection may carry another transaction


def strip_return_path(raw: bytes) -> bytes:
    """RFC 5321 §4.4: Return-Path is added at final delivery; a relay removes the one
    the accepting session recorded."""
    while True:
        match = _RETURN_PATH.match(raw)
        if match is None:
            return raw
        raw = raw[match.end() :]


def needs_smtputf8(envelope: Envelope) -> bool:
    """RFC 6531 §3.4: non-ASCII in an address, or the submitter said SMTPUTF8."""
    if "SMTPUTF8" in envelope.params:
        return True
    return not envelope.sender.isascii() or not all(
        r.address.isascii() for r in envelope.recipients
    )


def _all(envelope: Envelope, outcome: Outcome, status: str, text: str) -> list[RecipientResult]:
    return [local_result(r.address, outcome, status, text) for r in envelope.recipients]


def _mail_params(
    conn: OutboundConnection, envelope: Envelope, content: bytes
) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    if conn.offers("SIZE"):
        params["SIZE"] = str(len(content))  # RFC 1870 §6
    if conn.offers("8BITMIME") and (
        envelope.params.get("BODY", "").upper() == "8BITMIME" or not content.isascii()
    ):
        params["BODY"] = "8BITMIME"  # RFC 6152 §2
    # Without 8BITMIME, 8-bit content still goes as it is: RFC 6152 §3 asks for a 7-bit
    # conversion or a bounce, but servers that lack the keyword take 8-bit octets in
    # practice (Postfix relays the same way by default).
    if needs_smtputf8(envelope):
        params["SMTPUTF8"] = None  # RFC 6531 §3.4
    if conn.offers("DSN"):
        for key in _DSN_MAIL:
            if key in envelope.params:
                params[key] = envelope.params[key]
    return params


def _rcpt_params(conn: OutboundConnection, recipient: Recipient) -> dict[str, str | None]:
    if not conn.offers("DSN"):
        return {}
    return {k: v for k, v in recipient.dsn.items() if k in _DSN_RCPT}


def _size_limit(conn: OutboundConnection) -> int:
    value = conn.extensions.get("SIZE", "")
    return int(value) if value.isdigit() else 0


def refusal(
    conn: OutboundConnection, envelope: Envelope, content: bytes
) -> TransactionResult | None:
    """The result decided here, without a word to the server, or None to send."""
    if needs_smtputf8(envelope) and not conn.offers("SMTPUTF8"):
        # RFC 6531 §3.2: no downgrade; the message goes back to its sender.
        text = f"{conn.host} does not offer SMTPUTF8, which this message needs"
        return TransactionResult(_all(envelope, Outcome.FAILED, "5.6.7", text), True)
    limit = _size_limit(conn)
    if limit and len(content) > limit:
        # RFC 1870 §6: larger than the server's fixed maximum: a permanent failure.
        text = f"message of {len(content)} octets exceeds {conn.host}'s limit of {limit}"
        return TransactionResult(_all(envelope, Outcome.FAILED, "5.3.4", text), True)
    return None


def command_group(conn: OutboundConnection, envelope: Envelope, content: bytes) -> bytes:
    """MAIL, every RCPT and DATA as one pipelined group (RFC 2920 §3.1); only for a
    connection that offers PIPELINING. Raises LocalProtocolError for an envelope that
    cannot be written."""
    mail = MailFrom(envelope.sender, _mail_params(conn, envelope, content))
    core = conn.core
    out = [core.send(mail)]
    out += [core.send(RcptTo(r.address, _rcpt_params(conn, r))) for r in envelope.recipients]
    out.append(core.send(Data()))
    return b"".join(out)


def chunked(conn: OutboundConnection) -> bool:
    """The server takes whole transactions without waiting: CHUNKING (RFC 3030) with
    PIPELINING (RFC 2920)."""
    return conn.offers("CHUNKING") and conn.offers("PIPELINING")


def chunked_transaction(conn: OutboundConnection, envelope: Envelope, content: bytes) -> bytes:
    """A whole transaction to write at once where `chunked`: RSET, MAIL, every RCPT and
    the content as one BDAT LAST chunk (RFC 3030 §2, §4.2: BDAT may be pipelined, and
    so may the next transaction behind it). RSET first (RFC 2920 §3.1 lets it stand
    anywhere in a group) so a transaction starts clean whatever the one before left,
    such as a MAIL whose every RCPT was refused. Its replies are read by
    `chunked_result`. Raises LocalProtocolError for an envelope that cannot be written."""
    core = conn.core
    out = [
        core.send(Rset()),
        core.send(MailFrom(envelope.sender, _mail_params(conn, envelope, content))),
    ]
    out += [core.send(RcptTo(r.address, _rcpt_params(conn, r))) for r in envelope.recipients]
    out.append(core.send_bdat(crlf_lines(content), True))
    return b"".join(out)


async def chunked_result(
    conn: OutboundConnection, envelope: Envelope, data_timeout: float
) -> TransactionResult:
    """The replies to a `chunked_transaction`, in order (RFC 2920 §3.2)."""
    host = conn.host
    try:
        await conn.read_reply()  # RSET: nothing to reset is no failure either
        mail_reply = await conn.read_reply()
        rcpt_replies = [await conn.read_reply() for _ in envelope.recipients]
        final = await conn.read_reply(data_timeout)
    except ConnectionLost as e:
        # RFC 5321 §6.1: as with DATA, no final reply means no responsibility taken.
        return TransactionResult(_all(envelope, Outcome.DEFERRED, "4.4.2", str(e)), False)
    # The transaction ended with BDAT LAST whatever the replies said: the connection
    # carries the next one (its RSET clears what is left).
    if mail_reply.code != 250:
        return TransactionResult(_mail_refused(envelope, mail_reply, host), True)
    results, accepted = _rcpt_results(envelope, rcpt_replies, host)
    dsn = conn.offers("DSN")
    for recipient in accepted:
        results[recipient.address] = from_reply(recipient.address, final, host, peer_dsn=dsn)
    if accepted:
        conn.transactions += 1
    return TransactionResult(_ordered(envelope, results), True)


# Called once the message content is written: what to send after it in the same write
# (the next transaction's command group), or b"".
FollowUp = Callable[[], bytes]


async def send_transaction(
    conn: OutboundConnection,
    envelope: Envelope,
    content: bytes,
    data_timeout: float,
    *,
    group_sent: bool = False,
    follow: FollowUp | None = None,
) -> TransactionResult:
    """Deliver `content` (CRLF lines, not dot-stuffed) to the envelope's recipients.
    `group_sent`: the command group already left, behind the previous message (its
    `follow`), after `refusal` found nothing to refuse."""
    if not group_sent:
        refused = refusal(conn, envelope, content)
        if refused is not None:
            return refused
    try:
        return await _transaction(conn, envelope, content, data_timeout, group_sent, follow)
    except ConnectionLost as e:
        # RFC 5321 §6.1: no final reply means no responsibility was taken: try again
        # (a duplicate is possible when the reply to the final dot was lost).
        text = str(e)
        return TransactionResult(_all(envelope, Outcome.DEFERRED, "4.4.2", text), False)


async def _transaction(
    conn: OutboundConnection,
    envelope: Envelope,
    content: bytes,
    data_timeout: float,
    group_sent: bool,
    follow: FollowUp | None,
) -> TransactionResult:
    host = conn.host
    rcpt_replies: list[Reply] = []
    if group_sent or conn.offers("PIPELINING"):
        # RFC 2920 §3.1: MAIL, RCPT and DATA may be sent as one group.
        if not group_sent:
            conn.write(command_group(conn, envelope, content))
            await conn.drain()
        mail_reply = await conn.read_reply()
        for _ in envelope.recipients:
            rcpt_replies.append(await conn.read_reply())
        data_reply = await conn.read_reply()
    else:
        mail = MailFrom(envelope.sender, _mail_params(conn, envelope, content))
        rcpts = [RcptTo(r.address, _rcpt_params(conn, r)) for r in envelope.recipients]
        mail_reply = await conn.command(mail)
        data_reply = None
        if mail_reply.code == 250:
            for command in rcpts:
                rcpt_replies.append(await conn.command(command))
            if any(r.code in (250, 251) for r in rcpt_replies):
                data_reply = await conn.command(Data())
    if mail_reply.code != 250:
        refused = _mail_refused(envelope, mail_reply, host)
        if data_reply is not None and data_reply.code == 354:
            await _empty_data(conn)
        return TransactionResult(refused, await _reset(conn))
    results, accepted = _rcpt_results(envelope, rcpt_replies, host)
    if not accepted:
        if data_reply is not None and data_reply.code == 354:
            await _empty_data(conn)
        return TransactionResult(_ordered(envelope, results), await _reset(conn))
    if data_reply is None or data_reply.code != 354:
        reply = data_reply or Reply(451, "4.5.0", ("no reply to DATA",))
        for recipient in accepted:
            results[recipient.address] = from_reply(recipient.address, reply, host, soft=True)
        return TransactionResult(_ordered(envelope, results), await _reset(conn))
    message = conn.core.send_message(content)
    following = follow() if follow is not None else b""
    conn.write(message + following if following else message)
    await conn.drain()
    final = await conn.read_reply(data_timeout)
    dsn = conn.offers("DSN")
    for recipient in accepted:
        results[recipient.address] = from_reply(recipient.address, final, host, peer_dsn=dsn)
    conn.transactions += 1
    return TransactionResult(_ordered(envelope, results), True)


def _mail_refused(envelope: Envelope, reply: Reply, host: str) -> list[RecipientResult]:
    """Every recipient's result when MAIL was not answered 250."""
    return [from_reply(r.address, reply, host, soft=True) for r in envelope.recipients]


def _rcpt_results(
    envelope: Envelope, rcpt_replies: list[Reply], host: str
) -> tuple[dict[str, RecipientResult], list[Recipient]]:
    """Results for the refused recipients, and the accepted ones (still to be decided
    by the reply to the content)."""
    results: dict[str, RecipientResult] = {}
    accepted: list[Recipient] = []
    for recipient, reply in zip(envelope.recipients, rcpt_replies, strict=True):
        if reply.code in (250, 251):  # RFC 5321 §3.4: 251 will forward
            accepted.append(recipient)
        else:
            results[recipient.address] = from_reply(recipient.address, reply, host)
    return results, accepted


def _ordered(envelope: Envelope, results: dict[str, RecipientResult]) -> list[RecipientResult]:
    return [results[r.address] for r in envelope.recipients]


async def _empty_data(conn: OutboundConnection) -> None:
    # RFC 2920 §3.1: DATA accepted although no recipient was: end it with a lone dot.
    conn.write(conn.core.send_message(b""))
    await conn.drain()
    await conn.read_reply()


async def _reset(conn: OutboundConnection) -> bool:
    """RSET after a failed transaction so the connection can carry the next one."""
    try:
        reply = await conn.command(Rset())
    except ConnectionLost:
        return False
    return reply.code == 250
