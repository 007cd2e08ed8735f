"""SEARCH and UID SEARCH (RFC 9051 §6.4.4): every key, OR/NOT/groups, CHARSET,
ESEARCH RETURN options (RFC 4731), SAVE and "$" (RFC 5182), MODSEQ (RFC 7162)."""

from __future__ import annotations

import datetime

import pytest
from tests.proto.imap.imap_script import bad, one

from posthouse.proto.imap import (
    And,
    CommandParser,
    Criterion,
    Not,
    Or,
    Search,
    SequenceSet,
    Tagged,
)
from posthouse.proto.imap.response import badcharset
from posthouse.proto.imap.search import CRITERIA, Arg


def criteria(line: bytes) -> object:
    event = one(line)
    assert isinstance(event, Search), event
    return event.criteria


def test_every_key_without_arguments() -> None:
    for name, spec in CRITERIA.items():
        if not spec:
            assert criteria(b"a SEARCH " + name.lower().encode() + b"\r\n") == Criterion(name)


_SAMPLE = {
    Arg.STRING: (b'"x y"', "x y"),
    Arg.DATE: (b"1-Feb-2024", datetime.date(2024, 2, 1)),
    Arg.NUMBER: (b"1000", 1000),
    Arg.NZ_NUMBER: (b"60", 60),
    Arg.KEYWORD: (b"$Junk", "$Junk"),
    Arg.SEQUENCE_SET: (b"1:*", SequenceSet.parse("1:*")),
}


def test_every_key_with_arguments() -> None:
    for name, spec in CRITERIA.items():
        if spec:
            wire = b" ".join(_SAMPLE[kind][0] for kind in spec)
            expected = Criterion(name, tuple(_SAMPLE[kind][1] for kind in spec))
            assert criteria(b"a SEARCH " + name.encode() + b" " + wire + b"\r\n") == expected


def test_tree() -> None:
    tree = criteria(
        b'a SEARCH OR (FROM bob SINCE "1-Feb-2024") NOT SUBJECT {3+}\r\nx y UNSEEN 2:4\r\n'
    )
    assert tree == And(
        (
            Or(
                And(
                    (Criterion("FROM", ("bob",)), Criterion("SINCE", (datetime.date(2024, 2, 1),)))
                ),
                Not(Criterion("SUBJECT", ("x y",))),
            ),
            Criterion("UNSEEN"),
            Criterion("SEQUENCE", (SequenceSet.parse("2:4"),)),
        )
    )


def test_curl_subject_search() -> None:
    assert one(b"A004 SEARCH SUBJECT x\r\n") == Search("A004", Criterion("SUBJECT", ("x",)))


def test_fetchmail_unseen_undeleted() -> None:
    assert criteria(b"a SEARCH UNSEEN UNDELETED\r\n") == And(
        (Criterion("UNSEEN"), Criterion("UNDELETED"))
    )


def test_header_and_charset() -> None:
    event = one(b"a UID SEARCH CHARSET UTF-8 HEADER X-Tag {2+}\r\n\xc3\xa4\r\n")
    assert event == Search("a", Criterion("HEADER", ("X-Tag", "ä")), uid=True, charset="UTF-8")


def test_unknown_charset_is_no_badcharset() -> None:
    event = bad(b"a SEARCH CHARSET KOI8-R TEXT x\r\n")
    assert event.response == Tagged("a", "NO", "Unsupported charset", badcharset())
    assert (
        event.response.to_bytes() == b"a NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n"
    )


def test_esearch_return_options_and_saved_result() -> None:
    event = one(b"a UID SEARCH RETURN (MIN MAX COUNT SAVE) DELETED\r\n")
    assert event == Search("a", Criterion("DELETED"), True, None, ("MIN", "MAX", "COUNT", "SAVE"))
    assert one(b"a SEARCH RETURN () ALL\r\n") == Search("a", Criterion("ALL"), False, None, ())
    assert criteria(b"a SEARCH $ UID $\r\n") == And(
        (
            Criterion("SEQUENCE", (SequenceSet(saved=True),)),
            Criterion("UID", (SequenceSet(saved=True),)),
        )
    )


def test_modseq() -> None:
    assert criteria(b"a SEARCH MODSEQ 620162338\r\n") == Criterion(
        "MODSEQ", (None, None, 620162338)
    )
    assert criteria(b'a SEARCH MODSEQ "/flags/\\\\draft" all 620162338\r\n') == Criterion(
        "MODSEQ", ("/flags/\\draft", "all", 620162338)
    )


@pytest.mark.parametrize(
    "line",
    [
        b"a SEARCH\r\n",
        b"a SEARCH BOGUS\r\n",
        b"a SEARCH FROM\r\n",
        b"a SEARCH OR SEEN\r\n",
        b"a SEARCH (SEEN\r\n",
        b"a SEARCH ()\r\n",
        b"a SEARCH SINCE 31-Feb-2024\r\n",
        b"a SEARCH SINCE 1-Fob-2024\r\n",
        b"a SEARCH LARGER x\r\n",
        b"a SEARCH RETURN (BOGUS) ALL\r\n",
        b"a SEARCH CHARSET US-ASCII TEXT {2+}\r\n\xc3\xa4\r\n",
        b'a SEARCH MODSEQ "/flags/x" bogus 5\r\n',
    ],
)
def test_bad_search(line: bytes) -> None:
    assert bad(line).tag == "a"


def test_deep_nesting_is_refused_and_the_parser_goes_on() -> None:
    parser = CommandParser()
    event = bad(b"a SEARCH " + b"(" * 5000 + b"ALL" + b")" * 5000 + b"\r\n", parser)
    assert event.response == Tagged("a", "BAD", "Too deeply nested")
    assert bad(b"a SEARCH " + b"NOT " * 5000 + b"ALL\r\n", parser).tag == "a"
    assert bad(b"a SEARCH " + b"OR ALL " * 5000 + b"ALL\r\n", parser).tag == "a"
    assert isinstance(one(b"b SEARCH ((ALL))\r\n", parser), Search)
