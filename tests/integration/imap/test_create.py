"""CREATE (RFC 9051 §6.3.4, CREATE-SPECIAL-USE RFC 6154 §3)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import unique
from tests.integration.imap.rawimap import RawImap


def names(c: RawImap, pattern: str = "*") -> list[str]:
    return [line.rsplit(" ", 1)[1].strip('"') for line in c.cmd(f'LIST "" "{pattern}"').untagged]


def test_create_and_list(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = unique()
    r = c.cmd(f"CREATE {name}")
    assert r.tagged == "a2 OK CREATE completed"
    assert name in names(c)


def test_create_existing(raw: Callable[..., RawImap]) -> None:
    """RFC 5530 §3: ALREADYEXISTS."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    r = c.cmd(f"CREATE {name}")
    assert (r.status, r.code) == ("NO", "ALREADYEXISTS")
    r = c.cmd("CREATE inbox")
    assert (r.status, r.code) == ("NO", "ALREADYEXISTS")


def test_create_superiors(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.4: missing superior levels are created too."""
    c = raw()
    top = unique()
    assert c.cmd(f"CREATE {top}/a/b").status == "OK"
    assert {top, f"{top}/a", f"{top}/a/b"} <= set(names(c, f"{top}*"))
    assert c.cmd(f"SELECT {top}/a").status == "OK"


def test_create_trailing_delimiter(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.4: a trailing delimiter means the client intends to create
    children; here it is refused rather than silently stripped, and nothing is made."""
    c = raw()
    name = unique()
    r = c.cmd(f"CREATE {name}/")
    assert r.status == "NO"
    assert name not in names(c)


def test_create_special_use(raw: Callable[..., RawImap]) -> None:
    """RFC 6154 §3: CREATE name (USE (\\Archive)); the attribute shows in LIST."""
    c = raw()
    name = unique("archive")
    assert c.cmd(f"CREATE {name} (USE (\\Archive))").status == "OK"
    r = c.cmd(f'LIST "" {name}')
    assert "\\Archive" in r.untagged[0]


def test_create_unknown_special_use(raw: Callable[..., RawImap]) -> None:
    """RFC 6154 §3: USEATTR for an attribute the server does not know."""
    c = raw()
    name = unique()
    r = c.cmd(f"CREATE {name} (USE (\\Whatever))")
    assert (r.status, r.code) == ("NO", "USEATTR")
    assert name not in names(c)


def test_create_utf7_name(raw: Callable[..., RawImap]) -> None:
    """RFC 3501 §5.1.3: modified UTF-7 names round-trip as sent."""
    c = raw()
    name = f"{unique()}-&AOk-t&AOk-"  # "-été"
    assert c.cmd(f'CREATE "{name}"').status == "OK"
    assert name in names(c)


def test_create_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("CREATE").status == "BAD"
    assert c.cmd("CREATE a b").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_create_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("CREATE foo").status == "BAD"
