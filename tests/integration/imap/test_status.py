"""STATUS (RFC 9051 §6.3.11, STATUS=SIZE RFC 8438, CONDSTORE RFC 7162 §3.1.6)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap, message


def test_status_counts(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 3)
    c.cmd("STORE 1 +FLAGS (\\Seen)")
    c.cmd("STORE 2 +FLAGS (\\Deleted)")
    c.cmd("SELECT INBOX")
    r = c.cmd(f"STATUS {name} (MESSAGES UNSEEN UIDNEXT DELETED RECENT)")
    assert r.untagged == [f"* STATUS {name} (MESSAGES 3 UNSEEN 2 UIDNEXT 4 DELETED 1 RECENT 0)"]


def test_status_size(raw: Callable[..., RawImap]) -> None:
    """RFC 8438 §2: SIZE is the total of RFC822.SIZE."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    one, two = message("a"), message("bb", "longer body")
    c.append(name, one)
    c.append(name, two)
    r = c.cmd(f"STATUS {name} (SIZE)")
    assert r.untagged == [f"* STATUS {name} (SIZE {len(one) + len(two)})"]


def test_status_uidvalidity_and_modseq(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 1, select=False)
    r = c.cmd(f"STATUS {name} (UIDVALIDITY HIGHESTMODSEQ APPENDLIMIT)")
    assert re.fullmatch(
        rf"\* STATUS {name} \(UIDVALIDITY \d+ HIGHESTMODSEQ \d+ APPENDLIMIT \d+\)",
        r.untagged[0],
    )


def test_status_of_selected_mailbox(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.11: allowed (though clients should not) on the selected mailbox."""
    c = raw()
    name = fill(c, 2)
    r = c.cmd(f"STATUS {name} (MESSAGES)")
    assert r.untagged == [f"* STATUS {name} (MESSAGES 2)"]


def test_status_missing(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd(f"STATUS {unique()} (MESSAGES)")
    assert (r.status, r.code) == ("NO", "NONEXISTENT")


def test_status_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("STATUS INBOX").status == "BAD"
    assert c.cmd("STATUS INBOX ()").status == "BAD"
    assert c.cmd("STATUS INBOX (BOGUS)").status == "BAD"
    assert c.cmd("STATUS INBOX MESSAGES").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_status_not_authenticated(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd("STATUS INBOX (MESSAGES)").status == "BAD"
