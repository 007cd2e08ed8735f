"""The `posthouse analyze` and `posthouse capture` commands."""

from __future__ import annotations

import click


@click.command()
@click.argument("captures", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def analyze(captures: tuple[str, ...]) -> None:
    """Explain the mail sessions in packet captures."""
    raise click.ClickException("not available yet")


@click.command()
def capture() -> None:
    """Capture mail traffic on loopback, then analyze it."""
    raise click.ClickException("not available yet")
