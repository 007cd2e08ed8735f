"""SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4), ESEARCH (RFC 4731), SEARCHRES (RFC 5182)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.imap.conftest import unique
from tests.integration.imap.rawimap import RawImap, message


@pytest.fixture
def box(raw: Callable[..., RawImap]) -> RawImap:
    """Five messages: subjects m1..m5, m2 \\Seen, m3 \\Flagged, m4 from bob, big m5."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    c.append(name, message("m1 apple", "first"), flags="\\Seen")
    c.append(name, message("m2 banana", "second"), flags="\\Seen")
    c.append(name, message("m3 cherry", "third"), flags="\\Flagged $Work")
    c.append(
        name,
        b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nCc: carol@example.test\r\n"
        b"Subject: m4 date\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\nfourth\r\n",
    )
    c.append(name, message("m5 big", "x" * 5000))
    c.cmd(f'SELECT "{name}"')
    return c


def search(c: RawImap, criteria: str) -> str:
    r = c.cmd(f"SEARCH {criteria}")
    assert r.status == "OK", r
    (line,) = r.starting("* SEARCH")
    return line


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("ALL", "* SEARCH 1 2 3 4 5"),
        ("SEEN", "* SEARCH 1 2"),
        ("UNSEEN", "* SEARCH 3 4 5"),
        ("FLAGGED", "* SEARCH 3"),
        ("KEYWORD $Work", "* SEARCH 3"),
        ("UNKEYWORD $Work", "* SEARCH 1 2 4 5"),
        ('SUBJECT "cherry"', "* SEARCH 3"),
        ("SUBJECT CHERRY", "* SEARCH 3"),  # RFC 9051 §6.4.4: case-insensitive substring
        ('FROM "bob@example"', "* SEARCH 4"),
        ("CC carol", "* SEARCH 4"),
        ("BODY fourth", "* SEARCH 4"),
        ("TEXT banana", "* SEARCH 2"),
        ("HEADER Subject m5", "* SEARCH 5"),
        ("LARGER 4000", "* SEARCH 5"),
        ("SMALLER 4000", "* SEARCH 1 2 3 4"),
        ("SENTBEFORE 3-Jan-2024", "* SEARCH 4"),
        ("SENTON 2-Jan-2024", "* SEARCH 4"),
        ("OR SEEN FLAGGED", "* SEARCH 1 2 3"),
        ("NOT SEEN", "* SEARCH 3 4 5"),
        ("(SEEN SUBJECT banana)", "* SEARCH 2"),
        ("2:4", "* SEARCH 2 3 4"),
        ("UID 1,5", "* SEARCH 1 5"),
        ("*", "* SEARCH 5"),
        ('SUBJECT "nothing-like-this"', "* SEARCH"),
        ("CHARSET UTF-8 SUBJECT apple", "* SEARCH 1"),
        ("SINCE 1-Jan-2000", "* SEARCH 1 2 3 4 5"),
        ("BEFORE 1-Jan-2000", "* SEARCH"),
    ],
)
def test_criteria(box: RawImap, criteria: str, expected: str) -> None:
    assert search(box, criteria) == expected


def test_uid_search_returns_uids(box: RawImap) -> None:
    box.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    box.cmd("EXPUNGE")
    r = box.cmd("UID SEARCH FLAGGED")
    assert r.starting("* SEARCH") == ["* SEARCH 3"]
    assert search(box, "FLAGGED") == "* SEARCH 2"


