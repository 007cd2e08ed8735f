"""RFC 5322 address lists read into IMAP address structures (RFC 9051 §7.5.2).

Each address becomes (name, adl, mailbox, host); a group becomes (NIL NIL name NIL),
its members, then (NIL NIL NIL NIL).  The reader never raises: it follows the
grammar of RFC 5322 §3.4 with the obsolete forms of §4.4 (routes, empty list
elements, phrases with dots), and where the text breaks the grammar it keeps what it
understood and moves on to the next comma, filling missing parts the way Dovecot
does (MISSING_MAILBOX, MISSING_DOMAIN, SYNTAX_ERROR) so clients still see an address.
Strings stay as the header carries them: encoded-words are not decoded.
"""

from __future__ import annotations

import re

from posthouse.mime.lexical import read_comment, read_quoted

Address = tuple[bytes | None, bytes | None, bytes | None, bytes | None]

GROUP_END: Address = (None, None, None, None)
MISSING_MAILBOX = b"MISSING_MAILBOX"
MISSING_DOMAIN = b"MISSING_DOMAIN"
SYNTAX_ERROR = b"SYNTAX_ERROR"

# RFC 5322 §3.2.3 atext, plus 8-bit octets (RFC 6532 §3.2 UTF-8 in headers).
_ATEXT = rb"A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\xff"
# §4.1 obs-phrase: dots may stand between words, so "John Q. Public" is one phrase.
_ATOM_OR_DOT = re.compile(rb"[" + _ATEXT + rb".]+")
_WSP = re.compile(rb"[ \t\r\n]+")
# Atoms separated by plain white space, read in one step (the usual display name).
_WORD_RUN = re.compile(rb"[" + _ATEXT + rb".]++(?:[ \t\r\n]++[" + _ATEXT + rb".]++)*+")

# The common single address forms, answered without the general reader.
_SIMPLE_ADDR_SPEC = re.compile(rb"[ \t]*([" + _ATEXT + rb".]+)@([A-Za-z0-9\-.\x80-\xff]+)[ \t]*")
_SIMPLE_NAME_ADDR = re.compile(
    rb'[ \t]*(?:"([^"\\\r\n]*)"|([' + _ATEXT + rb".]+(?: [" + _ATEXT + rb".]+)*))?[ \t]*"
    rb"<([" + _ATEXT + rb".]+)@([A-Za-z0-9\-.\x80-\xff]+)>[ \t]*"
)


def parse_address_list(value: bytes) -> list[Address]:
    """The address structures of an unfolded address-list field value."""
    simple = _simple(value)
    if simple is not None:
        return [simple]
    if not _NEEDS_READER.search(value):
        # Plain comma-separated addresses: each element on its own.
        found: list[Address] = []
        for element in value.split(b","):
            if element.strip(b" \t"):
                simple = _simple(element)
                if simple is None:
                    break
                found.append(simple)
        else:
            return found
    return _Reader(value).address_list()


# Quotes, comments, quoted-pairs and groups: with these a comma may not separate
# addresses, so the value goes to the reader.
_NEEDS_READER = re.compile(rb'["(\\:;]')


def _simple(value: bytes) -> Address | None:
    if len(value) > 512:
        return None  # not a single everyday address; spare the regexes the work
    m = _SIMPLE_ADDR_SPEC.fullmatch(value)
    if m is not None:
        return (None, None, m.group(1), m.group(2))
    m = _SIMPLE_NAME_ADDR.fullmatch(value)
    if m is not None:
        name = m.group(1) if m.group(1) is not None else m.group(2)
        return (name or None, None, m.group(3), m.group(4))
    return None


