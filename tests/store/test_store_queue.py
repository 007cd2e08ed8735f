"""Conformance: the outbound queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from posthouse.store.base import (
    LocalDelivery,
    Mailbox,
    NotFound,
    OutboundEnvelope,
    OutboundRecipient,
    RecipientState,
    Store,
    StoreError,
)
from tests.store.samples import message


def _envelope(*addresses: str, sender: str = "alice@example.org") -> OutboundEnvelope:
    return OutboundEnvelope(
        sender=sender,
        recipients=tuple(OutboundRecipient(a, {"NOTIFY": "SUCCESS,FAILURE"}) for a in addresses),
        params={"BODY": "8BITMIME", "ENVID": "abc"},
    )


async def _queue(store: Store, *addresses: str, n: int = 1) -> int:
    result = await store.accept(message(n), [], _envelope(*addresses))
    assert result.messages == ()
    assert result.queue_id is not None
    return result.queue_id


async def test_accept_outbound_creates_pending_entry(store: Store) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    queue_id = await _queue(store, "bob@remote.test", "Carol@Remote.Test")
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None
    assert entry.sender == "alice@example.org"
    assert entry.params == {"BODY": "8BITMIME", "ENVID": "abc"}
    # Remote addresses are kept verbatim: a local part may be case-sensitive.
    assert [r.address for r in entry.recipients] == ["bob@remote.test", "Carol@Remote.Test"]
    assert all(r.state is RecipientState.PENDING for r in entry.recipients)
    assert all(r.dsn == {"NOTIFY": "SUCCESS,FAILURE"} for r in entry.recipients)
    assert all(r.last_error is None for r in entry.recipients)
    assert entry.attempts == 0
    assert entry.last_error is None
    assert entry.size == len(message(1))
    assert before <= entry.created <= entry.next_attempt <= datetime.now(UTC)
    assert await store.read_message(entry.blob_id) == message(1)
    assert await store.list_queue() == [entry]


async def test_null_sender_and_duplicate_recipients(store: Store) -> None:
    result = await store.accept(
        message(1), [], _envelope("x@remote.test", "x@remote.test", sender="")
    )
    assert result.queue_id is not None
    entry = await store.get_queue_entry(result.queue_id)
    assert entry is not None
    assert entry.sender == ""
    assert [r.address for r in entry.recipients] == ["x@remote.test"]


async def test_outbound_needs_recipients(store: Store) -> None:
    with pytest.raises(StoreError):
        await store.accept(message(1), [], OutboundEnvelope("a@example.org", ()))
    assert await store.list_queue() == []


async def test_due_entries(store: Store) -> None:
    first = await _queue(store, "a@remote.test", n=1)
    second = await _queue(store, "b@remote.test", n=2)
    third = await _queue(store, "c@remote.test", n=3)
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert [e.id for e in await store.due_queue_entries(now)] == [first, second, third]
    assert await store.due_queue_entries(now - timedelta(hours=1)) == []
    # Ordered by next_attempt: push the first one back.
    await store.update_queue_entry(first, next_attempt=now - timedelta(microseconds=1))
    await store.update_queue_entry(second, next_attempt=now + timedelta(minutes=5))
    due = await store.due_queue_entries(now)
    assert [e.id for e in due] == [third, first]
    assert [e.id for e in await store.due_queue_entries(now, limit=1)] == [third]
    later = now + timedelta(minutes=10)
    assert [e.id for e in await store.due_queue_entries(later)] == [third, first, second]
    # Those already being delivered are left out, and the limit counts the others.
    in_flight = [third, 987_654]
    assert [e.id for e in await store.due_queue_entries(later, 1, in_flight)] == [first]
    assert [e.id for e in await store.due_queue_entries(later, exclude=in_flight)] == [
        first,
        second,
    ]


async def test_update_queue_entry(store: Store) -> None:
    queue_id = await _queue(store, "a@remote.test", "b@remote.test")
    retry_at = datetime(2030, 1, 1, tzinfo=UTC)
    entry = await store.update_queue_entry(
        queue_id,
        recipient_states={
            "a@remote.test": (RecipientState.DELIVERED, None),
            "b@remote.test": (RecipientState.PENDING, "451 4.7.1 try later"),
        },
        next_attempt=retry_at,
        attempts=1,
        last_error="451 4.7.1 try later",
    )
    assert entry.attempts == 1
    assert entry.next_attempt == retry_at
    assert entry.last_error == "451 4.7.1 try later"
    states = {r.address: (r.state, r.last_error) for r in entry.recipients}
    assert states == {
        "a@remote.test": (RecipientState.DELIVERED, None),
        "b@remote.test": (RecipientState.PENDING, "451 4.7.1 try later"),
    }
    assert await store.get_queue_entry(queue_id) == entry
    # Only given fields change.
    again = await store.update_queue_entry(queue_id, attempts=2)
    assert again.next_attempt == retry_at
    assert again.last_error == "451 4.7.1 try later"


async def test_update_queue_params(store: Store) -> None:
    queue_id = await _queue(store, "a@remote.test")
    params = {"BODY": "8BITMIME", "ENVID": "abc", "dkim-signature": "DKIM-Signature: v=1"}
    entry = await store.update_queue_entry(queue_id, params=params, attempts=1)
    assert entry.params == params
    assert (await store.get_queue_entry(queue_id)).params == params  # type: ignore[union-attr]
    # Not given: unchanged.
    again = await store.update_queue_entry(queue_id, attempts=2)
    assert again.params == params


async def test_entry_without_pending_recipients_is_not_due(store: Store) -> None:
    queue_id = await _queue(store, "a@remote.test", "b@remote.test")
    now = datetime.now(UTC) + timedelta(seconds=1)
    await store.update_queue_entry(
        queue_id, recipient_states={"a@remote.test": (RecipientState.DELIVERED, None)}
    )
    assert [e.id for e in await store.due_queue_entries(now)] == [queue_id]
    await store.update_queue_entry(
        queue_id, recipient_states={"b@remote.test": (RecipientState.FAILED, "550 5.1.1 no")}
    )
    assert await store.due_queue_entries(now) == []
    assert [e.id for e in await store.list_queue()] == [queue_id]


async def test_update_errors(store: Store) -> None:
    queue_id = await _queue(store, "a@remote.test")
    with pytest.raises(NotFound):
        await store.update_queue_entry(4242, attempts=1)
    with pytest.raises(NotFound):
        await store.update_queue_entry(
            queue_id, recipient_states={"zz@remote.test": (RecipientState.DELIVERED, None)}
        )
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None
    assert entry.recipients[0].state is RecipientState.PENDING


async def test_delete_queue_entry_frees_blob(store: Store) -> None:
    queue_id = await _queue(store, "a@remote.test")
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None
    await store.delete_queue_entry(queue_id)
    assert await store.get_queue_entry(queue_id) is None
    assert await store.list_queue() == []
    with pytest.raises(NotFound):
        await store.read_message(entry.blob_id)
    with pytest.raises(NotFound):
        await store.delete_queue_entry(queue_id)


async def test_queue_and_mailbox_share_a_blob(store: Store, inbox: Mailbox) -> None:
    result = await store.accept(message(1), [LocalDelivery(inbox.id)], _envelope("a@remote.test"))
    assert result.queue_id is not None
    await store.delete_queue_entry(result.queue_id)
    assert await store.read_message(result.blob_id) == message(1)  # the copy still uses it
    await store.expunge(inbox.id, [result.messages[0].uid])
    with pytest.raises(NotFound):
        await store.read_message(result.blob_id)


async def test_missing_entry_is_none(store: Store) -> None:
    assert await store.get_queue_entry(4242) is None
