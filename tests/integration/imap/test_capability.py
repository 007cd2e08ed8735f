"""CAPABILITY (RFC 9051 §6.1.1): before and after login, and in the greeting."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.rawimap import RawImap


def test_greeting_carries_capabilities(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.1: the greeting may carry [CAPABILITY ...] so clients skip a round trip."""
    c = raw(None)
    assert c.greeting.startswith("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    assert " STARTTLS" in c.greeting or "AUTH=PLAIN" in c.greeting


def test_capability_before_login(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    r = c.cmd("CAPABILITY")
    assert r.status == "OK"
    (line,) = r.untagged
    caps = line.split()[2:]
    assert line.startswith("* CAPABILITY ")
    assert {"IMAP4rev1", "IMAP4rev2", "AUTH=PLAIN", "SASL-IR", "LITERAL+"} <= set(caps)
    # Loopback: passwords allowed in the clear, so no LOGINDISABLED (RFC 9051 §6.2.3).
    assert "LOGINDISABLED" not in caps


def test_capability_after_login_drops_auth(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.2.3: the tagged OK of LOGIN may carry the new capabilities; AUTH=
    and STARTTLS are gone once authenticated."""
    c = raw(None)
    r = c.login("alice@example.test", "alicepw-Secret1")
    assert r.code is not None and r.code.startswith("CAPABILITY ")
    caps = c.cmd("CAPABILITY").untagged[0].split()[2:]
    assert not [x for x in caps if x.startswith("AUTH=") or x == "STARTTLS"]
    for ext in (
        "UIDPLUS",
        "MOVE",
        "IDLE",
        "NAMESPACE",
        "ID",
        "ENABLE",
        "UNSELECT",
        "CONDSTORE",
        "QRESYNC",
        "ESEARCH",
        "SPECIAL-USE",
        "LIST-EXTENDED",
        "LIST-STATUS",
        "STATUS=SIZE",
        "CHILDREN",
        "UTF8=ACCEPT",
    ):
        assert ext in caps, ext
    assert any(x.startswith("APPENDLIMIT=") for x in caps)


def test_capability_with_arguments_is_bad(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("CAPABILITY IMAP4rev2").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_noop_and_logout(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.1.2-3: NOOP succeeds in any state; LOGOUT sends BYE then OK, then
    the server closes."""
    c = raw(None)
    assert c.cmd("NOOP").tagged == "a1 OK NOOP completed"
    r = c.cmd("LOGOUT")
    assert r.status == "OK"
    assert r.untagged[0].startswith("* BYE ")
    assert c.closed()
