"""ID (RFC 2971)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.rawimap import RawImap


def test_id_nil(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    r = c.cmd("ID NIL")
    assert r.status == "OK"
    (line,) = r.untagged
    assert line.startswith('* ID ("name" "posthouse"')


def test_id_with_client_fields(raw: Callable[..., RawImap]) -> None:
    """RFC 2971 §3.1: any state; the client's list is field/value string pairs."""
    c = raw()
    r = c.cmd('ID ("name" "pytest" "version" "1.0")')
    assert r.status == "OK"
    assert r.untagged[0].startswith("* ID (")


def test_id_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("ID").status == "BAD"
    assert c.cmd('ID ("name")').status == "BAD"  # odd number of strings
    assert c.cmd("ID foo").status == "BAD"
    assert c.cmd("NOOP").status == "OK"
