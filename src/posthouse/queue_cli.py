"""`posthouse queue list|show|retry|delete|flush`: inspect and steer the outbound queue.

The commands work on the store, so they work while the server runs: the delivering
process picks a retried or flushed entry up at its next look at the queue (within
`[relay] poll_interval` seconds).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from posthouse.config import ConfigError
from posthouse.instance import Instance, current_dir, dir_option, open_instance
from posthouse.mime.headers import split_message
from posthouse.queue.bounce import send_bounce
from posthouse.queue.results import Outcome, local_result
from posthouse.queue.scheduler import SIGNATURE_PARAM
from posthouse.store.base import NotFound, QueueEntry, RecipientState, StoreError

T = TypeVar("T")
PIPE_WIDTH = 200


def _run(work: Callable[[Instance], Awaitable[T]]) -> T:
    directory = current_dir()

    async def go() -> T:
        async with open_instance(directory) as instance:
            return await work(instance)

    try:
        return asyncio.run(go())
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    except StoreError as e:
        raise click.ClickException(str(e) or type(e).__name__) from None


def _esmtp_params(entry: QueueEntry) -> dict[str, str]:
    """The MAIL FROM parameters; the queue's own notes (lower-case keys) aside."""
    return {k: v for k, v in entry.params.items() if not k.islower()}


def _entry_json(entry: QueueEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "sender": entry.sender,
        "size": entry.size,
        "created": entry.created.isoformat(),
        "next_attempt": entry.next_attempt.isoformat(),
        "attempts": entry.attempts,
        "last_error": entry.last_error,
        "params": _esmtp_params(entry),
        "dkim_signature_kept": SIGNATURE_PARAM in entry.params,
        "recipients": [
            {"address": r.address, "state": r.state.value, "last_error": r.last_error, "dsn": r.dsn}
            for r in entry.recipients
        ],
    }


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


@click.group()
def queue() -> None:
    """Inspect and steer the outbound queue."""


@queue.command("list")
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def queue_list(as_json: bool) -> None:
    """Every queued message with its pending recipients."""

    async def work(instance: Instance) -> list[QueueEntry]:
        return await instance.store.list_queue()

    entries = _run(work)
    if as_json:
        click.echo(json.dumps([_entry_json(e) for e in entries], indent=2, ensure_ascii=False))
        return
    table = Table(
        "ID", "Sender", "Size", "Queued", "Next attempt", "Tries", "Pending", "Last error"
    )
    for e in entries:
        pending = [r.address for r in e.recipients if r.state is RecipientState.PENDING]
        table.add_row(
            str(e.id),
            e.sender or "<>",
            str(e.size),
            _when(e.created),
            _when(e.next_attempt),
            str(e.attempts),
            ", ".join(pending),
            e.last_error or "",
        )
    _console().print(table)
    click.echo(f"{len(entries)} message(s) in the queue")


@queue.command("show")
@dir_option
@click.argument("queue_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def queue_show(queue_id: int, as_json: bool) -> None:
    """One entry: envelope, each recipient's state and error, and the message header."""

    async def work(instance: Instance) -> tuple[QueueEntry, bytes]:
        entry = await instance.store.get_queue_entry(queue_id)
        if entry is None:
            raise click.ClickException(f"no queue entry {queue_id}")
        return entry, await instance.store.read_message(entry.blob_id)

    entry, raw = _run(work)
    if as_json:
        data = _entry_json(entry)
        data["header"] = split_message(raw)[0].decode("utf-8", "replace")
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"Queue ID:     {entry.id}")
    click.echo(f"Sender:       <{entry.sender}>")
    click.echo(f"Size:         {entry.size}")
    click.echo(f"Queued:       {_when(entry.created)}")
    click.echo(f"Next attempt: {_when(entry.next_attempt)}  (attempts so far: {entry.attempts})")
    if params := _esmtp_params(entry):
        click.echo("Parameters:   " + " ".join(f"{k}={v}" for k, v in params.items()))
    if SIGNATURE_PARAM in entry.params:
        click.echo("DKIM:         signed before the first attempt; retries send that signature")
    for r in entry.recipients:
        click.echo(
            f"  <{r.address}> {r.state.value}" + (f": {r.last_error}" if r.last_error else "")
        )
    click.echo("")
    click.echo(split_message(raw)[0].decode("utf-8", "replace").rstrip())


async def _retry(instance: Instance, ids: list[int] | None) -> int:
    now = datetime.now(UTC)
    count = 0
    for entry in await instance.store.list_queue():
        if ids is not None and entry.id not in ids:
            continue
        await instance.store.update_queue_entry(entry.id, next_attempt=now)
        count += 1
    return count


@queue.command("retry")
@dir_option
@click.argument("queue_ids", type=int, nargs=-1, required=True)
def queue_retry(queue_ids: tuple[int, ...]) -> None:
    """Make entries due now."""

    async def work(instance: Instance) -> int:
        for queue_id in queue_ids:
            if await instance.store.get_queue_entry(queue_id) is None:
                raise click.ClickException(f"no queue entry {queue_id}")
        return await _retry(instance, list(queue_ids))

    click.echo(f"{_run(work)} message(s) due now")


@queue.command("flush")
@dir_option
def queue_flush() -> None:
    """Make every entry due now."""

    async def work(instance: Instance) -> int:
        return await _retry(instance, None)

    click.echo(f"{_run(work)} message(s) due now")


@queue.command("delete")
@dir_option
@click.argument("queue_ids", type=int, nargs=-1, required=True)
@click.option(
    "--bounce", is_flag=True, help="Tell the sender (a DSN) instead of deleting silently."
)
def queue_delete(queue_ids: tuple[int, ...], bounce: bool) -> None:
    """Remove entries from the queue."""

    async def work(instance: Instance) -> None:
        store = instance.store
        for queue_id in queue_ids:
            entry = await store.get_queue_entry(queue_id)
            if entry is None:
                raise click.ClickException(f"no queue entry {queue_id}")
            if bounce:
                failed = [
                    local_result(r.address, Outcome.FAILED, "5.0.0", "deleted by the administrator")
                    for r in entry.recipients
                    if r.state is RecipientState.PENDING
                ]
                if failed:
                    await send_bounce(store, instance.config, entry, failed, datetime.now(UTC))
            try:
                await store.delete_queue_entry(queue_id)
            except NotFound:
                pass
            click.echo(f"Deleted {queue_id}")

    _run(work)


def register(main: click.Group) -> None:
    """Add the queue commands to the `posthouse` group."""
    main.add_command(queue)
