"""IDLE (RFC 2177, RFC 9051 §6.3.13): "+ idling", then untagged updates the moment the
mailbox changes, until the client sends DONE.

The session registers with the process's `MailboxWatcher`, whose wake-up interrupts the
pending read; the session then reads the changes from the store and sends them.  An
IDLE-ing connection costs no polling of its own, so thousands can wait at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posthouse.proto.imap import events as ev
from posthouse.proto.imap.events import Sentinel
from posthouse.proto.imap.response import Continuation, Untagged

if TYPE_CHECKING:
    from posthouse.server.imap import ImapSession

# RFC 2177 §3: clients re-issue IDLE at least every 29 minutes; the autologout of
# RFC 9051 §5.4 (30 minutes or more) ends an IDLE that outlives it.


async def idle(s: ImapSession, cmd: ev.Idle) -> None:
    await s.sync(expunge_ok=True)
    s.send(Continuation("idling").to_bytes())
    s.parser.start_idle(cmd.tag)
    watching: tuple[int, int] | None = None
    changed = False

    def wake() -> None:
        nonlocal changed
        changed = True
        s.conn.interrupt()

    if s.selected is not None:
        key = s.watcher.watch(s.selected.mailbox_id, s.selected.modseq, wake)
        watching = (s.selected.mailbox_id, key)
    try:
        while True:
            event = s.parser.next_command()
            if isinstance(event, Sentinel):  # NEED_DATA
                if s.ctx.shutting_down.is_set():
                    s.send(Untagged("BYE", text="Server shutting down").to_bytes())
                    s.closing = True
                    return
                if changed:
                    changed = False
                    await s.sync(expunge_ok=True)
                    if s.closing:
                        return
                    if not await s.drain():
                        return
                    if watching is not None and s.selected is not None:
                        # Watch again from what the client now knows.
                        s.watcher.unwatch(*watching)
                        key = s.watcher.watch(s.selected.mailbox_id, s.selected.modseq, wake)
                        watching = (s.selected.mailbox_id, key)
                    continue
                if not await s._receive():
                    s.closing = True
                    return
                continue
            if isinstance(event, ev.IdleDone):
                await s.sync(expunge_ok=True)
                s.tagged(event.tag, "OK", "IDLE terminated")
                return
            if isinstance(event, ev.ConnectionClosed):
                s.closing = True
                return
            if isinstance(event, ev.BadCommand):
                s.send(event.response.to_bytes())
                return
            # Anything else cannot come while the parser expects DONE.
            s.tagged(cmd.tag, "BAD", "Expected DONE")
            return
    finally:
        if watching is not None:
            s.watcher.unwatch(*watching)
