"""SEARCH criteria one by one (RFC 9051 §6.4.4, RFC 3501 §6.4.4), their combinations,
"*" and "$", Need classification and metadata-only verdicts, over a tiny mailbox."""

from __future__ import annotations

import datetime

import pytest

from posthouse.mime.search import Matcher, MessageMeta, Need, SearchContext, needs
from posthouse.proto.imap.grammar import Reader
from posthouse.proto.imap.search import SearchKey, SearchParser

UTC = datetime.UTC


def tz(hours: int) -> datetime.timezone:
    return datetime.timezone(datetime.timedelta(hours=hours))


def program(text: str) -> SearchKey:
    """A search program as the IMAP codec parses it (UTF-8 strings)."""
    reader = Reader(text.encode(), [], utf8=True)
    parsed = SearchParser(reader, "UTF-8").program()
    assert reader.at_end(), text
    return parsed


def message(
    seq: int,
    uid: int,
    raw: bytes,
    *,
    flags: frozenset[str] = frozenset(),
    date: datetime.datetime,
    size: int,
    modseq: int,
) -> tuple[MessageMeta, bytes]:
    return MessageMeta(seq, uid, modseq, flags, date, size), raw.replace(b"\n", b"\r\n")


def search(text: str, mailbox: list[tuple[MessageMeta, bytes]], context: SearchContext) -> set[int]:
    """UIDs of the messages `text` matches, each checked against the metadata-only
    verdict too."""
    matcher = Matcher(program(text), context)
    found = set()
    for view, raw in mailbox:
        hit = matcher.matches(view, raw)
        verdict = matcher.decide(view)
        assert verdict is None or verdict == hit, (text, view.uid)
        if hit:
            found.add(view.uid)
    return found


M1 = message(
    1,
    3,
    b"From: Alice Example <alice@example.org>\n"
    b"To: bob@example.com\n"
    b"Subject: Lunch plans\n"
    b"Date: Mon, 3 Feb 2025 23:30:00 -0800\n"
    b"Message-ID: <m1@example.org>\n"
    b"\n"
    b"Let's meet at noon.\n",
    flags=frozenset({"\\Seen", "$Important"}),
    date=datetime.datetime(2025, 2, 4, 8, 0, tzinfo=UTC),
    size=1000,
    modseq=10,
)
M2 = message(
    2,
    5,
    b'From: "Bob, Jr." <bob@example.com>\n'
    b"To: alice@example.org\n"
    b"Cc: Carol <carol@example.net>\n"
    b"Bcc: dave@example.com\n"
    b"Subject: Re: Lunch plans\n"
    b"X-Mailer: TestMailer 1.0\n"
    b"\n"
    b"Noon works. See you at the caf\xc3\xa9.\n",
    flags=frozenset({"\\Answered", "\\Flagged"}),
    # 23:30 at -05:00 is already the 6th in UTC: ON 5-Feb-2025 must still match
    date=datetime.datetime(2025, 2, 5, 23, 30, tzinfo=tz(-5)),
    size=2000,
    modseq=20,
)
M3 = message(
    3,
    8,
    b"From: =?UTF-8?B?SsO2cmc=?= <joerg@example.de>\n"
    b"To: alice@example.org\n"
    b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Berlin\n"
    b"Date: Sat, 1 Mar 2025 10:00:00 +0100\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="xyz"\n'
    b"\n"
    b"preamble mentions zebra\n"
    b"--xyz\n"
    b"Content-Type: text/plain; charset=iso-8859-1\n"
    b"Content-Transfer-Encoding: quoted-printable\n"
    b"\n"
    b"Sch=F6ne Gr=FC=DFe\n"
    b"--xyz\n"
    b'Content-Type: application/pdf; name="report.pdf"\n'
    b"Content-Transfer-Encoding: base64\n"
    b"\n"
    b"JVBERi0xLjQgc2VjcmV0LXBkZi13b3Jk\n"
    b"--xyz--\n"
    b"epilogue mentions yak\n",
    flags=frozenset({"\\Deleted", "\\Draft", "$label1"}),
    date=datetime.datetime(2025, 3, 1, 12, 0, tzinfo=tz(1)),
    size=50000,
    modseq=30,
)
M4 = message(
    4,
    9,
    b"Subject: no sender\n\nplain\n",
    flags=frozenset({"\\Seen"}),
    date=datetime.datetime(2025, 3, 2, 0, 0, tzinfo=UTC),
    size=500,
    modseq=40,
)
MAILBOX = [M1, M2, M3, M4]
CONTEXT = SearchContext(
    max_seq=4,
    max_uid=9,
    saved=frozenset({3, 8}),
    recent=frozenset({8, 9}),
    now=datetime.datetime(2025, 3, 2, 12, 0, tzinfo=UTC),
)


def uids(text: str) -> set[int]:
    return search(text, MAILBOX, CONTEXT)


