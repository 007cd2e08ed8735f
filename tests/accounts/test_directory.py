from __future__ import annotations

import itertools

import pytest

from posthouse.accounts.addresses import AddressError
from posthouse.accounts.directory import MAX_DEPTH, Directory, Outcome, Via
from tests.accounts.fake_store import FakeAccountStore


@pytest.fixture
async def directory(store: FakeAccountStore) -> Directory:
    await store.add_domain("example.test")
    await store.add_domain("other.test")
    for name in ("alice", "bob", "carol"):
        await store.add_user(f"{name}@example.test", "")
    return Directory(store)


async def users_of(directory: Directory, address: str) -> list[str]:
    return [u.address for u in (await directory.resolve(address)).users]


async def test_exact_user_any_case(directory: Directory) -> None:
    res = await directory.resolve("Alice@EXAMPLE.test")
    assert res.outcome is Outcome.FOUND and res.via is Via.USER
    assert res.address == "alice@example.test"
    assert [u.address for u in res.users] == ["alice@example.test"]
    assert res.remote == ()
    assert res.is_local and res.found


async def test_not_local(directory: Directory) -> None:
    res = await directory.resolve("someone@elsewhere.test")
    assert res.outcome is Outcome.NOT_LOCAL
    assert not res.is_local and not res.found


async def test_unknown_local_recipient(directory: Directory) -> None:
    res = await directory.resolve("nobody@example.test")
    assert res.outcome is Outcome.UNKNOWN_RECIPIENT
    assert res.is_local and not res.found


async def test_invalid_address_raises(directory: Directory) -> None:
    with pytest.raises(AddressError):
        await directory.resolve("not an address")


async def test_idn_domain(store: FakeAccountStore, directory: Directory) -> None:
    await store.seed_user("jörg@xn--bcher-kva.example")
    res = await directory.resolve("Jörg@Bücher.example")
    assert res.found and res.users[0].address == "jörg@xn--bcher-kva.example"


