"""AUTHENTICATE (RFC 9051 §6.2.2) with PLAIN (RFC 4616) and LOGIN, SASL-IR (RFC 4959)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from tests.integration.imap.rawimap import RawImap

USER = "alice@example.test"
PASSWORD = "alicepw-Secret1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain(authzid: str, user: str, password: str) -> str:
    return b64(f"{authzid}\0{user}\0{password}".encode())


def test_plain_with_initial_response(raw: Callable[..., RawImap]) -> None:
    """RFC 4959 §3: the initial response on the command line."""
    c = raw(None)
    r = c.cmd(f"AUTHENTICATE PLAIN {plain('', USER, PASSWORD)}")
    assert r.status == "OK", r
    assert r.code is not None and r.code.startswith("CAPABILITY ")
    assert c.cmd("SELECT INBOX").status == "OK"


def test_plain_with_empty_challenge(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.2.2: the server sends "+ " and the client answers on its own line."""
    c = raw(None)
    c.send("t1 AUTHENTICATE PLAIN\r\n")
    assert c.response().startswith("+")
    c.send(plain("", USER, PASSWORD) + "\r\n")
    assert c.read_until("t1").status == "OK"


def test_login_mechanism(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    c.send("t1 AUTHENTICATE LOGIN\r\n")
    assert c.response().startswith("+ ")
    c.send(b64(USER.encode()) + "\r\n")
    assert c.response().startswith("+ ")
    c.send(b64(PASSWORD.encode()) + "\r\n")
    assert c.read_until("t1").status == "OK"


def test_cancel_with_star(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.2.2: "*" cancels, answered with BAD."""
    c = raw(None)
    c.send("t1 AUTHENTICATE PLAIN\r\n")
    assert c.response().startswith("+")
    c.send("*\r\n")
    assert c.read_until("t1").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_wrong_password(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    r = c.cmd(f"AUTHENTICATE PLAIN {plain('', USER, 'nope')}")
    assert (r.status, r.code) == ("NO", "AUTHENTICATIONFAILED")
    assert c.cmd("NOOP").status == "OK"


def test_unknown_mechanism(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    r = c.cmd("AUTHENTICATE CRAM-MD5")
    assert r.status == "NO"
    assert c.cmd("NOOP").status == "OK"


def test_invalid_base64(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    c.send("t1 AUTHENTICATE PLAIN\r\n")
    assert c.response().startswith("+")
    c.send("!!!not base64!!!\r\n")
    assert c.read_until("t1").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_other_authorization_identity(raw: Callable[..., RawImap]) -> None:
    """RFC 4616 §2: an authzid other than the user is refused (no proxy logins)."""
    c = raw(None)
    r = c.cmd(f"AUTHENTICATE PLAIN {plain('bob@example.test', USER, PASSWORD)}")
    assert r.status == "NO"
    assert c.cmd("SELECT INBOX").status == "BAD"  # still not authenticated


def test_authenticate_after_login_is_bad(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd(f"AUTHENTICATE PLAIN {plain('', USER, PASSWORD)}").status == "BAD"