class _Reader:
    """A cursor over one field value; every method leaves `i` at or after where
    it started, and the list loop forces progress, so any input terminates."""

    __slots__ = ("comment", "i", "n", "s")

    def __init__(self, s: bytes) -> None:
        self.s = s
        self.n = len(s)
        self.i = 0
        self.comment: bytes | None = None

    # --- lexical ------------------------------------------------------------------

    def peek(self) -> int:
        return self.s[self.i] if self.i < self.n else -1

    def skip_cfws(self) -> None:
        """RFC 5322 §3.2.2 CFWS; the last comment is remembered as a display name
        for `addr-spec (Name)`."""
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in b" \t\r\n":
                m = _WSP.match(s, self.i)
                assert m is not None
                self.i = m.end()
            elif c == 0x28:  # "("
                self.comment = self.read_comment()
            else:
                return

    def read_comment(self) -> bytes:
        comment, self.i = read_comment(self.s, self.i)
        return comment

    def read_quoted(self) -> bytes:
        content, self.i = read_quoted(self.s, self.i)
        return content

    def read_phrase(self) -> tuple[bytes, int]:
        """RFC 5322 §3.2.5 phrase / §4.1 obs-phrase: words joined by one space."""
        words: list[bytes] = []
        while True:
            self.skip_cfws()
            c = self.peek()
            if c == 0x22:  # '"'
                words.append(self.read_quoted())
                continue
            m = _WORD_RUN.match(self.s, self.i)
            if m is None:
                break
            words += m.group(0).split()
            self.i = m.end()
        return b" ".join(words), len(words)

    def read_local_part(self) -> bytes | None:
        """RFC 5322 §3.4.1 local-part, §4.4 obs-local-part (words and dots)."""
        out = bytearray()
        seen = False
        while True:
            self.skip_cfws()
            c = self.peek()
            if c == 0x22:
                out += self.read_quoted()
                seen = True
            else:
                m = _ATOM_OR_DOT.match(self.s, self.i)
                if m is None:
                    break
                out += m.group(0)
                self.i = m.end()
                seen = True
        return bytes(out) if seen else None

    def read_domain(self) -> bytes | None:
        """RFC 5322 §3.4.1 domain: dot-atom or a [domain-literal] kept with brackets."""
        self.skip_cfws()
        if self.peek() == 0x5B:  # "["
            close = self.s.find(b"]", self.i)
            stop = self.n if close < 0 else close + 1
            literal = self.s[self.i : stop]
            self.i = stop
            return literal
        out = bytearray()
        while True:
            m = _ATOM_OR_DOT.match(self.s, self.i)
            if m is None:
                break
            out += m.group(0)
            self.i = m.end()
            self.skip_cfws()
        return bytes(out) or None

    def skip_past(self, stops: bytes) -> None:
        """Garbage recovery: move to the next stop character outside quotes and
        comments (not past it)."""
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in stops:
                return
            if c == 0x22:
                self.read_quoted()
            elif c == 0x28:
                self.read_comment()
            else:
                self.i += 1

    # --- grammar ------------------------------------------------------------------

    def address_list(self) -> list[Address]:
        """RFC 5322 §3.4 address-list, §4.4 obs-addr-list (empty elements)."""
        out: list[Address] = []
        while True:
            self.skip_cfws()
            if self.i >= self.n:
                return out
            if self.peek() == 0x2C:  # ","
                self.i += 1
                continue
            start = self.i
            self.address(out)
            self.skip_cfws()
            if self.i < self.n and self.peek() != 0x2C:
                self.skip_past(b",")
            if self.i == start:
                self.i += 1

    def address(self, out: list[Address]) -> None:
        """address = mailbox / group (RFC 5322 §3.4)."""
        start = self.i
        name, words = self.read_phrase()
        if words and self.peek() == 0x3A:  # ":" starts a group
            self.i += 1
            self.group(name, out)
            return
        self.mailbox(out, start, name, words)

    def group(self, name: bytes, out: list[Address]) -> None:
        """group = display-name ":" [group-list] ";" (RFC 5322 §3.4)."""
        out.append((None, None, name, None))
        while True:
            self.skip_cfws()
            c = self.peek()
            if c == -1:
                break
            if c == 0x3B:  # ";"
                self.i += 1
                break
            if c == 0x2C:
                self.i += 1
                continue
            start = self.i
            self.mailbox(out)
            self.skip_cfws()
            if self.i < self.n and self.peek() not in b",;":
                self.skip_past(b",;")
            if self.i == start:
                self.i += 1
        out.append(GROUP_END)

    def mailbox(
        self,
        out: list[Address],
        start: int = -1,
        name: bytes = b"",
        words: int = 0,
    ) -> None:
        """mailbox = name-addr / addr-spec (RFC 5322 §3.4).  `start`, `name` and
        `words` pass on a phrase already read from `start` (by `address`)."""
        if start < 0:
            start = self.i
            name, words = self.read_phrase()
        if self.peek() == 0x3C:  # "<"
            out.append(self.angle_addr(name or None))
            return
        if words > 1:
            # A display name with no address ("foo bar@x", "Undisclosed recipients"):
            # the name is kept and the address marked missing, as Dovecot does.
            out.append((name, None, MISSING_MAILBOX, MISSING_DOMAIN))
            return
        self.i = start
        self.comment = None
        mailbox = self.read_local_part()
        domain = None
        if self.peek() == 0x40:  # "@"
            self.i += 1
            domain = self.read_domain()
        self.skip_cfws()
        out.append((self.comment, None, mailbox or MISSING_MAILBOX, domain or MISSING_DOMAIN))

    def angle_addr(self, name: bytes | None) -> Address:
        """angle-addr = "<" addr-spec ">", with §4.4 obs-route "@a,@b:" kept as adl."""
        self.i += 1
        self.skip_cfws()
        route: bytes | None = None
        broken = False
        if self.peek() == 0x40:
            hops: list[bytes] = []
            while self.peek() == 0x40:
                self.i += 1
                hops.append(b"@" + (self.read_domain() or b""))
                self.skip_cfws()
                while self.peek() == 0x2C:
                    self.i += 1
                    self.skip_cfws()
            route = b",".join(hops)
            if self.peek() == 0x3A:
                self.i += 1
            else:
                broken = True
        mailbox = self.read_local_part()
        domain = None
        if self.peek() == 0x40:
            self.i += 1
            domain = self.read_domain()
        self.skip_cfws()
        if self.peek() == 0x3E:  # ">"
            self.i += 1
        else:
            broken = True
            self.skip_past(b">,")
            if self.peek() == 0x3E:
                self.i += 1
        if broken:
            domain = SYNTAX_ERROR
        return (name, route, mailbox or MISSING_MAILBOX, domain or MISSING_DOMAIN)
