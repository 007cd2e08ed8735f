"""`posthouse domain|user|alias …`: administer accounts from the shell.

Humans get rich tables; scripts pass `--json`.  Every failure is one line on stderr
and a non-zero exit status.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from posthouse.accounts.addresses import (
    AddressError,
    domain_of,
    is_catch_all,
    normalize_alias_source,
    normalize_domain,
    normalize_mailbox,
)
from posthouse.accounts.app_passwords import (
    DEFAULT_PROTOCOLS,
    check_name,
    create_app_password,
)
from posthouse.accounts.passwords import (
    PasswordPolicyError,
    check_password_policy,
    generate_password,
    hash_password,
)
from posthouse.config import ConfigError
from posthouse.instance import current_dir, dir_option, open_instance
from posthouse.store.base import (
    Alias,
    AlreadyExists,
    AppPassword,
    Domain,
    NotFound,
    Protocols,
    Store,
    StoreError,
    User,
)

T = TypeVar("T")

PROTOCOL_ORDER = tuple(p.value for p in Protocols)
_PROTOCOL_CHOICE = click.Choice(PROTOCOL_ORDER, case_sensitive=False)
_QUOTA = re.compile(r"(\d+)\s*([kmgt]?)i?b?", re.IGNORECASE)
PIPE_WIDTH = 200
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


# --- plumbing ----------------------------------------------------------------


def _run(work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the instance chosen by --dir / $POSTHOUSE_DIR, run `work`, close it."""
    directory = current_dir()

    async def go() -> T:
        async with open_instance(directory) as instance:
            return await work(instance.store)

    try:
        return asyncio.run(go())
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    except StoreError as e:  # the specific cases are reported by each command
        raise click.ClickException(str(e) or type(e).__name__) from None


def _mailbox(text: str) -> str:
    try:
        return normalize_mailbox(text)
    except AddressError as e:
        raise click.ClickException(str(e)) from None


def _domain_name(text: str) -> str:
    try:
        name = normalize_domain(text)
    except AddressError as e:
        raise click.ClickException(str(e)) from None
    if name.startswith("["):
        raise click.ClickException(f"not a domain name: {text}")
    return name


async def _need_user(store: Store, address: str) -> User:
    user = await store.get_user(address)
    if user is None:
        raise click.ClickException(f"no such user: {address}")
    return user


async def _need_domain(store: Store, name: str) -> Domain:
    domain = await store.get_domain(name)
    if domain is None:
        raise click.ClickException(
            f"domain {name} does not exist (add it with `posthouse domain add {name}`)"
        )
    return domain


def _read_password(from_stdin: bool) -> tuple[str, bool]:
    """(password, generated)."""
    if not from_stdin:
        return generate_password(), True
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("empty password on standard input")
    try:
        check_password_policy(password)
    except PasswordPolicyError as e:
        raise click.ClickException(str(e)) from None
    return password, False


def _parse_quota(text: str | None) -> int | None:
    if text is None or text.lower() in ("", "none", "unlimited"):
        return None
    m = _QUOTA.fullmatch(text.strip())
    if m is None:
        raise click.BadParameter(f"{text!r}: a number of bytes, optionally with K, M, G or T")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def _protocols(values: Iterable[str]) -> list[str]:
    chosen = {v.lower() for v in values}
    return [p for p in PROTOCOL_ORDER if p in chosen]


def _when(moment: datetime | None) -> str:
    """Local time for people (the store keeps UTC; --json prints it as stored)."""
    if moment is None:
        return "-"
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _size(n: int | None) -> str:
    if n is None:
        return "unlimited"
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} B"


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _print_table(table: Table) -> None:
    console = Console()
    if not console.is_terminal:
        # Piped into grep or a file: keep each row on one line rather than wrapping
        # addresses at 80 columns.
        console = Console(width=PIPE_WIDTH)
    console.print(table)


