"""IMAP responses, the same objects in both roles (RFC 9051 §7).

The server builds them and calls `to_bytes()`; the response parser (`client.py`)
returns them from server bytes, so the analyzer can compare both directions.

Values inside a response (RFC 9051 §4):

    None               NIL
    int                number
    Atom("\\Seen")     written as is (atoms, flags, FETCH item names, sequence sets)
    str / bytes        a string: quoted when it is short 7-bit text, otherwise a
                       literal (CR, LF, 8-bit, '"'-heavy or long); the parser hands
                       strings back as bytes
    Literal(b"...")    a literal whatever the contents; binary=True for literal8
    tuple / list       a parenthesised list
"""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from posthouse.proto.imap.errors import LocalProtocolError
from posthouse.proto.imap.grammar import MONTHS, encode_mailbox
from posthouse.proto.imap.seqset import SequenceSet


@dataclass(frozen=True, slots=True)
class Atom:
    """A token written without quoting."""

    value: str


@dataclass(frozen=True, slots=True)
class Literal:
    data: bytes
    binary: bool = False

    def __repr__(self) -> str:
        return f"Literal(<{len(self.data)} octets>, binary={self.binary})"


@dataclass(frozen=True, slots=True)
class Run:
    """Values written back to back, with no space between them: RFC 9051 §9
    `1*body` (the parts of a multipart) and `"(" 1*address ")"` (envelope addresses),
    as Dovecot, Cyrus and Gmail send them.  A `Run` stands inside a list."""

    items: Sequence[Value]


Value = None | int | str | bytes | Atom | Literal | Run | Sequence["Value"]

NIL = None
STATUSES = frozenset({"OK", "NO", "BAD", "PREAUTH", "BYE"})
_FORBIDDEN_TEXT = re.compile(r"[\x00\r\n]")
# RFC 9051 §9: the characters that may stand in an atom unquoted.
_ATOM_SAFE = re.compile(rb"[^(){ \x00-\x1f\x7f%*\"\\\]\x80-\xff]+")
# Short 7-bit text without CR/LF/NUL is quoted; the rest goes as a literal.
_QUOTABLE = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]*")
MAX_QUOTED = 1024


def _check_text(text: str, what: str) -> None:
    if _FORBIDDEN_TEXT.search(text):
        raise LocalProtocolError(f"{what} contains CR, LF or NUL: {text!r}")


def quote(data: bytes) -> bytes:
    """A quoted string (RFC 9051 §9: "\\" escapes '"' and "\\")."""
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def encode_string(data: bytes) -> bytes:
    """Quoted when possible, a literal otherwise (RFC 9051 §4.3: CR and LF cannot be
    quoted; 8-bit text goes as a literal so IMAP4rev1 clients read it too)."""
    if len(data) <= MAX_QUOTED and _QUOTABLE.fullmatch(data):
        return quote(data)
    if b"\x00" in data:
        raise LocalProtocolError("NUL can only be sent in a literal8 (Literal(binary=True))")
    return b"{%d}\r\n" % len(data) + data


def encode_astring(data: bytes) -> bytes:
    """An atom when the octets allow it, otherwise a string (RFC 9051 §9 astring)."""
    if _ATOM_SAFE.fullmatch(data) and data.upper() != b"NIL":
        return data
    return encode_string(data)


def encode_value(value: Value) -> bytes:
    # The common kinds first, by exact type: a FETCH of ENVELOPE or BODYSTRUCTURE is
    # mostly nested tuples of strings and NIL.
    kind = type(value)
    if kind is bytes:
        return encode_string(value)  # type: ignore[arg-type]
    if value is None:
        return b"NIL"
    if kind is tuple or kind is list:
        return b"(" + b" ".join([encode_value(item) for item in value]) + b")"  # type: ignore[union-attr]
    return _encode_other(value)


def _encode_other(value: Value) -> bytes:
    if value is None:
        return b"NIL"
    if isinstance(value, bool):
        raise LocalProtocolError("booleans are not IMAP values")
    if isinstance(value, int):
        if value < 0:
            raise LocalProtocolError("IMAP numbers are unsigned")
        return b"%d" % value
    if isinstance(value, Atom):
        _check_text(value.value, "atom")
        return value.value.encode("utf-8")
    if isinstance(value, str):
        return encode_string(value.encode("utf-8"))
    if isinstance(value, bytes):
        return encode_string(value)
    if isinstance(value, Literal):
        if value.binary:
            return b"~{%d}\r\n" % len(value.data) + value.data  # RFC 3516 §4.2
        if b"\x00" in value.data:
            raise LocalProtocolError("NUL can only be sent in a literal8")
        return b"{%d}\r\n" % len(value.data) + value.data
    if isinstance(value, Run):
        return b"".join([encode_value(item) for item in value.items])
    return b"(" + b" ".join([encode_value(item) for item in value]) + b")"


