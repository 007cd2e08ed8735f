"""The `posthouse` command."""

from __future__ import annotations

import click

from posthouse import __version__
from posthouse.config import resolve_dir


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posthouse")
@click.option(
    "--dir",
    "directory",
    envvar="POSTHOUSE_DIR",
    type=click.Path(file_okay=False),
    default=None,
    help="Instance directory (default: $POSTHOUSE_DIR, else ./instance).",
)
@click.pass_context
def main(ctx: click.Context, directory: str | None) -> None:
    """posthouse: a complete email system."""
    ctx.obj = resolve_dir(directory)


def _register() -> None:
    from posthouse.admin_cli import register as register_admin

    register_admin(main)


_register()
