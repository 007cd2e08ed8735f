"""Conformance: domains, users, aliases, app passwords."""

from __future__ import annotations

import pytest

from posthouse.store.base import (
    ALL_PROTOCOLS,
    DEFAULT_MAILBOXES,
    AlreadyExists,
    LocalDelivery,
    NotFound,
    Protocols,
    Store,
    StoreError,
    User,
)
from tests.store.samples import message

# --- domains ----------------------------------------------------------------------


async def test_domain_add_get_list_delete(store: Store) -> None:
    added = await store.add_domain("Example.ORG")
    assert added.name == "example.org"
    assert await store.get_domain("EXAMPLE.org") == added
    await store.add_domain("another.test")
    assert [d.name for d in await store.list_domains()] == ["another.test", "example.org"]
    await store.delete_domain("example.org")
    assert await store.get_domain("example.org") is None
    assert [d.name for d in await store.list_domains()] == ["another.test"]


async def test_domain_is_kept_in_a_label_form(store: Store) -> None:
    added = await store.add_domain("Bücher.example")
    assert added.name == "xn--bcher-kva.example"
    assert await store.get_domain("bücher.example") == added


async def test_domain_duplicate_is_already_exists(store: Store) -> None:
    await store.add_domain("example.org")
    with pytest.raises(AlreadyExists):
        await store.add_domain("EXAMPLE.ORG")


async def test_domain_delete_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.delete_domain("nowhere.test")


async def test_domain_delete_refused_while_users_exist(store: Store, user: User) -> None:
    with pytest.raises(StoreError):
        await store.delete_domain("example.org")
    await store.delete_user(user.id)
    await store.delete_domain("example.org")


async def test_domain_delete_refused_while_aliases_exist(store: Store) -> None:
    await store.add_domain("example.org")
    await store.add_alias("postmaster@example.org", ["root@example.net"])
    with pytest.raises(StoreError):
        await store.delete_domain("example.org")
    assert await store.get_domain("example.org") is not None
    await store.delete_alias("postmaster@example.org")
    await store.delete_domain("example.org")


# --- users ------------------------------------------------------------------------


async def test_add_user_stores_lower_case_and_defaults(store: Store) -> None:
    domain = await store.add_domain("example.org")
    user = await store.add_user("Alice@Example.Org", "h1", display_name="Alice A.")
    assert user.address == "alice@example.org"
    assert user.localpart == "alice"
    assert user.domain_id == domain.id
    assert user.display_name == "Alice A."
    assert user.password_hash == "h1"
    assert user.enabled
    assert not user.is_admin
    assert user.protocols == ALL_PROTOCOLS
    assert user.quota_bytes is None
    assert await store.get_user("ALICE@example.org") == user
    assert await store.get_user_by_id(user.id) == user


async def test_add_user_creates_default_mailboxes_with_roles(store: Store, user: User) -> None:
    mailboxes = {m.name: m for m in await store.list_mailboxes(user.id)}
    assert set(mailboxes) == {name for name, _ in DEFAULT_MAILBOXES}
    for name, role in DEFAULT_MAILBOXES:
        assert mailboxes[name].special_use == (None if role is None else str(role))
        if role is not None:
            assert await store.mailbox_by_role(user.id, role) == mailboxes[name]
    assert (await store.list_mailboxes(user.id))[0].name == "INBOX"


async def test_add_user_options(store: Store) -> None:
    await store.add_domain("example.org")
    user = await store.add_user(
        "bob@example.org",
        "h",
        is_admin=True,
        protocols=[Protocols.IMAP, "smtp"],
        quota_bytes=5000,
    )
    assert user.is_admin
    assert user.protocols == frozenset({"imap", "smtp"})
    assert user.quota_bytes == 5000


async def test_add_user_unknown_domain_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.add_user("alice@nowhere.test", "h")


async def test_add_user_duplicate_is_already_exists(store: Store, user: User) -> None:
    with pytest.raises(AlreadyExists):
        await store.add_user("ALICE@example.org", "other")


async def test_add_user_unknown_protocol_is_refused(store: Store) -> None:
    await store.add_domain("example.org")
    with pytest.raises(StoreError):
        await store.add_user("bob@example.org", "h", protocols=["gopher"])


async def test_get_user_missing_is_none(store: Store) -> None:
    assert await store.get_user("nobody@example.org") is None
    assert await store.get_user("not an address") is None
    assert await store.get_user_by_id(12345) is None


async def test_list_users_by_domain(store: Store) -> None:
    await store.add_domain("example.org")
    await store.add_domain("example.net")
    await store.add_user("zed@example.org", "h")
    await store.add_user("amy@example.org", "h")
    await store.add_user("bob@example.net", "h")
    assert [u.address for u in await store.list_users()] == [
        "amy@example.org",
        "bob@example.net",
        "zed@example.org",
    ]
    assert [u.address for u in await store.list_users("Example.ORG")] == [
        "amy@example.org",
        "zed@example.org",
    ]
    assert await store.list_users("unknown.test") == []


