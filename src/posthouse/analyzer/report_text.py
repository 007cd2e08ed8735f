"""The report as text for a terminal: per session a header and the transcript in the
lab-report style (`C: EHLO …` / `S: 250-…`), then credentials, messages and findings."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posthouse.analyzer.model import Report, Session

_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan", "info": "dim"}


def when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def tls_summary(s: Session) -> str:
    if s.tls is None:
        return "no"
    t = s.tls
    parts = [f"yes ({t.how})"]
    if t.version:
        parts.append(t.version)
    if t.cipher_suite:
        parts.append(t.cipher_suite)
    if t.key_exchange and t.cipher:
        parts.append(f"[{t.key_exchange} / {t.authentication} / {t.cipher} / {t.hash}]")
    if t.curve:
        parts.append(f"group {t.curve}")
    if t.sni:
        parts.append(f"SNI {t.sni}")
    parts.append("decrypted" if t.decrypted else "not decrypted")
    return ", ".join(parts)


def render(report: Report, console: Console) -> None:
    console.print(
        f"[bold]{escape(report.capture)}[/]: {report.format}, {report.frames} frames, "
        f"{len(report.sessions)} sessions"
    )
    for warning in report.warnings[:20]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    for s in report.sessions:
        render_session(report, s, console)
    render_findings(report, console)


def render_session(report: Report, s: Session, console: Console) -> None:
    console.rule(f"session {s.index}: {s.client} ↔ {s.server} · {s.protocol}")
    info = Table.grid(padding=(0, 2))
    info.add_row("protocol", f"{s.protocol} (recognised by {s.protocol_reason})")
    if s.tunnel:
        info.add_row("tunnel", s.tunnel)
    info.add_row("start", when(s.start_ns))
    info.add_row("duration", f"{s.duration_ns / 1e9:.3f} s, {s.packets} packets")
    info.add_row("bytes", f"client {s.bytes_client}, server {s.bytes_server}")
    info.add_row("TLS", tls_summary(s))
    if s.auth_mechanism:
        info.add_row("login", s.auth_mechanism)
    if s.messages:
        info.add_row("messages", str(len(s.messages)))
    if s.mid_stream:
        info.add_row("note", "capture started after the connection was opened")
    if not s.bytes_client or not s.bytes_server:
        side = "server" if s.bytes_server else "client"
        info.add_row("note", f"only the {side}'s side of the conversation is in the capture")
    if s.gaps:
        info.add_row("gaps", f"{s.gaps} (bytes missing from the capture)")
    console.print(info)
    base = s.start_ns
    for line in s.lines:
        rel = (line.time_ns - base) / 1e9 if line.time_ns else 0.0
        who = f"{line.sender}:" if line.sender else "  "
        lock = "🔒" if line.encrypted else " "
        text = escape(line.text)
        note = f"  [dim]# {escape(line.note)}[/]" if line.note else ""
        if line.decoded is not None and line.decoded not in line.note:
            note += f"  [dim]= {escape(line.decoded)!r}[/]"
        style = "green" if line.sender == "C" else ("blue" if line.sender == "S" else "magenta")
        console.print(
            f"[dim]{line.frame:>6} {rel:>9.3f}[/]{lock}[{style}]{who}[/] {text}{note}",
            highlight=False,
            soft_wrap=True,
        )
    for cred in s.credentials:
        where = "inside TLS" if cred.encrypted else "IN THE CLEAR"
        ok = {True: "accepted", False: "refused", None: "outcome unknown"}[cred.success]
        console.print(
            f"[bold]credential[/] frame {cred.frame}: {cred.protocol} {cred.mechanism} "
            f"user={escape(repr(cred.username))} password={escape(repr(cred.password))} "
            f"({where}, {ok})"
        )
    for msg in s.messages:
        attach = ", ".join(a.filename or a.content_type for a in msg.attachments)
        console.print(
            f"[bold]message[/] frame {msg.frame} ({msg.source}, {len(msg.raw)} bytes"
            f"{'' if msg.complete else ', incomplete'}): From {escape(msg.header_from)!s} · "
            f"To {escape(msg.header_to)} · Subject {escape(msg.subject)}"
            + (f" · attachments: {escape(attach)}" if attach else "")
            + (f" → {escape(msg.path)}" if msg.path else "")
        )


def render_findings(report: Report, console: Console) -> None:
    if not report.findings:
        console.rule("findings: none")
        return
    console.rule(f"findings ({len(report.findings)})")
    for f in report.findings:
        style = _SEVERITY_STYLE.get(f.severity, "")
        frame = f", frame {f.frame}" if f.frame else ""
        console.print(
            f"[{style}]{f.severity.upper():6}[/] session {f.session}{frame}: {escape(f.text)}"
        )
