"""Real third-party SMTP clients: swaks and curl (Debian packages)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.server import USERS, MailServer, find_message

ALICE = "alice@example.test"
BOB = "bob@example.test"

pytestmark = pytest.mark.interop


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is not installed: run scripts/test.sh, which installs it")
    return path


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def test_swaks_mta_two_recipients(server: MailServer) -> None:
    t = uuid.uuid4().hex[:10]
    p = run(
        need("swaks"),
        "--server",
        "127.0.0.1",
        "--port",
        str(server.ports["smtp"]),
        "--from",
        "someone@example.org",
        "--to",
        f"{ALICE},{BOB}",
        "--header",
        f"Subject: swaks {t}",
        "--body",
        "via swaks",
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert find_message(server.dir, ALICE, t) is not None
    assert find_message(server.dir, BOB, t) is not None


def test_swaks_pipelining_starttls_auth_attachment(server: MailServer, tmp_path: Path) -> None:
    t = uuid.uuid4().hex[:10]
    attachment = tmp_path / "report.bin"
    attachment.write_bytes(bytes(range(256)) * 40)
    p = run(
        need("swaks"),
        "--server",
        "127.0.0.1",
        "--port",
        str(server.ports["submission"]),
        "--tls",
        "--auth",
        "LOGIN",
        "--auth-user",
        ALICE,
        "--auth-password",
        USERS[ALICE],
        "--pipeline",
        "--from",
        ALICE,
        "--to",
        BOB,
        "--header",
        f"Subject: attach {t}",
        "--body",
        "see attachment",
        "--attach",
        str(attachment),
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "PIPELINING" in p.stdout
    raw = find_message(server.dir, BOB, t)
    assert raw is not None
    import email
    from email import policy

    msg = email.message_from_bytes(raw, policy=policy.default)
    parts = [part for part in msg.iter_attachments()]
    assert parts and parts[0].get_content() == attachment.read_bytes()


def test_swaks_auth_plain_implicit_tls(server: MailServer) -> None:
    t = uuid.uuid4().hex[:10]
    p = run(
        need("swaks"),
        "--server",
        "127.0.0.1",
        "--port",
        str(server.ports["submissions"]),
        "--tlsc",
        "--auth",
        "PLAIN",
        "--auth-user",
        BOB,
        "--auth-password",
        USERS[BOB],
        "--from",
        BOB,
        "--to",
        ALICE,
        "--header",
        f"Subject: tlsc {t}",
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert find_message(server.dir, ALICE, t) is not None


def test_swaks_bad_password_exit_28(server: MailServer) -> None:
    p = run(
        need("swaks"),
        "--server",
        "127.0.0.1",
        "--port",
        str(server.ports["submission"]),
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        ALICE,
        "--auth-password",
        "nope",
        "--from",
        ALICE,
        "--to",
        BOB,
    )
    assert p.returncode == 28, p.stdout  # swaks: AUTH failed
    assert "535 5.7.8" in p.stdout


def test_swaks_unknown_recipient_exit_24(server: MailServer) -> None:
    p = run(
        need("swaks"),
        "--server",
        "127.0.0.1",
        "--port",
        str(server.ports["smtp"]),
        "--from",
        "a@example.org",
        "--to",
        "ghost@example.test",
    )
    assert p.returncode == 24, p.stdout  # swaks: RCPT refused


def test_curl_smtp_starttls_auth(server: MailServer, tmp_path: Path) -> None:
    t = uuid.uuid4().hex[:10]
    eml = tmp_path / "msg.eml"
    eml.write_bytes(
        f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: curl {t}\r\n\r\n.dot line\r\nbody\r\n".encode()
    )
    p = run(
        need("curl"),
        "-sS",
        "--ssl-reqd",
        "-k",
        f"smtp://127.0.0.1:{server.ports['submission']}",
        "--user",
        f"{ALICE}:{USERS[ALICE]}",
        "--mail-from",
        ALICE,
        "--mail-rcpt",
        BOB,
        "--upload-file",
        str(eml),
    )
    assert p.returncode == 0, p.stderr
    raw = find_message(server.dir, BOB, t)
    assert raw is not None and raw.endswith(b"\r\n\r\n.dot line\r\nbody\r\n")


def test_curl_smtp_vrfy(server: MailServer) -> None:
    p = run(
        need("curl"),
        "-sS",
        f"smtp://127.0.0.1:{server.ports['smtp']}",
        "--mail-rcpt",
        ALICE,
    )
    # curl sends VRFY; 252 is a positive completion for curl
    assert p.returncode == 0, p.stderr
    assert "252" in p.stdout
