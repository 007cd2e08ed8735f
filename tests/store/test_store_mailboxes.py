"""Conformance: mailboxes — names, INBOX, rename with children, UIDVALIDITY."""

from __future__ import annotations

import pytest

from posthouse.store.base import (
    AlreadyExists,
    LocalDelivery,
    Mailbox,
    NotFound,
    SpecialUse,
    Store,
    StoreError,
    User,
)
from tests.store.samples import StoreFactory, message


async def test_create_get_list(store: Store, user: User) -> None:
    work = await store.create_mailbox(user.id, "Work")
    assert work.name == "Work"
    assert work.user_id == user.id
    assert work.special_use is None
    assert work.uidnext == 1
    assert work.subscribed
    assert work.highestmodseq >= 1
    assert await store.get_mailbox(user.id, "Work") == work
    assert await store.get_mailbox_by_id(work.id) == work
    assert work in await store.list_mailboxes(user.id)
    archive = await store.create_mailbox(user.id, "Old", SpecialUse.ARCHIVE)
    assert archive.special_use == "\\Archive"
    assert await store.mailbox_by_role(user.id, SpecialUse.ARCHIVE) == archive


async def test_names_are_case_sensitive_except_inbox(store: Store, user: User) -> None:
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    assert await store.get_mailbox(user.id, "inbox") == inbox
    assert await store.get_mailbox(user.id, "InBoX") == inbox
    with pytest.raises(AlreadyExists):
        await store.create_mailbox(user.id, "Inbox")
    lower = await store.create_mailbox(user.id, "work")
    upper = await store.create_mailbox(user.id, "Work")
    assert lower.id != upper.id
    assert await store.get_mailbox(user.id, "WORK") is None
    child = await store.create_mailbox(user.id, "inbox/Lists")
    assert child.name == "INBOX/Lists"
    assert await store.get_mailbox(user.id, "Inbox/Lists") == child


async def test_create_duplicate_and_unknown_user(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "Work")
    with pytest.raises(AlreadyExists):
        await store.create_mailbox(user.id, "Work")
    with pytest.raises(NotFound):
        await store.create_mailbox(9999, "Work")


@pytest.mark.parametrize("name", ["", "/Work", "Work/", "a//b"])
async def test_invalid_names_are_refused(store: Store, user: User, name: str) -> None:
    with pytest.raises(StoreError):
        await store.create_mailbox(user.id, name)


async def test_other_users_mailboxes_are_separate(store: Store, user: User) -> None:
    bob = await store.add_user("bob@example.org", "h")
    mine = await store.create_mailbox(user.id, "Work")
    theirs = await store.create_mailbox(bob.id, "Work")
    assert mine.id != theirs.id
    assert await store.get_mailbox(bob.id, "Work") == theirs


async def test_rename_renames_children(store: Store, user: User) -> None:
    a = await store.create_mailbox(user.id, "a")
    ab = await store.create_mailbox(user.id, "a/b")
    abc = await store.create_mailbox(user.id, "a/b/c")
    ax = await store.create_mailbox(user.id, "ax")  # not a child: no "/" after "a"
    renamed = await store.rename_mailbox(a.id, "z")
    assert renamed.name == "z"
    assert renamed.uidvalidity == a.uidvalidity
    names = {m.id: m.name for m in await store.list_mailboxes(user.id)}
    assert names[a.id] == "z"
    assert names[ab.id] == "z/b"
    assert names[abc.id] == "z/b/c"
    assert names[ax.id] == "ax"
    assert await store.get_mailbox(user.id, "a") is None


async def test_rename_keeps_messages(store: Store, user: User) -> None:
    work = await store.create_mailbox(user.id, "Work")
    appended = await store.append(work.id, message(1))
    await store.rename_mailbox(work.id, "Job")
    job = await store.get_mailbox(user.id, "Job")
    assert job is not None
    assert job.id == work.id
    assert await store.list_messages(job.id) == [appended]


