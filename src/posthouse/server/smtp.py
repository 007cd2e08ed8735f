"""The SMTP session: turns events of the sans-IO core into decisions and store calls.

One module serves three listeners: the MTA port (mail for our domains, relaying
only after AUTH), submission with STARTTLS and submissions with implicit TLS
(RFC 6409 / RFC 8314: AUTH required, sender identity enforced).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from posthouse import __version__
from posthouse.accounts.addresses import AddressError
from posthouse.accounts.authenticate import AuthResult
from posthouse.accounts.directory import Resolution
from posthouse.config import Listener as ListenerConfig
from posthouse.mime.headers import (
    ORIGINATOR_FIELDS,
    HeaderError,
    field_names,
    fold_received,
    format_date,
    new_message_id,
    originators,
    split_message,
    unfolded_fields,
)
from posthouse.proto import sasl
from posthouse.proto.smtp.events import (
    NEED_DATA,
    PAUSED,
    Auth,
    AuthAbort,
    AuthResponse,
    BdatChunk,
    CommandRejected,
    ConnectionClosed,
    Data,
    Expn,
    Hello,
    Help,
    MailFrom,
    MessageBody,
    MessageRejected,
    Noop,
    Quit,
    RcptTo,
    Rset,
    StartTLS,
    Vrfy,
)
from posthouse.proto.smtp.reply import Reply
from posthouse.proto.smtp.server import (
    ServerConnection,
    ServerFeatures,
    ServerLimits,
    check_chunked_content,
)
from posthouse.queue.service import queued
from posthouse.senderauth.results import Verdict, check_message, remove_ours
from posthouse.server.context import ServerContext, is_loopback
from posthouse.server.imap_watch import mailboxes_changed
from posthouse.server.listener import Connection
from posthouse.store.base import (
    LocalDelivery,
    OutboundEnvelope,
    OutboundRecipient,
    QuotaExceeded,
    SpecialUse,
    User,
)

log = logging.getLogger("posthouse.smtp")

HELP_TEXT = (
    "posthouse SMTP: commands are",
    "EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT STARTTLS AUTH",
    "A message: EHLO you, MAIL FROM:<a@b>, RCPT TO:<c@d>, DATA, text, a line '.'",
    "End of HELP info",
)
TRANSCRIPT_LIMIT = 200  # lines kept with a message, for "how did this arrive?"
SENDER_CHECK_TIMEOUT = 30.0  # seconds for SPF, DKIM and DMARC together


@functools.lru_cache(maxsize=2)
def _date_at(second: int) -> str:
    return format_date(second)


def _date_now() -> str:
    """RFC 5322 §3.3 date-time of now: it changes once a second, and every message of
    that second shares one formatting."""
    return _date_at(int(time.time()))


def _r(code: int, enhanced: str | None, *lines: str) -> Reply:
    return Reply.of(code, enhanced, *lines)


@dataclass
class Envelope:
    """One mail transaction (RFC 5321 §3.3)."""

    sender: str | None = None
    mail_params: dict[str, str | None] = field(default_factory=dict)
    local_users: dict[int, User] = field(default_factory=dict)
    remote: list[OutboundRecipient] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    rcpt_params: list[dict[str, str | None]] = field(default_factory=list)
    chunks: bytearray = field(default_factory=bytearray)
    bdat_failed: bool = False


class SMTPSession:
    def __init__(self, ctx: ServerContext, listener: ListenerConfig, conn: Connection) -> None:
        self.ctx = ctx
        self.listener = listener
        self.conn = conn
        self.submission = listener.protocol == "submission"
        settings = ctx.config.smtp
        self.settings = settings
        self.core = ServerConnection(
            self._features(),
            ServerLimits(max_message_size=settings.max_message_size),
        )
        # RFC 5321 §2.3.8 forbids bare LF; scripts on this machine and logged-in users
        # still send it (smtplib with LF-only bytes).  For them it is read as CRLF, as
        # Postfix's smtpd_forbid_bare_newline = normalize does for its own networks;
        # peers elsewhere get 554 5.6.0.  Either way only CRLF "." CRLF ends DATA.
        self.core.normalize_bare_lf = is_loopback(conn.remote_ip)
        self.envelope = Envelope()
        self.user: User | None = None
        self.auth_via: str | None = None
        self.helo = ""
        self.errors = 0
        self.sasl: sasl.ServerMechanism | None = None
        self.session_lines: list[str] = []
        self.tx_lines: list[str] = []
        self._in_tx = False
        self._quiet_reply = False
        self._unlogged_reply = False  # the next reply answers an RSET kept out of the transcript
        self._out: list[bytes] = []  # replies not yet written
        self.closing = False
        self.session_id = f"{int(time.time() * 1000):x}{id(self) & 0xFFFF:04x}"
        self._handlers: dict[type, Callable[[Any], Awaitable[Reply | None]]] = {
            Hello: self.on_hello,
            MailFrom: self.on_mail,
            RcptTo: self.on_rcpt,
            Data: self.on_data,
            MessageBody: self.on_message,
            BdatChunk: self.on_bdat,
            Rset: self.on_rset,
            Noop: self.on_noop,
            Vrfy: self.on_vrfy,
            Expn: self.on_expn,
            Help: self.on_help,
            Quit: self.on_quit,
            StartTLS: self.on_starttls,
            Auth: self.on_auth,
            AuthResponse: self.on_auth_response,
            AuthAbort: self.on_auth_abort,
            CommandRejected: self.on_rejected,
            MessageRejected: self.on_message_rejected,
        }

    # --- policy ------------------------------------------------------------
    @property
    def tls_active(self) -> bool:
        return self.conn.tls is not None

    def _features(self) -> ServerFeatures:
        tls = self.conn.tls is not None
        auth_ok = self.ctx.plaintext_auth_allowed(self.conn.remote_ip, tls)
        authenticated = getattr(self, "user", None) is not None
        return ServerFeatures(
            starttls=(not tls and self.ctx.tls is not None and self.listener.tls == "starttls"),
            auth_mechanisms=sasl.SERVER_MECHANISMS if auth_ok and not authenticated else (),
        )

    def _greeting(self) -> Reply:
        text = f"{self.ctx.hostname} ESMTP posthouse"
        if self.ctx.config.teaching_mode:
            return _r(
                220,
                None,
                f"{text} - TEACHING MODE: passwords accepted without TLS",
                f"{self.ctx.hostname} ESMTP ready",
            )
        return _r(220, None, text)

    # --- the loop ----------------------------------------------------------
    async def run(self) -> None:
        self._send(self._greeting())
        while not self.closing:
            event = self.core.next_event()
            if event is NEED_DATA:
                if self.ctx.shutting_down.is_set() and self.envelope.sender is None:
                    self._send(_r(421, "4.3.2", f"{self.ctx.hostname} shutting down"))
                    break
                # RFC 2920 §3.2: the replies to a group of pipelined commands leave
                # together, once the group is read; one write, not one per reply.
                self._write_out()
                if not await self._flush() or not await self._receive():
                    break
                continue
            if event is PAUSED:  # cannot happen: every event is answered below
                raise RuntimeError("SMTP core paused with no pending reply")
            if isinstance(event, ConnectionClosed):
                break
            self._record(event)
            handler = self._handlers[type(event)]
            reply = await handler(event)
            if reply is not None:
                self._send(reply)
                if reply.code == 421:
                    break
            if self.errors >= self.settings.max_errors and not self.closing:
                self._send(_r(421, "4.7.0", "Too many errors, closing connection"))
                break
        self._write_out()
        await self._flush()

    def _write_out(self) -> None:
        if self._out:
            data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
            self._out.clear()
            self.conn.write(data)

    async def _flush(self) -> bool:
        """Wait while the client is not reading its replies (pipelined commands
        whose replies pile up); give up, dropping the connection, after the idle
        timeout so a client that never reads cannot hold memory or a slot."""
        if not self.conn.write_paused:
            return True
        try:
            async with asyncio.timeout(self.settings.idle_timeout):
                await self.conn.drain()
        except TimeoutError:
            self.conn.abort()
            return False
        return True

    async def _receive(self) -> bool:
        # RFC 5321 §4.5.3.2.6: 10 minutes for data blocks, 5 for commands.
        timeout = self.settings.data_timeout if self.core.in_data else self.settings.idle_timeout
        try:
            data = await self.conn.read(timeout)
        except TimeoutError:
            # RFC 5321 §4.5.3.2: a server may close an idle connection, with 421.
            self._send(_r(421, "4.4.2", f"{self.ctx.hostname} idle timeout, closing connection"))
            return False
        if not data:
            if self.conn.at_eof:
                self.core.receive_data(b"")
            return True  # else: interrupted by a shutdown, noticed by run()
        self.core.receive_data(data)
        return True

    def _send(self, reply: Reply) -> None:
        data = self.core.send(reply)
        self._out.append(data)
        if self._unlogged_reply:
            self._unlogged_reply = False
        elif self._quiet_reply:  # the reply echoes the unrecognized line
            self._log_line(f"S: {reply.code} {reply.enhanced or ''} (unrecognized command)")
            self._quiet_reply = False
        else:
            for line in data.decode("utf-8", "replace").splitlines():
                self._log_line("S: " + line)
        if self.envelope.sender is None:
            self._in_tx = False

    def _record(self, event: object) -> None:
        """Keep the conversation as the core understood it: commands, never message
        content or credentials.  A message carries the session's lines outside any
        transaction plus its own transaction's, not those of earlier messages."""
        if isinstance(event, Rset) and not self._in_tx:
            # Nothing to reset: a client writing transactions ahead starts each with
            # RSET (RFC 2920 §3.1), which would otherwise leave one more pair of lines
            # in every later message's transcript.
            self._unlogged_reply = True
            return
        if isinstance(event, MailFrom):
            self.tx_lines = []
            self._in_tx = True
        line = describe_command(event, self.sasl is not None)
        self._log_line("C: " + line[:200])
        self._quiet_reply = line.startswith("<unrecognized")

    def _log_line(self, line: str) -> None:
        lines = self.tx_lines if self._in_tx else self.session_lines
        if len(lines) < TRANSCRIPT_LIMIT:
            lines.append(line)

    @property
    def transcript(self) -> list[str]:
        return self.session_lines + self.tx_lines

    def _error(self, reply: Reply) -> Reply:
        self.errors += 1
        return reply

    # --- handlers ------------------------------------------------------------
    async def on_hello(self, ev: Hello) -> Reply:
        self.helo = ev.domain
        self.envelope = Envelope()
        remote = f"[{self.conn.remote_ip}]"
        if ev.verb == "HELO":
            return _r(250, None, f"{self.ctx.hostname} Hello {ev.domain} {remote}")
        self.core.features = self._features()
        return self.core.ehlo_reply(self.ctx.hostname, f"Hello {ev.domain} {remote}")

    async def on_mail(self, ev: MailFrom) -> Reply:
        if self.submission and self.user is None:
            return self._error(_r(530, "5.7.0", "Authentication required (RFC 6409 section 4.3)"))
        # Whoever authenticated sends as themselves, on any port (RFC 6409 §6.1).
        if self.user is not None and (
            not ev.address or not await self.ctx.directory.may_send_as(self.user, ev.address)
        ):
            return self._error(
                _r(553, "5.7.1", f"Sender <{ev.address}> not owned by {self.user.address}")
            )
        params = dict(ev.params)
        if "AUTH" in params:
            # RFC 4954 §5: never trust a client's AUTH=; record who really sent it.
            params["AUTH"] = self.user.address if self.user is not None else "<>"
        self.envelope = Envelope(sender=ev.address, mail_params=params)
        return _r(250, "2.1.0", "Sender OK")

    async def on_rcpt(self, ev: RcptTo) -> Reply:
        env = self.envelope
        if len(env.recipients) >= self.settings.max_recipients:
            # RFC 5321 §4.5.3.1.10: 452 so the client retries the rest later.
            return _r(452, "4.5.3", "Too many recipients")
        address = ev.address
        if address.lower() == "postmaster":  # RFC 5321 §4.5.1
            address = f"postmaster@{self.ctx.config.domain}"
        try:
            res: Resolution = await self.ctx.directory.resolve(address)
        except AddressError:
            return self._error(_r(553, "5.1.3", f"<{address}>: invalid address"))
        dsn = {k: v for k, v in ev.params.items() if v is not None}
        if res.is_local:
            if not res.users and not res.remote:
                # Not counted as a client error: a relay retrying a list that holds
                # one stale address must still deliver to the rest.
                return _r(550, "5.1.1", f"<{address}>: no such user here")
            for user in res.users:
                if user.quota_bytes is not None and (
                    await self.ctx.store.usage(user.id) >= user.quota_bytes
                ):
                    # RFC 3463 4.2.2: mailbox full, for this recipient only.
                    return _r(452, "4.2.2", f"<{address}>: mailbox full, try again later")
            for user in res.users:
                env.local_users.setdefault(user.id, user)
            env.remote.extend(OutboundRecipient(t, dsn) for t in res.remote)
        else:
            if self.user is None:
                return self._error(_r(554, "5.7.1", f"<{address}>: Relay access denied"))
            env.remote.append(OutboundRecipient(address, dsn))
        env.recipients.append(address)
        env.rcpt_params.append(dict(ev.params))
        return _r(250, "2.1.5", "Recipient OK")

    async def on_data(self, ev: Data) -> Reply:
        return _r(354, None, "End data with <CR><LF>.<CR><LF>")

    async def on_message(self, ev: MessageBody) -> Reply:
        try:
            return await self._accept(ev.content)
        finally:
            self.envelope = Envelope()

    async def on_bdat(self, ev: BdatChunk) -> Reply:
        env = self.envelope
        if not ev.last and not ev.data:
            self.envelope = Envelope()
            return self._error(_r(501, "5.5.4", "BDAT 0 is allowed only with LAST"))
        env.chunks += ev.data
        if not ev.last:
            return _r(250, "2.0.0", f"{len(ev.data)} octets received")
        content = bytes(env.chunks)
        env.chunks.clear()
        try:
            problem = check_chunked_content(content, self.core.limits.max_text_line)
            if problem is not None:
                return self._error(problem)
            return await self._accept(content)
        finally:
            self.envelope = Envelope()

    async def on_message_rejected(self, ev: MessageRejected) -> Reply:
        self.envelope = Envelope()
        return self._error(ev.reply)

    async def on_rset(self, ev: Rset) -> Reply:
        self.envelope = Envelope()
        return _r(250, "2.0.0", "Reset OK")

    async def on_noop(self, ev: Noop) -> Reply:
        return _r(250, "2.0.0", "OK")

    async def on_vrfy(self, ev: Vrfy) -> Reply:
        # RFC 5321 §3.5.3: 252 = cannot verify, but will try; VRFY leaks nothing.
        return _r(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")

    async def on_expn(self, ev: Expn) -> Reply:
        return _r(502, "5.5.1", "EXPN not available")

    async def on_help(self, ev: Help) -> Reply:
        return Reply(214, "2.0.0", HELP_TEXT)

    async def on_quit(self, ev: Quit) -> Reply:
        self.closing = True
        return _r(221, "2.0.0", f"{self.ctx.hostname} closing connection")

    async def on_starttls(self, ev: StartTLS) -> Reply | None:
        assert self.ctx.tls is not None
        self._send(_r(220, "2.0.0", "Ready to start TLS"))
        self._write_out()
        await self.conn.drain()
        await self.conn.start_tls(self.ctx.tls)
        self._log_line(
            f"-- TLS established: {self.conn.tls and self.conn.tls.get('version')} "
            f"{self.conn.tls and self.conn.tls.get('cipher')}"
        )
        self.envelope = Envelope()
        self.helo = ""
        # RFC 3207 §4.2: forget everything learnt before TLS, authentication too.
        self.user = None
        self.auth_via = None
        self.sasl = None
        self.core.features = self._features()
        return None

    async def on_auth(self, ev: Auth) -> Reply:
        try:
            self.sasl = sasl.server_mechanism(ev.mechanism)
        except KeyError:
            return self._error(_r(504, "5.5.4", f"Unrecognized authentication type {ev.mechanism}"))
        return await self._sasl_step(ev.initial_response)

    async def on_auth_response(self, ev: AuthResponse) -> Reply:
        return await self._sasl_step(ev.data)

    async def on_auth_abort(self, ev: AuthAbort) -> Reply:
        self.sasl = None
        return self._error(_r(501, "5.0.0", "Authentication cancelled"))

    async def _sasl_step(self, response: bytes | None) -> Reply:
        assert self.sasl is not None
        try:
            step = self.sasl.step(response)
        except sasl.SASLError as e:
            self.sasl = None
            return self._error(_r(501, "5.5.2", f"Malformed authentication data: {e}"))
        if isinstance(step, sasl.Challenge):
            return _r(334, None, base64.b64encode(step.data).decode("ascii"))
        self.sasl = None
        result: AuthResult = await self.ctx.authenticator.authenticate(
            step.username, step.password, protocol="smtp", remote_ip=self.conn.remote_ip
        )
        if step.authzid and step.authzid.lower() != step.username.lower():
            # RFC 4616 §2: we do not let one identity act as another.
            return self._error(_r(535, "5.7.8", "Authorization identity not permitted"))
        if not result.ok:
            return self._error(self._auth_failure(result))
        self.user = result.user
        self.core.normalize_bare_lf = True
        self.auth_via = result.via_app_password
        self.core.features = self._features()
        log.info("smtp %s authenticated as %s", self.conn.remote_ip, self.user.address)
        return _r(235, "2.7.0", "Authentication successful")

    def _auth_failure(self, result: AuthResult) -> Reply:
        reason = result.reason
        if reason == "throttled":
            return _r(454, "4.7.0", "Too many failed logins, try again later")
        if reason == "protocol_disabled":
            return _r(535, "5.7.8", "SMTP access is switched off for this account")
        if reason == "disabled":
            return _r(535, "5.7.8", "Account disabled")
        return _r(535, "5.7.8", "Authentication credentials invalid")

    async def on_rejected(self, ev: CommandRejected) -> Reply:
        if (
            ev.line[:4].upper() == b"AUTH"
            and self.user is None
            and not self.ctx.plaintext_auth_allowed(self.conn.remote_ip, self.tls_active)
        ):
            # RFC 4954 §6: tell the person exactly what is missing.
            return self._error(
                _r(538, "5.7.11", "Encryption required for authentication: use STARTTLS first")
            )
        return self._error(ev.reply)

    # --- accepting a message -------------------------------------------------
    async def _accept(self, content: bytes) -> Reply:
        env = self.envelope
        if env.sender is None or not env.recipients:
            return self._error(_r(503, "5.5.1", "No valid recipients"))
        verdict = None
        if self._sender_checks_apply():
            # RFC 8601 §5: results claiming to be ours that came with the message go.
            content = remove_ours(content, self.ctx.hostname)
            verdict = await self._check_sender(content)
            if verdict is not None and verdict.disposition == "reject":
                # RFC 7489 §6.7, §10.3: refuse in the SMTP session rather than bounce later
                log.info(
                    "smtp %s refused from=<%s>: DMARC reject for %s",
                    self.conn.remote_ip,
                    env.sender,
                    verdict.from_domain,
                )
                return _r(
                    550,
                    "5.7.1",
                    f"Unauthenticated mail from {verdict.from_domain} refused by its DMARC policy",
                )
        header, body = split_message(content)
        added: list[bytes] = []
        if self.user is not None:
            reply = await self._check_originators(header)
            if reply is not None:
                return self._error(reply)
        if self.submission:
            present = field_names(header)
            # RFC 6409 §8.2-8.3: a submission server may add Date and Message-ID.
            if "message-id" not in present:
                added.append(f"Message-ID: {new_message_id(self.ctx.hostname)}\r\n".encode())
            if "date" not in present:
                added.append(f"Date: {_date_now()}\r\n".encode())
        queue_id_hint = self.session_id
        trace = self._received_header(queue_id_hint)
        # RFC 5321 §4.4: Return-Path is added at final delivery; the relay strips it.
        return_path = f"Return-Path: <{env.sender}>\r\n".encode()
        results = verdict.header if verdict is not None else b""
        raw = (
            b"".join([return_path, results, trace, header, *added, body])
            if header
            else b"".join([return_path, results, trace, *added, b"\r\n", body])
        )
        junk = verdict is not None and verdict.disposition == "quarantine"
        local = []
        for user in env.local_users.values():
            mailbox = None
            if junk:  # RFC 7489 §6.3 p=quarantine: "treat as suspicious", here the Junk folder
                mailbox = await self.ctx.store.mailbox_by_role(user.id, SpecialUse.JUNK)
            if mailbox is None:
                mailbox = await self.ctx.store.get_mailbox(user.id, "INBOX")
            if mailbox is None:
                log.error("smtp: user %s has no INBOX", user.address)
                return _r(451, "4.3.0", "Temporary storage failure, try again later")
            local.append(LocalDelivery(mailbox.id))
        outbound = None
        if env.remote:
            # A parameter without a value (SMTPUTF8, RFC 6531 §3.4) is kept as "".
            params = {k: "" if v is None else v for k, v in env.mail_params.items()}
            outbound = OutboundEnvelope(env.sender, tuple(env.remote), params)
        try:
            result = await self.ctx.store.accept(raw, local, outbound, meta=self._meta(verdict))
        except QuotaExceeded:
            return _r(552, "5.2.2", "Mailbox full")
        except Exception:
            # Whatever went wrong (disk full, I/O error), nothing was acknowledged:
            # RFC 5321 §4.2.5 wants a transient reply so the client retries.
            log.exception("smtp %s: storing a message failed", self.conn.remote_ip)
            return _r(451, "4.3.0", "Temporary storage failure, try again later")
        mailboxes_changed(self.ctx.store, (d.mailbox_id for d in local))
        if outbound is not None:
            queued(self.ctx.store)  # deliver now, not at the queue's next look
        ident = result.blob_id[:16]
        log.info(
            "smtp %s accepted %s from=<%s> rcpts=%d size=%d",
            self.conn.remote_ip,
            ident,
            env.sender,
            len(env.recipients),
            len(raw),
        )
        return _r(250, "2.0.0", f"OK: queued as {ident}")

    def _sender_checks_apply(self) -> bool:
        """SPF, DKIM and DMARC judge mail arriving from other servers: the MTA port,
        unauthenticated.  A client on this machine's loopback is another local program,
        not a peer on the Internet, unless the instance runs a lab: a [dns] table that
        describes some domains.  An empty [dns] table only keeps the instance off real
        DNS (every name is unknown), as test instances do."""
        if self.listener.protocol != "smtp" or self.user is not None:
            return False
        return bool(self.ctx.config.dns) or not is_loopback(self.conn.remote_ip)

    async def _check_sender(self, content: bytes) -> Verdict | None:
        try:
            async with asyncio.timeout(SENDER_CHECK_TIMEOUT):
                return await check_message(
                    self.ctx.dns(),
                    client_ip=self.conn.remote_ip,
                    helo=self.helo,
                    mail_from=self.envelope.sender or "",
                    raw=content,
                    authserv_id=self.ctx.hostname,
                )
        except TimeoutError:
            log.warning("smtp %s: sender checks timed out", self.conn.remote_ip)
            return None

    async def _check_originators(self, header: bytes) -> Reply | None:
        """Every address in From, Sender and Resent-* must be the user's own
        (RFC 6409 §8.1 lets an MSA refuse): no forged header From."""
        assert self.user is not None
        try:
            fields = plain_originators(header) or originators(header)
        except HeaderError as e:
            return _r(550, "5.6.0", f"Message header refused: {e}")
        for addresses in fields.values():
            for address in addresses:
                if not await self.ctx.directory.may_send_as(self.user, address):
                    return _r(553, "5.7.1", f"<{address}> not owned by {self.user.address}")
        return None

    def _protocol_name(self) -> str:
        # RFC 3848 with-protocol types.
        hello = self.core.hello
        extended = (hello is not None and hello.verb == "EHLO") or self.user is not None
        name = "ESMTP" if extended else "SMTP"
        if extended:
            if self.tls_active:
                name += "S"
            if self.user is not None:
                name += "A"
        return name

    def _received_header(self, ident: str) -> bytes:
        env = self.envelope
        helo = "".join(c for c in (self.helo or "unknown") if 32 < ord(c) < 127)[:64] or "unknown"
        parts = [f"from {helo} ([{self.conn.remote_ip}])", f"by {self.ctx.hostname}"]
        parts.append(f"(posthouse {__version__})")
        if self.conn.tls:
            parts.append(
                f"(using {self.conn.tls['version']} with cipher {self.conn.tls['cipher']})"
            )
        parts.append(f"with {self._protocol_name()}")
        parts.append(f"id {ident}")
        if len(env.recipients) == 1:
            rcpt = "".join(c for c in env.recipients[0] if 32 < ord(c) < 127)
            parts.append(f"for <{rcpt}>;")
        else:
            parts[-1] += ";"
        parts.append(_date_now())
        return fold_received(parts)

    def _meta(self, verdict: Verdict | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "smtp": {
                "remote_ip": self.conn.remote_ip,
                "helo": self.helo,
                "listener": self.listener.name,
                "tls": self.conn.tls,
                "authenticated": self.user.address if self.user else None,
                "sender": self.envelope.sender,
                # RFC 3461 / RFC 6152 / RFC 6531 MAIL parameters, kept with the message
                "mail_params": dict(self.envelope.mail_params),
                "rcpt_params": list(self.envelope.rcpt_params),
                "recipients": list(self.envelope.recipients),
                "transcript": list(self.transcript),
            }
        }
        if verdict is not None:
            meta["auth"] = verdict.to_json()  # SPF, DKIM, DMARC results and "forged"
        return meta


# One From holding one address in its plainest forms (RFC 5322 §3.4: `local@domain`,
# `<local@domain>` or `Words <local@domain>`), as nearly every client writes it.
_WORD = r"[A-Za-z0-9_%+-]+"
_PLAIN_ADDRESS = rf"({_WORD}(?:\.{_WORD})*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
_PLAIN_NAME = r"(?:[A-Za-z0-9]+(?: [A-Za-z0-9]+)* )?"
_PLAIN_FROM = re.compile(rf"{_PLAIN_ADDRESS}|{_PLAIN_NAME}<{_PLAIN_ADDRESS}>")


def plain_originators(header: bytes) -> dict[str, list[str]] | None:
    """What `originators` returns for a header whose only originator field is a From
    of one plain address, found without the email package's parser (the largest cost
    of a submitted message); None for any other header, which `originators` reads.
    Raises HeaderError as `originators` does for a header block it cannot read."""
    found = [(name, value) for name, value in unfolded_fields(header) if name in ORIGINATOR_FIELDS]
    if len(found) != 1 or found[0][0] != "from":
        return None
    m = _PLAIN_FROM.fullmatch(found[0][1])
    if m is None:
        return None
    local, domain = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return {"from": [f"{local}@{domain}"]}


def describe_command(event: object, in_sasl: bool) -> str:
    """One transcript line for a client event, with credentials and content left out."""
    match event:
        case Hello(verb=verb, domain=domain):
            return f"{verb} {domain}"
        case MailFrom(address=address, params=params):
            return f"MAIL FROM:<{address}>{_params(params)}"
        case RcptTo(address=address, params=params):
            return f"RCPT TO:<{address}>{_params(params)}"
        case Auth(mechanism=mechanism, initial_response=initial):
            return f"AUTH {mechanism}" + ("" if initial is None else " <credentials redacted>")
        case AuthResponse():
            return "<credentials redacted>"
        case AuthAbort():
            return "*"
        case MessageBody(content=content):
            return f"<message content, {len(content)} octets>"
        case BdatChunk(data=data, last=last):
            return f"BDAT {len(data)}{' LAST' if last else ''} <{len(data)} octets>"
        case MessageRejected():
            return "<message content>"
        case CommandRejected(line=line):
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = text.split(None, 1)[0].upper() if text.split() else ""
            if in_sasl or verb == "AUTH":
                return "AUTH <credentials redacted>" if not in_sasl else "<credentials redacted>"
            if verb not in SMTP_VERBS:
                # It may be a credential sent out of turn: keep only its length.
                return f"<unrecognized line, {len(line)} octets>"
            return "".join(c if c.isprintable() else "?" for c in text)
        case Vrfy(argument=arg) | Expn(argument=arg):
            return f"{type(event).__name__.upper()} {arg}"
    return type(event).__name__.upper()


SMTP_VERBS = frozenset(
    {"HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT"}
    | {"RSET", "NOOP", "VRFY", "EXPN", "HELP", "QUIT", "STARTTLS"}
)


def _params(params: dict[str, str | None]) -> str:
    return "".join(f" {k}" if v is None else f" {k}={v}" for k, v in params.items())


async def serve_smtp(ctx: ServerContext, listener: ListenerConfig, conn: Connection) -> None:
    await SMTPSession(ctx, listener, conn).run()
