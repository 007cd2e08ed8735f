"""The `posthouse analyze` and `posthouse capture` commands."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

    from posthouse.analyzer.model import Report

F = TypeVar("F", bound=Callable[..., Any])

# Files above this size get a progress bar while they are read.
PROGRESS_FROM = 8 * 1024 * 1024
FORMATS = ("text", "json", "html")


def _analyze(
    captures: list[str],
    fmt: str,
    out: str | None,
    keylog: str | None,
    ports: tuple[str, ...],
    messages: bool,
) -> None:
    from rich.console import Console

    from posthouse.analyzer.analysis import analyze_file, write_messages
    from posthouse.analyzer.capture import CaptureError
    from posthouse.analyzer.detect import parse_port_overrides

    try:
        overrides = parse_port_overrides(ports)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--port") from None
    err = Console(stderr=True)
    reports = []
    for path in captures:
        try:
            if os.path.getsize(path) >= PROGRESS_FROM:
                reports.append(_with_progress(path, overrides, keylog, err))
            else:
                reports.append(analyze_file(path, overrides=overrides, keylog=keylog))
        except CaptureError as e:
            raise click.ClickException(str(e)) from None
    out_dir = Path(out) if out else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if messages:
            for report in reports:
                sub = out_dir / "messages"
                if len(reports) > 1:
                    sub = out_dir / Path(report.capture).stem / "messages"
                write_messages(report, sub)
    text = _render(reports, fmt)
    if out_dir is None:
        if text is not None:
            sys.stdout.write(text)
        else:
            from posthouse.analyzer.report_text import render

            console = Console(highlight=False)
            for report in reports:
                render(report, console)
        return
    name = {"text": "report.txt", "json": "report.json", "html": "report.html"}[fmt]
    if text is None:
        from posthouse.analyzer.report_text import render

        with (out_dir / name).open("w", encoding="utf-8") as fh:
            console = Console(file=fh, width=160, highlight=False, no_color=True)
            for report in reports:
                render(report, console)
    else:
        (out_dir / name).write_text(text, encoding="utf-8")
    count = sum(len(s.messages) for r in reports for s in r.sessions)
    err.print(f"wrote {out_dir / name}" + (f" and {count} messages" if messages and count else ""))


def _render(reports: list[Report], fmt: str) -> str | None:
    if fmt == "json":
        from posthouse.analyzer.report_json import dumps

        return dumps(reports) + "\n"
    if fmt == "html":
        from posthouse.analyzer.report_html import render

        return render(reports)
    return None


def _with_progress(
    path: str, overrides: dict[int, tuple[str, bool]], keylog: str | None, err: Console
) -> Report:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from posthouse.analyzer.analysis import analyze_file

    size = os.path.getsize(path)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(f"reading {Path(path).name}", total=size)
        report = analyze_file(
            path,
            overrides=overrides,
            keylog=keylog,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    return report


_COMMON = [
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True),
    click.option(
        "--out",
        type=click.Path(file_okay=False),
        default=None,
        help="Write the report and the messages (.eml) into this folder.",
    ),
    click.option(
        "--keylog",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="NSS key log (SSLKEYLOGFILE) to decrypt TLS sessions.",
    ),
    click.option(
        "--port",
        "ports",
        multiple=True,
        metavar="PROTO=PORT",
        help="Treat PORT as PROTO (smtp, smtps, pop3, pop3s, imap, imaps, https); repeatable.",
    ),
]


def _common(func: F) -> F:
    for option in reversed(_COMMON):
        func = option(func)
    return func


@click.command()
@click.argument("captures", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_common
@click.option("--no-messages", is_flag=True, help="With --out: do not write .eml files.")
def analyze(
    captures: tuple[str, ...],
    fmt: str,
    out: str | None,
    keylog: str | None,
    ports: tuple[str, ...],
    no_messages: bool,
) -> None:
    """Explain the mail sessions in packet captures (pcap or pcapng).

    Every SMTP, POP3 and IMAP session becomes a transcript with explanations; logins
    sent in the clear, sessions without TLS and other risks are listed as findings;
    messages are extracted as .eml files with --out.
    """
    _analyze(list(captures), fmt, out, keylog, ports, not no_messages)


def capture_program() -> list[str] | None:
    """dumpcap if installed, else tshark; None when neither is."""
    for name in ("dumpcap", "tshark"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


def capture_command(program: str, ports: tuple[int, ...], output: str, interface: str) -> list[str]:
    capture_filter = " or ".join(f"tcp port {p}" for p in ports)
    return [program, "-q", "-i", interface, "-f", capture_filter, "-w", output]


@click.command()
@click.option(
    "--port",
    "ports",
    type=click.IntRange(1, 65535),
    multiple=True,
    required=True,
    help="TCP port to capture (repeatable), e.g. --port 2525 --port 2110.",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="pcapng file.")
@click.option("--interface", default="lo", show_default=True, help="Interface to capture on.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Report folder.")
@click.option("--keylog", type=click.Path(dir_okay=False), default=None, help="NSS key log.")
def capture(
    ports: tuple[int, ...],
    output: str,
    interface: str,
    fmt: str,
    out: str | None,
    keylog: str | None,
) -> None:
    """Capture mail traffic (loopback by default) until Ctrl-C, then analyze it.

    Needs dumpcap or tshark (Debian package: tshark).
    """
    program = capture_program()
    if program is None:
        raise click.ClickException(
            "cannot capture: neither dumpcap nor tshark is installed "
            "(on Debian: apt-get install tshark), so no packets can be read from the network"
        )
    command = capture_command(program[0], ports, output, interface)
    click.echo(
        f"capturing on {interface}, ports {', '.join(map(str, ports))} → {output}; "
        "Ctrl-C to stop and analyze",
        err=True,
    )
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        code = proc.wait()
        if code != 0:
            raise click.ClickException(f"{Path(program[0]).name} stopped with exit code {code}")
    except KeyboardInterrupt:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not os.path.exists(output) or os.path.getsize(output) == 0:
        raise click.ClickException(f"no capture was written to {output}")
    click.echo(f"capture stopped; analyzing {output}", err=True)
    _analyze([output], fmt, out, keylog if keylog and os.path.exists(keylog) else None, (), True)
