"""DELETE (RFC 9051 §6.3.5)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap


def listed(c: RawImap, pattern: str) -> list[str]:
    return c.cmd(f'LIST "" "{pattern}"').untagged


def test_delete(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 2, select=False)
    assert c.cmd(f"DELETE {name}").tagged == "a5 OK DELETE completed"
    assert listed(c, name) == []
    r = c.cmd(f"SELECT {name}")
    assert (r.status, r.code) == ("NO", "NONEXISTENT")


def test_delete_missing(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd(f"DELETE {unique()}")
    assert (r.status, r.code) == ("NO", "NONEXISTENT")


def test_delete_inbox_refused(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.5: deleting INBOX is an error."""
    c = raw()
    r = c.cmd("DELETE INBOX")
    assert r.status == "NO"
    assert c.cmd("SELECT INBOX").status == "OK"


def test_delete_parent_keeps_children(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.5: deleting a mailbox with inferiors removes only it; the level
    stays visible as \\Noselect/\\NonExistent while children exist."""
    c = raw()
    top = unique()
    c.cmd(f"CREATE {top}/child")
    assert c.cmd(f"DELETE {top}").status == "OK"
    lines = listed(c, f"{top}*")
    assert any(line.endswith(f"{top}/child") for line in lines)
    parent = [line for line in lines if line.endswith(f'"/" {top}')]
    assert parent and ("\\Noselect" in parent[0] or "\\NonExistent" in parent[0])
    assert c.cmd(f"SELECT {top}/child").status == "OK"


def test_delete_selected_mailbox(raw: Callable[..., RawImap]) -> None:
    """Deleting the mailbox this session has selected leaves it unselected."""
    c = raw()
    name = fill(c, 1)
    assert c.cmd(f"DELETE {name}").status == "OK"
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"


def test_delete_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("DELETE").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_delete_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("DELETE INBOX").status == "BAD"
    assert c.cmd("NOOP").status == "OK"
