"""POP3 on real sockets, driven by Python's poplib (a client we did not write):
plain on loopback, STLS, implicit TLS, TOP, UIDL, DELE, locking, access switches,
app passwords, and byte-identical delivery from SMTP to RETR."""

from __future__ import annotations

import json
import poplib
import smtplib
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.integration.server import MailServer, add_user, posthouse, stored_messages

PASSWORD = "pop3-Secret-9"


def insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def user(server: MailServer) -> str:
    """A user of its own for each test: DELE and QUIT must not touch other tests' mail."""
    address = f"p{uuid.uuid4().hex[:10]}@example.test"
    add_user(server.dir, address, PASSWORD)
    return address


def deliver(server: MailServer, rcpt: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.sendmail("sender@example.org", [rcpt], raw)


def simple(subject: str, body: str = "Hello.\r\n") -> bytes:
    return f"From: sender@example.org\r\nSubject: {subject}\r\n\r\n{body}".encode()


def joined(lines: list[bytes]) -> bytes:
    """poplib's lines (CRLF removed, dots unstuffed) back into message octets."""
    return b"".join(line + b"\r\n" for line in lines)


@contextmanager
def pop3(server: MailServer, address: str, password: str = PASSWORD) -> Iterator[poplib.POP3]:
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    try:
        client.user(address)
        client.pass_(password)
        yield client
    finally:
        client.close()


def test_plain_login_on_loopback_stat_list_retr(server: MailServer, user: str) -> None:
    deliver(server, user, simple("first"))
    deliver(server, user, simple("second", "Two lines\r\nof body.\r\n"))
    stored = stored_messages(server.dir, user)
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    try:
        assert client.getwelcome().startswith(b"+OK mail.example.test POP3")
        caps = client.capa()
        # Loopback: plaintext passwords are allowed, so USER and SASL are offered.
        assert "USER" in caps and caps["SASL"] == ["PLAIN", "LOGIN"]
        assert "STLS" in caps and "UIDL" in caps and "TOP" in caps
        assert client.user(user).startswith(b"+OK")
        assert (
            client.pass_(PASSWORD)
            == f"+OK {user} has 2 messages ({sum(map(len, stored))} octets)".encode()
        )
        assert client.stat() == (2, sum(len(raw) for raw in stored))
        head, listing, _ = client.list()
        assert head == f"+OK 2 messages ({sum(map(len, stored))} octets)".encode()
        assert listing == [f"{n} {len(raw)}".encode() for n, raw in enumerate(stored, 1)]
        for n, raw in enumerate(stored, 1):
            assert client.list(n) == f"+OK {n} {len(raw)}".encode()
            head, lines, _ = client.retr(n)
            assert head == f"+OK {len(raw)} octets".encode()
            assert joined(lines) == raw
        assert client.noop() == b"+OK"
        assert client.quit().startswith(b"+OK mail.example.test POP3 server signing off")
    finally:
        client.close()
    assert stored_messages(server.dir, user) == stored  # reading deletes nothing


def test_stls_then_login(server: MailServer, user: str) -> None:
    deliver(server, user, simple("over stls"))
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    try:
        client.stls(insecure_context())
        assert isinstance(client.sock, ssl.SSLSocket)
        caps = client.capa()
        assert "STLS" not in caps  # RFC 2595 §4: not offered once TLS is active
        client.user(user)
        client.pass_(PASSWORD)
        _, lines, _ = client.retr(1)
        assert b"Subject: over stls" in lines
        client.quit()
    finally:
        client.close()


def test_implicit_tls_port(server: MailServer, user: str) -> None:
    deliver(server, user, simple("implicit tls"))
    client = poplib.POP3_SSL(
        "127.0.0.1", server.ports["pop3s"], context=insecure_context(), timeout=10
    )
    try:
        caps = client.capa()
        assert "STLS" not in caps and "USER" in caps
        with pytest.raises(poplib.error_proto, match="TLS is already active"):
            client._shortcmd("STLS")
        client.user(user)
        client.pass_(PASSWORD)
        assert client.stat()[0] == 1
        _, lines, _ = client.retr(1)
        assert joined(lines) == stored_messages(server.dir, user)[0]
        client.quit()
    finally:
        client.close()


def test_top_header_and_lines(server: MailServer, user: str) -> None:
    body = "".join(f"line {i}\r\n" for i in range(1, 11))
    deliver(server, user, simple("top test", body))
    raw = stored_messages(server.dir, user)[0]
    header = raw[: raw.index(b"\r\n\r\n") + 4]
    with pop3(server, user) as client:
        _, lines, _ = client.top(1, 0)
        assert joined(lines) == header
        _, lines, _ = client.top(1, 3)
        assert joined(lines) == header + b"line 1\r\nline 2\r\nline 3\r\n"
        # fetchmail downloads with TOP n 99999999: the whole message.
        _, lines, _ = client.top(1, 99999999)
        assert joined(lines) == raw


def test_uidl_is_stable_across_sessions_and_deletions(server: MailServer, user: str) -> None:
    for i in range(3):
        deliver(server, user, simple(f"uidl {i}"))
    with pop3(server, user) as client:
        _, listing, _ = client.uidl()
        first = dict(line.split() for line in listing)
        assert len(set(first.values())) == 3
        assert client.uidl(2) == b"+OK 2 " + first[b"2"]
        client.dele(1)
        client.quit()
    deliver(server, user, simple("uidl 3"))
    with pop3(server, user) as client:
        _, listing, _ = client.uidl()
        second = dict(line.split() for line in listing)
        # Message numbers moved down by one; their unique-ids did not change.
        assert second[b"1"] == first[b"2"] and second[b"2"] == first[b"3"]
        assert second[b"3"] not in first.values()  # never reused for a new message
        client.quit()


def test_dele_and_quit_removes_only_marked(server: MailServer, user: str) -> None:
    for i in range(3):
        deliver(server, user, simple(f"dele {i}"))
    before = stored_messages(server.dir, user)
    with pop3(server, user) as client:
        assert client.dele(2) == b"+OK message 2 deleted"
        with pytest.raises(poplib.error_proto, match="message 2 already deleted"):
            client.dele(2)
        with pytest.raises(poplib.error_proto, match="message 2 already deleted"):
            client.retr(2)
        assert client.stat() == (2, len(before[0]) + len(before[2]))
        _, listing, _ = client.list()
        assert [line.split()[0] for line in listing] == [b"1", b"3"]
        assert client.quit().endswith(b"(1 message deleted, 2 left)")
    assert stored_messages(server.dir, user) == [before[0], before[2]]


def test_rset_unmarks(server: MailServer, user: str) -> None:
    deliver(server, user, simple("rset"))
    with pop3(server, user) as client:
        client.dele(1)
        assert client.stat()[0] == 0
        assert client.rset().startswith(b"+OK maildrop has 1 message")
        client.quit()
    assert len(stored_messages(server.dir, user)) == 1


def wait_for_login(server: MailServer, address: str, timeout: float = 10) -> poplib.POP3:
    """Log in, retrying while the previous session's lock is still being released."""
    deadline = time.monotonic() + timeout
    while True:
        client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
        try:
            client.user(address)
            client.pass_(PASSWORD)
            return client
        except poplib.error_proto as e:
            client.close()
            if b"[IN-USE]" not in e.args[0] or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_dele_without_quit_keeps_everything(server: MailServer, user: str) -> None:
    for i in range(2):
        deliver(server, user, simple(f"dropped {i}"))
    before = stored_messages(server.dir, user)
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    client.user(user)
    client.pass_(PASSWORD)
    client.dele(1)
    client.dele(2)
    client.close()  # the connection drops: no QUIT, so no UPDATE (RFC 1939 §6)
    again = wait_for_login(server, user)
    try:
        assert again.stat()[0] == 2
        again.quit()
    finally:
        again.close()
    assert stored_messages(server.dir, user) == before


def test_second_session_gets_in_use(server: MailServer, user: str) -> None:
    deliver(server, user, simple("locked"))
    with pop3(server, user) as first:
        second = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
        try:
            second.user(user)
            with pytest.raises(poplib.error_proto) as excinfo:
                second.pass_(PASSWORD)
            assert excinfo.value.args[0].startswith(b"-ERR [IN-USE] ")
            # Still in AUTHORIZATION: it may try again once the first session is gone.
            first.quit()
            second.user(user)
            assert second.pass_(PASSWORD).startswith(b"+OK")
            second.quit()
        finally:
            second.close()


def test_wrong_password_is_auth_error(server: MailServer, user: str) -> None:
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    try:
        client.user(user)
        with pytest.raises(poplib.error_proto) as excinfo:
            client.pass_("not-the-password")
        assert excinfo.value.args[0] == b"-ERR [AUTH] Invalid username or password"
        client.user(user)  # RFC 1939 §7: start again with USER
        assert client.pass_(PASSWORD).startswith(b"+OK")
        client.quit()
    finally:
        client.close()


def test_protocol_switch_off_refuses_login(server: MailServer, user: str) -> None:
    posthouse(server.dir, "user", "protocols", user, "--disable", "pop3")
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    try:
        client.user(user)
        with pytest.raises(poplib.error_proto) as excinfo:
            client.pass_(PASSWORD)
        assert excinfo.value.args[0] == b"-ERR [AUTH] POP3 access is switched off for this account"
    finally:
        client.close()
    posthouse(server.dir, "user", "protocols", user, "--enable", "pop3")
    with pop3(server, user) as client:
        client.quit()


def test_app_password(server: MailServer, user: str) -> None:
    deliver(server, user, simple("app password"))
    out = posthouse(
        server.dir, "user", "app-password", "add", user, "phone", "--protocol", "pop3", "--json"
    )
    code = json.loads(out)["code"]
    with pop3(server, user, code) as client:
        assert client.stat()[0] == 1
        client.quit()
    # A code limited to IMAP does not open POP3, even though the account's switch is on.
    out = posthouse(
        server.dir, "user", "app-password", "add", user, "tablet", "--protocol", "imap", "--json"
    )
    imap_only = json.loads(out)["code"]
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    try:
        client.user(user)
        with pytest.raises(poplib.error_proto) as excinfo:
            client.pass_(imap_only)
        assert excinfo.value.args[0] == (
            b"-ERR [AUTH] POP3 access is switched off for this app password"
        )
    finally:
        client.close()


def test_smtp_delivery_is_retrieved_byte_identical(server: MailServer, user: str) -> None:
    body = (
        b"Plain line\r\n"
        b".leading dot\r\n"
        b".\r\n"
        b"..two dots\r\n"
        b"8-bit: gr\xc3\xbc\xc3\x9fe, \xe2\x82\xac, and a raw \xff byte\r\n"
        b"tab\tand trailing space \r\n" + b"x" * 990 + b"\r\n"
        b"\r\n"
        b"last line\r\n"
    )
    raw = (
        b"From: Sender <sender@example.org>\r\nTo: <" + user.encode() + b">\r\n"
        b"Subject: byte identical\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
    )
    deliver(server, user, raw)
    stored = stored_messages(server.dir, user)
    assert len(stored) == 1 and stored[0].endswith(raw)
    with pop3(server, user) as client:
        assert client.list(1) == f"+OK 1 {len(stored[0])}".encode()
        head, lines, _ = client.retr(1)
        client.quit()
    assert joined(lines) == stored[0]
    assert head == f"+OK {len(stored[0])} octets".encode()


def test_messages_delivered_during_session_wait_for_next_login(
    server: MailServer, user: str
) -> None:
    deliver(server, user, simple("before"))
    with pop3(server, user) as client:
        deliver(server, user, simple("during"))
        assert client.stat()[0] == 1  # RFC 1939 §5: the maildrop is fixed at login
        with pytest.raises(poplib.error_proto, match="no such message, only 1 message"):
            client.retr(2)
        client.quit()
    with pop3(server, user) as client:
        assert client.stat()[0] == 2
        client.quit()