# One focused test per criterion: (program, UIDs it matches).
CASES = [
    ("ALL", {3, 5, 8, 9}),
    ("ANSWERED", {5}),
    ("UNANSWERED", {3, 8, 9}),
    ("DELETED", {8}),
    ("UNDELETED", {3, 5, 9}),
    ("DRAFT", {8}),
    ("UNDRAFT", {3, 5, 9}),
    ("FLAGGED", {5}),
    ("UNFLAGGED", {3, 8, 9}),
    ("SEEN", {3, 9}),
    ("UNSEEN", {5, 8}),
    ("KEYWORD $important", {3}),
    ("KEYWORD $LABEL1", {8}),
    ("KEYWORD $absent", set()),
    ("UNKEYWORD $Important", {5, 8, 9}),
    ("RECENT", {8, 9}),
    ("NEW", {8}),
    ("OLD", {3, 5}),
    ("BEFORE 5-Feb-2025", {3}),
    ("ON 5-Feb-2025", {5}),
    ("ON 6-Feb-2025", set()),
    ("SINCE 1-Mar-2025", {8, 9}),
    ("SENTBEFORE 4-Feb-2025", {3}),
    ("SENTON 3-Feb-2025", {3}),
    ("SENTON 5-Feb-2025", {5}),  # no Date field: the internal date stands in
    ("SENTSINCE 1-Mar-2025", {8, 9}),
    ("LARGER 1000", {5, 8}),
    ("SMALLER 1000", {9}),
    ("MODSEQ 20", {5, 8, 9}),
    ('MODSEQ "/flags/\\\\seen" all 30', {8, 9}),
    ("OLDER 86400", {3, 5, 8}),
    ("YOUNGER 86400", {9}),
    ("FROM alice", {3}),
    ('FROM "bob@example"', {5}),
    ('FROM "bob, jr. <bob@example.com>"', {5}),
    ('FROM "jörg"', {8}),
    ('FROM "JÖRG"', {8}),
    ('FROM ""', {3, 5, 8}),
    ("TO alice", {5, 8}),
    ("CC carol", {5}),
    ("BCC dave", {5}),
    ("SUBJECT lunch", {3, 5}),
    ('SUBJECT "grüße"', {8}),
    ('SUBJECT "GRÜSSE"', {8}),
    ('SUBJECT "aus berlin"', {8}),
    ('HEADER x-mailer ""', {5}),
    ("HEADER X-MAILER testmailer", {5}),
    ("HEADER message-id m1@", {3}),
    ('HEADER x-absent ""', set()),
    ("BODY noon", {3, 5}),
    ('BODY "CAFÉ"', {5}),
    ('BODY "schöne"', {8}),
    ("BODY secret-pdf-word", set()),
    ("BODY zebra", set()),
    ("BODY yak", set()),
    ("BODY lunch", set()),
    ('BODY ""', {3, 5, 8, 9}),
    ("TEXT lunch", {3, 5}),
    ("TEXT noon", {3, 5}),
    ("TEXT report.pdf", {8}),
    ("BODY report.pdf", set()),
    ("UID 5:8", {5, 8}),
    ("UID 8:5", {5, 8}),
    ("UID 4,9", {9}),
    ("UID *", {9}),
    ("UID 100:*", {9}),  # RFC 9051 §6.4.8: n:* always holds the last UID
    ("UID $", {3, 8}),
    ("2:3", {5, 8}),
    ("*", {9}),
    ("3:*", {8, 9}),
    ("1,4", {3, 9}),
    ("$", {3, 8}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_criterion(text: str, expected: set[int]) -> None:
    assert uids(text) == expected


COMBINATIONS = [
    ("SEEN FROM alice", {3}),
    ("SEEN SUBJECT lunch UNFLAGGED", {3}),
    ("OR SEEN FLAGGED", {3, 5, 9}),
    ("NOT SEEN", {5, 8}),
    ("NOT NOT SEEN", {3, 9}),
    ("OR (SEEN SMALLER 800) DELETED", {8, 9}),
    ("NOT (OR SEEN DELETED)", {5}),
    ('OR SUBJECT lunch BODY "schöne"', {3, 5, 8}),
    ("OR OR ANSWERED DRAFT UID 9", {5, 8, 9}),
    ("NOT BODY noon", {8, 9}),
    ('(TO alice) (NOT FROM "jörg")', {5}),
    ("UID $ NOT SEEN", {8}),
    ("NOT $", {5, 9}),
    ("1:* NOT *", {3, 5, 8}),
    ("SINCE 1-Feb-2025 BEFORE 1-Mar-2025", {3, 5}),
]


@pytest.mark.parametrize(("text", "expected"), COMBINATIONS, ids=[c[0] for c in COMBINATIONS])
def test_combination(text: str, expected: set[int]) -> None:
    assert uids(text) == expected


def test_star_is_the_largest_number_in_context() -> None:
    # with a bigger mailbox in view, "*" is another message
    context = SearchContext(max_seq=7, max_uid=20)
    assert search("*", MAILBOX, context) == set()
    assert search("UID 9:*", MAILBOX, context) == {9}
    assert search("4:*", MAILBOX, context) == {9}


def test_no_saved_result_matches_nothing() -> None:
    context = SearchContext(max_seq=4, max_uid=9)
    assert search("$", MAILBOX, context) == set()
    assert search("UID $", MAILBOX, context) == set()
    assert search("NOT $", MAILBOX, context) == {3, 5, 8, 9}


def test_empty_mailbox_star() -> None:
    context = SearchContext(max_seq=0, max_uid=0)
    assert search("UID 1:*", [], context) == set()


def test_header_block_alone_is_enough_for_header_keys() -> None:
    matcher = Matcher(program('OR FROM alice (SUBJECT "grüße" SENTON 1-Mar-2025)'), CONTEXT)
    assert matcher.need is Need.HEADER
    for view, raw in MAILBOX:
        header = raw[: raw.index(b"\r\n\r\n") + 2]
        assert matcher.matches(view, header) == matcher.matches(view, raw)


NEEDS = [
    ("ALL", Need.METADATA),
    ("SEEN UID 1:* 2:4 $ LARGER 5 MODSEQ 3", Need.METADATA),
    ("OLDER 5 YOUNGER 6 BEFORE 1-Jan-2020 KEYWORD x NEW", Need.METADATA),
    ("FROM x", Need.HEADER),
    ("NOT SENTON 1-Jan-2020", Need.HEADER),
    ('HEADER x-spam ""', Need.HEADER),
    ("OR SEEN (CC x BCC y)", Need.HEADER),
    ("OR SEEN BODY x", Need.FULL),
    ("NOT TEXT x", Need.FULL),
    ("SUBJECT a (NOT (BODY b))", Need.FULL),
]


@pytest.mark.parametrize(("text", "need"), NEEDS, ids=[n[0] for n in NEEDS])
def test_needs(text: str, need: Need) -> None:
    assert needs(program(text)) is need
    assert Matcher(program(text), CONTEXT).need is need


def test_metadata_program_needs_no_bytes() -> None:
    view, _ = M1
    assert Matcher(program("SEEN"), CONTEXT).matches(view, None)


def test_content_program_without_bytes_is_a_caller_error() -> None:
    view, _ = M1
    with pytest.raises(ValueError):
        Matcher(program("SUBJECT lunch"), CONTEXT).matches(view)


DECISIONS = [
    # (program, view, verdict)
    ("SEEN BODY x", M2[0], False),  # unseen: the body cannot change the answer
    ("SEEN BODY x", M1[0], None),
    ("OR SEEN BODY x", M1[0], True),
    ("OR SEEN BODY x", M2[0], None),
    ("NOT BODY x", M1[0], None),
    ("NOT (SEEN BODY x)", M2[0], True),
    ("UID 1:4 SUBJECT x", M2[0], False),
    ("FLAGGED ANSWERED", M2[0], True),
]


@pytest.mark.parametrize(("text", "view", "verdict"), DECISIONS, ids=[d[0] for d in DECISIONS])
def test_decide_from_metadata(text: str, view: MessageMeta, verdict: bool | None) -> None:
    assert Matcher(program(text), CONTEXT).decide(view) is verdict


def test_unknown_key_is_rejected_at_compile_time() -> None:
    from posthouse.proto.imap.search import Criterion

    with pytest.raises(ValueError):
        Matcher(Criterion("FUZZY", ("x",)), CONTEXT)


def test_now_defaults_to_the_present() -> None:
    context = SearchContext(max_seq=1, max_uid=1)
    assert context.now.tzinfo is not None
    view = MessageMeta(1, 1, 1, frozenset(), context.now - datetime.timedelta(seconds=10), 1)
    assert Matcher(program("YOUNGER 3600"), context).matches(view)
    assert not Matcher(program("OLDER 3600"), context).matches(view)


def test_every_key_of_the_codec_table_compiles() -> None:
    from posthouse.proto.imap.search import CRITERIA, Arg, Criterion
    from posthouse.proto.imap.seqset import SequenceSet

    samples = {
        Arg.STRING: "x",
        Arg.DATE: datetime.date(2025, 1, 1),
        Arg.NUMBER: 1,
        Arg.NZ_NUMBER: 1,
        Arg.KEYWORD: "$x",
        Arg.SEQUENCE_SET: SequenceSet.parse("1:*"),
    }
    view, raw = M1
    for name, kinds in CRITERIA.items():
        matcher = Matcher(Criterion(name, tuple(samples[k] for k in kinds)), CONTEXT)
        assert matcher.matches(view, raw) in (True, False)
