"""An instance: its directory, configuration and open store, and the --dir option
every command shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from posthouse.config import Config, load_config, resolve_dir
from posthouse.store import open_store
from posthouse.store.base import Store

F = TypeVar("F", bound=Callable[..., Any])


def _set_dir(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(dict)
        ctx.meta["posthouse.dir"] = resolve_dir(value)


def dir_option(f: F) -> F:
    """`--dir DIR` on a subcommand (the group takes it too, and $POSTHOUSE_DIR)."""
    return click.option(
        "--dir",
        "_dir",
        type=click.Path(file_okay=False),
        default=None,
        expose_value=False,
        callback=_set_dir,
        is_eager=True,
        help="Instance directory (default: $POSTHOUSE_DIR, else ./instance).",
    )(f)


def current_dir() -> Path:
    ctx = click.get_current_context()
    chosen = ctx.meta.get("posthouse.dir")
    if chosen is not None:
        return Path(chosen)
    root = ctx.find_root()
    if isinstance(root.obj, Path):
        return root.obj
    return resolve_dir(None)


@dataclass
class Instance:
    config: Config
    store: Store


@asynccontextmanager
async def open_instance(directory: Path) -> AsyncIterator[Instance]:
    config = load_config(directory)
    store = await open_store(config.database_path, config.blob_dir)
    try:
        yield Instance(config, store)
    finally:
        await store.close()
