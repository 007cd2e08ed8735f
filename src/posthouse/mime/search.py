"""Evaluating an IMAP SEARCH program (RFC 9051 §6.4.4) against messages.

    need = needs(program)                  # METADATA, HEADER or FULL
    matcher = Matcher(program, SearchContext(max_seq=..., max_uid=..., ...))
    matcher.decide(view)                   # True/False from metadata alone, or None
    matcher.matches(view, raw)             # raw: None, the header block, or the message

The server reads message bytes only when `needs` says so, and only the header block
for Need.HEADER.  A program is compiled once into closures; string arguments are
case-folded once, and each message's text is decoded once, on first use.
"""

from __future__ import annotations

import bisect
import datetime
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from posthouse.mime.textsearch import MessageText, fold
from posthouse.proto.imap.search import Criterion, Not, Or, SearchKey
from posthouse.proto.imap.seqset import SequenceSet


class Need(enum.IntEnum):
    """What of a message a program reads, in increasing cost."""

    METADATA = 0  # numbers, flags, dates, size: no message bytes
    HEADER = 1  # the header block
    FULL = 2  # the whole message


class MessageView(Protocol):
    """What the server knows of a message without reading it."""

    @property
    def seq(self) -> int: ...
    @property
    def uid(self) -> int: ...
    @property
    def modseq(self) -> int: ...
    @property
    def flags(self) -> frozenset[str]: ...  # system flags spelled "\\Seen"
    @property
    def internal_date(self) -> datetime.datetime: ...  # aware
    @property
    def size(self) -> int: ...  # RFC822.SIZE, octets


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """A plain MessageView."""

    seq: int
    uid: int
    modseq: int
    flags: frozenset[str]
    internal_date: datetime.datetime
    size: int


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True, slots=True)
class SearchContext:
    """The mailbox state a program is evaluated in."""

    max_seq: int  # "*" in a sequence set (RFC 9051 §9)
    max_uid: int  # "*" in a UID set: the UID of the last message
    saved: frozenset[int] = frozenset()  # RFC 5182 §2.1: "$", held as UIDs
    recent: frozenset[int] = frozenset()  # UIDs with \Recent (RFC 3501 §2.3.2)
    now: datetime.datetime = field(default_factory=_utcnow)  # RFC 5032 OLDER/YOUNGER


# Keys that read the header block; BODY and TEXT read the whole message.
_HEADER_KEYS = frozenset(
    {"BCC", "CC", "FROM", "HEADER", "SUBJECT", "TO", "SENTBEFORE", "SENTON", "SENTSINCE"}
)
_FULL_KEYS = frozenset({"BODY", "TEXT"})


def _leaf_need(name: str) -> Need:
    if name in _FULL_KEYS:
        return Need.FULL
    if name in _HEADER_KEYS:
        return Need.HEADER
    return Need.METADATA


def needs(program: SearchKey) -> Need:
    """The most a program reads of any message."""
    if isinstance(program, Criterion):
        return _leaf_need(program.name)
    if isinstance(program, Not):
        return needs(program.key)
    if isinstance(program, Or):
        return max(needs(program.left), needs(program.right))
    return max((needs(key) for key in program.keys), default=Need.METADATA)


Test = Callable[[MessageView, MessageText], bool]
Verdict = Callable[[MessageView], "bool | None"]

_EMPTY = MessageText(b"")


