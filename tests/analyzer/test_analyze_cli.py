"""`posthouse analyze` and `posthouse capture`: the three formats, --out with .eml
files, --port, the JSON keys documented in docs/analyzer.md, a self-contained HTML page,
and capturing on loopback until SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from posthouse.analyze_cli import analyze, capture
from tests.analyzer.live import missing_reason
from tests.analyzer.reference import CAPTURES

SMTP_CAPTURE = CAPTURES / "arkime/tests/pcap/smtp-data-250.pcap"
HTML_SAMPLES = [
    SMTP_CAPTURE,
    CAPTURES / "arkime/tests/pcap/imap.pcap",
    CAPTURES / "arkime/tests/pcap/smtp-starttls.pcap",
]
needs_corpus = pytest.mark.skipif(not SMTP_CAPTURE.exists(), reason="shared captures absent")

# The documented JSON keys (docs/analyzer.md): a stable interface.
REPORT_KEYS = {"schema", "capture", "format", "frames", "start", "warnings", "sessions", "findings"}
SESSION_KEYS = {
    "index", "client", "server", "protocol", "recognised_by", "tunnel", "start", "duration",
    "first_frame", "packets", "bytes", "mid_stream", "gaps", "tls", "auth_mechanisms_offered",
    "auth_mechanism", "starttls_offered", "transcript", "credentials", "messages", "warnings",
}  # fmt: skip
CREDENTIAL_KEYS = {
    "protocol", "mechanism", "username", "password", "frame", "cleartext", "success", "raw",
}  # fmt: skip
MESSAGE_KEYS = {
    "source", "frame", "size", "complete", "encrypted", "mail_from", "rcpt_to", "from", "to",
    "subject", "date", "message_id", "attachments", "file",
}  # fmt: skip


@needs_corpus
def test_json_output_has_the_documented_shape() -> None:
    result = CliRunner().invoke(analyze, ["--format", "json", str(SMTP_CAPTURE)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == REPORT_KEYS and report["schema"] == 1
    (session,) = report["sessions"]
    assert set(session) == SESSION_KEYS
    (cred,) = session["credentials"]
    assert set(cred) == CREDENTIAL_KEYS
    assert (cred["username"], cred["password"], cred["cleartext"], cred["success"]) == (
        "12345678@aol.com",
        "passwd",
        True,
        True,
    )
    (msg,) = session["messages"]
    assert set(msg) == MESSAGE_KEYS
    assert msg["subject"].startswith("Re: xxx")
    first = session["transcript"][0]
    assert first["sender"] == "S" and first["code"] == 220 and first["frame"] == 4
    auth = next(t for t in session["transcript"] if t.get("verb") == "AUTH")
    assert auth["decoded"] == "\\012345678@aol.com\\0passwd"
    kinds = {f["kind"] for f in report["findings"]}
    assert {"cleartext-credentials", "no-tls", "auth-before-starttls"} <= kinds


@needs_corpus
def test_text_output_reads_like_a_lab_report() -> None:
    result = CliRunner().invoke(analyze, [str(SMTP_CAPTURE)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "S: 220-mtaout" in out and "C: EHLO localhost" in out
    assert "user '12345678@aol.com', password 'passwd'" in out
    assert "sent in the clear" in out and "anyone on the network path" in out


@needs_corpus
def test_out_folder_gets_the_report_and_the_messages(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        analyze, ["--format", "html", "--out", str(tmp_path), *map(str, HTML_SAMPLES)]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") >= 3 and "</html>" in page
    # Self-contained: nothing is loaded from anywhere (the SVG namespace is a name).
    assert "<script" not in page and "src=" not in page and "@import" not in page
    assert 'href="http' not in page and "url(http" not in page
    emls = list(tmp_path.rglob("*.eml"))
    assert emls and all(p.stat().st_size > 0 for p in emls)
    data = next(p for p in emls if "smtp-data-250" in str(p)).read_bytes()
    assert data.startswith(b"Date: Fri, 06 Dec 2013")


@needs_corpus
def test_port_option_is_checked() -> None:
    result = CliRunner().invoke(analyze, ["--port", "bogus", str(SMTP_CAPTURE)])
    assert result.exit_code != 0 and "PROTO=PORT" in result.output


def test_not_a_capture_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"hello world, not a capture")
    result = CliRunner().invoke(analyze, [str(junk)])
    assert result.exit_code == 1 and "not a pcap or pcapng file" in result.output


def test_capture_without_dumpcap_or_tshark_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("posthouse.analyze_cli.capture_program", lambda: None)
    result = CliRunner().invoke(capture, ["--port", "2525", "-o", "x.pcapng"])
    assert result.exit_code == 1
    assert "neither dumpcap nor tshark is installed" in result.output


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_capture_runs_until_sigterm_then_analyzes(tmp_path: Path) -> None:
    """`posthouse capture` on loopback: a plain SMTP exchange with a tiny server of our
    own making, then SIGTERM, then the report on stdout."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"220 test ESMTP\r\n")
            f = conn.makefile("rb")
            for line in f:
                if line.upper().startswith(b"EHLO"):
                    conn.sendall(b"250-test\r\n250 AUTH PLAIN\r\n")
                elif line.upper().startswith(b"AUTH"):
                    conn.sendall(b"235 ok\r\n")
                elif line.upper().startswith(b"QUIT"):
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    out = tmp_path / "cap.pcapng"
    proc = subprocess.Popen(
        [sys.executable, "-m", "posthouse", "capture", "--port", str(port), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline = time.monotonic() + 30
        while not (out.exists() and out.stat().st_size > 0):
            assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "capture did not start"
            time.sleep(0.1)
        time.sleep(1.5)  # the file appears a little before packets are taken
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo("lab")
            s.login("student", "letmein")
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()
    assert proc.returncode == 0, stderr.decode()
    text = stdout.decode()
    assert "C: ehlo lab" in text and "user 'student'" in text and "letmein" in text


@needs_corpus
def test_large_captures_get_a_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """The progress path (used from 8 MB on) gives the same report."""
    plain = CliRunner().invoke(analyze, ["--format", "json", str(SMTP_CAPTURE)])
    monkeypatch.setattr("posthouse.analyze_cli.PROGRESS_FROM", 0)
    with_bar = CliRunner().invoke(analyze, ["--format", "json", str(SMTP_CAPTURE)])
    assert with_bar.exit_code == 0, with_bar.output
    # The bar goes to standard error; the JSON on standard output is the same.
    assert json.loads(plain.stdout) == json.loads(with_bar.stdout)
