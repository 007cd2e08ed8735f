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


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state