def _user_json(user: User) -> dict[str, Any]:
    return {
        "address": user.address,
        "display_name": user.display_name,
        "enabled": user.enabled,
        "is_admin": user.is_admin,
        "protocols": _protocols(user.protocols),
        "quota_bytes": user.quota_bytes,
        "created": _iso(user.created),
    }


def _alias_json(alias: Alias) -> dict[str, Any]:
    return {"source": alias.source, "targets": list(alias.targets), "created": _iso(alias.created)}


def _app_password_json(record: AppPassword) -> dict[str, Any]:
    return {
        "name": record.name,
        "protocols": _protocols(record.protocols),
        "created": _iso(record.created),
        "last_used": _iso(record.last_used),
        "revoked": record.revoked,
    }


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# --- domain ------------------------------------------------------------------


@click.group()
def domain() -> None:
    """Mail domains this instance receives for."""


@domain.command("add")
@dir_option
@click.argument("name")
def domain_add(name: str) -> None:
    """Add a domain (internationalised names are stored in A-label form)."""
    normalized = _domain_name(name)

    async def work(store: Store) -> None:
        try:
            await store.add_domain(normalized)
        except AlreadyExists:
            raise click.ClickException(f"domain {normalized} already exists") from None

    _run(work)
    shown = normalized if normalized == name.lower() else f"{normalized} ({name})"
    click.echo(f"Added domain {shown}")


@domain.command("list")
@dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def domain_list(as_json: bool) -> None:
    """List domains with their number of users and aliases."""

    async def work(store: Store) -> list[tuple[Domain, int, int]]:
        rows = []
        for d in await store.list_domains():
            users = await store.list_users(d.name)
            aliases = await store.list_aliases(d.name)
            rows.append((d, len(users), len(aliases)))
        return rows

    rows = _run(work)
    if as_json:
        _print_json(
            [
                {"name": d.name, "users": u, "aliases": a, "created": _iso(d.created)}
                for d, u, a in rows
            ]
        )
        return
    table = Table("Domain", "Users", "Aliases", "Created", title="Domains")
    for d, u, a in rows:
        table.add_row(d.name, str(u), str(a), _when(d.created))
    _print_table(table)


@domain.command("del")
@dir_option
@click.argument("name")
def domain_del(name: str) -> None:
    """Delete a domain that has no users and no aliases left."""
    normalized = _domain_name(name)

    async def work(store: Store) -> None:
        if await store.get_domain(normalized) is None:
            raise click.ClickException(f"no such domain: {normalized}")
        users = await store.list_users(normalized)
        aliases = await store.list_aliases(normalized)
        if users or aliases:
            raise click.ClickException(
                f"domain {normalized} still has {len(users)} user(s) and "
                f"{len(aliases)} alias(es); delete them first"
            )
        try:
            await store.delete_domain(normalized)
        except NotFound:
            raise click.ClickException(f"no such domain: {normalized}") from None

    _run(work)
    click.echo(f"Deleted domain {normalized}")


# --- user --------------------------------------------------------------------


@click.group()
def user() -> None:
    """Users (mailboxes), their passwords and protocol switches."""


@user.command("add")
@dir_option
@click.argument("address")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--admin", "is_admin", is_flag=True, help="Administrator (web admin pages).")
@click.option("--quota", default=None, metavar="BYTES", help="Mailbox quota, e.g. 1G.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the password).")
def user_add(
    address: str,
    password_stdin: bool,
    display_name: str,
    is_admin: bool,
    quota: str | None,
    as_json: bool,
) -> None:
    """Create a user; without --password-stdin a password is generated and shown once."""
    normalized = _mailbox(address)
    quota_bytes = _parse_quota(quota)
    password, generated = _read_password(password_stdin)
    password_hash = hash_password(password)

    async def work(store: Store) -> User:
        await _need_domain(store, domain_of(normalized))
        if await store.get_alias(normalized) is not None:
            raise click.ClickException(f"{normalized} is an alias; delete the alias first")
        try:
            return await store.add_user(
                normalized,
                password_hash,
                display_name=display_name.strip(),
                is_admin=is_admin,
                quota_bytes=quota_bytes,
            )
        except AlreadyExists:
            raise click.ClickException(f"user {normalized} already exists") from None

    created = _run(work)
    if as_json:
        data = _user_json(created)
        if generated:
            data["password"] = password
        _print_json(data)
        return
    click.echo(f"Created user {created.address}")
    if generated:
        click.echo(f"Password: {password}   (shown once - keep it)")