class Matcher:
    """A compiled program: `matches` decides one message, `decide` says what the
    metadata alone settle."""

    def __init__(self, program: SearchKey, context: SearchContext) -> None:
        self.program = program
        self.context = context
        self.need = needs(program)
        self._test = self._compile(program)
        self._verdict = self._compile_verdict(program)

    def matches(self, view: MessageView, raw: bytes | None = None) -> bool:
        """Whether the message matches.  `raw` is needed when `need` is above
        METADATA: the header block (or the whole message) for HEADER, the whole
        message for FULL."""
        if self.need is Need.METADATA:
            return self._test(view, _EMPTY)
        if raw is None:
            raise ValueError(f"this search needs the message's bytes ({self.need.name})")
        return self._test(view, MessageText(raw))

    def decide(self, view: MessageView) -> bool | None:
        """True or False when the metadata settle the match; None when the message's
        bytes must be read (then call `matches`)."""
        return self._verdict(view)

    # -- compiling -----------------------------------------------------------------

    def _compile(self, key: SearchKey) -> Test:
        if isinstance(key, Criterion):
            return self._leaf(key)
        if isinstance(key, Not):
            inner = self._compile(key.key)
            return lambda v, t: not inner(v, t)
        if isinstance(key, Or):
            # cheaper side first; the answer is the same either way
            left, right = sorted((key.left, key.right), key=needs)
            a, b = self._compile(left), self._compile(right)
            return lambda v, t: a(v, t) or b(v, t)
        tests = [self._compile(k) for k in sorted(key.keys, key=needs)]
        if len(tests) == 1:
            return tests[0]

        def every(v: MessageView, t: MessageText) -> bool:
            return all(test(v, t) for test in tests)

        return every

    def _compile_verdict(self, key: SearchKey) -> Verdict:
        """The same program in three-valued logic, content keys being unknown."""
        if isinstance(key, Criterion):
            if _leaf_need(key.name) is not Need.METADATA:
                return lambda v: None
            test = self._leaf(key)
            return lambda v: test(v, _EMPTY)
        if isinstance(key, Not):
            inner = self._compile_verdict(key.key)

            def negated(v: MessageView) -> bool | None:
                answer = inner(v)
                return None if answer is None else not answer

            return negated
        keys = (key.left, key.right) if isinstance(key, Or) else key.keys
        parts = [self._compile_verdict(k) for k in keys]
        # OR: any True decides; AND: any False decides.
        decisive = isinstance(key, Or)

        def combined(v: MessageView) -> bool | None:
            unknown = False
            for part in parts:
                answer = part(v)
                if answer is None:
                    unknown = True
                elif answer is decisive:
                    return decisive
            return None if unknown else not decisive

        return combined

    def _leaf(self, key: Criterion) -> Test:
        build = _LEAVES.get(key.name)
        if build is None:
            raise ValueError(f"unknown search key {key.name}")
        return build(self.context, key.args)


# -- the criteria: each builds a test from the context and the key's arguments ------

Args = tuple[object, ...]
Build = Callable[[SearchContext, Args], Test]


def _all(c: SearchContext, args: Args) -> Test:
    return lambda v, t: True


def _saved(c: SearchContext) -> Test:
    # RFC 5182 §2.1: "$" is the saved result, kept as UIDs whichever way it is used
    saved = c.saved
    return lambda v, t: v.uid in saved


def _sequence(c: SearchContext, args: Args) -> Test:
    seqset = _seqset(args[0])
    if seqset.saved:
        return _saved(c)
    return _in_intervals(seqset, c.max_seq, lambda v: v.seq)


def _uid(c: SearchContext, args: Args) -> Test:
    seqset = _seqset(args[0])
    if seqset.saved:
        return _saved(c)
    return _in_intervals(seqset, c.max_uid, lambda v: v.uid)


def _keyword(c: SearchContext, args: Args) -> Test:
    # flag names compare case-insensitively (RFC 9051 §2.3.2)
    wanted = str(args[0]).casefold()
    return lambda v, t: any(f.casefold() == wanted for f in v.flags)


def _unkeyword(c: SearchContext, args: Args) -> Test:
    has = _keyword(c, args)
    return lambda v, t: not has(v, t)


def _recent(c: SearchContext, args: Args) -> Test:
    recent = c.recent
    return lambda v, t: v.uid in recent


def _new(c: SearchContext, args: Args) -> Test:
    # RFC 3501 §6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT
    recent = c.recent
    return lambda v, t: v.uid in recent and "\\Seen" not in v.flags


def _old(c: SearchContext, args: Args) -> Test:
    recent = c.recent
    return lambda v, t: v.uid not in recent


def _larger(c: SearchContext, args: Args) -> Test:
    n = _int(args[0])
    return lambda v, t: v.size > n


def _smaller(c: SearchContext, args: Args) -> Test:
    n = _int(args[0])
    return lambda v, t: v.size < n


def _modseq(c: SearchContext, args: Args) -> Test:
    # RFC 7162 §3.1.5: mod-sequence equal or greater.  The entry name and type pick a
    # per-flag modseq; a message has one here, which is what each entry then reads.
    n = _int(args[-1])
    return lambda v, t: v.modseq >= n


def _older(c: SearchContext, args: Args) -> Test:
    # RFC 5032 §3: internal date at least `n` seconds before now
    cutoff = c.now - datetime.timedelta(seconds=_int(args[0]))
    return lambda v, t: v.internal_date <= cutoff


def _younger(c: SearchContext, args: Args) -> Test:
    # RFC 5032 §3: internal date at most `n` seconds before now
    cutoff = c.now - datetime.timedelta(seconds=_int(args[0]))
    return lambda v, t: v.internal_date >= cutoff


def _header(c: SearchContext, args: Args) -> Test:
    # RFC 9051 §6.4.4: an empty string matches every message that has the field;
    # "" is a substring of any value, so that needs no case of its own
    name, needle = str(args[0]), fold(str(args[1]))
    return lambda v, t: any(needle in value for value in t.field(name))


