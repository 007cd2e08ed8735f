"""What every request handler of the web app shares."""

from __future__ import annotations

from dataclasses import dataclass, field

import jinja2
from starlette.requests import Request

from posthouse.server.context import ServerContext
from posthouse.store.base import Mailbox, Store
from posthouse.web.monitor import Monitor


@dataclass
class WebState:
    ctx: ServerContext
    env: jinja2.Environment
    monitor: Monitor
    # user id -> (mailbox (id, highestmodseq) pairs, counts): the folder list's unread
    # counts are recomputed only when some mailbox of the user changed.
    _counts: dict[int, tuple[tuple[tuple[int, int], ...], dict[int, tuple[int, int]]]] = field(
        default_factory=dict
    )

    @property
    def store(self) -> Store:
        return self.ctx.store

    async def folder_counts(
        self, user_id: int, mailboxes: list[Mailbox]
    ) -> dict[int, tuple[int, int]]:
        signature = tuple((m.id, m.highestmodseq) for m in mailboxes)
        cached = self._counts.get(user_id)
        if cached is not None and cached[0] == signature:
            return cached[1]
        counts = await self.store.mailbox_counts(user_id)
        if len(self._counts) > 10_000:
            self._counts.clear()
        self._counts[user_id] = (signature, counts)
        return counts


    def note_unseen_change(self, user_id: int, mailbox_id: int, modseq: int, delta: int) -> None:
        """Our own flag change of one mailbox (at `modseq`) moved its unread count by
        `delta`: update the cached counts instead of counting again — but only when
        nothing else changed that mailbox since they were counted (RFC 7162 §3.1:
        every change takes the next MODSEQ, so ours must be exactly one more)."""
        cached = self._counts.get(user_id)
        if cached is None:
            return
        signature, counts = cached
        if (mailbox_id, modseq - 1) not in signature or mailbox_id not in counts:
            return
        total, unseen = counts[mailbox_id]
        new_signature = tuple((i, modseq if i == mailbox_id else m) for i, m in signature)
        self._counts[user_id] = (new_signature, {**counts, mailbox_id: (total, unseen + delta)})


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state
