"""The IMAP session: commands from the sans-IO parser turned into store calls and
responses (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1).

One module serves both listeners: 2143 (STARTTLS, RFC 9051 §6.2.1) and 2993 (implicit
TLS, RFC 8314).  Commands are read in order, pipelined or not, and answered in order;
each command's changes reach the store (durably, for APPEND/STORE/COPY/MOVE/EXPUNGE)
before its tagged OK.  After every command the session reads back what changed in the
selected mailbox meanwhile — by this session, another one, another process or an SMTP
delivery — and tells the client (`imap_selected.Selected.apply`).  IDLE waits on the
per-process `MailboxWatcher` instead of polling per connection.

Login follows the other protocols: password or app password, the user's IMAP switch,
passwords only inside TLS except from loopback or in teaching mode (LOGINDISABLED
otherwise, RFC 9051 §6.2.3), and the shared login throttle.
"""

from __future__ import annotations

import asyncio
import logging
import math
from array import array
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from posthouse.accounts.authenticate import AuthReason, AuthResult
from posthouse.config import Listener as ListenerConfig
from posthouse.proto import sasl
from posthouse.proto.imap import events as ev
from posthouse.proto.imap import response as rs
from posthouse.proto.imap.events import Sentinel
from posthouse.proto.imap.response import Continuation, ResponseCode, Tagged, Untagged
from posthouse.proto.imap.seqset import SequenceSet
from posthouse.proto.imap.server import CommandParser
from posthouse.server import imap_commands, imap_idle, imap_list, imap_names, imap_search
from posthouse.server.context import ServerContext
from posthouse.server.imap_refusal import Refusal, bad, no
from posthouse.server.imap_selected import BadSet, Selected, system_flag
from posthouse.server.imap_watch import watcher_for
from posthouse.server.listener import Connection
from posthouse.store.base import (
    AlreadyExists,
    Mailbox,
    MessageRecord,
    NotFound,
    QuotaExceeded,
    SpecialUse,
    StoreError,
)
from posthouse.store.base import User as Account

log = logging.getLogger("posthouse.imap")

OVERLOAD_REPLY = b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
IDENTITY = (("name", "posthouse"), ("vendor", "posthouse"), ("support-url", None))
MAX_LITERAL_BEFORE_LOGIN = 8 * 1024  # octets a client may send before it logs in
MAX_LITERAL_OTHER = 1024 * 1024  # literals outside APPEND (search strings, names)
IDLE_CHECK = 60.0  # seconds between checks of a quiet IDLE (shutdown, lost peers)
FETCH_BATCH = 500  # messages whose records are read in one store call
SPECIAL_USES = frozenset(s.value for s in SpecialUse)

# RFC 9051 §6: which commands each state accepts.
ANY_STATE = (ev.Capability, ev.Noop, ev.Logout, ev.Id)
NOT_AUTHENTICATED = (ev.StartTls, ev.Authenticate, ev.Login)
AUTHENTICATED = (
    ev.Enable,
    ev.Select,
    ev.Create,
    ev.Delete,
    ev.Rename,
    ev.Subscribe,
    ev.Unsubscribe,
    ev.List,
    ev.Lsub,
    ev.Namespace,
    ev.Status,
    ev.Append,
    ev.Idle,
)
SELECTED = (
    ev.Check,
    ev.Close,
    ev.Unselect,
    ev.Expunge,
    ev.Search,
    ev.Fetch,
    ev.Store,
    ev.Copy,
    ev.Move,
)
# RFC 9051 §7.5.1: no EXPUNGE while answering these by sequence number.
_NO_EXPUNGE = (ev.Fetch, ev.Store, ev.Search)


class UserSessions:
    """How many IMAP sessions each user holds in this process (a cap keeps one account
    from taking every connection)."""

    def __init__(self) -> None:
        self.count: dict[int, int] = {}

    def enter(self, user_id: int, limit: int) -> bool:
        n = self.count.get(user_id, 0)
        if n >= limit:
            return False
        self.count[user_id] = n + 1
        return True

    def leave(self, user_id: int) -> None:
        n = self.count.get(user_id, 0) - 1
        if n > 0:
            self.count[user_id] = n
        else:
            self.count.pop(user_id, None)


USER_SESSIONS = UserSessions()


