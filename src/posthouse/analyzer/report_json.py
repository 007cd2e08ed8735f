"""The report as JSON: the stable, documented form (docs/analyzer.md). Keys are only
ever added; a change of meaning raises `schema`."""

from __future__ import annotations

from typing import Any

import msgspec

from posthouse.analyzer.model import Credential, Finding, Line, Message, Report, Session, TlsInfo

SCHEMA = 1


def _line(line: Line, base: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "frame": line.frame,
        "time": round((line.time_ns - base) / 1e9, 6) if line.time_ns else 0.0,
        "sender": line.sender,
        "kind": line.kind,
        "text": line.text,
    }
    for key in ("verb", "argument", "code", "enhanced", "status", "tag", "decoded"):
        value = getattr(line, key)
        if value is not None:
            out[key] = value
    if line.note:
        out["note"] = line.note
    if line.encrypted:
        out["encrypted"] = True
    return out


def _credential(c: Credential) -> dict[str, Any]:
    return {
        "protocol": c.protocol,
        "mechanism": c.mechanism,
        "username": c.username,
        "password": c.password,
        "frame": c.frame,
        "cleartext": not c.encrypted,
        "success": c.success,
        "raw": [r for r in c.raw if r],
    }


def _message(m: Message) -> dict[str, Any]:
    return {
        "source": m.source,
        "frame": m.frame,
        "size": len(m.raw),
        "complete": m.complete,
        "encrypted": m.encrypted,
        "mail_from": m.mail_from,
        "rcpt_to": m.rcpt_to,
        "from": m.header_from,
        "to": m.header_to,
        "subject": m.subject,
        "date": m.date,
        "message_id": m.message_id,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in m.attachments
        ],
        "file": m.path,
    }


def _tls(t: TlsInfo | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "how": t.how,
        "start_frame": t.start_frame,
        "version": t.version,
        "cipher_suite": t.cipher_suite,
        "key_exchange": t.key_exchange,
        "authentication": t.authentication,
        "cipher": t.cipher,
        "hash": t.hash,
        "sni": t.sni,
        "alpn": t.alpn,
        "offered_versions": t.offered_versions,
        "offered_suites": t.offered_suites,
        "groups": t.groups,
        "curve": t.curve,
        "certificates": t.certificates,
        "alerts": t.alerts,
        "application_bytes": {
            "client": t.application_bytes["C"],
            "server": t.application_bytes["S"],
        },
        "decrypted": t.decrypted,
        "problems": t.problems,
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "severity": f.severity,
        "kind": f.kind,
        "session": f.session,
        "frame": f.frame,
        "text": f.text,
    }


def session_dict(s: Session) -> dict[str, Any]:
    return {
        "index": s.index,
        "client": s.client,
        "server": s.server,
        "protocol": s.protocol,
        "recognised_by": s.protocol_reason,
        "tunnel": s.tunnel,
        "start": s.start_ns / 1e9,
        "duration": s.duration_ns / 1e9,
        "first_frame": s.first_frame,
        "packets": s.packets,
        "bytes": {"client": s.bytes_client, "server": s.bytes_server},
        "mid_stream": s.mid_stream,
        "gaps": s.gaps,
        "tls": _tls(s.tls),
        "auth_mechanisms_offered": s.auth_mechanisms_offered,
        "auth_mechanism": s.auth_mechanism,
        "starttls_offered": s.starttls_offered,
        "transcript": [_line(line, s.start_ns) for line in s.lines],
        "credentials": [_credential(c) for c in s.credentials],
        "messages": [_message(m) for m in s.messages],
        "warnings": s.warnings,
    }


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "capture": report.capture,
        "format": report.format,
        "frames": report.frames,
        "start": report.start_ns / 1e9,
        "warnings": report.warnings,
        "sessions": [session_dict(s) for s in report.sessions],
        "findings": [_finding(f) for f in report.findings],
    }


def dumps(reports: list[Report]) -> str:
    """One report as an object, several as {"schema": 1, "captures": [...]}."""
    if len(reports) == 1:
        document: dict[str, Any] = report_dict(reports[0])
    else:
        document = {"schema": SCHEMA, "captures": [report_dict(r) for r in reports]}
    # msgspec writes UTF-8 as is (not \u escapes), like json.dumps(ensure_ascii=False),
    # about ten times faster.
    return msgspec.json.format(msgspec.json.encode(document), indent=1).decode()
