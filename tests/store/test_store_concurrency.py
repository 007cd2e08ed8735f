"""Conformance: many writers at once, and durability across a reopen."""

from __future__ import annotations

import asyncio

from posthouse.store.base import (
    AcceptResult,
    FlagMode,
    LocalDelivery,
    Mailbox,
    QuotaExceeded,
    Store,
    User,
)
from tests.store.samples import StoreFactory, message


async def test_200_concurrent_accepts(
    store_factory: StoreFactory, store: Store, user: User, inbox: Mailbox
) -> None:
    results = await asyncio.gather(
        *(store.accept(message(n), [LocalDelivery(inbox.id)]) for n in range(200))
    )
    uids = [r.messages[0].uid for r in results]
    assert sorted(uids) == list(range(1, 201))  # unique, gap-free, ascending
    listed = await store.list_messages(inbox.id)
    assert [m.uid for m in listed] == list(range(1, 201))
    # Within one mailbox a higher UID never has a lower MODSEQ (appends are ordered).
    assert [m.modseq for m in listed] == sorted(m.modseq for m in listed)
    by_uid = {r.messages[0].uid: n for n, r in enumerate(results)}
    for record in listed:
        assert await store.read_message(record.blob_id) == message(by_uid[record.uid])
    status = await store.mailbox_status(inbox.id)
    assert (status.messages, status.uidnext) == (200, 201)

    # Durable: a second handle on the same storage sees all of it.
    other = await store_factory()
    try:
        assert [m.uid for m in await other.list_messages(inbox.id)] == list(range(1, 201))
    finally:
        await other.close()


async def test_concurrent_accepts_to_many_mailboxes(store: Store, user: User) -> None:
    boxes = [await store.create_mailbox(user.id, f"box{i}") for i in range(5)]
    results: list[AcceptResult] = await asyncio.gather(
        *(store.accept(message(n), [LocalDelivery(b.id) for b in boxes]) for n in range(40))
    )
    for i, box in enumerate(boxes):
        uids = sorted(r.messages[i].uid for r in results)
        assert uids == list(range(1, 41))
        assert [m.uid for m in await store.list_messages(box.id)] == uids


async def test_one_failing_writer_does_not_fail_the_others(
    store: Store, user: User, inbox: Mailbox
) -> None:
    bob = await store.add_user("bob@example.org", "h", quota_bytes=1)
    bob_inbox = await store.get_mailbox(bob.id, "INBOX")
    assert bob_inbox is not None
    calls = []
    for n in range(60):
        target = bob_inbox if n % 3 == 0 else inbox
        calls.append(store.accept(message(n), [LocalDelivery(target.id)]))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for n, outcome in enumerate(outcomes):
        if n % 3 == 0:
            assert isinstance(outcome, QuotaExceeded)
        else:
            assert isinstance(outcome, AcceptResult)
    assert len(await store.list_messages(inbox.id)) == 40
    assert await store.list_messages(bob_inbox.id) == []


async def test_concurrent_flag_changes_get_distinct_modseqs(store: Store, inbox: Mailbox) -> None:
    records = [await store.append(inbox.id, message(n)) for n in range(20)]
    results = await asyncio.gather(
        *(store.store_flags(inbox.id, [r.uid], ["\\Seen"], FlagMode.ADD) for r in records)
    )
    modseqs = [changed[0].modseq for changed, _ in results]
    assert len(set(modseqs)) == len(modseqs)
    assert (await store.mailbox_status(inbox.id)).highestmodseq == max(modseqs)
