"""`posthouse queue list|show|retry|delete|flush` on a real instance directory."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from posthouse.cli import main
from posthouse.config import load_config
from posthouse.store import open_store
from posthouse.store.base import OutboundEnvelope, OutboundRecipient, Store
from tests.queue.conftest import message


@pytest.fixture(autouse=True)
def keep_umask() -> Iterator[None]:
    """`posthouse` sets a private umask for its process; the CLI runs in-process here,
    and the rest of the test session must keep its own."""
    old = os.umask(0o022)
    os.umask(old)
    try:
        yield
    finally:
        os.umask(old)


def _with_store(directory: Path, work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        config = load_config(directory)
        store: Store = await open_store(config.database_path, config.blob_dir)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def _instance(tmp_path: Path) -> Path:
    directory = tmp_path / "inst"
    result = CliRunner().invoke(
        main,
        ["init", "--dir", str(directory), "--domain", "alpha.test", "--password-stdin"],
        input="admin-Secret-123\n",
    )
    assert result.exit_code == 0, result.output

    async def add(store: Store) -> list[int]:
        await store.add_user("alice@alpha.test", "x")
        ids = []
        for n in range(2):
            res = await store.accept(
                message(f"m{n}"),
                [],
                OutboundEnvelope("alice@alpha.test", (OutboundRecipient(f"bob{n}@beta.test"),)),
            )
            assert res.queue_id is not None
            ids.append(res.queue_id)
            later = datetime.now(UTC) + timedelta(hours=1)
            await store.update_queue_entry(res.queue_id, next_attempt=later, attempts=1)
        return ids

    _with_store(directory, add)
    return directory


def run(directory: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["queue", *args, "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    return result.output


def test_list_show_retry_flush_delete(tmp_path: Path) -> None:
    directory = _instance(tmp_path)
    entries = json.loads(run(directory, "list", "--json"))
    assert [e["recipients"][0]["address"] for e in entries] == ["bob0@beta.test", "bob1@beta.test"]
    first, second = (e["id"] for e in entries)
    assert "2 message(s) in the queue" in run(directory, "list")
    shown = run(directory, "show", str(first))
    assert "<bob0@beta.test> pending" in shown and "Subject: m0" in shown
    assert json.loads(run(directory, "show", str(first), "--json"))["attempts"] == 1

    def due() -> list[int]:
        async def work(store: Store) -> list[int]:
            return [e.id for e in await store.due_queue_entries(datetime.now(UTC))]

        return _with_store(directory, work)

    assert due() == []
    assert "1 message(s) due now" in run(directory, "retry", str(first))
    assert due() == [first]
    assert "2 message(s) due now" in run(directory, "flush")
    assert sorted(due()) == [first, second]
    run(directory, "delete", str(first))
    run(directory, "delete", "--bounce", str(second))
    assert json.loads(run(directory, "list", "--json")) == []

    async def inbox(store: Store) -> list[bytes]:
        user = await store.get_user("alice@alpha.test")
        assert user is not None
        box = await store.get_mailbox(user.id, "INBOX")
        assert box is not None
        return [await store.read_message(m.blob_id) for m in await store.list_messages(box.id)]

    [bounce] = _with_store(directory, inbox)
    assert b"Final-Recipient: rfc822; bob1@beta.test" in bounce
    assert b"deleted by the administrator" in bounce


def test_unknown_id_fails(tmp_path: Path) -> None:
    directory = _instance(tmp_path)
    result = CliRunner().invoke(main, ["queue", "show", "999", "--dir", str(directory)])
    assert result.exit_code != 0 and "no queue entry 999" in result.output
