"""SEARCH criteria (RFC 9051 §6.4.4, RFC 3501 §6.4.4) as a tree, and their parser.

    Criterion("FROM", ("bob",))            a key with typed arguments
    Not(key), Or(left, right)              NOT and OR
    And((key, key, ...))                   a parenthesised group, and the top level

Argument types by key come from one table (`CRITERIA`): strings are decoded with the
command's CHARSET, dates are `datetime.date`, sizes and intervals are `int`, UID and
bare sequence sets are `SequenceSet` (a bare set is Criterion("SEQUENCE", (set,))).
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from posthouse.proto.imap.errors import ParseError
from posthouse.proto.imap.grammar import Reader
from posthouse.proto.imap.seqset import SequenceSet


class Arg(enum.Enum):
    STRING = "astring"  # decoded with the CHARSET
    DATE = "date"
    NUMBER = "number64"
    NZ_NUMBER = "nz-number"
    KEYWORD = "flag-keyword"
    SEQUENCE_SET = "sequence-set"


# RFC 9051 §6.4.4 (with RFC 3501's NEW OLD RECENT UNKEYWORD... for IMAP4rev1 clients),
# RFC 5032 §3 OLDER/YOUNGER.  MODSEQ (RFC 7162 §3.1.5) has its own reader.
CRITERIA: dict[str, tuple[Arg, ...]] = {
    "ALL": (),
    "ANSWERED": (),
    "BCC": (Arg.STRING,),
    "BEFORE": (Arg.DATE,),
    "BODY": (Arg.STRING,),
    "CC": (Arg.STRING,),
    "DELETED": (),
    "DRAFT": (),
    "FLAGGED": (),
    "FROM": (Arg.STRING,),
    "HEADER": (Arg.STRING, Arg.STRING),
    "KEYWORD": (Arg.KEYWORD,),
    "LARGER": (Arg.NUMBER,),
    "NEW": (),
    "OLD": (),
    "ON": (Arg.DATE,),
    "RECENT": (),
    "SEEN": (),
    "SENTBEFORE": (Arg.DATE,),
    "SENTON": (Arg.DATE,),
    "SENTSINCE": (Arg.DATE,),
    "SINCE": (Arg.DATE,),
    "SMALLER": (Arg.NUMBER,),
    "SUBJECT": (Arg.STRING,),
    "TEXT": (Arg.STRING,),
    "TO": (Arg.STRING,),
    "UID": (Arg.SEQUENCE_SET,),
    "UNANSWERED": (),
    "UNDELETED": (),
    "UNDRAFT": (),
    "UNFLAGGED": (),
    "UNKEYWORD": (Arg.KEYWORD,),
    "UNSEEN": (),
    "OLDER": (Arg.NZ_NUMBER,),
    "YOUNGER": (Arg.NZ_NUMBER,),
}

SearchArg = str | int | datetime.date | SequenceSet | None


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    args: tuple[SearchArg, ...] = ()


@dataclass(frozen=True, slots=True)
class Not:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class And:
    keys: tuple[SearchKey, ...]


SearchKey = Criterion | Not | Or | And

# RFC 9051 §6.4.4: UTF-8 and US-ASCII MUST be supported; nothing else is promised.
CHARSETS = {"UTF-8": "utf-8", "US-ASCII": "ascii"}
# RFC 4731 §3.1 and RFC 5182 §2.1: the ESEARCH result options.
RETURN_OPTIONS = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})


class SearchParser:
    """Reads search keys from a `Reader`, decoding strings with `charset`."""

    def __init__(self, reader: Reader, charset: str) -> None:
        self.r = reader
        self.codec = CHARSETS[charset]
        self.charset = charset

    def program(self) -> SearchKey:
        """search-key *(SP search-key): one key, or And of several."""
        keys = [self.key()]
        while self.r.maybe_sp():
            keys.append(self.key())
        return keys[0] if len(keys) == 1 else And(tuple(keys))

    def _string(self) -> str:
        raw = self.r.astring()
        try:
            return raw.decode(self.codec)
        except UnicodeDecodeError:
            raise ParseError(f"Search string is not valid {self.charset}") from None

    def key(self) -> SearchKey:
        r = self.r
        r.count()
        head = r.peek()
        if head == b"(":
            # RFC 9051 §9: "(" search-key *(SP search-key) ")"
            r.enter()
            r.pos += 1
            keys = [self.key()]
            while r.maybe_sp():
                keys.append(self.key())
            r.expect(b")", "')'")
            r.leave()
            return And(tuple(keys))
        if head in b"0123456789*$" and head:
            return Criterion("SEQUENCE", (r.sequence_set(),))
        name = r.atom("a search key").upper()
        if name == "NOT":
            r.sp()
            r.enter()
            inner = self.key()
            r.leave()
            return Not(inner)
        if name == "OR":
            r.enter()
            r.sp()
            left = self.key()
            r.sp()
            right = self.key()
            r.leave()
            return Or(left, right)
        if name == "MODSEQ":
            return self._modseq()
        spec = CRITERIA.get(name)
        if spec is None:
            raise ParseError(f"Unknown search key {name[:30]}")
        args: list[SearchArg] = []
        for kind in spec:
            r.sp()
            args.append(self._arg(kind))
        return Criterion(name, tuple(args))

    def _arg(self, kind: Arg) -> SearchArg:
        r = self.r
        if kind is Arg.STRING:
            return self._string()
        if kind is Arg.DATE:
            return r.date()
        if kind is Arg.NUMBER:
            return r.number64()
        if kind is Arg.NZ_NUMBER:
            return r.number(nz=True)
        if kind is Arg.KEYWORD:
            return r.atom("a keyword")
        return r.sequence_set()

    def _modseq(self) -> Criterion:
        """MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer
        (RFC 7162 §3.1.5); args (entry-name or None, entry-type or None, modseq)."""
        r = self.r
        r.sp()
        entry: str | None = None
        entry_type: str | None = None
        if r.peek() == b'"':
            entry = r.string().decode("utf-8", "replace")
            r.sp()
            entry_type = r.atom("an entry type").lower()
            if entry_type not in ("priv", "shared", "all"):
                raise ParseError("MODSEQ entry type is priv, shared or all")
            r.sp()
        return Criterion("MODSEQ", (entry, entry_type, r.number64()))
