"""Hypothesis: random SEARCH programs over random messages never raise, NOT is the
complement, metadata-only verdicts agree with full evaluation, and a header block
alone answers header programs as the whole message does."""

from __future__ import annotations

import base64
import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from posthouse.mime.search import Matcher, MessageMeta, Need, SearchContext
from posthouse.mime.textsearch import MessageText
from posthouse.proto.imap.search import CRITERIA, And, Arg, Criterion, Not, Or, SearchKey
from posthouse.proto.imap.seqset import SequenceSet

WORDS = ["", "a", "lunch", "café", "GRÜSSE", "bob@example", "=?", "x y", "ß", "\u0130"]
strings = st.sampled_from(WORDS) | st.text(max_size=6)
bounds = st.none() | st.integers(1, 12)
seqsets = st.just(SequenceSet(saved=True)) | st.lists(
    st.tuples(bounds, bounds), min_size=1, max_size=3
).map(lambda ranges: SequenceSet(tuple(ranges)))
ARGS = {
    Arg.STRING: strings,
    Arg.DATE: st.dates(datetime.date(2024, 12, 1), datetime.date(2025, 4, 1)),
    Arg.NUMBER: st.integers(0, 2**63 - 1) | st.integers(0, 3000),
    Arg.NZ_NUMBER: st.integers(1, 2**32 - 1) | st.integers(1, 200_000),
    Arg.KEYWORD: st.sampled_from(["$Important", "$label1", "$junk", "x"]),
    Arg.SEQUENCE_SET: seqsets,
}
FIELD_NAMES = st.sampled_from(["subject", "From", "x-mailer", "date", "", "bad name", "ü"])


def _criterion(name: str, kinds: tuple[Arg, ...]) -> st.SearchStrategy[Criterion]:
    if name == "HEADER":
        return st.tuples(FIELD_NAMES, strings).map(lambda args: Criterion(name, args))
    return st.tuples(*(ARGS[k] for k in kinds)).map(lambda args: Criterion(name, args))


leaves = st.one_of(
    *(_criterion(name, kinds) for name, kinds in CRITERIA.items()),
    seqsets.map(lambda s: Criterion("SEQUENCE", (s,))),
    st.tuples(
        st.sampled_from([None, "/flags/\\seen"]),
        st.sampled_from([None, "all", "priv"]),
        st.integers(0, 60),
    ).map(lambda args: Criterion("MODSEQ", args)),
)
programs: st.SearchStrategy[SearchKey] = st.recursive(
    leaves,
    lambda inner: st.one_of(
        inner.map(Not),
        st.tuples(inner, inner).map(lambda pair: Or(*pair)),
        st.lists(inner, min_size=1, max_size=4).map(lambda keys: And(tuple(keys))),
    ),
    max_leaves=8,
)

FLAGS = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$Important", "$LABEL1"]
zones = st.integers(-12 * 60, 14 * 60).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
)
views = st.builds(
    MessageMeta,
    seq=st.integers(1, 12),
    uid=st.integers(1, 12),
    modseq=st.integers(1, 60),
    flags=st.frozensets(st.sampled_from(FLAGS)),
    internal_date=st.builds(
        datetime.datetime.combine,
        st.dates(datetime.date(2024, 12, 1), datetime.date(2025, 4, 1)),
        st.times(),
        zones,
    ),
    size=st.integers(0, 3000),
)
contexts = st.builds(
    SearchContext,
    max_seq=st.integers(0, 12),
    max_uid=st.integers(0, 12),
    saved=st.frozensets(st.integers(1, 12)),
    recent=st.frozensets(st.integers(1, 12)),
    now=st.just(datetime.datetime(2025, 3, 2, 12, 0, tzinfo=datetime.UTC)),
)

HEADER_LINES = [
    b"From: Alice <alice@example.org>",
    b'From: "Bob, Jr." <bob@example.com>',
    b"To: =?utf-8?q?J=C3=B6rg?= <j@example.de>",
    b"Cc: =?x-bogus?b?!!?=",
    b"Subject: Lunch plans",
    b"Subject: =?iso-8859-1?q?Gr=FC=DFe?=",
    b"Subject: folded\r\n\tover lines",
    b"Subject: Gr\xfc\xdfe",
    b"Date: Mon, 3 Feb 2025 23:30:00 -0800",
    b"Date: 31 Feb 2025 10:00",
    b"Date: garbage",
    b"X-Mailer: TestMailer",
    b"Content-Type: text/plain; charset=iso-8859-1",
    b"Content-Type: text/html; charset=bogus",
    b'Content-Type: multipart/mixed; boundary="b"',
    b"Content-Type: message/rfc822",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"junk line without colon",
    b" continuation",
]
BODIES = [
    b"Let's meet at noon.",
    b"caf=C3=A9 soft=\r\nbreak",
    base64.b64encode("Schöne Grüße".encode()),
    b"--b\r\nContent-Type: text/plain\r\n\r\ninner lunch\r\n--b--",
    b"Subject: inner\r\n\r\nnested body",
    b"<p>Fish &amp; chips</p>",
    b"\xff\xfe\x00garbage=",
]
raws = st.one_of(
    st.tuples(
        st.lists(st.sampled_from(HEADER_LINES), max_size=6),
        st.lists(st.sampled_from(BODIES), max_size=3),
    ).map(lambda hb: b"\r\n".join(hb[0]) + b"\r\n\r\n" + b"\r\n".join(hb[1])),
    st.binary(max_size=300),
)


@settings(max_examples=300, deadline=None)
@given(program=programs, context=contexts, view=views, raw=raws)
def test_not_is_the_complement_and_nothing_raises(
    program: SearchKey, context: SearchContext, view: MessageMeta, raw: bytes
) -> None:
    hit = Matcher(program, context).matches(view, raw)
    assert Matcher(Not(program), context).matches(view, raw) is (not hit)


@settings(max_examples=300, deadline=None)
@given(program=programs, context=contexts, view=views, raw=raws)
def test_metadata_verdict_agrees(
    program: SearchKey, context: SearchContext, view: MessageMeta, raw: bytes
) -> None:
    matcher = Matcher(program, context)
    verdict = matcher.decide(view)
    if matcher.need is Need.METADATA:
        assert verdict is not None
    if verdict is not None:
        assert verdict is matcher.matches(view, raw)


@settings(max_examples=200, deadline=None)
@given(program=programs, context=contexts, view=views, raw=raws)
def test_header_block_answers_header_programs(
    program: SearchKey, context: SearchContext, view: MessageMeta, raw: bytes
) -> None:
    matcher = Matcher(program, context)
    if matcher.need is Need.FULL:
        return
    end = raw.find(b"\r\n\r\n")
    header = raw if end < 0 else raw[: end + 2]
    assert matcher.matches(view, header) is matcher.matches(view, raw)


@settings(max_examples=200, deadline=None)
@given(left=programs, right=programs, context=contexts, view=views, raw=raws)
def test_or_and_and_are_boolean(
    left: SearchKey, right: SearchKey, context: SearchContext, view: MessageMeta, raw: bytes
) -> None:
    a = Matcher(left, context).matches(view, raw)
    b = Matcher(right, context).matches(view, raw)
    assert Matcher(Or(left, right), context).matches(view, raw) is (a or b)
    assert Matcher(And((left, right)), context).matches(view, raw) is (a and b)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_any_bytes_give_searchable_text(raw: bytes) -> None:
    text = MessageText(raw)
    assert isinstance(text.text(), str)
    assert isinstance(text.body(), str)
    text.addresses("to")
    text.sent_date()