@user.command("list")
@dir_option
@click.option("--domain", "domain_name", default=None, help="Only users of this domain.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def user_list(domain_name: str | None, as_json: bool) -> None:
    """List users with their protocol switches."""
    only = _domain_name(domain_name) if domain_name else None

    async def work(store: Store) -> list[User]:
        if only is not None:
            await _need_domain(store, only)
        return await store.list_users(only)

    users = _run(work)
    if as_json:
        _print_json([_user_json(u) for u in users])
        return
    table = Table(
        "Address", "Name", "Enabled", "Admin", "Protocols", "Quota", "Created", title="Users"
    )
    for u in users:
        table.add_row(
            u.address,
            u.display_name,
            _yes(u.enabled),
            _yes(u.is_admin),
            " ".join(_protocols(u.protocols)) or "-",
            _size(u.quota_bytes),
            _when(u.created),
        )
    _print_table(table)


@user.command("passwd")
@dir_option
@click.argument("address")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the password).")
def user_passwd(address: str, password_stdin: bool, as_json: bool) -> None:
    """Set a user's password; without --password-stdin one is generated and shown once."""
    normalized = _mailbox(address)
    password, generated = _read_password(password_stdin)
    password_hash = hash_password(password)

    async def work(store: Store) -> None:
        found = await _need_user(store, normalized)
        await store.update_user(found.id, password_hash=password_hash)

    _run(work)
    if as_json:
        data: dict[str, Any] = {"address": normalized}
        if generated:
            data["password"] = password
        _print_json(data)
        return
    click.echo(f"Changed password of {normalized}")
    if generated:
        click.echo(f"Password: {password}   (shown once - keep it)")


@user.command("set")
@dir_option
@click.argument("address")
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option("--admin/--no-admin", "is_admin", default=None, help="Administrator or not.")
@click.option("--quota", default=None, metavar="BYTES", help="Quota, e.g. 1G, or 'unlimited'.")
def user_set(
    address: str, display_name: str | None, is_admin: bool | None, quota: str | None
) -> None:
    """Change a user's display name, admin flag or quota."""
    normalized = _mailbox(address)
    changes: dict[str, Any] = {}
    if display_name is not None:
        changes["display_name"] = display_name.strip()
    if is_admin is not None:
        changes["is_admin"] = is_admin
    if quota is not None:
        changes["quota_bytes"] = _parse_quota(quota)
    if not changes:
        raise click.UsageError("nothing to change (give --name, --admin/--no-admin or --quota)")

    async def work(store: Store) -> None:
        found = await _need_user(store, normalized)
        await store.update_user(found.id, **changes)

    _run(work)
    click.echo(f"Updated {normalized}")


@user.command("del")
@dir_option
@click.argument("address")
def user_del(address: str) -> None:
    """Delete a user with all their mail and app passwords."""
    normalized = _mailbox(address)

    async def work(store: Store) -> list[str]:
        found = await _need_user(store, normalized)
        await store.delete_user(found.id)
        return [a.source for a in await store.list_aliases() if normalized in a.targets]

    dangling = _run(work)
    click.echo(f"Deleted user {normalized}")
    if dangling:
        click.echo(
            f"note: these aliases still point to {normalized}: {', '.join(dangling)}", err=True
        )


