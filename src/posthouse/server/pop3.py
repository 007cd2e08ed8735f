"""The POP3 session: turns events of the sans-IO core into maildrop decisions and
store calls (RFC 1939, 2449, 2595, 3206, 5034, 6856).

One module serves both listeners: 2110 (STLS, RFC 2595) and 2995 (implicit TLS,
RFC 8314).  A session serves the user's INBOX as a maildrop:

* the maildrop is a snapshot taken at login: message numbers 1..n stay fixed for the
  session, and mail delivered meanwhile shows up at the next login (RFC 1939 §5);
* DELE only marks; the marked messages are removed in the UPDATE state after QUIT, in
  one atomic, durable `store.expunge` (RFC 1939 §6).  A dropped connection, an idle
  timeout, a shutdown or a crash before QUIT deletes nothing;
* the maildrop is locked while a session is in TRANSACTION; a second login gets
  `-ERR [IN-USE]` (RFC 1939 §8, RFC 2449 §8.1.1);
* a unique-id (UIDL) is "<uidvalidity>.<uid>": never reused for another message, so a
  client that leaves mail on the server never downloads one twice (RFC 1939 §7);
* clients retrieve in order (RETR 1, 2, 3... or TOP n 99999999), so a RETR or TOP that
  follows the previous one reads the next messages too, in one store call: a window
  that doubles while the client keeps going, up to READ_AHEAD_MESSAGES messages or
  READ_AHEAD_OCTETS.  What was read ahead belongs to the snapshot, like the numbers.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import math
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posthouse.accounts.authenticate import AuthReason, AuthResult
from posthouse.config import Listener as ListenerConfig
from posthouse.proto import sasl
from posthouse.proto.pop3 import (
    AUTH,
    IN_USE,
    NEED_DATA,
    PAUSED,
    SYS_PERM,
    SYS_TEMP,
    Apop,
    Auth,
    AuthAbort,
    AuthList,
    AuthResponse,
    Capa,
    CommandRejected,
    ConnectionClosed,
    Continuation,
    Dele,
    Err,
    List,
    MultiLine,
    Noop,
    Ok,
    Pass,
    Pop3Server,
    Quit,
    Response,
    Retr,
    Rset,
    Stat,
    State,
    Stls,
    Top,
    Uidl,
    User,
    Utf8,
    capa_lines,
    message_top,
)
from posthouse.server.context import ServerContext
from posthouse.server.listener import Connection
from posthouse.store.base import MessageRecord
from posthouse.store.base import User as Account

log = logging.getLogger("posthouse.pop3")

# Bounds of one read-ahead store call (the message asked for is always read, whatever
# its size): enough to make the per-call cost vanish, small enough per session.
READ_AHEAD_MESSAGES = 32
READ_AHEAD_OCTETS = 512 * 1024

OVERLOAD_REPLY = Err("Too many connections, try again later", code=SYS_TEMP).to_bytes()
_SHUTDOWN = Err("Server shutting down; nothing was deleted, log in again later", code=SYS_TEMP)


class MaildropLocks:
    """Which maildrops have a session in TRANSACTION (RFC 1939 §8: "the POP3 server
    acquires an exclusive-access lock on the maildrop").

    One flock(2) per user on a file beside the database, so the lock holds across the
    worker processes that share the listeners, and the kernel drops it when a process
    dies: a crash never leaves a maildrop locked.  flock locks belong to an open file,
    so a second session in the same process is refused too.
    """

    def __init__(self) -> None:
        self._held: dict[tuple[str, int], int] = {}  # (lock directory, user id) -> fd

    def acquire(self, directory: Path, user_id: int) -> tuple[str, int] | None:
        """The key to release, or None when another session holds the maildrop."""
        key = (str(directory), user_id)
        if key in self._held:
            return None
        directory.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        fd = os.open(directory / f"pop3-{user_id}.lock", flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        self._held[key] = fd
        return key

    def release(self, key: tuple[str, int]) -> None:
        fd = self._held.pop(key, None)
        if fd is not None:
            os.close(fd)  # closing the file releases the flock

    def held(self, key: tuple[str, int]) -> bool:
        return key in self._held


MAILDROP_LOCKS = MaildropLocks()


def _count(n: int) -> str:
    return f"{n} message" if n == 1 else f"{n} messages"


@dataclass(slots=True)
class Maildrop:
    """The INBOX as this session sees it: a snapshot taken at login."""

    mailbox_id: int
    uidvalidity: int
    messages: list[MessageRecord]
    deleted: set[int] = field(default_factory=set)  # message numbers marked by DELE
    # message number -> (octets, dot-safe): see MailStore.read_messages_framed
    ahead: dict[int, tuple[bytes, bool]] = field(default_factory=dict)
    window: int = 1  # messages the next read-ahead may cover
    last_read: int = 0  # the message number read last

    def read_ahead(self, n: int) -> tuple[bytes, bool] | None:
        """Message `n` if the last store call read it ahead (once: it is handed over)."""
        found = self.ahead.pop(n, None)
        if found is not None:
            self.last_read = n
        return found

    def to_read(self, n: int) -> list[int]:
        """Message `n` and the live messages after it that the next store call reads:
        one while the client jumps around, a doubling window while it goes in order."""
        self.window = min(self.window * 2, READ_AHEAD_MESSAGES) if n == self.last_read + 1 else 1
        self.ahead.clear()
        numbers = [n]
        octets = self.messages[n - 1].size
        for k in range(n + 1, min(n + self.window - 1, len(self.messages)) + 1):
            if k in self.deleted:
                continue
            octets += self.messages[k - 1].size
            if octets > READ_AHEAD_OCTETS:
                break
            numbers.append(k)
        return numbers

    def live(self) -> list[int]:
        return [n for n in range(1, len(self.messages) + 1) if n not in self.deleted]

    def totals(self) -> tuple[int, int]:
        """(count, octets) of the messages not marked deleted (RFC 1939 §5, STAT)."""
        if not self.deleted:
            return len(self.messages), sum(m.size for m in self.messages)
        live = [m for n, m in enumerate(self.messages, 1) if n not in self.deleted]
        return len(live), sum(m.size for m in live)

    def unique_id(self, record: MessageRecord) -> str:
        # RFC 1939 §7: 1-70 characters in 0x21-0x7E, never reused for another message.
        # uidvalidity changes only if the mailbox is recreated, and uids only grow.
        return f"{self.uidvalidity}.{record.uid}"


class Pop3Session:
    def __init__(self, ctx: ServerContext, listener: ListenerConfig, conn: Connection) -> None:
        self.ctx = ctx
        self.listener = listener
        self.conn = conn
        self.settings = ctx.config.pop3
        self.core = Pop3Server(tls_active=conn.tls is not None)
        self.errors = 0
        self.closing = False
        self.login_name: str | None = None  # from USER, for the PASS that follows
        self.sasl: sasl.ServerMechanism | None = None
        self.account: Account | None = None
        self.via_app_password: str | None = None
        self.maildrop: Maildrop | None = None
        self.lock_key: tuple[str, int] | None = None
        self.retrieved = 0
        self._handlers: dict[type, Callable[[Any], Awaitable[Response | None]]] = {
            User: self.on_user,
            Pass: self.on_pass,
            Apop: self.on_apop,
            Auth: self.on_auth,
            AuthList: self.on_auth_list,
            AuthResponse: self.on_auth_response,
            AuthAbort: self.on_auth_abort,
            Stls: self.on_stls,
            Utf8: self.on_utf8,
            Capa: self.on_capa,
            Quit: self.on_quit,
            Stat: self.on_stat,
            List: self.on_list,
            Uidl: self.on_uidl,
            Retr: self.on_retr,
            Top: self.on_top,
            Dele: self.on_dele,
            Rset: self.on_rset,
            Noop: self.on_noop,
            CommandRejected: self.on_rejected,
        }

    # --- policy ------------------------------------------------------------
    @property
    def tls_active(self) -> bool:
        return self.conn.tls is not None

    def _plaintext_ok(self) -> bool:
        """RFC 2595 §2 and DESIGN.md principle 5: passwords only inside TLS, except
        from loopback or in teaching mode."""
        return self.ctx.plaintext_auth_allowed(self.conn.remote_ip, self.tls_active)

    def _stls_available(self) -> bool:
        return self.ctx.starttls_available(self.listener, self.tls_active)

    def _greeting(self) -> Ok:
        # RFC 1939 §4: any +OK text; no "<...>" in it, which would announce APOP.
        text = f"{self.ctx.hostname} POP3 posthouse ready"
        if self.ctx.config.teaching_mode:
            text += " - TEACHING MODE: passwords accepted without TLS"
        return Ok(text)

    def _error(self, response: Err) -> Err:
        """Count a client mistake; the one that reaches the limit also says goodbye."""
        self.errors += 1
        if self.errors >= self.settings.max_errors:
            self.closing = True
            return Err(f"{response.text} - too many errors, closing connection", response.code)
        return response

    # --- the loop ----------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._serve()
        finally:
            self._unlock()  # on every way out: QUIT, a dropped line, an error, a cancel

    async def _serve(self) -> None:
        self.conn.write(self.core.send(self._greeting()))
        while not self.closing:
            event = self.core.next_event()
            if event is NEED_DATA:
                if self.ctx.shutting_down.is_set():
                    # Between commands only: a command under way always gets its answer.
                    # There is no unsolicited response in POP3; this last line is for
                    # the person or client about to send the next command.
                    self.conn.write(_SHUTDOWN.to_bytes())
                    break
                if not await self._receive():
                    break
                continue
            if event is PAUSED:  # cannot happen: every event is answered below
                raise RuntimeError("POP3 core paused with no pending response")
            if isinstance(event, ConnectionClosed):
                if self.account is not None and self.core.state is not State.UPDATE:
                    log.info(
                        "pop3 %s %s: connection closed without QUIT: %d retrieved, nothing deleted",
                        self.conn.remote_ip,
                        self.account.address,
                        self.retrieved,
                    )
                break
            response = await self._handlers[type(event)](event)
            if response is not None:
                # In parts: a RETR writes the stored message object itself, uncopied.
                self.conn.writelines(self.core.send_parts(response))
            # The common case tested here, without a coroutine: the kernel took it all.
            transport = self.conn.transport
            waiting = transport is not None and transport.get_write_buffer_size() > 0
            if waiting and not await self._flush():
                return
        await self._flush()

    async def _receive(self) -> bool:
        try:
            data = await self.conn.read(self.settings.idle_timeout)
        except TimeoutError:
            # RFC 1939 §3: the autologout timer closes the connection without entering
            # UPDATE, so nothing is deleted.  The RFC expects no response; a person at a
            # telnet prompt deserves to know why the line went dead, so say it once.
            timeout = round(self.settings.idle_timeout)
            self.conn.write(
                Err(
                    f"Idle for {timeout} seconds, closing connection; nothing was deleted"
                ).to_bytes()
            )
            return False
        if data or self.conn.at_eof:
            self.core.receive_data(data)  # b"": the client closed; the core says so next
        # else: interrupted by a shutdown (Listener.stop_accepting), seen by _serve()
        return True

    async def _flush(self) -> bool:
        """Wait while the client is slow to read (RETR of a big message); a client that
        stops reading altogether is cut off after the idle timeout."""
        transport = self.conn.transport
        if transport is None or transport.get_write_buffer_size() == 0:
            return True  # the common case: the kernel took it all, nothing to wait for
        try:
            async with asyncio.timeout(self.settings.idle_timeout):
                await self.conn.drain()
        except TimeoutError:
            log.info("pop3 %s: client stopped reading, connection aborted", self.conn.remote_ip)
            self.conn.abort()
            return False
        return True

    def _unlock(self) -> None:
        if self.lock_key is not None:
            MAILDROP_LOCKS.release(self.lock_key)
            self.lock_key = None

    # --- AUTHORIZATION -------------------------------------------------------
    async def on_capa(self, ev: Capa) -> Response:
        # RFC 2449 §5: list what the session offers *now*.  Before TLS on a network
        # connection, USER and SASL are left out: they would be refused (RFC 2595 §4).
        before_login = self.core.state is State.AUTHORIZATION
        login = before_login and self._plaintext_ok()
        lines = capa_lines(
            stls=before_login and self._stls_available(),
            sasl=sasl.SERVER_MECHANISMS if login else (),
            user=login,
            utf8=before_login,
            implementation="posthouse",
            utf8_user=True,
        )
        return MultiLine(Ok("Capability list follows"), lines=lines)

    def _refuse_plaintext(self) -> Err:
        text = self.ctx.plaintext_refusal(self.listener, self.tls_active, "STLS", "pop3s")
        # RFC 3206 §4 AUTH; RFC 2595 §2: no passwords in the clear.
        return self._error(Err(text, AUTH))

    async def on_user(self, ev: User) -> Response:
        if not self._plaintext_ok():
            return self._refuse_plaintext()
        # RFC 1939 §7: answering +OK for every name tells an outsider nothing.
        self.login_name = ev.name
        return Ok("Send PASS")

    async def on_pass(self, ev: Pass) -> Response:
        name, self.login_name = self.login_name, None
        if name is None:  # the USER came before STLS: start again under TLS
            return self._error(Err("Send USER again after STLS"))
        return await self._login(name, ev.password)

    async def on_apop(self, ev: Apop) -> Response:
        return self._error(
            Err(
                "APOP is not supported: passwords are stored as argon2id hashes, so the "
                "server cannot compute the digest; use USER/PASS or AUTH PLAIN over TLS"
            )
        )

    async def on_auth_list(self, ev: AuthList) -> Response:
        if not self._plaintext_ok():
            return self._refuse_plaintext()
        return MultiLine(Ok("SASL mechanisms follow"), lines=sasl.SERVER_MECHANISMS)

    async def on_auth(self, ev: Auth) -> Response:
        if not self._plaintext_ok():
            return self._refuse_plaintext()
        try:
            self.sasl = sasl.server_mechanism(ev.mechanism)
        except KeyError:
            mechanisms = " or ".join(sasl.SERVER_MECHANISMS)
            return self._error(Err(f"Unsupported SASL mechanism {ev.mechanism}: use {mechanisms}"))
        # RFC 5034 §4: an initial response saves the empty "+ " round trip.
        return await self._sasl_step(ev.initial_response)

    async def on_auth_response(self, ev: AuthResponse) -> Response:
        return await self._sasl_step(ev.data)

    async def on_auth_abort(self, ev: AuthAbort) -> Response:
        self.sasl = None
        return self._error(Err("Authentication cancelled"))  # RFC 5034 §4: "*"

    async def _sasl_step(self, response: bytes | None) -> Response:
        mechanism = self.sasl
        if mechanism is None:  # a "+ " answer without an exchange: the core prevents it
            return self._error(Err("No authentication in progress"))
        try:
            step = mechanism.step(response)
        except sasl.SASLError as e:
            self.sasl = None
            return self._error(Err(f"Malformed authentication data: {e}"))
        if isinstance(step, sasl.Challenge):
            return Continuation(step.data)
        self.sasl = None
        if step.authzid and step.authzid.lower() != step.username.lower():
            # RFC 4616 §2: we do not let one identity act as another.
            return self._error(Err("Authorization identity not permitted", AUTH))
        return await self._login(step.username, step.password)

    async def _login(self, username: str, password: str) -> Response:
        result = await self.ctx.authenticator.authenticate(
            username, password, protocol="pop3", remote_ip=self.conn.remote_ip
        )
        if not result.ok or result.user is None:
            return self._error(self._auth_failure(result))
        account = result.user
        try:
            key = MAILDROP_LOCKS.acquire(lock_directory(self.ctx), account.id)
        except OSError as e:
            log.error("pop3 %s: cannot lock maildrop of %s: %s", self.conn.remote_ip, username, e)
            return Err("Cannot lock your maildrop: storage failure, try again later", SYS_TEMP)
        if key is None:
            # RFC 2449 §8.1.1: the maildrop is locked by another session.
            return Err(
                "Your maildrop is in use by another POP3 session; "
                "close it (QUIT) or try again later",
                IN_USE,
            )
        try:
            maildrop = await self._open_maildrop(account)
        except Exception as e:
            MAILDROP_LOCKS.release(key)
            log.error("pop3 %s: cannot open maildrop of %s: %s", self.conn.remote_ip, username, e)
            return Err("Cannot open your maildrop: storage failure, try again later", SYS_TEMP)
        if maildrop is None:
            MAILDROP_LOCKS.release(key)
            return Err("You have no INBOX; ask the administrator", SYS_PERM)
        self.lock_key = key
        self.account = account
        self.via_app_password = result.via_app_password
        self.maildrop = maildrop
        count, octets = maildrop.totals()
        log.info(
            "pop3 %s logged in as %s%s%s: %d messages",
            self.conn.remote_ip,
            account.address,
            f" (app password {result.via_app_password!r})" if result.via_app_password else "",
            f" over {self.conn.tls['version']}" if self.conn.tls else " without TLS",
            count,
        )
        return Ok(f"{account.address} has {_count(count)} ({octets} octets)")

    async def _open_maildrop(self, account: Account) -> Maildrop | None:
        store = self.ctx.store
        mailbox = await store.get_mailbox(account.id, "INBOX")
        if mailbox is None:
            return None
        messages = await store.list_messages(mailbox.id)
        return Maildrop(mailbox.id, mailbox.uidvalidity, messages)

    def _auth_failure(self, result: AuthResult) -> Err:
        # RFC 3206 §4: [AUTH] = the credentials are the problem; [SYS/TEMP] = try later.
        reason = result.reason
        if reason == AuthReason.THROTTLED:
            wait = max(1, math.ceil(result.retry_after))
            return Err(
                f"Too many failed logins from your address; try again in {wait} seconds",
                SYS_TEMP,
            )
        if reason == AuthReason.PROTOCOL_DISABLED:
            what = "this app password" if result.via_app_password else "this account"
            return Err(f"POP3 access is switched off for {what}", AUTH)
        if reason == AuthReason.DISABLED:
            return Err("Account disabled", AUTH)
        return Err("Invalid username or password", AUTH)

    async def on_stls(self, ev: Stls) -> Response | None:
        if not self._stls_available():
            return self._error(Err("STLS is not available on this port"))
        # RFC 2595 §4: +OK, then the handshake; the core drops whatever the client
        # pipelined after STLS, and so does the listener (no command injection).
        self.conn.write(self.core.send(Ok("Begin TLS negotiation")))
        await self.conn.drain()
        assert self.ctx.tls is not None
        await self.conn.start_tls(self.ctx.tls)
        self.login_name = None  # RFC 2595 §4: forget what was said in the clear
        self.sasl = None
        return None

    async def on_utf8(self, ev: Utf8) -> Response:
        # RFC 6856 §2.  Messages are sent as stored either way: POP3 moves octets.
        return Ok("UTF8 enabled")

    async def on_quit(self, ev: Quit) -> Response:
        self.closing = True
        maildrop = self.maildrop
        if maildrop is None:  # RFC 1939 §5: QUIT in AUTHORIZATION just closes
            return Ok(f"{self.ctx.hostname} POP3 server signing off")
        # RFC 1939 §6: the UPDATE state removes the marked messages, all or nothing.
        uids = [maildrop.messages[n - 1].uid for n in sorted(maildrop.deleted)]
        removed = uids
        if uids:
            try:
                # Another protocol (IMAP, webmail) may have removed some already.
                removed = await self.ctx.store.expunge(maildrop.mailbox_id, uids)
            except Exception as e:
                self._unlock()
                log.error("pop3 %s: expunge failed: %s", self.conn.remote_ip, e)
                # RFC 1939 §6: -ERR "some deleted messages not removed".
                return Err(
                    "Deleted messages were not removed (storage failure); "
                    "they are still on the server",
                    SYS_TEMP,
                )
        # Unlock before the +OK: a client that reconnects at once must not see IN-USE.
        self._unlock()
        try:
            # What is on the server now: IMAP or webmail may have changed the INBOX
            # while this session held its snapshot.
            left = (await self.ctx.store.mailbox_status(maildrop.mailbox_id)).messages
        except Exception:
            left = len(maildrop.messages) - len(uids)
        assert self.account is not None
        log.info(
            "pop3 %s %s quit: %d retrieved, %d deleted, %d left",
            self.conn.remote_ip,
            self.account.address,
            self.retrieved,
            len(removed),
            left,
        )
        return Ok(
            f"{self.ctx.hostname} POP3 server signing off ({_count(len(removed))} deleted, "
            f"{left} left)"
        )

    # --- TRANSACTION (RFC 1939 §5, §7) ----------------------------------------
    def _drop(self) -> Maildrop:
        assert self.maildrop is not None, "the core allows this command only after login"
        return self.maildrop

    def _message(self, n: int) -> MessageRecord | Err:
        """Message number `n`, or the -ERR that refuses it (RFC 1939 §7: a message
        marked as deleted may not be referred to)."""
        maildrop = self._drop()
        if n > len(maildrop.messages):
            count = len(maildrop.messages)
            return self._error(Err(f"no such message, only {_count(count)} in maildrop"))
        if n in maildrop.deleted:
            return self._error(Err(f"message {n} already deleted"))
        return maildrop.messages[n - 1]

    async def _read(self, n: int, record: MessageRecord) -> tuple[bytes, bool] | Err:
        """Message `n` and whether it is dot-safe, from the read-ahead or else from the
        store, with the messages to read ahead."""
        maildrop = self._drop()
        ready = maildrop.read_ahead(n)
        if ready is not None:
            return ready
        numbers = maildrop.to_read(n)
        messages = maildrop.messages
        try:
            wanted = [messages[k - 1].blob_id for k in numbers]
            found = await self.ctx.store.read_messages_framed(wanted)
        except Exception as e:
            log.error("pop3 %s: cannot read message %d: %s", self.conn.remote_ip, n, e)
            return Err(f"Cannot read message {n}: storage failure, try again later", SYS_TEMP)
        message = found.get(record.blob_id)
        if message is None:  # expunged by an IMAP session since the login
            return Err(f"message {n} was removed by another session", SYS_PERM)
        for k in numbers[1:]:
            following = found.get(messages[k - 1].blob_id)
            if following is not None:
                maildrop.ahead[k] = following
        maildrop.last_read = n
        return message

    async def on_stat(self, ev: Stat) -> Response:
        count, octets = self._drop().totals()
        return Ok(f"{count} {octets}")  # RFC 1939 §5: exactly "count octets"

    async def on_list(self, ev: List) -> Response:
        maildrop = self._drop()
        if ev.message is not None:
            record = self._message(ev.message)
            if isinstance(record, Err):
                return record
            return Ok(f"{ev.message} {record.size}")
        count, octets = maildrop.totals()
        messages = maildrop.messages
        lines = [f"{n} {messages[n - 1].size}" for n in maildrop.live()]
        return MultiLine(Ok(f"{_count(count)} ({octets} octets)"), lines=lines)

    async def on_uidl(self, ev: Uidl) -> Response:
        maildrop = self._drop()
        if ev.message is not None:
            record = self._message(ev.message)
            if isinstance(record, Err):
                return record
            return Ok(f"{ev.message} {maildrop.unique_id(record)}")
        messages = maildrop.messages
        lines = [f"{n} {maildrop.unique_id(messages[n - 1])}" for n in maildrop.live()]
        return MultiLine(Ok("Unique-ID listing follows"), lines=lines)

    async def on_retr(self, ev: Retr) -> Response:
        record = self._message(ev.message)
        if isinstance(record, Err):
            return record
        found = await self._read(ev.message, record)
        if isinstance(found, Err):
            return found
        self.retrieved += 1
        raw, safe = found
        # The stored octets are CRLF already, so the count is what LIST said.
        return MultiLine(Ok(f"{len(raw)} octets"), data=raw, dot_safe=safe)

    async def on_top(self, ev: Top) -> Response:
        record = self._message(ev.message)
        if isinstance(record, Err):
            return record
        found = await self._read(ev.message, record)
        if isinstance(found, Err):
            return found
        raw = found[0]
        # RFC 1939 §7 TOP: header, blank line, first n body lines; a huge n (fetchmail
        # sends TOP n 99999999) gives the whole message.
        return MultiLine(Ok("Top of message follows"), data=message_top(raw, ev.lines))

    async def on_dele(self, ev: Dele) -> Response:
        record = self._message(ev.message)
        if isinstance(record, Err):
            return record
        maildrop = self._drop()
        maildrop.deleted.add(ev.message)  # RFC 1939 §6: removed only at QUIT
        maildrop.ahead.pop(ev.message, None)
        return Ok(f"message {ev.message} deleted")

    async def on_rset(self, ev: Rset) -> Response:
        maildrop = self._drop()
        maildrop.deleted.clear()  # RFC 1939 §5 RSET: unmark every message
        count, octets = maildrop.totals()
        return Ok(f"maildrop has {_count(count)} ({octets} octets)")

    async def on_noop(self, ev: Noop) -> Response:
        return Ok()

    async def on_rejected(self, ev: CommandRejected) -> Response:
        self.sasl = None  # a rejected line in a SASL exchange ends it (RFC 5034 §4)
        return self._error(ev.response)


def lock_directory(ctx: ServerContext) -> Path:
    """Where the maildrop lock files live: beside the database they protect."""
    return ctx.config.database_path.parent / "locks"


async def serve_pop3(ctx: ServerContext, listener: ListenerConfig, conn: Connection) -> None:
    await Pop3Session(ctx, listener, conn).run()
