"""The `posthouse` command."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import click

from posthouse import __version__
from posthouse.config import ConfigError, default_hostname, load_config, resolve_dir
from posthouse.instance import current_dir, dir_option


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
    # Mail, password hashes and keys are private to the account running posthouse.
    os.umask(0o077)
    ctx.obj = resolve_dir(directory)


def _init(domain: str, hostname: str | None, admin: str, password_stdin: bool) -> None:
    from posthouse.setup_instance import init_instance

    directory = current_dir()
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("empty password on standard input")
        from posthouse.accounts.passwords import PasswordPolicyError, check_password_policy

        try:
            check_password_policy(password)
        except PasswordPolicyError as e:
            raise click.ClickException(str(e)) from None
    try:
        result = asyncio.run(
            init_instance(
                directory,
                domain=domain,
                hostname=hostname or default_hostname(),
                admin=admin,
                admin_password=password,
            )
        )
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    if result.created:
        click.echo(f"Created instance in {directory}")
    else:
        click.echo(f"Instance in {directory} already exists; filled in what was missing")
    if result.admin_address:
        click.echo(f"Admin user: {result.admin_address}")
        if not password_stdin:
            click.echo(f"Password:   {result.admin_password}   (shown once - keep it)")


@main.command()
@dir_option
@click.option("--domain", default="example.test", show_default=True, help="First mail domain.")
@click.option("--hostname", default=None, help="Server host name (default: this machine's).")
@click.option("--admin", default="admin", show_default=True, help="Admin user (local part).")
@click.option("--password-stdin", is_flag=True, help="Read the admin password from stdin.")
def init(domain: str, hostname: str | None, admin: str, password_stdin: bool) -> None:
    """Create an instance: config, self-signed certificate, database, admin user."""
    _init(domain, hostname, admin, password_stdin)


@main.command()
@dir_option
@click.option("--domain", default="example.test", show_default=True, help="Domain for init.")
@click.option("--hostname", default=None, help="Host name for init.")
@click.option("--teaching", is_flag=True, help="Teaching mode: plaintext passwords allowed.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes.")
def up(domain: str, hostname: str | None, teaching: bool, workers: int | None) -> None:
    """Serve every listener (runs `init` first when needed)."""
    from dataclasses import replace

    from posthouse.server.banner import print_banner
    from posthouse.server.runner import run_event_loop, serve_forever
    from posthouse.server.workers import serve_with_workers

    directory = current_dir()
    if not (directory / "posthouse.toml").exists():
        _init(domain, hostname, "admin", False)
    try:
        config = load_config(directory)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    if teaching:
        config = replace(config, teaching_mode=True)
    if workers is not None:
        config = replace(config, workers=workers)
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if config.teaching_mode:
        logging.getLogger("posthouse").warning(
            "TEACHING MODE is on: passwords are accepted over plaintext connections"
        )
    try:
        if config.workers > 1:
            serve_with_workers(config, lambda bound: print_banner(config, bound))
        else:
            run_event_loop(
                serve_forever(config, lambda running: print_banner(config, running.listeners))
            )
    except OSError as e:
        raise click.ClickException(f"cannot start: {e}") from None


def _register() -> None:
    from posthouse.admin_cli import register as register_admin
    from posthouse.analyze_cli import analyze, capture
    from posthouse.dkim_cli import register as register_dkim
    from posthouse.queue_cli import register as register_queue

    register_admin(main)
    register_queue(main)
    register_dkim(main)
    main.add_command(analyze)
    main.add_command(capture)


_register()
