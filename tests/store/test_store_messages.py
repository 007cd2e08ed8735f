"""Conformance: accept, append, read, flags + MODSEQ, expunge, copy/move, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from posthouse.store.base import (
    FlagMode,
    LocalDelivery,
    Mailbox,
    NotFound,
    OutboundEnvelope,
    OutboundRecipient,
    QuotaExceeded,
    Store,
    StoreError,
    User,
)
from tests.store.samples import message

SEEN = "\\Seen"
FLAGGED = "\\Flagged"
DELETED = "\\Deleted"


async def _box(store: Store, user: User, name: str) -> Mailbox:
    mailbox = await store.get_mailbox(user.id, name)
    assert mailbox is not None
    return mailbox


# --- accept -------------------------------------------------------------------------


async def test_accept_local_and_outbound(store: Store, user: User, inbox: Mailbox) -> None:
    bob = await store.add_user("bob@example.org", "h")
    bob_inbox = await _box(store, bob, "INBOX")
    raw = message(1)
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    meta = {"transcript": ["EHLO x", "250 ok"], "tls": {"version": "TLSv1.3"}}
    result = await store.accept(
        raw,
        [LocalDelivery(inbox.id, frozenset({SEEN})), LocalDelivery(bob_inbox.id)],
        OutboundEnvelope(
            sender="alice@example.org",
            recipients=(OutboundRecipient("carol@remote.test", {"NOTIFY": "FAILURE"}),),
            params={"BODY": "8BITMIME"},
        ),
        internal_date=when,
        meta=meta,
    )
    assert [m.mailbox_id for m in result.messages] == [inbox.id, bob_inbox.id]
    first, second = result.messages
    assert first.flags == frozenset({SEEN})
    assert second.flags == frozenset()
    for record in result.messages:
        assert record.uid == 1
        assert record.size == len(raw)
        assert record.blob_id == result.blob_id
        assert record.internal_date == when
        assert await store.get_message(record.mailbox_id, record.uid) == record
        assert await store.message_meta(record.id) == meta
    assert await store.read_message(result.blob_id) == raw
    assert result.queue_id is not None
    entry = await store.get_queue_entry(result.queue_id)
    assert entry is not None
    assert entry.blob_id == result.blob_id
    assert entry.size == len(raw)


async def test_accept_default_internal_date_is_now(store: Store, inbox: Mailbox) -> None:
    before = datetime.now(UTC)
    result = await store.accept(message(1), [LocalDelivery(inbox.id)])
    after = datetime.now(UTC)
    stamp = result.messages[0].internal_date
    assert before - timedelta(seconds=1) <= stamp <= after + timedelta(seconds=1)


async def test_internal_date_round_trips_with_zone(store: Store, inbox: Mailbox) -> None:
    when = datetime(2023, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    appended = await store.append(inbox.id, message(1), internal_date=when)
    got = await store.get_message(inbox.id, appended.uid)
    assert got is not None
    assert got.internal_date == when


async def test_accept_needs_somewhere_to_go(store: Store) -> None:
    with pytest.raises(StoreError):
        await store.accept(message(1), [])


async def test_accept_unknown_mailbox_stores_nothing(store: Store, inbox: Mailbox) -> None:
    with pytest.raises(NotFound):
        await store.accept(message(1), [LocalDelivery(inbox.id), LocalDelivery(99999)])
    assert await store.list_messages(inbox.id) == []
    status = await store.mailbox_status(inbox.id)
    assert status.uidnext == 1


async def test_accept_quota(store: Store, user: User, inbox: Mailbox) -> None:
    bob = await store.add_user("bob@example.org", "h")
    bob_inbox = await _box(store, bob, "INBOX")
    raw = message(1, size=600)
    await store.update_user(user.id, quota_bytes=1000)
    await store.accept(raw, [LocalDelivery(inbox.id)])
    assert await store.usage(user.id) == len(raw)
    with pytest.raises(QuotaExceeded) as caught:
        await store.accept(
            raw,
            [LocalDelivery(bob_inbox.id), LocalDelivery(inbox.id)],
            OutboundEnvelope("alice@example.org", (OutboundRecipient("x@remote.test"),)),
        )
    assert caught.value.user_id == user.id
    assert caught.value.limit == 1000
    assert caught.value.used == len(raw)
    # Nothing of the refused accept was stored: not bob's copy, not the queue entry.
    assert await store.list_messages(bob_inbox.id) == []
    assert await store.list_queue() == []
    assert len(await store.list_messages(inbox.id)) == 1
    assert await store.usage(user.id) == len(raw)
    assert await store.usage(bob.id) == 0
    # Exactly at the limit is fine.
    await store.update_user(user.id, quota_bytes=2 * len(raw))
    await store.accept(raw, [LocalDelivery(inbox.id)])


async def test_quota_counts_every_copy(store: Store, user: User, inbox: Mailbox) -> None:
    work = await store.create_mailbox(user.id, "Work")
    raw = message(1, size=400)
    await store.update_user(user.id, quota_bytes=len(raw) * 2 - 1)
    with pytest.raises(QuotaExceeded):
        await store.accept(raw, [LocalDelivery(inbox.id), LocalDelivery(work.id)])
    await store.update_user(user.id, quota_bytes=None)
    await store.accept(raw, [LocalDelivery(inbox.id), LocalDelivery(work.id)])
    assert await store.usage(user.id) == 2 * len(raw)


async def test_usage_missing_user(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.usage(4242)


# --- append / list / get / read ------------------------------------------------------


async def test_append_list_get_read(store: Store, inbox: Mailbox) -> None:
    records = [await store.append(inbox.id, message(n), flags=["\\seen"]) for n in range(3)]
    assert [r.uid for r in records] == [1, 2, 3]
    assert all(r.flags == frozenset({SEEN}) for r in records)
    assert await store.list_messages(inbox.id) == records
    assert await store.get_message(inbox.id, 2) == records[1]
    assert await store.get_message(inbox.id, 99) is None
    assert await store.read_message(records[2].blob_id) == message(2)
    assert await store.message_meta(records[0].id) == {}
    status = await store.mailbox_status(inbox.id)
    assert status.uidnext == 4
    assert status.highestmodseq >= records[-1].modseq


async def test_append_unknown_mailbox(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.append(4242, message(1))


async def test_append_checks_quota(store: Store, user: User, inbox: Mailbox) -> None:
    await store.update_user(user.id, quota_bytes=100)
    with pytest.raises(QuotaExceeded):
        await store.append(inbox.id, message(1, size=200))
    assert await store.list_messages(inbox.id) == []


async def test_keywords_are_kept(store: Store, inbox: Mailbox) -> None:
    appended = await store.append(inbox.id, message(1), flags=["$Forwarded", "\\FLAGGED"])
    assert appended.flags == frozenset({"$Forwarded", FLAGGED})


async def test_read_and_meta_of_unknown(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.read_message("0" * 32)
    with pytest.raises(NotFound):
        await store.read_message("../../etc/passwd")
    with pytest.raises(NotFound):
        await store.message_meta(4242)


# --- flags and MODSEQ ------------------------------------------------------------------


async def test_store_flags_modes(store: Store, inbox: Mailbox) -> None:
    a = await store.append(inbox.id, message(1), flags=[SEEN])
    b = await store.append(inbox.id, message(2))
    changed, skipped = await store.store_flags(inbox.id, [a.uid, b.uid], [FLAGGED], FlagMode.ADD)
    assert skipped == []
    assert {r.uid: r.flags for r in changed} == {
        a.uid: frozenset({SEEN, FLAGGED}),
        b.uid: frozenset({FLAGGED}),
    }
    changed, _ = await store.store_flags(inbox.id, [a.uid, b.uid], ["\\seen"], FlagMode.REMOVE)
    assert [r.uid for r in changed] == [a.uid]  # b had no \Seen: unchanged, not reported
    assert changed[0].flags == frozenset({FLAGGED})
    changed, _ = await store.store_flags(inbox.id, [b.uid], ["work", DELETED], FlagMode.SET)
    assert changed[0].flags == frozenset({"work", DELETED})
    got = await store.get_message(inbox.id, b.uid)
    assert got == changed[0]


async def test_modseq_grows_on_every_change(store: Store, inbox: Mailbox) -> None:
    a = await store.append(inbox.id, message(1))
    b = await store.append(inbox.id, message(2))
    assert b.modseq > a.modseq
    status = await store.mailbox_status(inbox.id)
    assert status.highestmodseq == b.modseq
    changed, _ = await store.store_flags(inbox.id, [a.uid], [SEEN], FlagMode.ADD)
    assert changed[0].modseq > b.modseq
    status = await store.mailbox_status(inbox.id)
    assert status.highestmodseq == changed[0].modseq
    # A STORE that changes nothing does not move MODSEQ.
    unchanged, _ = await store.store_flags(inbox.id, [a.uid], [SEEN], FlagMode.ADD)
    assert unchanged == []
    assert (await store.mailbox_status(inbox.id)).highestmodseq == status.highestmodseq
    await store.expunge(inbox.id, [b.uid])
    assert (await store.mailbox_status(inbox.id)).highestmodseq > status.highestmodseq


async def test_unchanged_since(store: Store, inbox: Mailbox) -> None:
    # RFC 7162 §3.1.3: messages changed after UNCHANGEDSINCE are skipped, not stored.
    a = await store.append(inbox.id, message(1))
    b = await store.append(inbox.id, message(2))
    base = (await store.mailbox_status(inbox.id)).highestmodseq
    await store.store_flags(inbox.id, [b.uid], [SEEN], FlagMode.ADD)  # b now newer
    changed, skipped = await store.store_flags(
        inbox.id, [a.uid, b.uid], [FLAGGED], FlagMode.ADD, unchanged_since=base
    )
    assert [r.uid for r in changed] == [a.uid]
    assert skipped == [b.uid]
    got_b = await store.get_message(inbox.id, b.uid)
    assert got_b is not None
    assert FLAGGED not in got_b.flags
    # UNCHANGEDSINCE 0 fails every message (RFC 7162 §3.1.3 example).
    changed, skipped = await store.store_flags(
        inbox.id, [a.uid, b.uid], ["x"], FlagMode.ADD, unchanged_since=0
    )
    assert changed == []
    assert skipped == [a.uid, b.uid]


async def test_store_flags_ignores_missing_uids(store: Store, inbox: Mailbox) -> None:
    a = await store.append(inbox.id, message(1))
    changed, skipped = await store.store_flags(inbox.id, [a.uid, 77], [SEEN], FlagMode.ADD)
    assert [r.uid for r in changed] == [a.uid]
    assert skipped == []
    with pytest.raises(NotFound):
        await store.store_flags(4242, [1], [SEEN], FlagMode.ADD)


# --- expunge and changes_since ----------------------------------------------------------


async def test_expunge_and_changes_since(store: Store, inbox: Mailbox) -> None:
    records = [await store.append(inbox.id, message(n)) for n in range(4)]
    start = (await store.mailbox_status(inbox.id)).highestmodseq
    nothing = await store.changes_since(inbox.id, start)
    assert nothing.highestmodseq == start
    assert nothing.updated == ()
    assert nothing.expunged_uids == ()

    removed = await store.expunge(inbox.id, [records[2].uid, records[0].uid, 999])
    assert removed == [records[0].uid, records[2].uid]
    changed, _ = await store.store_flags(inbox.id, [records[3].uid], [SEEN], FlagMode.ADD)
    new = await store.append(inbox.id, message(9))

    changes = await store.changes_since(inbox.id, start)
    assert changes.expunged_uids == (records[0].uid, records[2].uid)
    assert [r.uid for r in changes.updated] == [records[3].uid, new.uid]
    assert changes.updated[0] == changed[0]
    assert changes.highestmodseq == (await store.mailbox_status(inbox.id)).highestmodseq
    # Everything since the beginning: all live messages, every expunge.
    everything = await store.changes_since(inbox.id, 0)
    assert [r.uid for r in everything.updated] == [records[1].uid, records[3].uid, new.uid]
    assert everything.expunged_uids == (records[0].uid, records[2].uid)
    assert [m.uid for m in await store.list_messages(inbox.id)] == [2, 4, 5]
    with pytest.raises(NotFound):
        await store.changes_since(4242, 0)


async def test_uids_are_never_reused(store: Store, inbox: Mailbox) -> None:
    first = await store.append(inbox.id, message(1))
    await store.expunge(inbox.id, [first.uid])
    second = await store.append(inbox.id, message(2))
    assert second.uid > first.uid


async def test_expunge_nothing(store: Store, inbox: Mailbox) -> None:
    before = (await store.mailbox_status(inbox.id)).highestmodseq
    assert await store.expunge(inbox.id, [1, 2, 3]) == []
    assert (await store.mailbox_status(inbox.id)).highestmodseq == before
    with pytest.raises(NotFound):
        await store.expunge(4242, [1])


# --- copy and move ----------------------------------------------------------------------


async def test_copy(store: Store, user: User, inbox: Mailbox) -> None:
    work = await store.create_mailbox(user.id, "Work")
    await store.append(work.id, message(0))  # so new UIDs in Work start at 2
    a = await store.append(inbox.id, message(1), flags=[SEEN, "$label"])
    b = await store.append(inbox.id, message(2))
    pairs = await store.copy(inbox.id, [b.uid, a.uid, 42], work.id)
    assert pairs == [(a.uid, 2), (b.uid, 3)]
    copied = {m.uid: m for m in await store.list_messages(work.id)}
    assert copied[2].blob_id == a.blob_id
    assert copied[2].flags == a.flags
    assert copied[2].internal_date == a.internal_date
    assert copied[2].size == a.size
    assert copied[3].blob_id == b.blob_id
    assert await store.list_messages(inbox.id) == [a, b]
    # Quota usage counts every copy.
    assert await store.usage(user.id) == len(message(0)) + 2 * (a.size + b.size)
    assert await store.copy(inbox.id, [999], work.id) == []


async def test_copy_keeps_meta(store: Store, user: User, inbox: Mailbox) -> None:
    work = await store.create_mailbox(user.id, "Work")
    result = await store.accept(message(1), [LocalDelivery(inbox.id)], meta={"spf": "pass"})
    [(_, new_uid)] = await store.copy(inbox.id, [result.messages[0].uid], work.id)
    copy = await store.get_message(work.id, new_uid)
    assert copy is not None
    assert await store.message_meta(copy.id) == {"spf": "pass"}


async def test_copy_checks_quota(store: Store, user: User, inbox: Mailbox) -> None:
    work = await store.create_mailbox(user.id, "Work")
    a = await store.append(inbox.id, message(1, size=500))
    await store.update_user(user.id, quota_bytes=a.size + 10)
    with pytest.raises(QuotaExceeded):
        await store.copy(inbox.id, [a.uid], work.id)
    assert await store.list_messages(work.id) == []


async def test_copy_and_move_unknown_mailboxes(store: Store, inbox: Mailbox) -> None:
    a = await store.append(inbox.id, message(1))
    with pytest.raises(NotFound):
        await store.copy(inbox.id, [a.uid], 4242)
    with pytest.raises(NotFound):
        await store.move(4242, [a.uid], inbox.id)


async def test_move(store: Store, user: User, inbox: Mailbox) -> None:
    work = await store.create_mailbox(user.id, "Work")
    a = await store.append(inbox.id, message(1), flags=[FLAGGED])
    b = await store.append(inbox.id, message(2))
    before = (await store.mailbox_status(inbox.id)).highestmodseq
    pairs = await store.move(inbox.id, [a.uid], work.id)
    assert pairs == [(a.uid, 1)]
    assert await store.list_messages(inbox.id) == [b]
    moved = await store.get_message(work.id, 1)
    assert moved is not None
    assert moved.flags == frozenset({FLAGGED})
    assert moved.blob_id == a.blob_id
    assert await store.read_message(moved.blob_id) == message(1)
    changes = await store.changes_since(inbox.id, before)
    assert changes.expunged_uids == (a.uid,)
    assert await store.usage(user.id) == a.size + b.size


async def test_move_is_quota_neutral_within_a_user(
    store: Store, user: User, inbox: Mailbox
) -> None:
    work = await store.create_mailbox(user.id, "Work")
    a = await store.append(inbox.id, message(1, size=500))
    await store.update_user(user.id, quota_bytes=a.size)  # full
    assert await store.move(inbox.id, [a.uid], work.id) == [(a.uid, 1)]


# --- status -------------------------------------------------------------------------


async def test_mailbox_status(store: Store, inbox: Mailbox) -> None:
    empty = await store.mailbox_status(inbox.id)
    assert (empty.messages, empty.unseen, empty.size, empty.uidnext) == (0, 0, 0, 1)
    assert empty.uidvalidity == inbox.uidvalidity
    a = await store.append(inbox.id, message(1), flags=[SEEN])
    b = await store.append(inbox.id, message(2, size=300))
    c = await store.append(inbox.id, message(3), flags=["\\Seenish"])
    status = await store.mailbox_status(inbox.id)
    assert status.messages == 3
    assert status.unseen == 2  # b and c: "\Seenish" is not \Seen
    assert status.recent >= 0
    assert status.size == a.size + b.size + c.size
    assert status.uidnext == 4
    assert status.uidvalidity == inbox.uidvalidity
    assert status.highestmodseq == c.modseq
    with pytest.raises(NotFound):
        await store.mailbox_status(4242)
