"""NAMESPACE (RFC 2342, RFC 9051 §6.3.10): one personal namespace, nothing shared."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.rawimap import RawImap


def test_namespace(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd("NAMESPACE")
    assert r.status == "OK"
    assert r.untagged == ['* NAMESPACE (("" "/")) NIL NIL']


def test_namespace_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("NAMESPACE").status == "BAD"


def test_namespace_with_argument_is_bad(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("NAMESPACE foo").status == "BAD"
    assert c.cmd("NOOP").status == "OK"
