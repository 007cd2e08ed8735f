"""COPY (RFC 9051 §6.4.7) with COPYUID (RFC 4315 §3)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap


def validity(c: RawImap, name: str) -> int:
    return int(c.cmd(f"STATUS {name} (UIDVALIDITY)").untagged[0].split()[-1].rstrip(")"))


def test_copy_with_copyuid(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 3)
    target = unique()
    c.cmd(f"CREATE {target}")
    r = c.cmd(f"COPY 2:3 {target}")
    assert (r.status, r.code) == ("OK", f"COPYUID {validity(c, target)} 2:3 1:2")
    assert c.cmd(f"STATUS {target} (MESSAGES)").untagged[0].endswith("(MESSAGES 2)")
    assert c.cmd("FETCH 1:* UID").untagged == [f"* {i} FETCH (UID {i})" for i in (1, 2, 3)]


def test_copy_keeps_flags_and_content(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 1)
    c.cmd("STORE 1 +FLAGS (\\Flagged $Keep)")
    body = c.cmd("FETCH 1 BODY.PEEK[]").untagged[0]
    target = unique()
    c.cmd(f"CREATE {target}")
    c.cmd(f"COPY 1 {target}")
    c.cmd(f"SELECT {target}")
    assert c.cmd("FETCH 1 FLAGS").untagged == ["* 1 FETCH (FLAGS (\\Flagged $Keep))"]
    assert c.cmd("FETCH 1 BODY.PEEK[]").untagged[0] == body


def test_copy_to_self(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 1)
    r = c.cmd(f"COPY 1 {name}")
    assert r.status == "OK"
    assert re.fullmatch(r"COPYUID \d+ 1 2", r.code or "")
    assert "* 2 EXISTS" in r.untagged


def test_copy_trycreate(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.4.7: a missing target gives NO [TRYCREATE]."""
    c = raw()
    fill(c, 1)
    r = c.cmd(f"COPY 1 {unique()}")
    assert (r.status, r.code) == ("NO", "TRYCREATE")


def test_copy_from_read_only(raw: Callable[..., RawImap]) -> None:
    """COPY reads the source only: allowed after EXAMINE."""
    c = raw()
    name = fill(c, 1)
    c.cmd(f"EXAMINE {name}")
    target = unique()
    c.cmd(f"CREATE {target}")
    assert c.cmd(f"COPY 1 {target}").status == "OK"


def test_copy_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 1)
    assert c.cmd("COPY").status == "BAD"
    assert c.cmd("COPY 1").status == "BAD"
    assert c.cmd("COPY 9 INBOX").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_copy_not_selected(raw: Callable[..., RawImap]) -> None:
    assert raw().cmd("COPY 1 INBOX").status == "BAD"
