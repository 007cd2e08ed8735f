"""The report as one self-contained HTML page: per session a ladder (sequence) diagram
drawn as inline SVG, the transcript, TLS details, credentials and messages, then the
findings. No script, no font, no image from the network."""

from __future__ import annotations

from html import escape

from posthouse.analyzer.model import Line, Report, Session
from posthouse.analyzer.report_text import tls_summary, when

MAX_ARROWS = 400  # a ladder longer than this is cut (the transcript below is complete)
_WIDTH = 760
_LEFT, _RIGHT = 140, 620
_STEP = 26

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em}
table.info td{padding:.1em .8em .1em 0;vertical-align:top}
table.info td:first-child{white-space:nowrap;color:#555}
table.tr{border-collapse:collapse;font-family:ui-monospace,monospace;font-size:.85em;width:100%}
table.tr td{padding:.1em .4em;vertical-align:top;border-bottom:1px solid #eee}
.C{color:#070}.S{color:#036}.n{color:#777}.note{color:#666;font-family:system-ui,sans-serif}
.gap{color:#b00}.enc{background:#f4f0ff}
.high{color:#b00;font-weight:bold}.medium{color:#a60}.low{color:#067}.info{color:#666}
svg text{font-family:ui-monospace,monospace;font-size:11px}
details{margin:.5em 0}
"""


def _arrows(s: Session) -> list[Line]:
    """One arrow per frame and sender (several lines in one packet share an arrow)."""
    out: list[Line] = []
    for line in s.lines:
        if line.sender not in ("C", "S"):
            continue
        prev = out[-1] if out else None
        if prev is not None and prev.sender == line.sender and prev.frame == line.frame:
            continue
        out.append(line)
    return out


def ladder(s: Session) -> str:
    arrows = _arrows(s)
    cut = len(arrows) > MAX_ARROWS
    arrows = arrows[:MAX_ARROWS]
    height = 50 + _STEP * (len(arrows) + 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'role="img" aria-label="sequence diagram of session {s.index}">',
        '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#444"/></marker></defs>',
        f'<text x="{_LEFT}" y="16" text-anchor="middle" font-weight="bold">client</text>',
        f'<text x="{_LEFT}" y="30" text-anchor="middle">{escape(s.client)}</text>',
        f'<text x="{_RIGHT}" y="16" text-anchor="middle" font-weight="bold">server</text>',
        f'<text x="{_RIGHT}" y="30" text-anchor="middle">{escape(s.server)}</text>',
        f'<line x1="{_LEFT}" y1="36" x2="{_LEFT}" y2="{height - 8}" stroke="#999"/>',
        f'<line x1="{_RIGHT}" y1="36" x2="{_RIGHT}" y2="{height - 8}" stroke="#999"/>',
    ]
    base = s.start_ns
    tls_drawn = False
    for i, line in enumerate(arrows):
        y = 50 + _STEP * (i + 1)
        if not tls_drawn and (line.kind == "tls" or line.encrypted):
            tls_drawn = True
            parts.append(
                f'<line x1="{_LEFT - 30}" y1="{y - 16}" x2="{_RIGHT + 30}" y2="{y - 16}" '
                'stroke="#a0a" stroke-dasharray="6,4"/>'
                f'<text x="{_RIGHT + 34}" y="{y - 12}" fill="#a0a">TLS</text>'
            )
        x1, x2 = (_LEFT, _RIGHT) if line.sender == "C" else (_RIGHT, _LEFT)
        color = "#070" if line.sender == "C" else "#036"
        dash = ' stroke-dasharray="4,3"' if line.encrypted else ""
        label = line.text if len(line.text) <= 64 else line.text[:63] + "…"
        rel = (line.time_ns - base) / 1e9 if line.time_ns else 0.0
        parts.append(
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{color}"{dash} '
            'marker-end="url(#a)"/>'
        )
        parts.append(
            f'<text x="{(_LEFT + _RIGHT) // 2}" y="{y - 4}" text-anchor="middle" '
            f'fill="{color}">{escape(label)}</text>'
        )
        parts.append(f'<text x="4" y="{y + 4}" fill="#777">#{line.frame} {rel:.3f}s</text>')
    if cut:
        parts.append(
            f'<text x="{_LEFT}" y="{height - 10}" fill="#b00">… diagram cut at {MAX_ARROWS} '
            "arrows; the transcript below is complete</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _transcript(s: Session) -> str:
    rows = []
    base = s.start_ns
    for line in s.lines:
        rel = (line.time_ns - base) / 1e9 if line.time_ns else 0.0
        who = f"{line.sender}:" if line.sender else ""
        klass = line.sender or ("gap" if line.kind == "gap" else "n")
        note = line.note
        if line.decoded is not None and line.decoded not in note:
            note = (note + "; " if note else "") + f"decoded: {line.decoded}"
        enc = ' class="enc"' if line.encrypted else ""
        rows.append(
            f"<tr{enc}><td class=n>{line.frame}</td><td class=n>{rel:.3f}</td>"
            f"<td class={klass}>{escape(who)}</td><td class={klass}>{escape(line.text)}</td>"
            f"<td class=note>{escape(note)}</td></tr>"
        )
    return '<table class="tr">' + "".join(rows) + "</table>"


def _session(s: Session) -> str:
    info = [
        ("protocol", f"{s.protocol} (recognised by {s.protocol_reason})"),
        ("start", when(s.start_ns)),
        ("duration", f"{s.duration_ns / 1e9:.3f} s, {s.packets} packets"),
        ("bytes", f"client {s.bytes_client}, server {s.bytes_server}"),
        ("TLS", tls_summary(s)),
    ]
    if s.tunnel:
        info.append(("tunnel", s.tunnel))
    if s.auth_mechanism:
        info.append(("login", s.auth_mechanism))
    if s.gaps:
        info.append(("gaps", f"{s.gaps} (bytes missing from the capture)"))
    if s.mid_stream:
        info.append(("note", "capture started after the connection was opened"))
    if not s.bytes_client or not s.bytes_server:
        side = "server" if s.bytes_server else "client"
        info.append(("note", f"only the {side}'s side of the conversation is in the capture"))
    html = [
        f'<section id="s{s.index}"><h2>Session {s.index}: {escape(s.client)} ↔ '
        f"{escape(s.server)} · {escape(s.protocol)}</h2>",
        '<table class="info">',
    ]
    html += [f"<tr><td>{k}</td><td>{escape(v)}</td></tr>" for k, v in info]
    html.append("</table>")
    if s.tls is not None:
        t = s.tls
        tls_rows = [
            ("version", t.version or "?"),
            ("cipher suite", t.cipher_suite or "?"),
            (
                "spelled out",
                " / ".join(x for x in (t.key_exchange, t.authentication, t.cipher, t.hash) if x)
                or "?",
            ),
            ("key exchange group", t.curve or "-"),
            ("offered versions", ", ".join(t.offered_versions) or "-"),
            (
                "offered suites",
                f"{len(t.offered_suites)}: "
                + ", ".join(t.offered_suites[:12])
                + (" …" if len(t.offered_suites) > 12 else ""),
            ),
            ("offered groups", ", ".join(t.groups) or "-"),
            ("SNI", t.sni or "-"),
            ("ALPN", ", ".join(t.alpn) or "-"),
            (
                "certificates",
                "; ".join(
                    f"{c.get('subject', '?')} (issuer {c.get('issuer', '?')}, "
                    f"{c.get('not_before', '?')} to {c.get('not_after', '?')})"
                    for c in t.certificates
                )
                or "not visible",
            ),
            ("alerts", ", ".join(t.alerts) or "-"),
            (
                "application data",
                f"client {t.application_bytes['C']} B, server {t.application_bytes['S']} B",
            ),
            ("decrypted", "yes" if t.decrypted else "no (no key log)"),
        ]
        html.append("<details open><summary>TLS</summary><table class=info>")
        html += [f"<tr><td>{k}</td><td>{escape(v)}</td></tr>" for k, v in tls_rows]
        html.append("</table></details>")
    html.append(ladder(s))
    html.append("<details open><summary>Transcript</summary>" + _transcript(s) + "</details>")
    if s.credentials:
        html.append("<h3>Credentials</h3><ul>")
        for c in s.credentials:
            where = "inside TLS" if c.encrypted else "<b class=high>in the clear</b>"
            ok = {True: "accepted", False: "refused", None: "outcome unknown"}[c.success]
            html.append(
                f"<li>frame {c.frame}: {escape(c.protocol)} {escape(c.mechanism)} user "
                f"<code>{escape(repr(c.username))}</code> password "
                f"<code>{escape(repr(c.password))}</code> ({where}, {ok})</li>"
            )
        html.append("</ul>")
    if s.messages:
        html.append("<h3>Messages</h3><ul>")
        for m in s.messages:
            attach = ", ".join(a.filename or a.content_type for a in m.attachments)
            html.append(
                f"<li>frame {m.frame}, {escape(m.source)}, {len(m.raw)} bytes: From "
                f"{escape(m.header_from)} · To {escape(m.header_to)} · Subject "
                f"<b>{escape(m.subject)}</b>"
                + (f" · attachments: {escape(attach)}" if attach else "")
                + (f" · <code>{escape(m.path)}</code>" if m.path else "")
                + "</li>"
            )
        html.append("</ul>")
    html.append("</section>")
    return "\n".join(html)


def render(reports: list[Report]) -> str:
    body = []
    for report in reports:
        body.append(
            f"<h1>{escape(report.capture)}</h1><p>{report.format}, {report.frames} frames, "
            f"{len(report.sessions)} sessions</p>"
        )
        if report.findings:
            body.append("<h2>Findings</h2><ul>")
            for f in report.findings:
                frame = f", frame {f.frame}" if f.frame else ""
                body.append(
                    f'<li class="{f.severity}">{f.severity.upper()} — <a href="#s{f.session}">'
                    f"session {f.session}</a>{frame}: {escape(f.text)}</li>"
                )
            body.append("</ul>")
        for w in report.warnings[:50]:
            body.append(f'<p class="medium">warning: {escape(w)}</p>')
        body.extend(_session(s) for s in report.sessions)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>posthouse analyze</title><style>"
        + _CSS
        + "</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
