"""Looking up a user's own mailboxes and messages: anything else is 404."""

from __future__ import annotations

from starlette.exceptions import HTTPException

from posthouse.store.base import Mailbox, MessageSummary, Store
from posthouse.web.session import Auth


async def own_mailbox(store: Store, auth: Auth, mailbox_id: int) -> Mailbox:
    mailbox = await store.get_mailbox_by_id(mailbox_id)
    if mailbox is None or mailbox.user_id != auth.user.id:
        raise HTTPException(404, "No such folder")
    return mailbox


async def own_message(
    store: Store, auth: Auth, mailbox_id: int, uid: int
) -> tuple[Mailbox, MessageSummary]:
    mailbox = await own_mailbox(store, auth, mailbox_id)
    summary = await store.get_summary(mailbox.id, uid)
    if summary is None:
        raise HTTPException(404, "No such message")
    return mailbox, summary


def parse_ref(text: str | None) -> tuple[int, int] | None:
    """`mailbox:uid` as the compose form carries it."""
    if not text:
        return None
    left, sep, right = text.partition(":")
    if not sep or not left.isdigit() or not right.isdigit():
        return None
    return int(left), int(right)