def _set_enabled(address: str, enabled: bool) -> None:
    normalized = _mailbox(address)

    async def work(store: Store) -> None:
        found = await _need_user(store, normalized)
        await store.update_user(found.id, enabled=enabled)

    _run(work)
    click.echo(f"{'Enabled' if enabled else 'Disabled'} {normalized}")


@user.command("enable")
@dir_option
@click.argument("address")
def user_enable(address: str) -> None:
    """Allow a user to log in again."""
    _set_enabled(address, True)


@user.command("disable")
@dir_option
@click.argument("address")
def user_disable(address: str) -> None:
    """Stop a user from logging in (mail for them is still accepted)."""
    _set_enabled(address, False)


@user.command("protocols")
@dir_option
@click.argument("address")
@click.option("--enable", "enable", multiple=True, type=_PROTOCOL_CHOICE, help="Switch on.")
@click.option("--disable", "disable", multiple=True, type=_PROTOCOL_CHOICE, help="Switch off.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def user_protocols(
    address: str, enable: tuple[str, ...], disable: tuple[str, ...], as_json: bool
) -> None:
    """Show or change which protocols accept the user's account password."""
    normalized = _mailbox(address)
    on, off = {p.lower() for p in enable}, {p.lower() for p in disable}
    if on & off:
        raise click.UsageError(f"both enabled and disabled: {', '.join(sorted(on & off))}")

    async def work(store: Store) -> User:
        found = await _need_user(store, normalized)
        if not on and not off:
            return found
        return await store.update_user(found.id, protocols=(found.protocols | on) - off)

    updated = _run(work)
    if as_json:
        _print_json({"address": updated.address, "protocols": _protocols(updated.protocols)})
        return
    click.echo(f"{updated.address}: {' '.join(_protocols(updated.protocols)) or '(none)'}")


# --- user app-password -------------------------------------------------------


@user.group("app-password")
def app_password() -> None:
    """Per-client passwords ("authorization codes"), limited to chosen protocols."""


@app_password.command("add")
@dir_option
@click.argument("address")
@click.argument("name")
@click.option(
    "--protocol",
    "protocols",
    multiple=True,
    type=_PROTOCOL_CHOICE,
    help="Protocol the code may be used for (repeat; default: smtp, pop3, imap).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the code).")
def app_password_add(address: str, name: str, protocols: tuple[str, ...], as_json: bool) -> None:
    """Create an app password; the code is shown once."""
    normalized = _mailbox(address)
    chosen = _protocols(protocols) if protocols else _protocols(DEFAULT_PROTOCOLS)
    try:
        label = check_name(name)
    except ValueError as e:
        raise click.ClickException(str(e)) from None

    async def work(store: Store) -> tuple[AppPassword, str]:
        found = await _need_user(store, normalized)
        try:
            new = await create_app_password(store, found, label, chosen)
        except AlreadyExists:
            raise click.ClickException(
                f"{normalized} already has an app password named {label!r}"
            ) from None
        return new.record, new.code

    record, code = _run(work)
    if as_json:
        _print_json({**_app_password_json(record), "address": normalized, "code": code})
        return
    click.echo(f"App password {record.name!r} for {normalized} ({', '.join(chosen)}):")
    click.echo(f"    {code}")
    click.echo("Shown once: type it into the mail client as its password.")


@app_password.command("list")
@dir_option
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def app_password_list(address: str, as_json: bool) -> None:
    """List a user's app passwords (never their codes)."""
    normalized = _mailbox(address)

    async def work(store: Store) -> list[AppPassword]:
        found = await _need_user(store, normalized)
        return await store.list_app_passwords(found.id)

    records = _run(work)
    if as_json:
        _print_json([_app_password_json(r) for r in records])
        return
    table = Table("Name", "Protocols", "Created", "Last used", "State", title=normalized)
    for r in records:
        table.add_row(
            r.name,
            " ".join(_protocols(r.protocols)),
            _when(r.created),
            _when(r.last_used),
            "revoked" if r.revoked else "active",
        )
    _print_table(table)


