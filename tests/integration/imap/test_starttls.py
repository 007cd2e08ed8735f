"""STARTTLS (RFC 9051 §6.2.1) on 2143 and implicit TLS (RFC 8314) on 2993."""

from __future__ import annotations

import imaplib
import socket
import ssl
from collections.abc import Callable

from tests.integration.imap.rawimap import RawImap
from tests.integration.server import USERS, MailServer


def insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_starttls_then_login(imap_server: MailServer) -> None:
    with imaplib.IMAP4("127.0.0.1", imap_server.ports["imap"], timeout=10) as m:
        assert "STARTTLS" in m.capabilities
        typ, _ = m.starttls(insecure_context())
        assert typ == "OK"
        assert isinstance(m.sock, ssl.SSLSocket)
        # RFC 9051 §6.2.1: after TLS the client must ask again; STARTTLS is gone.
        _, data = m.capability()
        assert b"STARTTLS" not in data[0]
        assert m.login("alice@example.test", USERS["alice@example.test"])[0] == "OK"


def test_implicit_tls(imap_server: MailServer) -> None:
    with imaplib.IMAP4_SSL(
        "127.0.0.1", imap_server.ports["imaps"], ssl_context=insecure_context(), timeout=10
    ) as m:
        assert "STARTTLS" not in m.capabilities
        assert m.login("alice@example.test", USERS["alice@example.test"])[0] == "OK"
        assert m.select("INBOX")[0] == "OK"


def test_starttls_twice_is_bad(imap_server: MailServer) -> None:
    with imaplib.IMAP4("127.0.0.1", imap_server.ports["imap"], timeout=10) as m:
        m.starttls(insecure_context())
        tag = m._new_tag()
        m.send(tag + b" STARTTLS\r\n")
        line = m.readline()
        assert line.startswith(tag + b" BAD"), line


def test_starttls_on_implicit_port_is_bad(imap_server: MailServer) -> None:
    raw = socket.create_connection(("127.0.0.1", imap_server.ports["imaps"]), timeout=10)
    with insecure_context().wrap_socket(raw) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"* OK")
        s.sendall(b"t1 STARTTLS\r\n")
        assert f.readline().startswith(b"t1 BAD")


def test_pipelined_after_starttls_is_discarded(imap_server: MailServer) -> None:
    """RFC 9051 §6.2.1 / RFC 2595 §3.1: commands sent in the clear with STARTTLS must
    not run inside TLS (command injection)."""
    s = socket.create_connection(("127.0.0.1", imap_server.ports["imap"]), timeout=10)
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    s.sendall(b"t1 STARTTLS\r\nt2 CAPABILITY\r\n")
    assert f.readline().startswith(b"t1 OK")
    with insecure_context().wrap_socket(s) as tls:
        tls.sendall(b"t3 NOOP\r\n")
        tf = tls.makefile("rb")
        assert tf.readline() == b"t3 OK NOOP completed\r\n"


def test_starttls_after_login_is_bad(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("STARTTLS").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_starttls_with_argument_is_bad(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("STARTTLS now").status == "BAD"
    assert c.cmd("NOOP").status == "OK"
