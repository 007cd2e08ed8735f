"""CONDSTORE and QRESYNC (RFC 7162)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap, message


def modseqs(r_lines: list[str]) -> dict[int, int]:
    out = {}
    for line in r_lines:
        m = re.search(r"UID (\d+).*MODSEQ \((\d+)\)", line)
        if m:
            out[int(m.group(1))] = int(m.group(2))
    return out


def highest(c: RawImap, name: str) -> int:
    r = c.cmd(f"STATUS {name} (HIGHESTMODSEQ)")
    return int(r.untagged[0].split()[-1].rstrip(")"))


def test_fetch_modseq(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.1.4: FETCH MODSEQ; every change raises the message's mod-sequence."""
    c = raw()
    fill(c, 2)
    before = modseqs(c.cmd("FETCH 1:* (UID MODSEQ)").untagged)
    c.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
    after = modseqs(c.cmd("FETCH 1:* (UID MODSEQ)").untagged)
    assert after[1] > before[1] and after[2] == before[2]


def test_changedsince(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.1.4.1: only messages changed after the given mod-sequence."""
    c = raw()
    name = fill(c, 3)
    mark = highest(c, name)
    c.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)")
    r = c.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {mark})")
    assert len(r.untagged) == 1
    assert re.fullmatch(r"\* 2 FETCH \(FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", r.untagged[0])


def test_unchangedsince_modified(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.1.3: a message changed after UNCHANGEDSINCE is left alone and named
    in [MODIFIED]."""
    c = raw()
    fill(c, 2)
    ms = modseqs(c.cmd("FETCH 1:* (UID MODSEQ)").untagged)
    c.cmd("STORE 2 +FLAGS.SILENT (\\Seen)")
    r = c.cmd(f"STORE 1:2 (UNCHANGEDSINCE {max(ms.values())}) +FLAGS (\\Flagged)")
    assert r.status == "OK"
    assert r.code == "MODIFIED 2"
    flags = c.cmd("FETCH 1:2 FLAGS").untagged
    assert "\\Flagged" in flags[0] and "\\Flagged" not in flags[1]


def test_uid_store_unchangedsince_reports_uids(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 3)
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.cmd("EXPUNGE")
    r = c.cmd("UID STORE 2:3 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)")
    assert r.code == "MODIFIED 2:3"


def test_unchangedsince_zero_with_condstore(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.1.3: UNCHANGEDSINCE 0 always fails (nothing has modseq 0)."""
    c = raw()
    fill(c, 1)
    r = c.cmd("STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Flagged)")
    assert r.code == "MODIFIED 1"


def test_search_modseq(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.1.5: SEARCH MODSEQ adds (MODSEQ n), the highest of the results."""
    c = raw()
    name = fill(c, 2)
    mark = highest(c, name)
    c.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
    r = c.cmd(f"SEARCH MODSEQ {mark + 1}")
    assert re.fullmatch(r"\* SEARCH 1 \(MODSEQ \d+\)", r.untagged[0])


def test_noop_flag_change_carries_modseq(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2: with CONDSTORE on, unsolicited FETCH responses carry MODSEQ."""
    c, other = raw(), raw()
    c.cmd("ENABLE CONDSTORE")
    name = fill(c, 1)
    other.cmd(f"SELECT {name}")
    other.cmd("STORE 1 +FLAGS.SILENT (\\Answered)")
    r = c.cmd("NOOP")
    assert re.fullmatch(r"\* 1 FETCH \(FLAGS \(\\Answered\) UID 1 MODSEQ \(\d+\)\)", r.untagged[0])


def test_qresync_select(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2.5: SELECT (QRESYNC (validity modseq known-uids)) returns
    VANISHED (EARLIER) for the expunged and FETCH for the changed."""
    c = raw()
    name = fill(c, 4, select=False)
    validity = int(c.cmd(f"STATUS {name} (UIDVALIDITY)").untagged[0].split()[-1].rstrip(")"))
    mark = highest(c, name)
    c.cmd(f"SELECT {name}")
    c.cmd("STORE 2 +FLAGS.SILENT (\\Seen)")
    c.cmd("STORE 3 +FLAGS.SILENT (\\Deleted)")
    c.cmd("EXPUNGE")
    c.cmd("UNSELECT")
    c.cmd("ENABLE QRESYNC")
    r = c.cmd(f"SELECT {name} (QRESYNC ({validity} {mark} 1:4))")
    assert r.status == "OK"
    assert "* VANISHED (EARLIER) 3" in r.untagged
    fetches = [x for x in r.untagged if " FETCH " in x]
    assert len(fetches) == 1 and fetches[0].startswith("* 2 FETCH (FLAGS (\\Seen) UID 2")


def test_qresync_wrong_uidvalidity(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2.5.2: a stale UIDVALIDITY means no VANISHED and no FETCH."""
    c = raw()
    name = fill(c, 1, select=False)
    c.cmd("ENABLE QRESYNC")
    r = c.cmd(f"SELECT {name} (QRESYNC (1 1))")
    assert r.status == "OK"
    assert not [x for x in r.untagged if "VANISHED" in x or " FETCH " in x]


def test_qresync_without_enable_is_bad(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2.5: the QRESYNC parameter needs ENABLE QRESYNC first."""
    c = raw()
    name = fill(c, 1, select=False)
    assert c.cmd(f"SELECT {name} (QRESYNC (1 1))").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_uid_fetch_vanished(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2.6: UID FETCH ... (CHANGEDSINCE m VANISHED)."""
    c = raw()
    c.cmd("ENABLE QRESYNC")
    name = fill(c, 3)
    mark = highest(c, name)
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.cmd("EXPUNGE")
    r = c.cmd(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {mark} VANISHED)")
    assert "* VANISHED (EARLIER) 1" in r.untagged
    assert c.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {mark} VANISHED)").status == "BAD"


def test_highestmodseq_grows_on_append(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    first = highest(c, name)
    c.append(name, message())
    assert highest(c, name) > first


def test_condstore_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 1)
    assert c.cmd("FETCH 1 FLAGS (CHANGEDSINCE x)").status == "BAD"
    assert c.cmd("STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_condstore_not_selected(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("FETCH 1 (FLAGS) (CHANGEDSINCE 1)").status == "BAD"
    assert c.cmd("STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_unchangedsince_between_two_sessions(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.1.3: the conditional STORE is what lets two clients take turns: the
    second one, working from the same mod-sequence, is refused with MODIFIED."""
    a, b = raw(), raw()
    name = fill(a, 1)
    b.cmd(f"SELECT {name}")
    (ms,) = modseqs(a.cmd("FETCH 1 (UID MODSEQ)").untagged).values()
    r = a.cmd(f"STORE 1 (UNCHANGEDSINCE {ms}) +FLAGS ($Claimed)")
    assert (r.status, r.code) == ("OK", None)
    r = b.cmd(f"STORE 1 (UNCHANGEDSINCE {ms}) +FLAGS ($ClaimedByB)")
    assert (r.status, r.code) == ("OK", "MODIFIED 1")
    assert "$ClaimedByB" not in a.cmd("FETCH 1 FLAGS").untagged[-1]


def test_qresync_vanished_on_noop(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2.10: with QRESYNC on, another session's expunge arrives as
    VANISHED (not EARLIER) instead of EXPUNGE."""
    a, b = raw(), raw()
    name = fill(a, 3)
    b.cmd("ENABLE QRESYNC")
    b.cmd(f"SELECT {name}")
    a.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.cmd("EXPUNGE")
    assert b.cmd("NOOP").untagged == ["* VANISHED 2"]


def test_expunge_raises_highestmodseq(raw: Callable[..., RawImap]) -> None:
    """RFC 7162 §3.2.10 (and §3.1.2): an expunge is a change a resynchronising client
    must find, so HIGHESTMODSEQ moves past it."""
    c = raw()
    name = fill(c, 2)
    c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    before = highest(c, name)
    c.cmd("EXPUNGE")
    after = highest(c, name)
    assert after > before
    c.cmd("UNSELECT")
    c.cmd("ENABLE QRESYNC")
    validity = int(c.cmd(f"STATUS {name} (UIDVALIDITY)").untagged[0].split()[-1].rstrip(")"))
    r = c.cmd(f"SELECT {name} (QRESYNC ({validity} {before}))")
    assert "* VANISHED (EARLIER) 1" in r.untagged
    r = c.cmd("UNSELECT")
    r = c.cmd(f"SELECT {name} (QRESYNC ({validity} {after}))")
    assert not [x for x in r.untagged if "VANISHED" in x]