@app_password.command("revoke")
@dir_option
@click.argument("address")
@click.argument("name")
def app_password_revoke(address: str, name: str) -> None:
    """Revoke an app password: the client using it can no longer log in."""
    normalized = _mailbox(address)

    label = name.strip()

    async def work(store: Store) -> bool:
        found = await _need_user(store, normalized)
        named = [r for r in await store.list_app_passwords(found.id) if r.name == label]
        if not named:
            raise click.ClickException(f"{normalized} has no app password named {label!r}")
        if all(r.revoked for r in named):
            return False
        try:
            await store.revoke_app_password(found.id, label)
        except NotFound:
            raise click.ClickException(
                f"{normalized} has no app password named {label!r}"
            ) from None
        return True

    if _run(work):
        click.echo(f"Revoked app password {label!r} of {normalized}")
    else:
        click.echo(f"App password {label!r} of {normalized} was already revoked")


# --- alias -------------------------------------------------------------------


@click.group()
def alias() -> None:
    """Aliases: addresses that deliver to users or forward elsewhere."""


@alias.command("add")
@dir_option
@click.argument("source")
@click.argument("targets", nargs=-1, required=True)
def alias_add(source: str, targets: tuple[str, ...]) -> None:
    """Add an alias; SOURCE `@domain` is the domain's catch-all."""
    try:
        normalized = normalize_alias_source(source)
        wanted = list(dict.fromkeys(normalize_mailbox(t) for t in targets))
    except AddressError as e:
        raise click.ClickException(str(e)) from None
    if normalized in wanted:
        raise click.ClickException(f"alias {normalized} cannot point to itself")

    async def work(store: Store) -> list[str]:
        await _need_domain(store, domain_of(normalized))
        if not is_catch_all(normalized) and await store.get_user(normalized) is not None:
            raise click.ClickException(f"{normalized} is a user; an alias would never be used")
        missing = []
        for target in wanted:
            local = await store.get_domain(domain_of(target)) is not None
            if (
                local
                and await store.get_user(target) is None
                and await store.get_alias(target) is None
            ):
                missing.append(target)
        try:
            await store.add_alias(normalized, wanted)
        except AlreadyExists:
            raise click.ClickException(
                f"alias {normalized} already exists (delete it to change its targets)"
            ) from None
        return missing

    missing = _run(work)
    click.echo(f"Added alias {normalized} -> {', '.join(wanted)}")
    if missing:
        click.echo(f"note: no user or alias yet for {', '.join(missing)}", err=True)


@alias.command("list")
@dir_option
@click.option("--domain", "domain_name", default=None, help="Only aliases of this domain.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def alias_list(domain_name: str | None, as_json: bool) -> None:
    """List aliases."""
    only = _domain_name(domain_name) if domain_name else None

    async def work(store: Store) -> list[Alias]:
        return await store.list_aliases(only)

    aliases = _run(work)
    if as_json:
        _print_json([_alias_json(a) for a in aliases])
        return
    table = Table("Source", "Targets", "Created", title="Aliases")
    for a in aliases:
        source = f"{a.source} (catch-all)" if is_catch_all(a.source) else a.source
        table.add_row(source, "\n".join(a.targets), _when(a.created))
    _print_table(table)


@alias.command("del")
@dir_option
@click.argument("source")
def alias_del(source: str) -> None:
    """Delete an alias."""
    try:
        normalized = normalize_alias_source(source)
    except AddressError as e:
        raise click.ClickException(str(e)) from None

    async def work(store: Store) -> None:
        if await store.get_alias(normalized) is None:
            raise click.ClickException(f"no such alias: {normalized}")
        try:
            await store.delete_alias(normalized)
        except NotFound:
            raise click.ClickException(f"no such alias: {normalized}") from None

    _run(work)
    click.echo(f"Deleted alias {normalized}")


def register(main: click.Group) -> None:
    """Add the account commands to the `posthouse` group."""
    for group in (domain, user, alias):
        main.add_command(group)