def _subject(c: SearchContext, args: Args) -> Test:
    return _header(c, ("subject", args[0]))


def _body(c: SearchContext, args: Args) -> Test:
    needle = fold(str(args[0]))
    return lambda v, t: needle in t.body()


def _text(c: SearchContext, args: Args) -> Test:
    needle = fold(str(args[0]))
    return lambda v, t: needle in t.text()


def _seqset(arg: object) -> SequenceSet:
    if not isinstance(arg, SequenceSet):
        raise ValueError("a sequence set argument was expected")
    return arg


def _int(arg: object) -> int:
    if not isinstance(arg, int):
        raise ValueError("a number argument was expected")
    return arg


def _date(arg: object) -> datetime.date:
    if not isinstance(arg, datetime.date):
        raise ValueError("a date argument was expected")
    return arg


def _in_intervals(seqset: SequenceSet, largest: int, number: Callable[[MessageView], int]) -> Test:
    """Membership in a sequence set, with "*" resolved once (RFC 9051 §9)."""
    spans = seqset.intervals(largest)
    lows = [lo for lo, _ in spans]

    def contains(v: MessageView, t: MessageText) -> bool:
        n = number(v)
        i = bisect.bisect_right(lows, n) - 1
        return i >= 0 and n <= spans[i][1]

    return contains


def _flag(flag: str, present: bool) -> Build:
    if present:
        return lambda c, args: lambda v, t: flag in v.flags
    return lambda c, args: lambda v, t: flag not in v.flags


# RFC 9051 §6.4.4: BEFORE/ON/SINCE compare the internal date, SENT* the Date field,
# "disregarding time and timezone": each date in its own zone.
_DateTest = Callable[[datetime.date, datetime.date], bool]
_DATE_TESTS: dict[str, _DateTest] = {
    "BEFORE": lambda day, d: day < d,
    "ON": lambda day, d: day == d,
    "SINCE": lambda day, d: day >= d,
}


def _internal(compare: _DateTest) -> Build:
    def build(c: SearchContext, args: Args) -> Test:
        d = _date(args[0])
        return lambda v, t: compare(v.internal_date.date(), d)

    return build


def _sent(compare: _DateTest) -> Build:
    def build(c: SearchContext, args: Args) -> Test:
        d = _date(args[0])

        def test(v: MessageView, t: MessageText) -> bool:
            # no readable Date field: the internal date stands in, as in Dovecot
            day = t.sent_date() or v.internal_date.date()
            return compare(day, d)

        return test

    return build


def _addresses(name: str) -> Build:
    def build(c: SearchContext, args: Args) -> Test:
        needle = fold(str(args[0]))
        return lambda v, t: any(needle in value for value in t.addresses(name))

    return build


# Each key of proto.imap.search.CRITERIA, plus SEQUENCE (a bare set) and MODSEQ.
_LEAVES: dict[str, Build] = {
    "ALL": _all,
    "SEQUENCE": _sequence,
    "UID": _uid,
    "ANSWERED": _flag("\\Answered", True),
    "DELETED": _flag("\\Deleted", True),
    "DRAFT": _flag("\\Draft", True),
    "FLAGGED": _flag("\\Flagged", True),
    "SEEN": _flag("\\Seen", True),
    "UNANSWERED": _flag("\\Answered", False),
    "UNDELETED": _flag("\\Deleted", False),
    "UNDRAFT": _flag("\\Draft", False),
    "UNFLAGGED": _flag("\\Flagged", False),
    "UNSEEN": _flag("\\Seen", False),
    "KEYWORD": _keyword,
    "UNKEYWORD": _unkeyword,
    "RECENT": _recent,
    "NEW": _new,
    "OLD": _old,
    "BEFORE": _internal(_DATE_TESTS["BEFORE"]),
    "ON": _internal(_DATE_TESTS["ON"]),
    "SINCE": _internal(_DATE_TESTS["SINCE"]),
    "SENTBEFORE": _sent(_DATE_TESTS["BEFORE"]),
    "SENTON": _sent(_DATE_TESTS["ON"]),
    "SENTSINCE": _sent(_DATE_TESTS["SINCE"]),
    "LARGER": _larger,
    "SMALLER": _smaller,
    "MODSEQ": _modseq,
    "OLDER": _older,
    "YOUNGER": _younger,
    "FROM": _addresses("from"),
    "TO": _addresses("to"),
    "CC": _addresses("cc"),
    "BCC": _addresses("bcc"),
    "SUBJECT": _subject,
    "HEADER": _header,
    "BODY": _body,
    "TEXT": _text,
}
