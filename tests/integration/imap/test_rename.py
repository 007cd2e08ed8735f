"""RENAME (RFC 9051 §6.3.6), including INBOX's special semantics."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap, message


def listed(c: RawImap, pattern: str) -> list[str]:
    return c.cmd(f'LIST "" "{pattern}"').untagged


def test_rename_keeps_messages_and_uidvalidity(raw: Callable[..., RawImap]) -> None:
    c = raw()
    old = fill(c, 2, select=False)
    before = c.cmd(f"STATUS {old} (UIDVALIDITY MESSAGES)").untagged[0].split("(")[1]
    new = unique()
    assert c.cmd(f"RENAME {old} {new}").status == "OK"
    assert listed(c, old) == []
    after = c.cmd(f"STATUS {new} (UIDVALIDITY MESSAGES)").untagged[0].split("(")[1]
    assert before == after


def test_rename_moves_children(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.6: inferior names are renamed too."""
    c = raw()
    old, new = unique(), unique()
    c.cmd(f"CREATE {old}/kid")
    assert c.cmd(f"RENAME {old} {new}").status == "OK"
    assert any(line.endswith(f"{new}/kid") for line in listed(c, f"{new}*"))
    assert listed(c, f"{old}*") == []


def test_rename_creates_superiors(raw: Callable[..., RawImap]) -> None:
    c = raw()
    old, top = unique(), unique()
    c.cmd(f"CREATE {old}")
    assert c.cmd(f"RENAME {old} {top}/deep/er").status == "OK"
    assert len(listed(c, f"{top}*")) == 3


def test_rename_to_existing(raw: Callable[..., RawImap]) -> None:
    c = raw()
    a, b = unique(), unique()
    c.cmd(f"CREATE {a}")
    c.cmd(f"CREATE {b}")
    r = c.cmd(f"RENAME {a} {b}")
    assert (r.status, r.code) == ("NO", "ALREADYEXISTS")


def test_rename_missing(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd(f"RENAME {unique()} {unique()}")
    assert (r.status, r.code) == ("NO", "NONEXISTENT")


def test_rename_into_itself(raw: Callable[..., RawImap]) -> None:
    """A mailbox cannot become its own child."""
    c = raw()
    a = unique()
    c.cmd(f"CREATE {a}")
    assert c.cmd(f"RENAME {a} {a}/sub").status == "NO"
    assert len(listed(c, f"{a}*")) == 1


def test_rename_inbox(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.6: renaming INBOX moves its messages to the new mailbox and leaves
    an empty INBOX behind."""
    c = raw("bob@example.test")
    c.append("INBOX", message("for rename"))
    new = unique("old-inbox")
    assert c.cmd(f"RENAME INBOX {new}").status == "OK"
    assert c.cmd("STATUS INBOX (MESSAGES)").untagged == ["* STATUS INBOX (MESSAGES 0)"]
    r = c.cmd(f"STATUS {new} (MESSAGES)")
    assert r.untagged[0].endswith("(MESSAGES 1)")


def test_rename_selected_mailbox_keeps_session(raw: Callable[..., RawImap]) -> None:
    """The renamed mailbox is the same mailbox (same UIDVALIDITY, RFC 9051 §6.3.6): the
    sessions that have it selected, this one and another, carry on."""
    c, other = raw(), raw()
    name = fill(c, 1)
    other.cmd(f"SELECT {name}")
    new = unique()
    assert c.cmd(f"RENAME {name} {new}").status == "OK"
    assert c.cmd("FETCH 1 (UID)").untagged == ["* 1 FETCH (UID 1)"]
    c.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
    assert other.cmd("NOOP").untagged == ["* 1 FETCH (FLAGS (\\Seen) UID 1)"]


def test_rename_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("RENAME").status == "BAD"
    assert c.cmd("RENAME onlyone").status == "BAD"
    r = c.cmd(f"RENAME INBOX {unique()}/")
    assert r.status == "NO"
    assert c.cmd("NOOP").status == "OK"


def test_rename_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("RENAME a b").status == "BAD"
    assert c.cmd("NOOP").status == "OK"
