"""LIST (RFC 9051 §6.3.9) with LIST-EXTENDED (RFC 5258), SPECIAL-USE (RFC 6154),
LIST-STATUS (RFC 5819) and CHILDREN (RFC 3348)."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap


def tree(c: RawImap) -> str:
    """top/a, top/a/x, top/b; none subscribed (new mailboxes start subscribed here)."""
    top = unique()
    for name in (f"{top}/a", f"{top}/a/x", f"{top}/b"):
        assert c.cmd(f"CREATE {name}").status == "OK"
    for name in (top, f"{top}/a", f"{top}/a/x", f"{top}/b"):
        assert c.cmd(f"UNSUBSCRIBE {name}").status == "OK"
    return top


def test_delimiter_query(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.9: an empty pattern returns the delimiter and root."""
    c = raw()
    r = c.cmd('LIST "" ""')
    assert r.untagged == ['* LIST (\\Noselect) "/" ""']


def test_inbox_listed_first(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd('LIST "" "*"')
    assert r.untagged[0].startswith("* LIST (") and r.untagged[0].endswith('"/" INBOX')


def test_percent_and_star(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.9: "%" stops at the delimiter, "*" does not; CHILDREN attributes."""
    c = raw()
    top = tree(c)
    r = c.cmd(f'LIST "" "{top}/%"')
    assert r.untagged == [
        f'* LIST (\\HasChildren) "/" {top}/a',
        f'* LIST (\\HasNoChildren) "/" {top}/b',
    ]
    r = c.cmd(f'LIST "" "{top}/*"')
    assert [line.rsplit(" ", 1)[1] for line in r.untagged] == [
        f"{top}/a",
        f"{top}/a/x",
        f"{top}/b",
    ]


def test_reference_is_prefixed(raw: Callable[..., RawImap]) -> None:
    c = raw()
    top = tree(c)
    r = c.cmd(f'LIST "{top}/" "%"')
    assert [line.rsplit(" ", 1)[1] for line in r.untagged] == [f"{top}/a", f"{top}/b"]


def test_inbox_case_insensitive_pattern(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd('LIST "" "inbox"')
    assert r.untagged == ['* LIST (\\HasNoChildren) "/" INBOX'] or r.untagged[0].endswith(
        '"/" INBOX'
    )


def test_no_match(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd(f'LIST "" "{unique()}*"')
    assert (r.status, r.untagged) == ("OK", [])


def test_new_mailboxes_start_subscribed(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    assert c.cmd(f'LIST (SUBSCRIBED) "" {name}').untagged == [
        f'* LIST (\\HasNoChildren \\Subscribed) "/" {name}'
    ]


def test_subscribed_selection(raw: Callable[..., RawImap]) -> None:
    """RFC 5258 §3.1: (SUBSCRIBED) lists only subscribed names, with \\Subscribed."""
    c = raw()
    top = tree(c)
    c.cmd(f"SUBSCRIBE {top}/b")
    r = c.cmd(f'LIST (SUBSCRIBED) "" "{top}/*"')
    assert r.untagged == [f'* LIST (\\HasNoChildren \\Subscribed) "/" {top}/b']


def test_recursivematch(raw: Callable[..., RawImap]) -> None:
    """RFC 5258 §3.5: a parent with subscribed children gets CHILDINFO."""
    c = raw()
    top = tree(c)
    c.cmd(f"SUBSCRIBE {top}/a/x")
    r = c.cmd(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" "{top}/%"')
    assert len(r.untagged) == 1
    assert r.untagged[0].startswith("* LIST (")
    assert r.untagged[0].endswith(f'"/" {top}/a ("CHILDINFO" ("SUBSCRIBED"))')


def test_nonexistent_parent(raw: Callable[..., RawImap]) -> None:
    """RFC 5258 §3: a level that exists only as a parent is \\NonExistent in extended
    LIST and \\Noselect in plain LIST."""
    c = raw()
    top = unique()
    c.cmd(f"CREATE {top}/kid")
    c.cmd(f"DELETE {top}")
    assert "\\Noselect" in c.cmd(f'LIST "" "{top}"').untagged[0]
    assert "\\NonExistent" in c.cmd(f'LIST () "" "{top}"').untagged[0]


def test_special_use(raw: Callable[..., RawImap]) -> None:
    """RFC 6154 §5.1: (SPECIAL-USE) selection lists only special-use mailboxes."""
    c = raw()
    name = unique("trash")
    c.cmd(f"CREATE {name} (USE (\\Junk))")
    r = c.cmd('LIST (SPECIAL-USE) "" "*"')
    assert r.untagged
    assert all(
        any(a in line for a in ("\\Junk", "\\Trash", "\\Sent", "\\Drafts", "\\Archive"))
        for line in r.untagged
    )
    assert any(line.endswith(name) for line in r.untagged)


def test_return_status(raw: Callable[..., RawImap]) -> None:
    """RFC 5819 §2: RETURN (STATUS (...)) adds a STATUS response after each LIST."""
    c = raw()
    name = fill(c, 2, select=False)
    r = c.cmd(f'LIST "" "{name}" RETURN (STATUS (MESSAGES UIDNEXT))')
    assert r.untagged == [
        f'* LIST (\\HasNoChildren) "/" {name}',
        f"* STATUS {name} (MESSAGES 2 UIDNEXT 3)",
    ]


def test_multiple_patterns(raw: Callable[..., RawImap]) -> None:
    """RFC 5258 §3: a parenthesised list of patterns."""
    c = raw()
    top = tree(c)
    r = c.cmd(f'LIST "" ({top}/a {top}/b)')
    assert [line.rsplit(" ", 1)[1] for line in r.untagged] == [f"{top}/a", f"{top}/b"]


def test_utf7_name_listed_as_created(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = f"{unique()}&AOk-"
    c.cmd(f'CREATE "{name}"')
    r = c.cmd(f'LIST "" "{name}"')
    assert r.untagged[0].endswith(name)


def test_utf8_names_after_enable(raw: Callable[..., RawImap]) -> None:
    """RFC 6855 §3: after ENABLE UTF8=ACCEPT names are sent as UTF-8 quoted strings."""
    c = raw()
    name = f"{unique()}&AOk-"
    c.cmd(f'CREATE "{name}"')
    c.cmd("ENABLE UTF8=ACCEPT")
    r = c.cmd(f'LIST "" "{name[:-5]}*"')
    # A quoted UTF-8 string or a literal: both are astrings (RFC 9051 §4.3).
    utf8 = f"{name[:-5]}é"
    literal = f"{{{len(utf8.encode())}}}\r\n{utf8}"
    assert r.untagged[0].endswith((f'"{name[:-5]}é"', literal))


def test_list_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("LIST").status == "BAD"
    assert c.cmd('LIST ""').status == "BAD"
    assert c.cmd('LIST (BOGUS) "" "*"').status == "BAD"
    assert c.cmd('LIST "" "*" RETURN (BOGUS)').status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_list_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd('LIST "" "*"').status == "BAD"
