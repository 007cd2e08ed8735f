"""Conformance: what IMAP's mailbox watcher polls — HIGHESTMODSEQ of many mailboxes at
once, and a change token that moves on every commit."""

from __future__ import annotations

from posthouse.store.base import FlagMode, LocalDelivery, Store, User
from tests.store.samples import message


async def test_highest_modseqs_follow_changes(store: Store, user: User) -> None:
    inbox = await store.get_mailbox(user.id, "INBOX")
    work = await store.create_mailbox(user.id, "Work")
    assert inbox is not None
    before = await store.highest_modseqs([inbox.id, work.id, 999_999])
    assert set(before) == {inbox.id, work.id}  # a missing mailbox is left out
    result = await store.accept(message(), [LocalDelivery(inbox.id)])
    after = await store.highest_modseqs([inbox.id, work.id])
    assert after[inbox.id] > before[inbox.id]
    assert after[work.id] == before[work.id]
    await store.store_flags(inbox.id, [result.messages[0].uid], ["\\Seen"], FlagMode.ADD)
    assert (await store.highest_modseqs([inbox.id]))[inbox.id] > after[inbox.id]


async def test_change_token_moves_on_commit(store: Store, user: User) -> None:
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    first = store.change_token()
    assert store.change_token() == first  # nothing committed in between
    await store.accept(message(), [LocalDelivery(inbox.id)])
    assert store.change_token() != first


async def test_read_messages_in_one_call(store: Store, user: User) -> None:
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    small = await store.accept(message(1), [LocalDelivery(inbox.id)])
    big = await store.accept(message(2, size=200_000), [LocalDelivery(inbox.id)])  # a file
    found = await store.read_messages([small.blob_id, big.blob_id, "0" * 32, small.blob_id])
    assert found == {
        small.blob_id: await store.read_message(small.blob_id),
        big.blob_id: await store.read_message(big.blob_id),
    }
