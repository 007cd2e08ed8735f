"""What `posthouse up` prints once every listener is open."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from rich.console import Console
from rich.table import Table

from posthouse.config import Config


class BoundListener(Protocol):
    name: str
    address: str
    port: int


DESCRIPTIONS = {
    "smtp": "SMTP (MTA): mail for local domains, STARTTLS",
    "submission": "Submission: STARTTLS, then AUTH",
    "submissions": "Submission over implicit TLS, AUTH",
    "pop3": "POP3, STLS",
    "pop3s": "POP3 over implicit TLS",
    "imap": "IMAP, STARTTLS",
    "imaps": "IMAP over implicit TLS",
    "https": "Webmail (HTTPS)",
}


def print_banner(config: Config, listeners: Iterable[BoundListener]) -> None:
    listeners = list(listeners)
    console = Console(highlight=False)
    console.print(
        f"[bold]posthouse[/bold] serving [cyan]{config.domain}[/cyan] "
        f"as {config.hostname}  (instance: {config.dir})"
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("listener")
    table.add_column("address")
    table.add_column("what")
    for li in listeners:
        table.add_row(li.name, f"{li.address}:{li.port}", DESCRIPTIONS.get(li.name, ""))
    console.print(table)
    smtp = next((li for li in listeners if li.name == "smtp"), None)
    if smtp is not None:
        console.print("Try it by hand (type each line):")
        console.print(f"  telnet {smtp.address} {smtp.port}")
        console.print(
            f"  HELO me\n  MAIL FROM:<you@example.org>\n  RCPT TO:<admin@{config.domain}>"
        )
        console.print("  DATA\n  Subject: hello\n\n  It works.\n  .\n  QUIT")
    console.print(
        "Log in as the admin user printed by `posthouse init`; add users with `posthouse user add`."
    )
    if config.teaching_mode:
        console.print(
            "[bold red]TEACHING MODE: passwords accepted over plaintext "
            "connections from anywhere.[/bold red]"
        )
    if config.workers > 1:
        console.print(f"{config.workers} worker processes share these listeners.")
    console.print("Ctrl-C stops the server cleanly.")