def mailbox(name: str, *, utf8: bool = False) -> Value:
    """A mailbox name as a value: modified UTF-7 (RFC 3501 §5.1.3) or UTF-8 once
    UTF8=ACCEPT is enabled (RFC 6855 §3), as an atom when it can be one."""
    raw = encode_mailbox(name, utf8=utf8)
    if _ATOM_SAFE.fullmatch(raw) and raw.upper() != b"NIL":
        return Atom(raw.decode("utf-8"))
    return raw


def flags(names: Iterable[str]) -> tuple[Atom, ...]:
    return tuple(Atom(name) for name in names)


def sequence_set(numbers: Iterable[int] | SequenceSet) -> Atom:
    """A compressed sequence set (1,2,3,5 → 1:3,5)."""
    if not isinstance(numbers, SequenceSet):
        numbers = SequenceSet.from_numbers(numbers)
    return Atom(str(numbers))


def date_time(moment: datetime.datetime) -> str:
    """INTERNALDATE form (RFC 9051 §9 date-time): "17-Jul-1996 02:44:25 -0700"."""
    if moment.tzinfo is None:
        raise LocalProtocolError("INTERNALDATE needs an aware datetime")
    offset = moment.utcoffset() or datetime.timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (
        f"{moment.day:02d}-{MONTHS[moment.month - 1]}-{moment.year:04d} "
        f"{moment:%H:%M:%S} {sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


# --- response codes (RFC 9051 §7.1) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """`[NAME args...]`; `args` are values, e.g. ResponseCode("UIDNEXT", (5,))."""

    name: str
    args: tuple[Value, ...] = ()

    def to_bytes(self) -> bytes:
        _check_text(self.name, "response code")
        if not re.fullmatch(r"[A-Za-z0-9.=+-]+", self.name):
            raise LocalProtocolError(f"not a response code name: {self.name!r}")
        parts = [self.name.encode("ascii")] + [encode_value(arg) for arg in self.args]
        data = b" ".join(parts)
        if b"]" in data:
            raise LocalProtocolError("']' inside a response code would end it early")
        return b"[" + data + b"]"


ALERT = ResponseCode("ALERT")
ALREADYEXISTS = ResponseCode("ALREADYEXISTS")
AUTHENTICATIONFAILED = ResponseCode("AUTHENTICATIONFAILED")
AUTHORIZATIONFAILED = ResponseCode("AUTHORIZATIONFAILED")
CANNOT = ResponseCode("CANNOT")
CLIENTBUG = ResponseCode("CLIENTBUG")
CLOSED = ResponseCode("CLOSED")
CONTACTADMIN = ResponseCode("CONTACTADMIN")
EXPUNGEISSUED = ResponseCode("EXPUNGEISSUED")
INUSE = ResponseCode("INUSE")
LIMIT = ResponseCode("LIMIT")
NONEXISTENT = ResponseCode("NONEXISTENT")
NOPERM = ResponseCode("NOPERM")
OVERQUOTA = ResponseCode("OVERQUOTA")
PARSE = ResponseCode("PARSE")
PRIVACYREQUIRED = ResponseCode("PRIVACYREQUIRED")
READ_ONLY = ResponseCode("READ-ONLY")
READ_WRITE = ResponseCode("READ-WRITE")
SERVERBUG = ResponseCode("SERVERBUG")
TOOBIG = ResponseCode("TOOBIG")  # RFC 4469 §4, RFC 7888 §4, RFC 9051 §7.1
TRYCREATE = ResponseCode("TRYCREATE")
UNAVAILABLE = ResponseCode("UNAVAILABLE")
UIDNOTSTICKY = ResponseCode("UIDNOTSTICKY")  # RFC 4315 §3


def uidnext(uid: int) -> ResponseCode:
    return ResponseCode("UIDNEXT", (uid,))


def uidvalidity(value: int) -> ResponseCode:
    return ResponseCode("UIDVALIDITY", (value,))


def unseen(number: int) -> ResponseCode:
    return ResponseCode("UNSEEN", (number,))


def highestmodseq(modseq: int) -> ResponseCode:
    return ResponseCode("HIGHESTMODSEQ", (modseq,))  # RFC 7162 §3.1.2.1


def appendlimit(limit: int) -> ResponseCode:
    return ResponseCode("APPENDLIMIT", (limit,))  # RFC 7889 §3


def permanentflags(names: Iterable[str]) -> ResponseCode:
    return ResponseCode("PERMANENTFLAGS", (flags(names),))


def capability_code(capabilities: Iterable[str]) -> ResponseCode:
    return ResponseCode("CAPABILITY", tuple(Atom(c) for c in capabilities))


def badcharset(charsets: Iterable[str] = ("UTF-8", "US-ASCII")) -> ResponseCode:
    return ResponseCode("BADCHARSET", (tuple(Atom(c) for c in charsets),))


def appenduid(validity: int, uids: Iterable[int] | SequenceSet) -> ResponseCode:
    """[APPENDUID uidvalidity uid-set] (RFC 4315 §3); a set for MULTIAPPEND."""
    return ResponseCode("APPENDUID", (validity, sequence_set(uids)))


def copyuid(
    validity: int, source: Iterable[int] | SequenceSet, destination: Iterable[int] | SequenceSet
) -> ResponseCode:
    """[COPYUID uidvalidity source-uids destination-uids] (RFC 4315 §3).  The two sets
    pair up in order, so a caller with unsorted pairs passes SequenceSets it built."""
    return ResponseCode("COPYUID", (validity, sequence_set(source), sequence_set(destination)))


def modified(numbers: Iterable[int] | SequenceSet) -> ResponseCode:
    return ResponseCode("MODIFIED", (sequence_set(numbers),))  # RFC 7162 §3.1.3


# --- responses -----------------------------------------------------------------------


def _status_line(prefix: bytes, status: str, code: ResponseCode | None, text: str) -> bytes:
    _check_text(text, "response text")
    parts = [prefix, status.encode("ascii")]
    if code is not None:
        parts.append(code.to_bytes())
    if text:
        parts.append(text.encode("utf-8", "surrogateescape"))
    return b" ".join(parts) + b"\r\n"


@dataclass(frozen=True, slots=True)
class Tagged:
    """`tag OK/NO/BAD [code] text` (RFC 9051 §7.1)."""

    tag: str
    status: str
    text: str = ""
    code: ResponseCode | None = None

    def to_bytes(self) -> bytes:
        if self.status not in ("OK", "NO", "BAD"):
            raise LocalProtocolError(f"a tagged response is OK, NO or BAD, not {self.status}")
        _check_text(self.tag, "tag")
        return _status_line(self.tag.encode("ascii"), self.status, self.code, self.text)


@dataclass(frozen=True, slots=True)
class Untagged:
    """`* ...`: a status (OK NO BAD PREAUTH BYE with `code` and `text`), or data:
    `* [number] NAME data...` (`* 3 EXISTS`, `* FLAGS (...)`, `* 1 FETCH (...)`)."""

    name: str
    data: tuple[Value, ...] = ()
    number: int | None = None
    code: ResponseCode | None = None
    text: str = ""

    def to_bytes(self) -> bytes:
        if self.name in STATUSES:
            if self.data or self.number is not None:
                raise LocalProtocolError("a status response carries a code and text only")
            return _status_line(b"*", self.name, self.code, self.text)
        if self.code is not None or self.text:
            raise LocalProtocolError("a data response has no code or text")
        parts = [b"*"]
        if self.number is not None:
            parts.append(b"%d" % self.number)
        parts.append(self.name.encode("ascii"))
        parts.extend(encode_value(item) for item in self.data)
        return b" ".join(parts) + b"\r\n"


@dataclass(frozen=True, slots=True)
class Continuation:
    """`+ text` (RFC 9051 §7.5): ready for a literal, or a SASL challenge (base64)."""

    text: str = ""

    @classmethod
    def challenge(cls, data: bytes) -> Continuation:
        return cls(base64.b64encode(data).decode("ascii"))

    def to_bytes(self) -> bytes:
        _check_text(self.text, "continuation text")
        return b"+ " + self.text.encode("utf-8") + b"\r\n"


Response = Tagged | Untagged | Continuation


# --- builders for the common untagged responses (RFC 9051 §7.2-7.5) -------------------


def capability(capabilities: Iterable[str]) -> Untagged:
    return Untagged("CAPABILITY", tuple(Atom(c) for c in capabilities))


def enabled(capabilities: Iterable[str]) -> Untagged:
    return Untagged("ENABLED", tuple(Atom(c) for c in capabilities))  # RFC 5161 §3.2


def exists(count: int) -> Untagged:
    return Untagged("EXISTS", number=count)


def recent(count: int) -> Untagged:
    return Untagged("RECENT", number=count)


def expunge(number: int) -> Untagged:
    return Untagged("EXPUNGE", number=number)


def vanished(uids: Iterable[int] | SequenceSet, *, earlier: bool = False) -> Untagged:
    """* VANISHED [(EARLIER)] uids (RFC 7162 §3.2.10)."""
    data: tuple[Value, ...] = (sequence_set(uids),)
    if earlier:
        data = ((Atom("EARLIER"),), *data)
    return Untagged("VANISHED", data)


def flags_response(names: Iterable[str]) -> Untagged:
    return Untagged("FLAGS", (flags(names),))


def list_response(
    attributes: Iterable[str],
    delimiter: str | None,
    name: str,
    *,
    utf8: bool = False,
    extended: Sequence[Value] = (),
    command: str = "LIST",
) -> Untagged:
    """* LIST (attrs) "/" name [extended items] (RFC 9051 §7.3.1, RFC 5258 §3.4)."""
    data: tuple[Value, ...] = (flags(attributes), delimiter, mailbox(name, utf8=utf8))
    if extended:
        data += (tuple(extended),)
    return Untagged(command, data)


def status_response(name: str, items: Iterable[tuple[str, int]], *, utf8: bool = False) -> Untagged:
    """* STATUS name (MESSAGES 3 UIDNEXT 7) (RFC 9051 §7.3.4)."""
    pairs: list[Value] = []
    for item, value in items:
        pairs += [Atom(item), value]
    return Untagged("STATUS", (mailbox(name, utf8=utf8), tuple(pairs)))


def search_response(numbers: Iterable[int], *, modseq: int | None = None) -> Untagged:
    """* SEARCH 2 3 [(MODSEQ n)] (RFC 3501 §7.2.5, RFC 7162 §3.1.5)."""
    data: tuple[Value, ...] = tuple(numbers)
    if modseq is not None:
        data += ((Atom("MODSEQ"), modseq),)
    return Untagged("SEARCH", data)


def esearch_response(
    tag: str | None,
    *,
    uid: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
    count: int | None = None,
    all_numbers: Iterable[int] | None = None,
    modseq: int | None = None,
) -> Untagged:
    """* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set] (RFC 4731 §3.1,
    RFC 9051 §7.3.4).  ALL is left out for an empty result."""
    data: list[Value] = []
    if tag is not None:
        data.append((Atom("TAG"), tag))
    if uid:
        data.append(Atom("UID"))
    for name, value in (("MIN", minimum), ("MAX", maximum), ("COUNT", count)):
        if value is not None:
            data += [Atom(name), value]
    if all_numbers is not None:
        numbers = list(all_numbers)
        if numbers:
            data += [Atom("ALL"), sequence_set(numbers)]
    if modseq is not None:
        data += [Atom("MODSEQ"), modseq]
    return Untagged("ESEARCH", tuple(data))


def namespace_response(
    personal: Sequence[tuple[str, str | None]] | None,
    other: Sequence[tuple[str, str | None]] | None = None,
    shared: Sequence[tuple[str, str | None]] | None = None,
    *,
    utf8: bool = False,
) -> Untagged:
    """* NAMESPACE (("" "/")) NIL NIL (RFC 2342 §5, RFC 9051 §7.3.5)."""

    def one(spaces: Sequence[tuple[str, str | None]] | None) -> Value:
        if not spaces:
            return None
        return tuple((encode_mailbox(prefix, utf8=utf8), delim) for prefix, delim in spaces)

    return Untagged("NAMESPACE", (one(personal), one(other), one(shared)))


def id_response(params: Sequence[tuple[str, str | None]] | None) -> Untagged:
    """* ID ("name" "posthouse" ...) (RFC 2971 §3.2)."""
    if params is None:
        return Untagged("ID", (None,))
    items: list[Value] = []
    for key, value in params:
        items += [key, value]
    return Untagged("ID", (tuple(items),))


def fetch_response(number: int, items: Sequence[tuple[str, Value]]) -> Untagged:
    """* n FETCH (NAME value ...) (RFC 9051 §7.5.2).  Names as
    `FetchAttribute.response_name()` gives them; values already built (ENVELOPE and
    BODYSTRUCTURE come from the mime module as nested tuples).  Use `Literal` for
    message octets so they never depend on their contents."""
    data: list[Value] = []
    for name, value in items:
        data += [Atom(name), value]
    return Untagged("FETCH", (tuple(data),), number=number)