async def test_update_user_changes_only_what_is_given(store: Store, user: User) -> None:
    updated = await store.update_user(user.id, display_name="Alice", quota_bytes=1000)
    assert updated.display_name == "Alice"
    assert updated.quota_bytes == 1000
    assert updated.password_hash == user.password_hash
    updated = await store.update_user(
        user.id, password_hash="new", enabled=False, is_admin=True, protocols=["imap"]
    )
    assert updated.password_hash == "new"
    assert not updated.enabled
    assert updated.is_admin
    assert updated.protocols == frozenset({"imap"})
    assert updated.quota_bytes == 1000  # `...` (the default) leaves the quota alone
    updated = await store.update_user(user.id, quota_bytes=None)
    assert updated.quota_bytes is None
    assert await store.get_user_by_id(user.id) == updated


async def test_update_user_missing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.update_user(999, display_name="x")


async def test_delete_user_removes_everything_of_theirs(store: Store, user: User) -> None:
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    result = await store.accept(message(1), [LocalDelivery(inbox.id)])
    await store.add_app_password(user.id, "phone", "s", ["imap"])
    await store.delete_user(user.id)
    assert await store.get_user_by_id(user.id) is None
    assert await store.list_mailboxes(user.id) == []
    assert await store.get_mailbox_by_id(inbox.id) is None
    assert await store.list_app_passwords(user.id) == []
    with pytest.raises(NotFound):
        await store.read_message(result.blob_id)
    with pytest.raises(NotFound):
        await store.delete_user(user.id)
    # The address is free again.
    again = await store.add_user("alice@example.org", "h")
    assert again.id != user.id


# --- aliases ----------------------------------------------------------------------


async def test_alias_add_get_list_delete(store: Store) -> None:
    await store.add_domain("example.org")
    await store.add_domain("example.net")
    alias = await store.add_alias("Sales@Example.org", ["Bob@Example.org", "carol@remote.test"])
    assert alias.source == "sales@example.org"
    assert alias.targets == ("bob@example.org", "carol@remote.test")
    assert await store.get_alias("SALES@example.org") == alias
    catch_all = await store.add_alias("@example.net", ["bob@example.org"])
    assert catch_all.source == "@example.net"
    assert await store.get_alias("@EXAMPLE.NET") == catch_all
    assert [a.source for a in await store.list_aliases()] == [
        "@example.net",
        "sales@example.org",
    ]
    assert [a.source for a in await store.list_aliases("example.org")] == ["sales@example.org"]
    await store.delete_alias("sales@example.org")
    assert await store.get_alias("sales@example.org") is None


async def test_alias_duplicate_missing_and_unknown_domain(store: Store) -> None:
    await store.add_domain("example.org")
    await store.add_alias("a@example.org", ["b@example.org"])
    with pytest.raises(AlreadyExists):
        await store.add_alias("A@example.org", ["c@example.org"])
    with pytest.raises(NotFound):
        await store.delete_alias("zz@example.org")
    with pytest.raises(NotFound):
        await store.add_alias("a@nowhere.test", ["b@example.org"])
    with pytest.raises(StoreError):
        await store.add_alias("x@example.org", [])
    assert await store.get_alias("missing@example.org") is None


# --- app passwords ----------------------------------------------------------------


async def test_app_password_lifecycle(store: Store, user: User) -> None:
    phone = await store.add_app_password(user.id, "phone", "hash1", ["imap", "smtp"])
    assert phone.name == "phone"
    assert phone.user_id == user.id
    assert phone.protocols == frozenset({"imap", "smtp"})
    assert phone.last_used is None
    assert not phone.revoked
    laptop = await store.add_app_password(user.id, "laptop", "hash2", ["pop3"])
    assert await store.list_app_passwords(user.id) == [phone, laptop]

    await store.touch_app_password(phone.id)
    touched = (await store.list_app_passwords(user.id))[0]
    assert touched.last_used is not None
    assert touched.last_used >= phone.created

    await store.revoke_app_password(user.id, "phone")
    await store.revoke_app_password(user.id, laptop.id)
    assert all(a.revoked for a in await store.list_app_passwords(user.id))


async def test_app_password_name_unique_among_active(store: Store, user: User) -> None:
    await store.add_app_password(user.id, "phone", "h", ["imap"])
    with pytest.raises(AlreadyExists):
        await store.add_app_password(user.id, "phone", "h2", ["imap"])
    await store.revoke_app_password(user.id, "phone")
    again = await store.add_app_password(user.id, "phone", "h3", ["imap"])
    assert not again.revoked


async def test_app_password_errors(store: Store, user: User) -> None:
    with pytest.raises(NotFound):
        await store.revoke_app_password(user.id, "nothing")
    with pytest.raises(NotFound):
        await store.revoke_app_password(user.id, 4242)
    with pytest.raises(NotFound):
        await store.add_app_password(9999, "x", "h", ["imap"])
    other = await store.add_user("bob@example.org", "h")
    mine = await store.add_app_password(user.id, "phone", "h", ["imap"])
    with pytest.raises(NotFound):  # not bob's to revoke
        await store.revoke_app_password(other.id, mine.id)