def test_esearch(box: RawImap) -> None:
    """RFC 4731 §3.1: RETURN (MIN MAX COUNT ALL) gives one ESEARCH response."""
    r = box.cmd("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
    tag = f"a{box.next_tag}"
    assert r.untagged == [f'* ESEARCH (TAG "{tag}") MIN 3 MAX 5 COUNT 3 ALL 3:5']
    r = box.cmd("UID SEARCH RETURN (COUNT) SEEN")
    tag = f"a{box.next_tag}"
    assert r.untagged == [f'* ESEARCH (TAG "{tag}") UID COUNT 2']


def test_esearch_empty_result(box: RawImap) -> None:
    """RFC 4731 §3.1: MIN/MAX/ALL are left out when nothing matched."""
    r = box.cmd("SEARCH RETURN (MIN ALL) SUBJECT none-such")
    tag = f"a{box.next_tag}"
    assert r.untagged == [f'* ESEARCH (TAG "{tag}")']


def test_searchres(box: RawImap) -> None:
    """RFC 5182 §2: SAVE keeps the result for "$" in later commands."""
    r = box.cmd("SEARCH RETURN (SAVE) FLAGGED")
    assert r.untagged == []
    r = box.cmd("FETCH $ (UID)")
    assert r.untagged == ["* 3 FETCH (UID 3)"]
    assert search(box, "$") == "* SEARCH 3"


def test_searchres_with_min_max(box: RawImap) -> None:
    """RFC 5182 §2.1: SAVE with MIN and/or MAX (and neither ALL nor COUNT) saves only
    the minimum and/or maximum."""
    r = box.cmd("SEARCH RETURN (MIN SAVE) UNSEEN")
    assert r.untagged == [f'* ESEARCH (TAG "a{box.next_tag}") MIN 3']
    assert box.cmd("FETCH $ (UID)").untagged == ["* 3 FETCH (UID 3)"]
    box.cmd("SEARCH RETURN (MIN MAX SAVE) ALL")
    assert box.cmd("FETCH $ (UID)").untagged == ["* 1 FETCH (UID 1)", "* 5 FETCH (UID 5)"]
    box.cmd("SEARCH RETURN (MAX COUNT SAVE) ALL")
    assert len(box.cmd("FETCH $ (UID)").untagged) == 5


def test_searchres_empty_and_expunged(box: RawImap) -> None:
    """RFC 5182 §2.1: "$" after a search that found nothing is an empty set (not an
    error); expunged messages drop out of it."""
    box.cmd("SEARCH RETURN (SAVE) SUBJECT none-such")
    r = box.cmd("FETCH $ (UID)")
    assert (r.status, r.untagged) == ("OK", [])
    box.cmd("SEARCH RETURN (SAVE) 1:2")
    box.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
    box.cmd("EXPUNGE")
    assert box.cmd("FETCH $ (UID)").untagged == ["* 1 FETCH (UID 2)"]


def test_search_imap4rev2_answers_esearch(box: RawImap) -> None:
    """RFC 9051 §6.4.4: an IMAP4rev2 client always gets ESEARCH."""
    box.cmd("ENABLE IMAP4rev2")
    r = box.cmd("SEARCH FLAGGED")
    tag = f"a{box.next_tag}"
    assert r.untagged == [f'* ESEARCH (TAG "{tag}") ALL 3']


def test_unknown_charset(box: RawImap) -> None:
    """RFC 9051 §6.4.4: NO [BADCHARSET (...)] for an unsupported charset."""
    r = box.cmd("SEARCH CHARSET X-UNKNOWN SUBJECT a")
    assert r.status == "NO"
    assert r.code is not None and r.code.startswith("BADCHARSET")


def test_search_bad_arguments(box: RawImap) -> None:
    for bad in ("SEARCH", "SEARCH BOGUS", "SEARCH SUBJECT", "SEARCH LARGER x", "SEARCH (SEEN"):
        assert box.cmd(bad).status == "BAD", bad
    assert box.cmd("SEARCH SINCE 31-Feb-2024").status == "BAD"
    assert box.cmd("NOOP").status == "OK"


def test_search_not_selected(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("SEARCH ALL").status == "BAD"


def test_utf8_search_matches_raw_and_encoded_words(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.4.4: CHARSET UTF-8 strings match headers after RFC 2047 decoding,
    and raw UTF-8 headers (RFC 6532) alike."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    raw8 = "From: Jürgen <j@b.test>\r\nSubject: grüße\r\n\r\nx\r\n".encode()
    encoded = (
        b"Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nFrom: =?iso-8859-1?q?J=FCrgen?= <j@b.test>"
        b"\r\n\r\nx\r\n"
    )
    plain = b"Subject: gruesse\r\n\r\nx\r\n"
    for m in (raw8, encoded, plain):
        c.cmd(f"APPEND {name} {{{len(m)}+}}\r\n".encode() + m)
    c.cmd(f"SELECT {name}")
    word = "grüße".encode()
    r = c.cmd(b"SEARCH CHARSET UTF-8 SUBJECT {%d+}\r\n%s" % (len(word), word))
    assert r.untagged == ["* SEARCH 1 2"]
    who = "JÜRGEN".encode()
    r = c.cmd(b"SEARCH CHARSET UTF-8 FROM {%d+}\r\n%s" % (len(who), who))
    assert r.untagged == ["* SEARCH 1 2"]
