"""`posthouse queue list|show|retry|delete|flush`: inspect and steer the outbound queue."""

from __future__ import annotations

import click


@click.group()
def queue() -> None:
    """Inspect and steer the outbound queue."""


def register(main: click.Group) -> None:
    """Add the queue commands to the `posthouse` group."""
    main.add_command(queue)