async def test_alias_to_local_and_remote(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias("team@example.test", ["alice@example.test", "x@remote.test"])
    res = await directory.resolve("team@example.test")
    assert res.via is Via.ALIAS
    assert [u.address for u in res.users] == ["alice@example.test"]
    assert res.remote == ("x@remote.test",)


async def test_nested_aliases_deduplicate(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias(
        "a@example.test", ["b@example.test", "c@example.test", "alice@example.test"]
    )
    await store.add_alias("b@example.test", ["alice@example.test", "bob@example.test"])
    await store.add_alias("c@example.test", ["bob@example.test", "Fwd@Remote.test"])
    await store.add_alias("d@other.test", ["fwd@remote.test"])
    res = await directory.resolve("a@example.test")
    assert sorted(u.address for u in res.users) == ["alice@example.test", "bob@example.test"]
    assert len(res.users) == 2
    assert res.remote == ("fwd@remote.test",)


async def test_alias_loop_terminates(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias("ping@example.test", ["pong@example.test"])
    await store.add_alias("pong@example.test", ["ping@example.test"])
    res = await directory.resolve("ping@example.test")
    assert res.outcome is Outcome.UNKNOWN_RECIPIENT


async def test_alias_loop_with_a_way_out(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias("ping@example.test", ["pong@example.test", "alice@example.test"])
    await store.add_alias("pong@example.test", ["ping@example.test", "bob@example.test"])
    assert sorted(await users_of(directory, "ping@example.test")) == [
        "alice@example.test",
        "bob@example.test",
    ]


async def test_alias_self_loop(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias("me@example.test", ["me@example.test", "carol@example.test"])
    assert await users_of(directory, "me@example.test") == ["carol@example.test"]


async def test_depth_limit(store: FakeAccountStore, directory: Directory) -> None:
    chain = [f"level{i}@example.test" for i in range(MAX_DEPTH + 5)]
    for here, there in itertools.pairwise(chain):
        await store.add_alias(here, [there])
    await store.add_alias(chain[-1], ["alice@example.test"])
    res = await directory.resolve(chain[0])
    assert res.outcome is Outcome.UNKNOWN_RECIPIENT and res.truncated
    # a chain within the limit is followed to the end
    res = await directory.resolve(chain[-MAX_DEPTH])
    assert res.found and not res.truncated


async def test_alias_to_nowhere_is_unknown(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias("ghost@example.test", ["gone@example.test", "broken address"])
    res = await directory.resolve("ghost@example.test")
    assert res.outcome is Outcome.UNKNOWN_RECIPIENT and res.via is Via.ALIAS


async def test_plus_address(directory: Directory) -> None:
    res = await directory.resolve("bob+lists@example.test")
    assert res.via is Via.PLUS
    assert [u.address for u in res.users] == ["bob@example.test"]
    assert (await directory.resolve("nobody+x@example.test")).outcome is Outcome.UNKNOWN_RECIPIENT


async def test_plus_address_of_alias(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias("team@example.test", ["carol@example.test"])
    res = await directory.resolve("team+x@example.test")
    assert res.via is Via.PLUS and [u.address for u in res.users] == ["carol@example.test"]


async def test_exact_beats_plus(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias("bob+sales@example.test", ["carol@example.test"])
    assert await users_of(directory, "bob+sales@example.test") == ["carol@example.test"]
    assert await users_of(directory, "bob+other@example.test") == ["bob@example.test"]


async def test_user_beats_alias(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias("alice@example.test", ["bob@example.test"])
    assert await users_of(directory, "alice@example.test") == ["alice@example.test"]


async def test_catch_all_is_last(store: FakeAccountStore, directory: Directory) -> None:
    await store.add_alias("@example.test", ["carol@example.test"])
    await store.add_alias("sales@example.test", ["bob@example.test"])
    res = await directory.resolve("anything@example.test")
    assert res.via is Via.CATCH_ALL and [u.address for u in res.users] == ["carol@example.test"]
    assert await users_of(directory, "sales@example.test") == ["bob@example.test"]
    assert await users_of(directory, "alice+x@example.test") == ["alice@example.test"]
    # the catch-all is per domain
    assert (await directory.resolve("x@other.test")).outcome is Outcome.UNKNOWN_RECIPIENT


async def test_catch_all_to_missing_local_does_not_loop(
    store: FakeAccountStore, directory: Directory
) -> None:
    await store.add_alias("@example.test", ["nobody@example.test"])
    res = await directory.resolve("whoever@example.test")
    assert res.outcome is Outcome.UNKNOWN_RECIPIENT


async def test_alias_target_falls_to_catch_all(
    store: FakeAccountStore, directory: Directory
) -> None:
    await store.add_alias("@other.test", ["carol@example.test"])
    await store.add_alias("list@example.test", ["someone@other.test"])
    assert await users_of(directory, "list@example.test") == ["carol@example.test"]


async def test_disabled_user_still_receives(store: FakeAccountStore, directory: Directory) -> None:
    bob = await store.get_user("bob@example.test")
    assert bob is not None
    await store.update_user(bob.id, enabled=False)
    assert await users_of(directory, "bob@example.test") == ["bob@example.test"]


async def test_is_local_domain(directory: Directory) -> None:
    assert await directory.is_local_domain("EXAMPLE.test")
    assert not await directory.is_local_domain("elsewhere.test")
    assert not await directory.is_local_domain("not a domain")


async def test_addresses_of(store: FakeAccountStore, directory: Directory) -> None:
    alice = await store.get_user("alice@example.test")
    assert alice is not None
    await store.add_alias("info@example.test", ["alice@example.test"])
    await store.add_alias("boss@other.test", ["info@example.test"])  # via another alias
    await store.add_alias("team@example.test", ["alice@example.test", "bob@example.test"])
    await store.add_alias("fwd@example.test", ["alice@example.test", "a@remote.test"])
    await store.add_alias("@example.test", ["alice@example.test"])
    await store.add_alias("bob@example.test", ["alice@example.test"])  # shadowed by user bob
    assert await directory.addresses_of(alice) == {
        "alice@example.test",
        "info@example.test",
        "boss@other.test",
    }


async def test_may_send_as(store: FakeAccountStore, directory: Directory) -> None:
    alice = await store.get_user("alice@example.test")
    assert alice is not None
    await store.add_alias("team@example.test", ["alice@example.test", "bob@example.test"])
    await store.add_alias("all@example.test", ["team@example.test"])
    await store.add_alias("bobs@example.test", ["bob@example.test"])
    await store.add_alias("@example.test", ["alice@example.test"])
    assert await directory.may_send_as(alice, "alice@example.test")
    assert await directory.may_send_as(alice, "Alice@Example.TEST")
    assert await directory.may_send_as(alice, "alice+news@example.test")
    assert await directory.may_send_as(alice, "team@example.test")
    assert await directory.may_send_as(alice, "team+x@example.test")
    assert await directory.may_send_as(alice, "all@example.test")  # nested alias


@pytest.mark.parametrize(
    "spoofed",
    [
        "bob@example.test",  # another user
        "bob+x@example.test",  # another user's plus-address
        "bobs@example.test",  # an alias that is not hers
        "random@example.test",  # only the catch-all would deliver it to her
        "alice@other.test",  # same local part, other domain
        "ceo@bank.test",  # not ours at all
        "",
        "not an address",
    ],
)
async def test_may_not_send_as(store: FakeAccountStore, directory: Directory, spoofed: str) -> None:
    alice = await store.get_user("alice@example.test")
    assert alice is not None
    await store.add_alias("bobs@example.test", ["bob@example.test"])
    await store.add_alias("@example.test", ["alice@example.test"])
    assert not await directory.may_send_as(alice, spoofed)
