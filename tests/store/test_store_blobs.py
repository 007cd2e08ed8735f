"""Conformance: message bodies — shared by copies, freed with the last reference, any size."""

from __future__ import annotations

import pytest

from posthouse.store.base import (
    LocalDelivery,
    Mailbox,
    NotFound,
    OutboundEnvelope,
    OutboundRecipient,
    Store,
    User,
)
from tests.store.samples import StoreFactory, message

KIB = 1024


async def test_blob_lives_while_any_copy_uses_it(store: Store, user: User, inbox: Mailbox) -> None:
    work = await store.create_mailbox(user.id, "Work")
    appended = await store.append(inbox.id, message(1))
    [(_, copy_uid)] = await store.copy(inbox.id, [appended.uid], work.id)
    await store.expunge(inbox.id, [appended.uid])
    assert await store.read_message(appended.blob_id) == message(1)
    await store.expunge(work.id, [copy_uid])
    with pytest.raises(NotFound):
        await store.read_message(appended.blob_id)


async def test_blob_freed_by_delete_mailbox_and_user(
    store: Store, user: User, inbox: Mailbox
) -> None:
    work = await store.create_mailbox(user.id, "Work")
    in_work = await store.append(work.id, message(1, size=100 * KIB))
    await store.delete_mailbox(work.id)
    with pytest.raises(NotFound):
        await store.read_message(in_work.blob_id)
    in_inbox = await store.append(inbox.id, message(2, size=100 * KIB))
    await store.delete_user(user.id)
    with pytest.raises(NotFound):
        await store.read_message(in_inbox.blob_id)


@pytest.mark.parametrize("size", [0, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, 3 * 1024 * KIB])
async def test_any_size_round_trips(store: Store, inbox: Mailbox, size: int) -> None:
    raw = message(size, size=size)
    if size == 0:
        raw = b""
    appended = await store.append(inbox.id, raw)
    assert appended.size == len(raw)
    assert await store.read_message(appended.blob_id) == raw


async def test_large_blob_shared_and_freed(store: Store, user: User, inbox: Mailbox) -> None:
    raw = message(1, size=300 * KIB)
    result = await store.accept(
        raw,
        [LocalDelivery(inbox.id)],
        OutboundEnvelope("alice@example.org", (OutboundRecipient("x@remote.test"),)),
    )
    work = await store.create_mailbox(user.id, "Work")
    await store.move(inbox.id, [result.messages[0].uid], work.id)
    assert await store.read_message(result.blob_id) == raw
    assert result.queue_id is not None
    await store.delete_queue_entry(result.queue_id)
    assert await store.read_message(result.blob_id) == raw
    await store.expunge(work.id, [1])
    with pytest.raises(NotFound):
        await store.read_message(result.blob_id)


async def test_blobs_survive_reopen(
    store_factory: StoreFactory, store: Store, inbox: Mailbox
) -> None:
    small = await store.append(inbox.id, message(1))
    large = await store.append(inbox.id, message(2, size=200 * KIB))
    other = await store_factory()
    try:
        assert await other.read_message(small.blob_id) == message(1)
        assert await other.read_message(large.blob_id) == message(2, size=200 * KIB)
    finally:
        await other.close()
