"""Captures made here: posthouse's own servers, driven by Python's smtplib and poplib
while dumpcap records loopback, then analyzed. One STARTTLS session is decrypted with
the key log the server writes (`[tls] keylog`)."""

from __future__ import annotations

import poplib
import smtplib
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from posthouse.analyzer.analysis import analyze_file
from posthouse.analyzer.model import Report, Session
from tests.analyzer.live import capturing, missing_reason
from tests.integration.server import USERS, MailServer

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))

ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    directory = tmp_path_factory.mktemp("live")
    server = MailServer.create(directory / "instance", teaching=True)
    keylog = directory / "keylog.txt"
    toml = server.dir / "posthouse.toml"
    toml.write_text(toml.read_text().replace('keylog = ""', f'keylog = "{keylog}"'))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def insecure() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(token: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = ALICE
    msg["To"] = BOB
    msg["Subject"] = f"Grüße {token}"  # encoded as an RFC 2047 word on the wire
    msg.set_content(".leading dot line\nHello Bob.\n")
    msg.add_attachment(
        b"\x00\x01binary", maintype="application", subtype="octet-stream", filename="data.bin"
    )
    return msg


def only(report: Report, port: int) -> list[Session]:
    return [s for s in report.sessions if s.server.endswith(f":{port}")]


def test_smtp_login_and_message_in_the_clear(server: MailServer, tmp_path: Path) -> None:
    port = server.ports["submission"]
    with (
        capturing(tmp_path / "smtp.pcapng", [port]) as path,
        smtplib.SMTP("127.0.0.1", port, timeout=10) as s,
    ):
        s.ehlo("client.example")
        s.login(ALICE, USERS[ALICE])  # AUTH PLAIN, in the clear (teaching mode)
        s.send_message(message("plain"))
    report = analyze_file(path)
    (session,) = only(report, port)
    assert session.protocol == "SMTP" and session.tls is None
    verbs = [line.verb for line in session.lines if line.sender == "C" and line.verb]
    assert verbs[:2] == ["EHLO", "AUTH"] and "MAIL" in verbs and "DATA" in verbs
    (cred,) = session.credentials
    assert (cred.username, cred.password, cred.success, cred.encrypted) == (
        ALICE,
        USERS[ALICE],
        True,
        False,
    )
    (msg,) = session.messages
    assert msg.mail_from == ALICE and msg.rcpt_to == [BOB]
    assert msg.subject == "Grüße plain"
    assert [a.filename for a in msg.attachments] == ["data.bin"]
    assert b"\r\n.leading dot line" in msg.raw  # unstuffed
    kinds = {f.kind for f in report.findings}
    assert {"cleartext-credentials", "no-tls"} <= kinds


def test_pop3_user_pass_and_retr(server: MailServer, tmp_path: Path) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.send_message(message("pop"), from_addr="someone@example.org", to_addrs=[BOB])
    port = server.ports["pop3"]
    with capturing(tmp_path / "pop3.pcapng", [port]) as path:
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        pop.user(BOB)
        pop.pass_(USERS[BOB])
        count, _size = pop.stat()
        lines = pop.retr(count)[1]
        pop.quit()
    report = analyze_file(path)
    (session,) = only(report, port)
    assert session.protocol == "POP3"
    (cred,) = session.credentials
    assert (cred.mechanism, cred.username, cred.password, cred.success) == (
        "USER/PASS",
        BOB,
        USERS[BOB],
        True,
    )
    retr = [m for m in session.messages if m.source == "RETR"]
    assert retr and retr[-1].raw == b"\r\n".join(lines) + b"\r\n"
    assert retr[-1].subject == "Grüße pop"


def test_starttls_session_decrypted_with_the_server_key_log(
    server: MailServer, tmp_path: Path
) -> None:
    port = server.ports["submission"]
    with (
        capturing(tmp_path / "tls.pcapng", [port]) as path,
        smtplib.SMTP("127.0.0.1", port, timeout=10) as s,
    ):
        s.starttls(context=insecure())
        s.login(ALICE, USERS[ALICE])
        s.send_message(message("tls"))
    keylog = server.dir.parent / "keylog.txt"
    plain = only(analyze_file(path), port)[0]
    assert plain.tls is not None and not plain.tls.decrypted
    assert plain.credentials == []  # nothing readable without the keys
    report = analyze_file(path, keylog=str(keylog))
    (session,) = only(report, port)
    tls = session.tls
    assert tls is not None and tls.how == "STARTTLS" and tls.decrypted
    assert tls.version in ("TLS 1.2", "TLS 1.3")
    inner = [line for line in session.lines if line.encrypted and line.verb]
    assert {"EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"} <= {line.verb for line in inner}
    (cred,) = session.credentials
    assert cred.encrypted and cred.username == ALICE and cred.success
    (msg,) = session.messages
    assert msg.encrypted and msg.subject == "Grüße tls"
    assert not any(f.kind == "cleartext-credentials" for f in report.findings)


def test_implicit_tls_pop3s_decrypted_with_the_key_log(server: MailServer, tmp_path: Path) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.send_message(message("pop3s"), from_addr="someone@example.org", to_addrs=[BOB])
    port = server.ports["pop3s"]
    with capturing(tmp_path / "pop3s.pcapng", [port]) as path:
        pop = poplib.POP3_SSL("127.0.0.1", port, timeout=10, context=insecure())
        pop.user(BOB)
        pop.pass_(USERS[BOB])
        count, _size = pop.stat()
        pop.retr(count)
        pop.quit()
    report = analyze_file(path, keylog=str(server.dir.parent / "keylog.txt"))
    (session,) = only(report, port)
    assert session.protocol == "POP3" and session.tls is not None
    assert session.tls.how == "implicit" and session.tls.decrypted
    assert session.tls.sni is None or isinstance(session.tls.sni, str)
    (cred,) = session.credentials
    assert (cred.username, cred.password, cred.encrypted, cred.success) == (
        BOB,
        USERS[BOB],
        True,
        True,
    )
    assert any(m.source == "RETR" and m.subject == "Grüße pop3s" for m in session.messages)
    assert "no-tls" not in {f.kind for f in report.findings}


def test_https_requests_decrypted_with_a_key_log(tmp_path: Path) -> None:
    """A webmail-like HTTPS exchange (Python's http.server and urllib, TLS 1.3) shows
    method, path and status once decrypted."""
    import http.server
    import threading
    import urllib.request

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    keylog = tmp_path / "keys.txt"
    server_ctx.keylog_filename = str(keylog)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = b"inbox"
            self.send_response(200 if self.path == "/inbox" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    try:
        with capturing(tmp_path / "https.pcapng", [port]) as path:
            for page in ("/inbox", "/missing"):
                req = urllib.request.Request(f"https://localhost:{port}{page}")
                try:
                    urllib.request.urlopen(req, context=client_ctx, timeout=10).read()
                except urllib.error.HTTPError:
                    pass
    finally:
        httpd.shutdown()
        httpd.server_close()
    report = analyze_file(path, keylog=str(keylog))
    sessions = only(report, port)
    assert sessions and all(s.protocol == "HTTPS" and s.tls and s.tls.decrypted for s in sessions)
    assert all(s.tls and s.tls.sni == "localhost" for s in sessions)
    seen = [
        (line.verb, line.argument, line.code)
        for s in sessions
        for line in s.lines
        if line.encrypted and (line.verb or line.code)
    ]
    assert ("GET", "/inbox", None) in seen and (None, None, 200) in seen
    assert ("GET", "/missing", None) in seen and (None, None, 404) in seen


def test_imap_login_and_fetch(server: MailServer, tmp_path: Path) -> None:
    import imaplib

    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.send_message(message("imap"), from_addr="someone@example.org", to_addrs=[BOB])
    port = server.ports["imap"]
    with capturing(tmp_path / "imap.pcapng", [port]) as path:
        imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        imap.login(BOB, USERS[BOB])
        imap.select("INBOX")
        _typ, data = imap.search(None, "ALL")
        last = data[0].split()[-1]
        _typ, fetched = imap.fetch(last, "(BODY.PEEK[])")
        imap.logout()
    body = fetched[0][1]
    report = analyze_file(path)
    (session,) = only(report, port)
    assert session.protocol == "IMAP"
    assert {"LOGIN", "SELECT", "SEARCH", "FETCH", "LOGOUT"} <= {
        line.verb for line in session.lines if line.verb
    }
    (cred,) = session.credentials
    assert (cred.mechanism, cred.username, cred.password, cred.success) == (
        "LOGIN",
        BOB,
        USERS[BOB],
        True,
    )
    fetches = [m for m in session.messages if m.source == "FETCH"]
    assert fetches and fetches[-1].raw == body and fetches[-1].subject == "Grüße imap"
    assert not any("strict server" in line.note for line in session.lines)