async def test_rename_refusals(store: Store, user: User, inbox: Mailbox) -> None:
    a = await store.create_mailbox(user.id, "a")
    await store.create_mailbox(user.id, "a/b")
    await store.create_mailbox(user.id, "x/b")
    b = await store.create_mailbox(user.id, "b")
    with pytest.raises(StoreError):
        await store.rename_mailbox(inbox.id, "Old")
    with pytest.raises(AlreadyExists):
        await store.rename_mailbox(a.id, "b")
    with pytest.raises(AlreadyExists):  # the child a/b would collide with x/b
        await store.rename_mailbox(a.id, "x")
    with pytest.raises(AlreadyExists):
        await store.rename_mailbox(b.id, "inbox")
    with pytest.raises(StoreError):
        await store.rename_mailbox(a.id, "a/b/c")
    with pytest.raises(NotFound):
        await store.rename_mailbox(9999, "q")
    # Nothing moved by the refused renames.
    assert {m.name for m in await store.list_mailboxes(user.id)} >= {"a", "a/b", "x/b", "b"}


async def test_delete_mailbox(store: Store, user: User, inbox: Mailbox) -> None:
    work = await store.create_mailbox(user.id, "Work")
    child = await store.create_mailbox(user.id, "Work/Child")
    appended = await store.append(work.id, message(1))
    await store.delete_mailbox(work.id)
    assert await store.get_mailbox(user.id, "Work") is None
    assert await store.get_mailbox_by_id(work.id) is None
    assert await store.get_mailbox_by_id(child.id) == child  # inferiors stay
    with pytest.raises(NotFound):
        await store.read_message(appended.blob_id)
    with pytest.raises(NotFound):
        await store.delete_mailbox(work.id)
    with pytest.raises(StoreError):
        await store.delete_mailbox(inbox.id)


async def test_uidvalidity_is_never_reused_for_a_name(store: Store, user: User) -> None:
    seen: set[int] = {m.uidvalidity for m in await store.list_mailboxes(user.id)}
    first = await store.create_mailbox(user.id, "Work")
    await store.delete_mailbox(first.id)
    second = await store.create_mailbox(user.id, "Work")
    assert second.uidvalidity != first.uidvalidity
    await store.rename_mailbox(second.id, "Job")
    third = await store.create_mailbox(user.id, "Work")
    values = [first.uidvalidity, second.uidvalidity, third.uidvalidity]
    assert len(set(values)) == 3
    assert not seen & set(values)
    assert all(0 < v < 2**32 for v in values)


async def test_uidvalidity_survives_reopen(
    store_factory: StoreFactory, store: Store, user: User
) -> None:
    first = await store.create_mailbox(user.id, "Work")
    await store.delete_mailbox(first.id)
    other = await store_factory()
    try:
        again = await other.create_mailbox(user.id, "Work")
        assert again.uidvalidity != first.uidvalidity
    finally:
        await other.close()


async def test_set_subscribed(store: Store, user: User) -> None:
    work = await store.create_mailbox(user.id, "Work")
    await store.set_subscribed(work.id, False)
    got = await store.get_mailbox_by_id(work.id)
    assert got is not None
    assert not got.subscribed
    await store.set_subscribed(work.id, True)
    got = await store.get_mailbox_by_id(work.id)
    assert got is not None
    assert got.subscribed
    with pytest.raises(NotFound):
        await store.set_subscribed(9999, True)


async def test_mailbox_by_role_missing(store: Store, user: User) -> None:
    assert await store.mailbox_by_role(user.id, SpecialUse.ARCHIVE) is None


async def test_messages_are_per_mailbox(store: Store, user: User, inbox: Mailbox) -> None:
    work = await store.create_mailbox(user.id, "Work")
    await store.accept(message(1), [LocalDelivery(inbox.id), LocalDelivery(work.id)])
    assert len(await store.list_messages(inbox.id)) == 1
    assert len(await store.list_messages(work.id)) == 1
