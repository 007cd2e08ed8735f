"""`posthouse dkim generate|list` and `posthouse dns DOMAIN`: the keys that sign a
domain's mail and every DNS record its operator must publish."""

from __future__ import annotations

import json

import click

from posthouse.config import ConfigError, load_config
from posthouse.instance import current_dir, dir_option
from posthouse.senderauth.dkim import KEY_KINDS
from posthouse.senderauth.keys import KeyStoreError, create_key, list_keys
from posthouse.senderauth.publish import DnsRecord, records


@click.group()
def dkim() -> None:
    """DKIM signing keys (RFC 6376) kept in the instance directory."""


@dkim.command()
@dir_option
@click.argument("domain")
@click.option("--kind", type=click.Choice(KEY_KINDS), default="rsa", show_default=True)
@click.option("--selector", default=None, help="Selector (default: KIND + year and month).")
def generate(domain: str, kind: str, selector: str | None) -> None:
    """Make a new key for DOMAIN; it signs that domain's outbound mail from now on."""
    directory = current_dir()
    if not directory.is_dir():
        raise click.ClickException(f"{directory}: no instance (run `posthouse init`)")
    try:
        key = create_key(directory, domain, kind, selector)
    except KeyStoreError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{key.kind} key for {key.domain}, selector {key.selector}: {key.path}")
    click.echo("Publish this record (then `posthouse dns` lists all of them):")
    click.echo(DnsRecord(f"{key.selector}._domainkey.{key.domain}.", "TXT", key.record).zone_line())


@dkim.command("list")
@dir_option
@click.argument("domain", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(domain: str | None, as_json: bool) -> None:
    """The stored keys (the newest key of a domain signs)."""
    try:
        keys = list_keys(current_dir(), domain)
    except KeyStoreError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        rows = [
            {"domain": k.domain, "selector": k.selector, "kind": k.kind, "record": k.record}
            for k in keys
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for k in keys:
        click.echo(f"{k.domain}\t{k.selector}\t{k.kind}")


@click.command()
@dir_option
@click.argument("domain")
@click.option("--ip", "addresses", multiple=True, help="Public address of this server (A/AAAA).")
@click.option(
    "--dmarc-policy",
    type=click.Choice(["none", "quarantine", "reject"]),
    default="quarantine",
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def dns(domain: str, addresses: tuple[str, ...], dmarc_policy: str, as_json: bool) -> None:
    """Print every DNS record to publish for DOMAIN, in zone-file form."""
    try:
        config = load_config(current_dir())
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    recs = records(config, domain, addresses=addresses, dmarc_policy=dmarc_policy)
    if as_json:
        rows = [{"name": r.name, "type": r.kind, "value": r.value} for r in recs]
        click.echo(json.dumps(rows, indent=2))
        return
    if not any(r.name.endswith("._domainkey." + domain.lower().rstrip(".") + ".") for r in recs):
        click.echo(f"; no DKIM key for {domain}: run `posthouse dkim generate {domain}`")
    for r in recs:
        click.echo(r.zone_line())


def register(main: click.Group) -> None:
    main.add_command(dkim)
    main.add_command(dns)
