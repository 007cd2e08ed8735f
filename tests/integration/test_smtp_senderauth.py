"""Sender checks on the MTA port, over real sockets: SPF, DKIM and DMARC against a
[dns] table in the instance's configuration (no real DNS), the Authentication-Results
field on every message received, DMARC p=reject refused with 550 5.7.1, p=quarantine
filed to Junk, and forged senders marked in the message's metadata."""

from __future__ import annotations

import json
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from posthouse.senderauth.dkim import generate_key, sign_message
from tests.integration.server import MailServer, find_message, message_meta, stored_messages

BOB = "bob@example.test"
AUTHSERV = "mail.example.test"
KEY, KEY_RECORD = generate_key("rsa")

DNS = {
    "alpha.test": {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]},
    "s1._domainkey.alpha.test": {"TXT": [KEY_RECORD]},
    "_dmarc.alpha.test": {"TXT": ["v=DMARC1; p=reject"]},
    "quiet.test": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]},
    "_dmarc.quiet.test": {"TXT": ["v=DMARC1; p=quarantine"]},
    "open.test": {"TXT": ["v=spf1 ip4:192.0.2.1 ~all"]},
}


def _toml_table(table: dict[str, dict[str, list[str]]]) -> str:
    lines = []
    for name, records in table.items():
        lines.append(f'\n[dns."{name}"]')
        for kind, values in records.items():
            lines.append(f"{kind} = {json.dumps(values)}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    srv = MailServer.create(tmp_path_factory.mktemp("instance"))
    config = srv.dir / "posthouse.toml"
    config.write_text(config.read_text() + _toml_table(DNS))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def message(token: str, from_line: str, extra: str = "") -> bytes:
    return (
        f"{extra}From: {from_line}\r\nTo: {BOB}\r\nSubject: {token}\r\n"
        f"Message-ID: <{token}@sender.example>\r\n\r\nbody of {token}\r\n"
    ).encode()


def send(server: MailServer, mail_from: str, raw: bytes, port: str = "smtp") -> None:
    with smtplib.SMTP("127.0.0.1", server.ports[port], timeout=30) as s:
        s.ehlo("mx.sender.example")
        s.sendmail(mail_from, [BOB], raw)


def auth_results(raw: bytes) -> list[str]:
    header = raw.split(b"\r\n\r\n", 1)[0].decode()
    unfolded = header.replace("\r\n\t", " ").replace("\r\n ", " ")
    return [line for line in unfolded.split("\r\n") if line.startswith("Authentication-Results:")]


def test_genuine_signed_mail_passes_and_is_recorded(server: MailServer) -> None:
    raw = sign_message(
        message("genuine-1", "Alice <alice@alpha.test>"),
        domain="alpha.test",
        selector="s1",
        private_pem=KEY,
    )
    send(server, "alice@alpha.test", raw)
    stored = find_message(server.dir, BOB, "genuine-1")
    assert stored is not None
    [results] = auth_results(stored)
    assert results.startswith(f"Authentication-Results: {AUTHSERV};")
    assert "spf=pass" in results and "smtp.mailfrom=alice@alpha.test" in results
    assert "dkim=pass" in results and "header.d=alpha.test" in results
    assert "dmarc=pass" in results and "header.from=alpha.test" in results
    auth = message_meta(server.dir, BOB, "genuine-1")["auth"]
    assert (auth["spf"]["result"], auth["dmarc"]["result"], auth["forged"]) == (
        "pass",
        "pass",
        False,
    )
    assert auth["dkim"][0]["result"] == "pass"


def test_forged_from_refused_by_dmarc_reject(server: MailServer) -> None:
    raw = message("forged-1", "Ilon Mask <mask@alpha.test>")
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(server, "spammer@evil.test", raw)
    assert err.value.smtp_code == 550
    assert err.value.smtp_error.startswith(b"5.7.1")
    assert b"alpha.test" in err.value.smtp_error
    assert find_message(server.dir, BOB, "forged-1") is None


def test_forged_from_refused_seen_by_swaks(server: MailServer, tmp_path: Path) -> None:
    body = tmp_path / "forged.eml"
    body.write_bytes(message("forged-swaks", "Ilon Mask <mask@alpha.test>"))
    proc = subprocess.run(
        [
            "swaks", "--server", "127.0.0.1", "--port", str(server.ports["smtp"]),
            "--from", "spammer@evil.test", "--to", BOB, "--helo", "evil.test",
            "--data", f"@{body}",
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "550 5.7.1" in proc.stdout
    assert find_message(server.dir, BOB, "forged-swaks") is None


def test_dmarc_quarantine_files_to_junk(server: MailServer) -> None:
    send(server, "q@quiet.test", message("quarantine-1", "q@quiet.test"))
    assert find_message(server.dir, BOB, "quarantine-1") is None
    junk = [raw for raw in stored_messages(server.dir, BOB, "Junk") if b"quarantine-1" in raw]
    assert len(junk) == 1
    [results] = auth_results(junk[0])
    assert "spf=fail" in results and "dmarc=fail" in results and "dis=quarantine" in results


def test_unaligned_from_without_policy_is_delivered_marked_forged(server: MailServer) -> None:
    send(server, "someone@elsewhere.test", message("unaligned-1", "boss@open.test"))
    stored = find_message(server.dir, BOB, "unaligned-1")
    assert stored is not None
    [results] = auth_results(stored)
    assert "dmarc=none" in results
    auth = message_meta(server.dir, BOB, "unaligned-1")["auth"]
    assert auth["forged"] is True and auth["disposition"] == "accept"


def test_missing_from_is_marked_forged(server: MailServer) -> None:
    raw = b"To: bob@example.test\r\nSubject: nofrom-1\r\n\r\nno From at all\r\n"
    send(server, "x@open.test", raw)
    auth = message_meta(server.dir, BOB, "nofrom-1")["auth"]
    assert auth["forged"] is True and "From" in auth["forged_reason"]


def test_results_claiming_to_be_ours_are_removed(server: MailServer) -> None:
    fake = f"Authentication-Results: {AUTHSERV}; spf=pass; dkim=pass; dmarc=pass\r\n"
    other = "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@open.test\r\n"
    send(server, "x@open.test", message("injected-1", "x@open.test", extra=fake + other))
    stored = find_message(server.dir, BOB, "injected-1")
    assert stored is not None
    ours = [r for r in auth_results(stored) if r.startswith(f"Authentication-Results: {AUTHSERV}")]
    assert len(ours) == 1 and "spf=softfail" in ours[0]
    assert any(r.startswith("Authentication-Results: other.example") for r in auth_results(stored))


def test_authenticated_submission_is_not_checked(server: MailServer) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.starttls(context=ctx)
        s.login("alice@example.test", "alicepw-Secret1")
        s.sendmail("alice@example.test", [BOB], message("submitted-1", "alice@example.test"))
    stored = find_message(server.dir, BOB, "submitted-1")
    assert stored is not None
    assert auth_results(stored) == []
    assert "auth" not in message_meta(server.dir, BOB, "submitted-1")