class ImapSession:
    def __init__(self, ctx: ServerContext, listener: ListenerConfig, conn: Connection) -> None:
        self.ctx = ctx
        self.listener = listener
        self.conn = conn
        self.settings = ctx.config.imap
        self.store = ctx.store
        self.watcher = watcher_for(ctx.store)
        self.parser = self._new_parser()
        self.account: Account | None = None
        self.selected: Selected | None = None
        self.enabled: set[str] = set()
        self.condstore = False  # RFC 7162 §3.1: on by ENABLE, SELECT (CONDSTORE) or use
        self.sasl: sasl.ServerMechanism | None = None
        self.sasl_tag: str | None = None
        self.errors = 0
        self.closing = False
        self.sync_token: int | None = None
        self._handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            ev.Capability: self.on_capability,
            ev.Noop: self.on_noop,
            ev.Check: self.on_noop,
            ev.Logout: self.on_logout,
            ev.Id: self.on_id,
            ev.StartTls: self.on_starttls,
            ev.Login: self.on_login,
            ev.Authenticate: self.on_authenticate,
            ev.Enable: self.on_enable,
            ev.Select: self.on_select,
            ev.Create: self.on_create,
            ev.Delete: self.on_delete,
            ev.Rename: self.on_rename,
            ev.Subscribe: self.on_subscribe,
            ev.Unsubscribe: self.on_subscribe,
            ev.List: self.on_list,
            ev.Lsub: self.on_lsub,
            ev.Namespace: self.on_namespace,
            ev.Status: self.on_status,
            ev.Append: self.on_append,
            ev.Idle: self.on_idle,
            ev.Close: self.on_close,
            ev.Unselect: self.on_close,
            ev.Expunge: self.on_expunge,
            ev.Search: self.on_search,
            ev.Fetch: self.on_fetch,
            ev.Store: self.on_store,
            ev.Copy: self.on_copy,
            ev.Move: self.on_copy,
        }

    # --- basics -------------------------------------------------------------------
    @property
    def tls_active(self) -> bool:
        return self.conn.tls is not None

    @property
    def utf8(self) -> bool:
        return "UTF8=ACCEPT" in self.enabled

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    @property
    def rev2(self) -> bool:
        return "IMAP4REV2" in self.enabled

    def _new_parser(self) -> CommandParser:
        # Before login, non-synchronising literals too are held to the small limit;
        # _login raises it (a stranger must not make us buffer megabytes).
        return CommandParser(max_literal=MAX_LITERAL_BEFORE_LOGIN)

    def _literal_limit_after_login(self) -> int:
        return max(self.settings.append_limit, 64 * 1024)

    def _plaintext_ok(self) -> bool:
        return self.ctx.plaintext_auth_allowed(self.conn.remote_ip, self.tls_active)

    def _starttls_available(self) -> bool:
        return self.ctx.starttls_available(self.listener, self.tls_active)

    def capabilities(self) -> list[str]:
        caps = ["IMAP4rev1", "IMAP4rev2"]
        if self.account is None:
            if self._starttls_available():
                caps.append("STARTTLS")
            if self._plaintext_ok():
                caps += ["AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR"]
            else:
                caps.append("LOGINDISABLED")  # RFC 9051 §6.2.3
        caps += [
            "LITERAL+",
            "ID",
            "ENABLE",
            "IDLE",
            "NAMESPACE",
            "UNSELECT",
            "UIDPLUS",
            "MOVE",
            "CHILDREN",
            "SPECIAL-USE",
            "CREATE-SPECIAL-USE",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "STATUS=SIZE",
            "ESEARCH",
            "SEARCHRES",
            "CONDSTORE",
            "QRESYNC",
            "BINARY",
            "MULTIAPPEND",
            f"APPENDLIMIT={self.settings.append_limit}",
            "UTF8=ACCEPT",
        ]
        return caps

    def send(self, *chunks: bytes) -> None:
        self.conn.writelines(chunks)

    def tagged(self, tag: str, status: str, text: str, code: ResponseCode | None = None) -> None:
        self.send(Tagged(tag, status, text, code).to_bytes())

    async def drain(self) -> bool:
        """Wait while the client is slow to read; cut off one that stopped reading."""
        if not self.conn.write_paused:
            return True
        try:
            async with asyncio.timeout(self.settings.idle_timeout):
                await self.conn.drain()
        except TimeoutError:
            log.info("imap %s: client stopped reading, connection aborted", self.conn.remote_ip)
            self.conn.abort()
            self.closing = True
            return False
        return True

    # --- the loop -----------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._serve()
        finally:
            if self.account is not None:
                USER_SESSIONS.leave(self.account.id)

    def _greeting(self) -> bytes:
        text = f"{self.ctx.hostname} IMAP4rev2 posthouse ready"
        if self.ctx.config.teaching_mode:
            text += " - TEACHING MODE: passwords accepted without TLS"
        code = rs.capability_code(self.capabilities())
        return Untagged("OK", code=code, text=text).to_bytes()

    async def _serve(self) -> None:
        self.send(self._greeting())
        while not self.closing:
            event = self.parser.next_command()
            if isinstance(event, Sentinel):  # NEED_DATA
                if self.ctx.shutting_down.is_set():
                    self.send(Untagged("BYE", text="Server shutting down").to_bytes())
                    break
                if not await self._receive():
                    break
                continue
            if isinstance(event, ev.ConnectionClosed):
                break
            await self._dispatch(event)
            if not await self.drain():
                return

    async def _receive(self) -> bool:
        try:
            data = await self.conn.read(self.settings.idle_timeout)
        except TimeoutError:
            # RFC 9051 §5.4: the autologout timer; BYE says why.
            self.send(Untagged("BYE", text="Autologout: idle for too long").to_bytes())
            return False
        if data or self.conn.at_eof:
            self.parser.receive_data(data)
        return True

    async def _dispatch(self, event: ev.ServerEvent) -> None:
        if isinstance(event, ev.LiteralPending):
            self._on_literal(event)
        elif isinstance(event, ev.BadCommand):
            self._on_bad(event)
        elif isinstance(event, ev.SaslResponse):
            await self._sasl_step(event.tag, event.data)
        elif isinstance(event, ev.SaslAbort):
            self.sasl = None
            self.tagged(event.tag, "BAD", "Authentication cancelled")  # RFC 9051 §6.2.2
        elif isinstance(event, ev.IdleDone):
            self.tagged(event.tag, "BAD", "DONE without IDLE")
        elif isinstance(event, ev.ConnectionClosed):
            self.closing = True
        else:
            await self._command(event)

    def _on_literal(self, event: ev.LiteralPending) -> None:
        if self.account is None:
            limit = MAX_LITERAL_BEFORE_LOGIN
        elif event.command == "APPEND":
            limit = self.settings.append_limit
        else:
            limit = MAX_LITERAL_OTHER
        if event.size > limit:
            # RFC 7889 §3 / RFC 9051 §7.1: refuse before the client sends the octets.
            self.parser.reject_literal()
            what = "message" if event.command == "APPEND" else "literal"
            self.tagged(
                event.tag, "NO", f"The {what} is larger than the {limit}-octet limit", rs.TOOBIG
            )
            return
        self.parser.accept_literal()
        self.send(Continuation("Ready for literal data").to_bytes())

    def _on_bad(self, event: ev.BadCommand) -> None:
        self.sasl = None
        self.send(event.response.to_bytes())
        self._count_error()

    def _count_error(self) -> None:
        self.errors += 1
        if self.errors >= self.settings.max_errors:
            self.send(Untagged("BYE", text="Too many invalid commands, closing").to_bytes())
            self.closing = True

    async def _command(self, cmd: ev.Command) -> None:
        tag = cmd.tag
        if not self._allowed(cmd):
            self._count_error()
            if self.account is None:
                text = "Log in first (LOGIN or AUTHENTICATE)"
            elif isinstance(cmd, NOT_AUTHENTICATED):
                text = "Already logged in"
            else:
                text = "No mailbox selected (SELECT or EXAMINE first)"
            self.tagged(tag, "BAD", text)
            return
        try:
            await self._handlers[type(cmd)](cmd)
        except Refusal as r:
            if r.status == "BAD":
                self._count_error()
            await self._sync_before_tagged(cmd)
            self.tagged(tag, r.status, r.text, r.code)
        except NotFound:
            await self._sync_before_tagged(cmd)
            self.tagged(tag, "NO", "The mailbox or message is gone", ResponseCode("NONEXISTENT"))
        except QuotaExceeded:
            self.tagged(tag, "NO", "Over quota", ResponseCode("OVERQUOTA"))  # RFC 9208 §4.3
        except Exception as e:
            log.exception("imap %s: %s failed", self.conn.remote_ip, type(cmd).__name__)
            self.tagged(
                tag,
                "NO",
                f"Server error, try again later ({type(e).__name__})",
                ResponseCode("SERVERBUG"),
            )
        else:
            self.errors = 0

    def _allowed(self, cmd: ev.Command) -> bool:
        if isinstance(cmd, ANY_STATE):
            return True
        if self.account is None:
            return isinstance(cmd, NOT_AUTHENTICATED)
        if isinstance(cmd, AUTHENTICATED):
            return True
        return self.selected is not None and isinstance(cmd, SELECTED)

    async def _sync_before_tagged(self, cmd: ev.Command) -> None:
        if self.selected is not None and not self.closing:
            await self.sync(expunge_ok=_expunge_ok(cmd))

    async def ok(self, cmd: ev.Command, text: str, code: ResponseCode | None = None) -> None:
        """Bring the client up to date, then the tagged OK."""
        await self._sync_before_tagged(cmd)
        self.tagged(cmd.tag, "OK", text, code)

    # --- keeping the client up to date ---------------------------------------------
    async def sync(self, *, expunge_ok: bool, force: bool = False) -> None:
        sel = self.selected
        if sel is None:
            return
        token = self.store.change_token()
        if token == self.sync_token and not force and not (expunge_ok and sel.pending):
            return
        self.sync_token = token
        try:
            change = await self.watcher.changes_since(sel.mailbox_id, sel.modseq)
        except NotFound:
            # RFC 9051 §7.1.5: the selected mailbox was deleted under us.
            self.send(Untagged("BYE", text="The selected mailbox was deleted").to_bytes())
            self.closing = True
            return
        out = sel.apply(
            change,
            expunge_ok=expunge_ok,
            condstore=self.condstore,
            qresync=self.qresync,
        )
        if out:
            self.send(*out)

    # --- any state ------------------------------------------------------------------
    async def on_capability(self, cmd: ev.Capability) -> None:
        self.send(rs.capability(self.capabilities()).to_bytes())
        await self.ok(cmd, "CAPABILITY completed")

    async def on_noop(self, cmd: ev.Noop | ev.Check) -> None:
        await self.ok(cmd, f"{type(cmd).__name__.upper()} completed")

    async def on_logout(self, cmd: ev.Logout) -> None:
        self.send(Untagged("BYE", text=f"{self.ctx.hostname} IMAP server logging out").to_bytes())
        self.tagged(cmd.tag, "OK", "LOGOUT completed")
        self.closing = True

    async def on_id(self, cmd: ev.Id) -> None:
        # RFC 2971 §3.1: the client's values are for logs only.
        if cmd.params:
            fields = ", ".join(f"{k}={v}" for k, v in cmd.params[:10])
            log.info("imap %s: client ID %s", self.conn.remote_ip, fields[:300])
        self.send(rs.id_response(IDENTITY).to_bytes())
        await self.ok(cmd, "ID completed")

    # --- not authenticated ------------------------------------------------------------
    async def on_starttls(self, cmd: ev.StartTls) -> None:
        if not self._starttls_available():
            raise bad(
                "STARTTLS is not available here" + (" (already TLS)" if self.tls_active else "")
            )
        self.tagged(cmd.tag, "OK", "Begin TLS negotiation now")
        await self.conn.drain()
        assert self.ctx.tls is not None
        # RFC 9051 §6.2.1: whatever the client pipelined after STARTTLS is discarded,
        # by the listener and by starting a fresh parser.
        self.parser = self._new_parser()
        await self.conn.start_tls(self.ctx.tls)

    def _refuse_plaintext(self) -> Refusal:
        text = self.ctx.plaintext_refusal(self.listener, self.tls_active, "STARTTLS", "imaps")
        return no(text, "PRIVACYREQUIRED")  # RFC 5530 §3

    async def on_login(self, cmd: ev.Login) -> None:
        if not self._plaintext_ok():
            raise self._refuse_plaintext()
        await self._login(cmd.tag, cmd.username, cmd.password)

    async def on_authenticate(self, cmd: ev.Authenticate) -> None:
        if not self._plaintext_ok():
            raise self._refuse_plaintext()
        try:
            self.sasl = sasl.server_mechanism(cmd.mechanism)
        except KeyError:
            raise no(
                f"Unsupported mechanism {cmd.mechanism}: use "
                + " or ".join(sasl.SERVER_MECHANISMS),
                "CANNOT",
            ) from None
        await self._sasl_step(cmd.tag, cmd.initial_response)

    async def _sasl_step(self, tag: str, data: bytes | None) -> None:
        mechanism = self.sasl
        if mechanism is None:
            self.tagged(tag, "BAD", "No authentication in progress")
            return
        try:
            step = mechanism.step(data)
        except sasl.SASLError as e:
            self.sasl = None
            self.tagged(tag, "BAD", f"Malformed authentication data: {e}")
            return
        if isinstance(step, sasl.Challenge):
            self.send(Continuation.challenge(step.data).to_bytes())
            self.parser.expect_sasl_response(tag)
            return
        self.sasl = None
        if step.authzid and step.authzid.lower() != step.username.lower():
            self.tagged(
                tag,
                "NO",
                "Authorization identity not permitted",
                ResponseCode("AUTHORIZATIONFAILED"),
            )
            return
        await self._login(tag, step.username, step.password)

    async def _login(self, tag: str, username: str, password: str) -> None:
        result = await self.ctx.authenticator.authenticate(
            username, password, protocol="imap", remote_ip=self.conn.remote_ip
        )
        if not result.ok or result.user is None:
            status, text, code = self._auth_failure(result)
            self._count_error()
            self.tagged(tag, status, text, ResponseCode(code))
            return
        account = result.user
        if not USER_SESSIONS.enter(account.id, self.settings.max_connections_per_user):
            self.tagged(
                tag, "NO", "Too many IMAP sessions for this account", ResponseCode("UNAVAILABLE")
            )
            return
        self.account = account
        self.parser.set_max_literal(self._literal_limit_after_login())
        log.info(
            "imap %s logged in as %s%s%s",
            self.conn.remote_ip,
            account.address,
            f" (app password {result.via_app_password!r})" if result.via_app_password else "",
            f" over {self.conn.tls['version']}" if self.conn.tls else " without TLS",
        )
        # RFC 9051 §6.2.3: the capabilities change after login; say them at once.
        self.tagged(
            tag, "OK", f"Logged in as {account.address}", rs.capability_code(self.capabilities())
        )

    def _auth_failure(self, result: AuthResult) -> tuple[str, str, str]:
        # RFC 5530 §3 response codes.
        reason = result.reason
        if reason == AuthReason.THROTTLED:
            wait = max(1, math.ceil(result.retry_after))
            return "NO", f"Too many failed logins; try again in {wait} seconds", "UNAVAILABLE"
        if reason == AuthReason.PROTOCOL_DISABLED:
            what = "this app password" if result.via_app_password else "this account"
            return "NO", f"IMAP access is switched off for {what}", "AUTHORIZATIONFAILED"
        if reason == AuthReason.DISABLED:
            return "NO", "Account disabled", "CONTACTADMIN"
        return "NO", "Invalid username or password", "AUTHENTICATIONFAILED"

    # --- authenticated ---------------------------------------------------------------
    @property
    def user(self) -> Account:
        assert self.account is not None
        return self.account

    async def on_enable(self, cmd: ev.Enable) -> None:
        # RFC 5161 §3.1: report only what this command newly enabled.
        known = {"CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2"}
        newly = []
        for cap in cmd.capabilities:
            name = cap.upper()
            if name in known and name not in self.enabled:
                self.enabled.add(name)
                newly.append(cap)
                if name == "UTF8=ACCEPT":
                    self.parser.enable_utf8()
                if name in ("CONDSTORE", "QRESYNC"):
                    self.condstore = True
                    if name == "QRESYNC":
                        self.enabled.add("CONDSTORE")
        self.send(rs.enabled(newly).to_bytes())
        await self.ok(cmd, "ENABLE completed")

    async def _mailbox(self, name: str) -> Mailbox:
        mailbox = await self.store.get_mailbox(self.user.id, imap_names.normalize(name))
        if mailbox is None:
            raise no(f"No mailbox {name!r}", "NONEXISTENT")
        return mailbox

    async def on_select(self, cmd: ev.Select) -> None:
        if self.selected is not None:
            self.selected = None
            # RFC 9051 §6.3.2 / RFC 7162 §3.2.11: the previous mailbox is closed.
            self.send(
                Untagged(
                    "OK", code=ResponseCode("CLOSED"), text="Previous mailbox closed"
                ).to_bytes()
            )
        if cmd.qresync is not None and not self.qresync:
            raise bad("QRESYNC parameter without ENABLE QRESYNC")  # RFC 7162 §3.2.5
        mailbox = await self._mailbox(cmd.mailbox)
        if cmd.condstore:
            self.condstore = True
        # The mailbox row first, then the messages: a change between the two is seen
        # again at the next sync rather than missed.
        records = await self.watcher.list_messages(mailbox.id)
        sel = Selected(
            mailbox_id=mailbox.id,
            name=mailbox.name,
            uidvalidity=mailbox.uidvalidity,
            read_only=cmd.read_only,
            uids=array("I", (r.uid for r in records)),
            modseq=mailbox.highestmodseq,
            uidnext=mailbox.uidnext,
        )
        for r in records:
            sel.keywords.update(f for f in r.flags if not f.startswith("\\"))
        self.sync_token = None
        flags, permanent = sel.flags_line()
        out = [flags, permanent, rs.exists(len(records)).to_bytes()]
        if not self.rev2:
            out.append(rs.recent(0).to_bytes())  # RFC 3501 §7.3.2; nothing is \Recent here
            unseen = next((i for i, r in enumerate(records, 1) if "\\Seen" not in r.flags), None)
            if unseen is not None:
                out.append(Untagged("OK", code=rs.unseen(unseen), text="First unseen").to_bytes())
        out += [
            Untagged("OK", code=rs.uidvalidity(mailbox.uidvalidity), text="UIDs valid").to_bytes(),
            Untagged("OK", code=rs.uidnext(mailbox.uidnext), text="Predicted next UID").to_bytes(),
            Untagged("OK", code=rs.highestmodseq(mailbox.highestmodseq), text="Highest").to_bytes(),
        ]
        if self.rev2:
            out.append(
                rs.list_response(
                    self._attributes_of(mailbox), "/", mailbox.name, utf8=self.utf8
                ).to_bytes()
            )
        self.send(*out)
        self.selected = sel
        if cmd.qresync is not None:
            await self._qresync(sel, cmd.qresync)
        mode = "READ-ONLY" if cmd.read_only else "READ-WRITE"
        verb = "EXAMINE" if cmd.read_only else "SELECT"
        await self.ok(cmd, f"{verb} completed", ResponseCode(mode))

    async def _qresync(self, sel: Selected, q: ev.QResync) -> None:
        """RFC 7162 §3.2.5.2: what changed since the client's last session."""
        if q.uidvalidity != sel.uidvalidity:
            return  # the client's cache is void; it will see everything anew
        change = await self.store.changes_since(sel.mailbox_id, q.modseq)
        known = q.known_uids
        largest = sel.uids[-1] if sel.uids else 0
        vanished = [
            u for u in change.expunged_uids if known is None or (u, max(largest, u)) in known
        ]
        out: list[bytes] = []
        if vanished:
            out.append(rs.vanished(vanished, earlier=True).to_bytes())
        for record in change.updated:
            seq = sel.seq_of(record.uid)
            if seq is not None:
                out.append(sel.flags_fetch(seq, record, condstore=True))
        self.send(*out)

    def _attributes_of(self, mailbox: Mailbox) -> list[str]:
        attrs = []
        if mailbox.special_use:
            attrs.append(mailbox.special_use)
        return attrs

    async def on_create(self, cmd: ev.Create) -> None:
        try:
            name = imap_names.check_new_name(cmd.mailbox)
        except imap_names.InvalidName as e:
            raise no(str(e), "CANNOT") from None
        uses = [u for u in cmd.special_use]
        for use in uses:
            if use not in SPECIAL_USES:
                raise no(f"Unknown special-use attribute {use}", "USEATTR")  # RFC 6154 §3
        if len(uses) > 1:
            raise no("Only one special-use attribute per mailbox", "USEATTR")
        if await self.store.get_mailbox(self.user.id, name) is not None:
            raise no(f"Mailbox {cmd.mailbox!r} already exists", "ALREADYEXISTS")
        await self._create_parents(name)
        try:
            await self.store.create_mailbox(self.user.id, name, uses[0] if uses else None)
        except AlreadyExists:
            raise no(f"Mailbox {cmd.mailbox!r} already exists", "ALREADYEXISTS") from None
        except StoreError as e:
            raise no(f"Cannot create {cmd.mailbox!r}: {e}", "CANNOT") from None
        await self.ok(cmd, "CREATE completed")

    async def _create_parents(self, name: str) -> None:
        """RFC 9051 §6.3.4: create the superior levels a new name needs."""
        for parent in imap_names.parents(name):
            if await self.store.get_mailbox(self.user.id, parent) is None:
                try:
                    await self.store.create_mailbox(self.user.id, parent)
                except AlreadyExists:
                    pass  # another session made it meanwhile

    async def on_delete(self, cmd: ev.Delete) -> None:
        mailbox = await self._mailbox(cmd.mailbox)
        if mailbox.name == imap_names.INBOX:
            raise no("INBOX cannot be deleted", "CANNOT")  # RFC 9051 §6.3.5
        if self.selected is not None and self.selected.mailbox_id == mailbox.id:
            self.selected = None
        await self.store.delete_mailbox(mailbox.id)
        await self.ok(cmd, "DELETE completed")

    async def on_rename(self, cmd: ev.Rename) -> None:
        source = await self._mailbox(cmd.mailbox)
        try:
            target = imap_names.check_new_name(cmd.new_name)
        except imap_names.InvalidName as e:
            raise no(str(e), "CANNOT") from None
        if await self.store.get_mailbox(self.user.id, target) is not None:
            raise no(f"Mailbox {cmd.new_name!r} already exists", "ALREADYEXISTS")
        await self._create_parents(target)
        if source.name == imap_names.INBOX:
            # RFC 9051 §6.3.6: renaming INBOX moves its messages to the new name and
            # leaves INBOX empty; INBOX's children stay where they are.
            created = await self.store.create_mailbox(self.user.id, target)
            uids = [r.uid for r in await self.store.list_messages(source.id)]
            if uids:
                await self.store.move(source.id, uids, created.id)
        else:
            try:
                await self.store.rename_mailbox(source.id, target)
            except AlreadyExists:
                raise no(f"Mailbox {cmd.new_name!r} already exists", "ALREADYEXISTS") from None
            except StoreError as e:
                raise no(f"Cannot rename: {e}", "CANNOT") from None
            if self.selected is not None and self.selected.mailbox_id == source.id:
                self.selected.name = target
        await self.ok(cmd, "RENAME completed")

    async def on_subscribe(self, cmd: ev.Subscribe | ev.Unsubscribe) -> None:
        mailbox = await self._mailbox(cmd.mailbox)
        subscribe = isinstance(cmd, ev.Subscribe)
        await self.store.set_subscribed(mailbox.id, subscribe)
        await self.ok(cmd, f"{'SUBSCRIBE' if subscribe else 'UNSUBSCRIBE'} completed")

    async def on_namespace(self, cmd: ev.Namespace) -> None:
        # RFC 2342 §5: one personal namespace, no prefix, "/" delimiter; nothing else.
        self.send(rs.namespace_response([("", "/")], utf8=self.utf8).to_bytes())
        await self.ok(cmd, "NAMESPACE completed")

    async def on_list(self, cmd: ev.List) -> None:
        self.send(*(await imap_list.list_responses(self, cmd)))
        await self.ok(cmd, "LIST completed")

    async def on_lsub(self, cmd: ev.Lsub) -> None:
        self.send(*(await imap_list.lsub_responses(self, cmd)))
        await self.ok(cmd, "LSUB completed")

    async def status_items(self, mailbox: Mailbox, items: Sequence[str]) -> list[tuple[str, int]]:
        status = await self.store.mailbox_status(mailbox.id)
        values: dict[str, int] = {
            "MESSAGES": status.messages,
            "UIDNEXT": status.uidnext,
            "UIDVALIDITY": status.uidvalidity,
            "UNSEEN": status.unseen,
            "SIZE": status.size,
            "RECENT": 0,
            "HIGHESTMODSEQ": status.highestmodseq,
            "APPENDLIMIT": self.settings.append_limit,
        }
        if "DELETED" in items:
            records = await self.watcher.list_messages(mailbox.id)
            values["DELETED"] = sum(1 for r in records if "\\Deleted" in r.flags)
        return [(item, values[item]) for item in items]

    async def on_status(self, cmd: ev.Status) -> None:
        mailbox = await self._mailbox(cmd.mailbox)
        if "HIGHESTMODSEQ" in cmd.items:
            self.condstore = True  # RFC 7162 §3.1: a CONDSTORE-enabling command
        items = await self.status_items(mailbox, cmd.items)
        self.send(rs.status_response(mailbox.name, items, utf8=self.utf8).to_bytes())
        await self.ok(cmd, "STATUS completed")

    async def on_append(self, cmd: ev.Append) -> None:
        mailbox = await self.store.get_mailbox(self.user.id, imap_names.normalize(cmd.mailbox))
        if mailbox is None:
            # RFC 9051 §6.3.12: TRYCREATE tells the client CREATE would help.
            raise no(f"No mailbox {cmd.mailbox!r}", "TRYCREATE")
        for message in cmd.messages:
            if len(message.data) > self.settings.append_limit:
                raise no("Message larger than APPENDLIMIT", rs.TOOBIG)
            if not message.data:
                raise bad("Empty message")
            for flag in message.flags:
                if flag.startswith("\\") and system_flag(flag) is None:
                    raise bad(f"Flag {flag} cannot be set")
        stored: list[MessageRecord] = []
        try:
            for message in cmd.messages:
                stored.append(
                    await self.store.append(
                        mailbox.id, message.data, message.flags, message.internal_date
                    )
                )
        except BaseException:
            # RFC 3502 §6.3.11: MULTIAPPEND is all or nothing.
            if stored:
                await self.store.expunge(mailbox.id, [r.uid for r in stored])
            raise
        self.watcher.poke(mailbox.id)
        code = rs.appenduid(mailbox.uidvalidity, [r.uid for r in stored])  # RFC 4315 §3
        await self.ok(cmd, "APPEND completed", code)

    async def on_idle(self, cmd: ev.Idle) -> None:
        await imap_idle.idle(self, cmd)

    # --- selected -------------------------------------------------------------------
    @property
    def sel(self) -> Selected:
        assert self.selected is not None
        return self.selected

    async def on_close(self, cmd: ev.Close | ev.Unselect) -> None:
        sel = self.sel
        if isinstance(cmd, ev.Close) and not sel.read_only:
            # RFC 9051 §6.4.1: CLOSE expunges \Deleted messages, silently.
            records = await self.watcher.list_messages(sel.mailbox_id)
            deleted = [r.uid for r in records if "\\Deleted" in r.flags]
            if deleted:
                await self.store.expunge(sel.mailbox_id, deleted)
                self.watcher.poke(sel.mailbox_id)
        self.selected = None
        self.tagged(cmd.tag, "OK", f"{type(cmd).__name__.upper()} completed")

    async def on_expunge(self, cmd: ev.Expunge) -> None:
        sel = self.sel
        if sel.read_only:
            raise no("The mailbox is read-only (EXAMINE)", "READ-ONLY")
        await self.sync(expunge_ok=True)
        records = await self.watcher.list_messages(sel.mailbox_id)
        targets = [r.uid for r in records if "\\Deleted" in r.flags]
        if cmd.uids is not None:
            # RFC 4315 §2.1: UID EXPUNGE removes only the \Deleted messages named.
            wanted = {u for _, u in sel.resolve(cmd.uids, uid=True)}
            targets = [u for u in targets if u in wanted]
        removed = await self.store.expunge(sel.mailbox_id, targets) if targets else []
        if removed:
            self.watcher.poke(sel.mailbox_id)
            sel.pending.update(u for u in removed if sel.seq_of(u) is not None)
            self.send(*sel.announce_expunges(qresync=self.qresync))
        await self.ok(cmd, "EXPUNGE completed")

    async def records(self, pairs: Sequence[tuple[int, int]]) -> dict[int, MessageRecord]:
        """Index records of the messages named, by UID (ones gone are missing)."""
        sel = self.sel
        if not pairs:
            return {}
        if len(pairs) > 50:
            all_records = await self.watcher.list_messages(sel.mailbox_id)
            if len(pairs) == len(all_records):
                return {r.uid: r for r in all_records}
            wanted = {u for _, u in pairs}
            return {r.uid: r for r in all_records if r.uid in wanted}
        found = {}
        for _, uid in pairs:
            record = await self.store.get_message(sel.mailbox_id, uid)
            if record is not None:
                found[uid] = record
        return found

    def _resolve(self, seqset: SequenceSet, *, uid: bool) -> list[tuple[int, int]]:
        try:
            return self.sel.resolve(seqset, uid=uid)
        except BadSet as e:
            raise bad(f"Invalid message set: {e}") from None

    async def on_fetch(self, cmd: ev.Fetch) -> None:
        await imap_commands.fetch(self, cmd)

    async def on_store(self, cmd: ev.Store) -> None:
        await imap_commands.store(self, cmd)

    async def on_copy(self, cmd: ev.Copy | ev.Move) -> None:
        await imap_commands.copy_or_move(self, cmd)

    async def on_search(self, cmd: ev.Search) -> None:
        await imap_search.search(self, cmd)


def _expunge_ok(cmd: ev.Command) -> bool:
    if isinstance(cmd, _NO_EXPUNGE):
        return bool(getattr(cmd, "uid", False))
    return True


async def serve_imap(ctx: ServerContext, listener: ListenerConfig, conn: Connection) -> None:
    await ImapSession(ctx, listener, conn).run()
