"""The IMAP formal syntax (RFC 9051 §9, RFC 3501 §9): a reader over one framed command
or response.

Framing (`framing.py`) hands over the command's text with every literal marker still
in place and the literal octets apart; the reader takes a literal when it meets its
marker, and checks that the marker really ended a line.  Every violation raises
`ParseError`.  Limits on nesting depth and argument count are counted here, so a
hostile client cannot make a parser recurse or allocate without bound.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import TypeVar

from posthouse.proto.imap import mutf7
from posthouse.proto.imap.errors import ParseError
from posthouse.proto.imap.seqset import SequenceSet

T = TypeVar("T")

MAX_NUMBER = 0xFFFFFFFF  # RFC 9051 §9: number = 32-bit unsigned
MAX_NUMBER64 = 0x7FFFFFFFFFFFFFFF  # RFC 9051 §9: number64 = 63-bit, RFC 7162 mod-sequence

# RFC 9051 §9: ATOM-CHAR = <any CHAR except atom-specials>; atom-specials = "(" / ")" /
# "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials.
_ATOM = re.compile(rb"[^(){ \x00-\x1f\x7f%*\"\\\]\x80-\xff]+")
# ASTRING-CHAR = ATOM-CHAR / resp-specials
_ASTRING_ATOM = re.compile(rb"[^(){ \x00-\x1f\x7f%*\"\\\x80-\xff]+")
# list-char = ATOM-CHAR / list-wildcards / resp-specials
_LIST_CHARS = re.compile(rb"[^(){ \x00-\x1f\x7f\"\\\x80-\xff]+")
# tag = 1*<any ASTRING-CHAR except "+">
TAG = re.compile(rb"[^(){ \x00-\x1f\x7f%*\"\\+\x80-\xff]+")
_NUMBER = re.compile(rb"[0-9]+")
# literal = "{" number64 ["+"] "}" CRLF; literal8 = "~{" number64 "}" CRLF (RFC 3516 §4.2);
# LITERAL+ (RFC 7888 §3) allows "{n+}" in literal8 too.
LITERAL_MARKER = re.compile(rb"(~?)\{([0-9]{1,19})(\+?)\}\Z")
_QUOTED = re.compile(rb'"((?:[^"\\\r\n\x00]|\\["\\])*)"')
_UNESCAPE = re.compile(rb'\\(["\\])')
_SEQSET = re.compile(rb"[0-9*:,$]+")

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = {m.upper(): i + 1 for i, m in enumerate(MONTHS)}
_DATE = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
# date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
_DATE_TIME = re.compile(
    rb'"([ 0-9][0-9])-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{4})"'
)

# RFC 9051 §2.3.2: system flags; flags are case-insensitive, so the reader writes them
# in this canonical case.
SYSTEM_FLAGS = {
    f.upper(): f for f in (r"\Seen", r"\Answered", r"\Flagged", r"\Deleted", r"\Draft", r"\Recent")
}


class Reader:
    """A cursor over `text` (the command with literal markers) and its `literals`."""

    def __init__(
        self,
        text: bytes,
        literals: list[tuple[int, bytes, bool]],
        *,
        max_depth: int = 16,
        max_items: int = 10000,
        utf8: bool = False,
    ) -> None:
        """`literals`: (offset just past the marker in `text`, octets, is-literal8)."""
        self.text = text
        self.pos = 0
        self._literals = literals
        self._next_literal = 0
        self.max_depth = max_depth
        self._depth = 0
        self._items_left = max_items
        self.utf8 = utf8

    # --- position -----------------------------------------------------------------

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, n: int = 1) -> bytes:
        return self.text[self.pos : self.pos + n]

    def peek_upper(self, word: bytes) -> bool:
        """The next octets are `word` (case-insensitively) followed by a delimiter."""
        end = self.pos + len(word)
        if self.text[self.pos : end].upper() != word:
            return False
        return end == len(self.text) or self.text[end : end + 1] in b" ()[]"

    def expect(self, token: bytes, what: str | None = None) -> None:
        end = self.pos + len(token)
        if self.text[self.pos : end].upper() != token:
            raise ParseError(f"Expected {what or token.decode()!s}")
        self.pos = end

    def sp(self) -> None:
        if self.text[self.pos : self.pos + 1] != b" ":
            raise ParseError("Expected a space")
        self.pos += 1

    def maybe_sp(self) -> bool:
        if self.text[self.pos : self.pos + 1] == b" ":
            self.pos += 1
            return True
        return False

    def end(self) -> None:
        if not self.at_end():
            raise ParseError("Unexpected extra arguments")
        if self._next_literal != len(self._literals):
            raise ParseError("Literal in an unexpected place")

    def literal_count_left(self) -> int:
        return len(self._literals) - self._next_literal

    def count(self) -> None:
        self._items_left -= 1
        if self._items_left < 0:
            raise ParseError("Too many arguments")

    # --- tokens -------------------------------------------------------------------

    def _match(self, pattern: re.Pattern[bytes]) -> bytes | None:
        match = pattern.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        self.count()
        return match[0]

    def atom(self, what: str = "an atom") -> str:
        token = self._match(_ATOM)
        if token is None:
            raise ParseError(f"Expected {what}")
        return token.decode("ascii")

    def number(self, *, nz: bool = False, limit: int = MAX_NUMBER) -> int:
        token = self._match(_NUMBER)
        if token is None or len(token) > 19:
            raise ParseError("Expected a number")
        value = int(token)
        if value > limit or (nz and value == 0):
            raise ParseError("Number out of range")
        return value

    def number64(self) -> int:
        return self.number(limit=MAX_NUMBER64)

    def literal(self, *, allow_literal8: bool = False) -> tuple[bytes, bool]:
        """(octets, is-literal8) if a literal starts here."""
        start = self.pos
        end = self.text.find(b"}", start)
        if end < 0 or self._next_literal >= len(self._literals):
            raise ParseError("Expected a string")
        offset, data, binary = self._literals[self._next_literal]
        if offset != end + 1 or LITERAL_MARKER.search(self.text, start, end + 1) is None:
            raise ParseError("Literal marker must end the line")
        if binary and not allow_literal8:
            raise ParseError("literal8 is not allowed here")
        self._next_literal += 1
        self.pos = end + 1
        self.count()
        return data, binary

    def _is_literal_start(self) -> bool:
        head = self.peek(2)
        return head[:1] == b"{" or head == b"~{"

    def string(self) -> bytes:
        """string = quoted / literal (RFC 9051 §9)."""
        if self.peek() == b'"':
            match = _QUOTED.match(self.text, self.pos)
            if match is None:
                raise ParseError("Unterminated or invalid quoted string")
            self.pos = match.end()
            self.count()
            raw = match[1]
            if not self.utf8 and not raw.isascii():
                # RFC 3501 §9: QUOTED-CHAR is 7-bit; RFC 9051 §9 adds UTF-8, and
                # RFC 6855 §3 allows it once UTF8=ACCEPT is enabled.  Unenabled, an
                # IMAP4rev1 client must send 8-bit text as a literal.
                raise ParseError("8-bit characters in a quoted string need a literal")
            return _UNESCAPE.sub(rb"\1", raw)
        if self._is_literal_start():
            return self.literal()[0]
        raise ParseError("Expected a string")

    def astring(self) -> bytes:
        """astring = 1*ASTRING-CHAR / string."""
        if self.peek() == b'"' or self._is_literal_start():
            return self.string()
        token = self._match(_ASTRING_ATOM)
        if token is None:
            raise ParseError("Expected an atom or a string")
        return token

    def nstring(self) -> bytes | None:
        if self.peek_upper(b"NIL"):
            self.pos += 3
            return None
        return self.string()

    def text_astring(self, what: str) -> str:
        """An astring as text: UTF-8 (RFC 9051 §9 allows it in strings)."""
        try:
            return self.astring().decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(f"Invalid UTF-8 in {what}") from None

    def list_of(self, item: Callable[[], T], *, allow_empty: bool = True) -> list[T]:
        """ "(" [item *(SP item)] ")" with the depth limit."""
        self.expect(b"(")
        self._depth += 1
        if self._depth > self.max_depth:
            raise ParseError("Too deeply nested")
        items: list[T] = []
        if self.peek() != b")":
            items.append(item())
            while self.maybe_sp():
                items.append(item())
        self.expect(b")", "')'")
        self._depth -= 1
        if not items and not allow_empty:
            raise ParseError("Empty list")
        return items

    def enter(self) -> None:
        """Count one level of nesting for a recursive construct (SEARCH groups)."""
        self._depth += 1
        if self._depth > self.max_depth:
            raise ParseError("Too deeply nested")

    def leave(self) -> None:
        self._depth -= 1

    # --- IMAP values --------------------------------------------------------------

    def flag(self, *, allow_wildcard: bool = False) -> str:
        """flag = "\\Answered" / ... / flag-keyword / flag-extension (RFC 9051 §9)."""
        if self.peek() == b"\\":
            self.pos += 1
            if allow_wildcard and self.peek() == b"*":
                self.pos += 1
                return "\\*"
            name = "\\" + self.atom("a flag")
            return SYSTEM_FLAGS.get(name.upper(), name)
        return self.atom("a flag")

    def flag_list(self) -> tuple[str, ...]:
        return tuple(self.list_of(self.flag))

    def sequence_set(self) -> SequenceSet:
        token = self._match(_SEQSET)
        if token is None:
            raise ParseError("Expected a sequence set")
        return SequenceSet.parse(token.decode("ascii"))

    def mailbox(self) -> str:
        """mailbox = "INBOX" / astring (RFC 9051 §9), decoded: modified UTF-7 for an
        IMAP4rev1 session (RFC 3501 §5.1.3), UTF-8 once UTF8=ACCEPT is enabled
        (RFC 6855 §3).  RFC 9051 §5.1: INBOX is case-insensitive."""
        return decode_mailbox(self.astring(), utf8=self.utf8)

    def list_mailbox(self) -> str:
        """list-mailbox = 1*list-char / string: a pattern with "%" and "*"."""
        if self.peek() == b'"' or self._is_literal_start():
            raw = self.string()
        else:
            token = self._match(_LIST_CHARS)
            if token is None:
                raise ParseError("Expected a mailbox pattern")
            raw = token
        return decode_mailbox(raw, utf8=self.utf8, inbox=False)

    def date(self) -> datetime.date:
        """date = date-text / DQUOTE date-text DQUOTE (RFC 9051 §9)."""
        quoted = self.peek() == b'"'
        if quoted:
            self.pos += 1
        match = _DATE.match(self.text, self.pos)
        if match is None:
            raise ParseError("Expected a date like 1-Feb-2024")
        self.pos = match.end()
        if quoted:
            self.expect(b'"', "'\"'")
        self.count()
        month = _MONTH.get(match[2].decode().upper())
        try:
            if month is None:
                raise ValueError
            return datetime.date(int(match[3]), month, int(match[1]))
        except ValueError:
            raise ParseError("Invalid date") from None

    def date_time(self) -> datetime.datetime:
        """date-time, e.g. " 7-Feb-2024 10:00:00 +0100" (RFC 9051 §9)."""
        match = _DATE_TIME.match(self.text, self.pos)
        if match is None:
            raise ParseError('Expected a date-time like "07-Feb-2024 10:00:00 +0100"')
        self.pos = match.end()
        self.count()
        month = _MONTH.get(match[2].decode().upper())
        zone = int(match[8][:2]) * 60 + int(match[8][2:])
        if match[8][2:] >= b"60":
            raise ParseError("Invalid time zone")
        offset = datetime.timedelta(minutes=-zone if match[7] == b"-" else zone)
        try:
            if month is None:
                raise ValueError
            return datetime.datetime(
                int(match[3]),
                month,
                int(match[1].strip()),
                int(match[4]),
                int(match[5]),
                int(match[6]),
                tzinfo=datetime.timezone(offset),
            )
        except ValueError:
            raise ParseError("Invalid date-time") from None


def decode_mailbox(raw: bytes, *, utf8: bool, inbox: bool = True) -> str:
    if b"\x00" in raw or b"\r" in raw or b"\n" in raw:
        raise ParseError("Mailbox name contains a control character")
    if utf8:
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("Mailbox name is not valid UTF-8") from None
    else:
        if not raw.isascii():
            raise ParseError("8-bit mailbox name: use modified UTF-7 (RFC 3501 §5.1.3)")
        name = mutf7.decode(raw.decode("ascii"))
    if inbox and name.upper() == "INBOX":
        return "INBOX"
    return name


def encode_mailbox(name: str, *, utf8: bool) -> bytes:
    """The wire form of a mailbox name: UTF-8 or modified UTF-7."""
    return name.encode("utf-8") if utf8 else mutf7.encode(name).encode("ascii")
