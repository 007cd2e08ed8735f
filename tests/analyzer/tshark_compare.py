"""Comparing the analyzer's sessions with tshark's reference output (README in
../shared/captures), with tshark's quirks corrected as that README lists them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from posthouse.analyzer.model import Message, Report, Session
from tests.analyzer.reference import (
    FollowStream,
    parse_commands,
    parse_follow,
    printable,
    reference_dir,
)

# README quirk 1: a capture where tshark misses the 334/354 replies and cuts AUTH data and
# message lines into four-letter "commands".
CUT_COMMANDS = {"suricata-verify/tests/smtp-bug-5989/input.pcap"}


@dataclass(slots=True)
class CommandCheck:
    compared: int = 0
    sasl_as_command: int = 0  # tshark took a SASL line for a command (we show it as auth)
    cut_lines: int = 0  # README quirk 1
    unmatched: list[str] = field(default_factory=list)


def session_for(report: Report, stream: FollowStream) -> Session | None:
    nodes = {_node(*stream.node0), _node(*stream.node1)}
    for s in report.sessions:
        if {s.client, s.server} == nodes:
            return s
    return None


def _node(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _ours(session: Session, sender: str, kind: str) -> list[str]:
    out = []
    for line in session.lines:
        if line.sender != sender:
            continue
        if kind == "verb" and line.kind == "command" and line.verb is not None:
            out.append(line.verb.split(" ")[0].upper())
        elif kind == "code" and line.code is not None:
            out.append(str(line.code))
        elif kind == "status" and line.status is not None:
            out.append(line.status.upper())
        elif kind == "tag" and line.tag is not None and line.tag != "*":
            out.append(line.tag.upper())
    return out


def _missing_in_order(ref: list[str], mine: list[str]) -> list[str]:
    """The reference values not found, in order, in ours (a subsequence check)."""
    i = 0
    missing = []
    for value in ref:
        j = i
        while j < len(mine) and mine[j] != value.upper():
            j += 1
        if j < len(mine):
            i = j + 1
        else:
            missing.append(value)
    return missing


def check_commands(capture: Path, rel: str, report: Report) -> CommandCheck:
    ref = reference_dir(capture)
    rows = parse_commands(ref / "commands.tsv")
    follow = {s.index: s for s in parse_follow(ref / "follow.txt")}
    wanted: dict[tuple[int, str], dict[str, list[str]]] = {}
    for row in rows:
        if row.protocol.startswith("tls:"):
            continue  # tshark decrypted it with keys this corpus does not carry
        f = row.fields
        d = wanted.setdefault(
            (row.stream, row.direction), {"verb": [], "code": [], "status": [], "tag": []}
        )
        for name in ("smtp.req.command", "pop.request.command", "imap.request.command"):
            for v in f.get(name, "").replace("\\t", "\t").split("|"):
                # README quirk 1: tshark splits STARTTLS into STAR + TLS.
                if v:
                    d["verb"].append("STARTTLS" if v.upper() == "STAR" else v)
        d["code"] += [v for v in f.get("smtp.response.code", "").split("|") if v]
        d["status"] += [v for v in f.get("pop.response.indicator", "").split("|") if v]
        d["status"] += [v for v in f.get("imap.response.status", "").split("|") if v]
        d["tag"] += [v for v in f.get("imap.request_tag", "").split("|") if v]
    result = CommandCheck()
    for (stream, direction), kinds in wanted.items():
        session = session_for(report, follow[stream])
        if session is None:
            result.unmatched.append(f"stream {stream}: no session")
            continue
        sender = "C" if direction == "C->S" else "S"
        auth_texts = [
            line.text.upper()
            for line in session.lines
            if line.sender == sender and (line.kind == "auth" or line.status == "+")
        ]
        content = b"\n".join(m.raw for m in session.messages).upper()
        for kind, values in kinds.items():
            if not values:
                continue
            result.compared += len(values)
            for value in _missing_in_order(values, _ours(session, sender, kind)):
                v = value.upper()
                if any(t == v or t.startswith(v) or t.endswith(v) for t in auth_texts):
                    result.sasl_as_command += 1
                elif rel in CUT_COMMANDS and (
                    v.encode() in content or any(t.startswith(v) for t in auth_texts)
                ):
                    result.cut_lines += 1
                else:
                    result.unmatched.append(f"stream {stream} {direction} {kind} {value!r}")
    return result


# -- credentials ------------------------------------------------------------------------

_CRED_ROW = re.compile(r"(\d+)\s+(\S+)\s+(.*?)\s*(?:Username in packet \d+)?\s*$")


def tshark_credentials(capture: Path) -> list[tuple[int, str, str]]:
    text = (reference_dir(capture) / "credentials.txt").read_text(errors="replace")
    rows = []
    for line in text.splitlines():
        m = _CRED_ROW.match(line)
        if m:
            # README quirk 5: IMAP user names keep their quotes.
            rows.append((int(m.group(1)), m.group(2), m.group(3).strip().strip('"')))
    return rows


# -- messages ---------------------------------------------------------------------------

_COMMAND_LINE = re.compile(rb"(?:HELO|EHLO|MAIL|RCPT|DATA|RSET|AUTH|NOOP)\b[^\r\n]*\r?\n", re.I)


def _after_commands(data: bytes, forms: set[bytes]) -> int | None:
    """Where a message of ours starts in `data` after SMTP command lines, if it does."""
    pos = 0
    while (m := _COMMAND_LINE.match(data, pos)) is not None:
        pos = m.end()
        if data[pos:] in forms:
            return pos
    return None


def stuffed(raw: bytes) -> bytes:
    """RFC 5321 §4.5.2 / RFC 1939 §3: the message as it crossed the wire (dot-stuffed)."""
    if raw.startswith(b"."):
        raw = b"." + raw
    return raw.replace(b"\n.", b"\n..")


@dataclass(slots=True)
class ImfCheck:
    files: int = 0
    exact: int = 0  # byte for byte, in the form tshark writes (see `wire_forms`)
    with_commands: int = 0  # tshark glued the pipelined commands before the content
    pieces: int = 0  # README quirk 6: one segment of a multi-segment response
    tshark_inconsistent: int = 0  # bytes tshark's own follow output does not hold
    unexplained: list[str] = field(default_factory=list)


def wire_forms(msg: Message) -> list[bytes]:
    """The forms tshark exports: not unstuffed; SMTP without the CRLF of the last line
    (it is part of CRLF.CRLF to tshark); POP3 with the terminating ".\\r\\n"."""
    wire = stuffed(msg.raw)
    forms = [msg.raw, wire]
    if wire.endswith(b"\r\n"):
        forms.append(wire[:-2])
    if msg.source in ("RETR", "TOP"):
        forms.append(wire + b".\r\n")
    return forms


def check_imf(capture: Path, report: Report) -> ImfCheck:
    out = ImfCheck()
    folder = reference_dir(capture) / "imf"
    if not folder.is_dir():
        return out
    forms: set[bytes] = set()
    for s in report.sessions:
        for m in s.messages:
            forms.update(wire_forms(m))
    follow = parse_follow(reference_dir(capture) / "follow.txt")
    streams = [printable(st.side(n)) for st in follow for n in (0, 1)]
    for path in sorted(folder.iterdir()):
        out.files += 1
        data = path.read_bytes()
        if data in forms:
            out.exact += 1
            continue
        start = _after_commands(data, forms)
        if start is not None:
            out.with_commands += 1
            continue
        if any(data in form for form in forms) or any(printable(data) in s for s in streams):
            out.pieces += 1
            continue
        if not any(printable(data) in s for s in streams):
            out.tshark_inconsistent += 1
            continue
        out.unexplained.append(f"{path.name} ({len(data)} bytes)")
    return out
