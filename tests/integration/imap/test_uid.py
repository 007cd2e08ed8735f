"""UID FETCH / STORE / COPY / SEARCH (RFC 9051 §6.4.9)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap


def gapped(raw: Callable[..., RawImap]) -> RawImap:
    """UIDs 1, 3, 5 at sequence numbers 1, 2, 3."""
    c = raw()
    fill(c, 5)
    c.cmd("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    c.cmd("EXPUNGE")
    return c


def test_uid_fetch_includes_uid(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.4.9: UID is always in UID FETCH responses."""
    c = gapped(raw)
    r = c.cmd("UID FETCH 1:* FLAGS")
    assert r.untagged == [
        "* 1 FETCH (UID 1 FLAGS ())",
        "* 2 FETCH (UID 3 FLAGS ())",
        "* 3 FETCH (UID 5 FLAGS ())",
    ]


def test_uid_ranges_skip_missing(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.4.9: non-existent UIDs in a range are ignored, no error."""
    c = gapped(raw)
    assert c.cmd("UID FETCH 2:4 UID").untagged == ["* 2 FETCH (UID 3)"]
    r = c.cmd("UID FETCH 2,4 UID")
    assert (r.status, r.untagged) == ("OK", [])


def test_uid_star_beyond_last(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.4.9: "n:*" where n is above the highest UID still names the last."""
    c = gapped(raw)
    assert c.cmd("UID FETCH 100:* UID").untagged == ["* 3 FETCH (UID 5)"]


def test_uid_store(raw: Callable[..., RawImap]) -> None:
    c = gapped(raw)
    r = c.cmd("UID STORE 3 +FLAGS (\\Flagged)")
    assert r.untagged == ["* 2 FETCH (FLAGS (\\Flagged) UID 3)"]


def test_uid_copy(raw: Callable[..., RawImap]) -> None:
    c = gapped(raw)
    target = unique()
    c.cmd(f"CREATE {target}")
    r = c.cmd(f"UID COPY 3:5 {target}")
    assert r.code is not None and r.code.endswith(" 3,5 1:2")


def test_uid_search(raw: Callable[..., RawImap]) -> None:
    c = gapped(raw)
    assert c.cmd("UID SEARCH ALL").untagged == ["* SEARCH 1 3 5"]
    assert c.cmd("UID SEARCH UID 2:5").untagged == ["* SEARCH 3 5"]


def test_uid_fetch_empty_mailbox(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 0)
    r = c.cmd("UID FETCH 1:* FLAGS")
    assert (r.status, r.untagged) == ("OK", [])


def test_uid_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = gapped(raw)
    for bad in ("UID", "UID NOOP", "UID FETCH", "UID FETCH 1", "UID BOGUS 1", "UID FETCH 0 UID"):
        assert c.cmd(bad).status == "BAD", bad
    assert c.cmd("NOOP").status == "OK"


def test_uid_not_selected(raw: Callable[..., RawImap]) -> None:
    c = raw()
    for command in ("UID FETCH 1 FLAGS", "UID STORE 1 +FLAGS (\\Seen)", "UID SEARCH ALL"):
        assert c.cmd(command).status == "BAD", command
    assert raw(None).cmd("UID FETCH 1 FLAGS").status == "BAD"
