"""The IMAP command parser, server role (sans-IO).

    parser = CommandParser()
    parser.receive_data(read())                  # b"" when the client closed
    event = parser.next_command()                # a command, or NEED_DATA
    if isinstance(event, LiteralPending):        # "{n}" announced: answer it
        parser.accept_literal()                  #   and send Continuation("Ready")
    elif isinstance(event, BadCommand):
        write(event.response.to_bytes())         # tagged BAD/NO, or "* BAD"

The parser owns framing, the grammar (RFC 9051 §9) and the limits; the server owns the
state (which commands are valid now) and the answers.  Commands may be pipelined: the
parser returns them one at a time in order.  Call `next_command()` until NEED_DATA
before feeding more, or the buffer grows with whatever is fed.

Literal limits (RFC 9051 §7.1 TOOBIG, RFC 7888 §4-5): a synchronising literal over
`max_literal` is refused with `NO [TOOBIG]` before the client sends it; a
non-synchronising one is read and thrown away, then refused with `BAD [TOOBIG]`.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable

from posthouse.proto.imap import events as ev
from posthouse.proto.imap.errors import LocalProtocolError, ParseError
from posthouse.proto.imap.events import NEED_DATA, Sentinel
from posthouse.proto.imap.framing import Frame, Framer, PendingLiteral, Problem, Refused
from posthouse.proto.imap.grammar import TAG, Reader, decode_mailbox
from posthouse.proto.imap.response import TOOBIG, ResponseCode, Tagged, Untagged, badcharset
from posthouse.proto.imap.search import CHARSETS, RETURN_OPTIONS, SearchParser

MAX_LINE = 65536  # octets outside literals, per line (Dovecot: 64 KiB)
MAX_LITERAL = 64 * 1024 * 1024  # the largest literal (APPEND) accepted
MAX_LITERALS = 1000  # literals in one command (MULTIAPPEND)
MAX_DEPTH = 16  # parenthesis nesting (SEARCH groups, BODYSTRUCTURE-like lists)
MAX_ARGUMENTS = 10000  # tokens in one command
LITERAL_MINUS = 4096  # RFC 7888 §5: LITERAL- caps non-synchronising literals

# RFC 4422 §3.1: sasl-mech = 1*20mech-char
_MECHANISM = re.compile(r"[A-Z0-9_-]{1,20}")
_WORD = re.compile(rb"[A-Za-z0-9.-]{1,32}")

# RFC 9051 §6.3.11 status-att, with RFC 3501's RECENT, RFC 7162's HIGHESTMODSEQ and
# RFC 7889's APPENDLIMIT.
STATUS_ITEMS = frozenset(
    {"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT"}
    | {"HIGHESTMODSEQ", "APPENDLIMIT"}
)
# RFC 5258 §3.1 (and RFC 6154 §5.1): LIST selection options.
LIST_SELECTION = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
# RFC 5258 §3.2, RFC 6154 §5.1, RFC 5819 §2 (STATUS has its own slot).
LIST_RETURN = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE"})


# --- argument parsers, one per command --------------------------------------------------


def _no_args(factory: Callable[[str], ev.Command]) -> Callable[[Reader, str], ev.Command]:
    def parse(r: Reader, tag: str) -> ev.Command:
        r.end()
        return factory(tag)

    return parse


def _authenticate(r: Reader, tag: str) -> ev.Command:
    r.sp()
    mechanism = r.atom("a SASL mechanism").upper()
    if not _MECHANISM.fullmatch(mechanism):
        raise ParseError("Invalid SASL mechanism name")
    initial: bytes | None = None
    if r.maybe_sp():
        # RFC 4959 §7: initial-resp = (base64 / "="); "=" is an empty response.
        token = r.atom("an initial response")
        if token == "=":
            initial = b""
        else:
            try:
                initial = binascii.a2b_base64(token.encode("ascii"), strict_mode=True)
            except binascii.Error:
                raise ParseError("Invalid base64 in the initial response") from None
    r.end()
    return ev.Authenticate(tag, mechanism, initial)


def _login(r: Reader, tag: str) -> ev.Command:
    r.sp()
    user = r.text_astring("the user name")
    r.sp()
    password = r.text_astring("the password")
    r.end()
    return ev.Login(tag, user, password)


def _enable(r: Reader, tag: str) -> ev.Command:
    # RFC 5161 §3.1: ENABLE 1*(SP capability)
    names = []
    r.sp()
    names.append(r.atom("a capability").upper())
    while r.maybe_sp():
        names.append(r.atom("a capability").upper())
    r.end()
    return ev.Enable(tag, tuple(names))


def _select_params(r: Reader) -> tuple[bool, ev.QResync | None]:
    condstore = False
    qresync: ev.QResync | None = None

    def param() -> None:
        nonlocal condstore, qresync
        name = r.atom("a select parameter").upper()
        if name == "CONDSTORE":  # RFC 7162 §3.1.8
            condstore = True
        elif name == "QRESYNC":  # RFC 7162 §3.2.5
            r.sp()
            qresync = _qresync(r)
        else:
            raise ParseError(f"Unknown select parameter {name[:30]}")

    r.list_of(param, allow_empty=False)
    return condstore, qresync


def _qresync(r: Reader) -> ev.QResync:
    # "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
    r.expect(b"(")
    r.enter()
    validity = r.number(nz=True)
    r.sp()
    modseq = r.number64()
    known_uids = sequences = matching = None
    if r.maybe_sp():
        if r.peek() != b"(":
            known_uids = r.sequence_set()
            if r.maybe_sp() and r.peek() != b"(":
                raise ParseError("Expected sequence match data")
        if r.peek() == b"(":
            r.pos += 1
            sequences = r.sequence_set()
            r.sp()
            matching = r.sequence_set()
            r.expect(b")", "')'")
    r.expect(b")", "')'")
    r.leave()
    return ev.QResync(validity, modseq, known_uids, sequences, matching)


def _select(read_only: bool) -> Callable[[Reader, str], ev.Command]:
    def parse(r: Reader, tag: str) -> ev.Command:
        r.sp()
        mailbox = r.mailbox()
        condstore, qresync = False, None
        if r.maybe_sp():
            condstore, qresync = _select_params(r)
        r.end()
        return ev.Select(tag, mailbox, read_only, condstore, qresync)

    return parse


def _create(r: Reader, tag: str) -> ev.Command:
    r.sp()
    mailbox = r.mailbox()
    uses: tuple[str, ...] = ()
    if r.maybe_sp():
        # RFC 6154 §3: create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")"
        def param() -> None:
            nonlocal uses
            if r.atom("a create parameter").upper() != "USE":
                raise ParseError("Unknown CREATE parameter")
            r.sp()
            uses = r.flag_list()

        r.list_of(param, allow_empty=False)
    r.end()
    return ev.Create(tag, mailbox, uses)


def _one_mailbox(factory: Callable[[str, str], ev.Command]) -> Callable[[Reader, str], ev.Command]:
    def parse(r: Reader, tag: str) -> ev.Command:
        r.sp()
        mailbox = r.mailbox()
        r.end()
        return factory(tag, mailbox)

    return parse


def _rename(r: Reader, tag: str) -> ev.Command:
    r.sp()
    old = r.mailbox()
    r.sp()
    new = r.mailbox()
    r.end()
    return ev.Rename(tag, old, new)


def _status_att(r: Reader) -> str:
    name = r.atom("a status item").upper()
    if name not in STATUS_ITEMS:
        raise ParseError(f"Unknown status item {name[:30]}")
    return name


def _list(r: Reader, tag: str) -> ev.Command:
    # RFC 5258 §6: list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    #                     [SP list-return-opts]
    r.sp()
    extended = False
    selection: tuple[str, ...] = ()
    if r.peek() == b"(":
        extended = True
        selection = tuple(name.upper() for name in r.list_of(lambda: r.atom("an option")))
        unknown = set(selection) - LIST_SELECTION
        if unknown:
            raise ParseError(f"Unknown LIST selection option {sorted(unknown)[0][:30]}")
        if selection and set(selection) <= {"RECURSIVEMATCH"}:
            raise ParseError("RECURSIVEMATCH needs another selection option")  # §3.1
        r.sp()
    reference = decode_mailbox(r.astring(), utf8=r.utf8, inbox=False)
    r.sp()
    if r.peek() == b"(":
        extended = True
        patterns = tuple(r.list_of(r.list_mailbox, allow_empty=False))
    else:
        patterns = (r.list_mailbox(),)
    return_options: list[str] = []
    return_status: tuple[str, ...] | None = None
    if r.maybe_sp():
        extended = True
        r.expect(b"RETURN")
        r.sp()

        def option() -> None:
            nonlocal return_status
            name = r.atom("a return option").upper()
            if name == "STATUS":  # RFC 5819 §2
                r.sp()
                return_status = tuple(r.list_of(lambda: _status_att(r), allow_empty=False))
            elif name in LIST_RETURN:
                return_options.append(name)
            else:
                raise ParseError(f"Unknown LIST return option {name[:30]}")

        r.list_of(option)
    r.end()
    return ev.List(
        tag, reference, patterns, selection, tuple(return_options), return_status, extended
    )


def _lsub(r: Reader, tag: str) -> ev.Command:
    r.sp()
    reference = decode_mailbox(r.astring(), utf8=r.utf8, inbox=False)
    r.sp()
    pattern = r.list_mailbox()
    r.end()
    return ev.Lsub(tag, reference, pattern)


def _status(r: Reader, tag: str) -> ev.Command:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    items = tuple(r.list_of(lambda: _status_att(r), allow_empty=False))
    r.end()
    return ev.Status(tag, mailbox, items)


def _append(r: Reader, tag: str) -> ev.Command:
    # RFC 9051 §9: append = "APPEND" SP mailbox 1*append-message (RFC 3502 §6.3.11)
    #   append-message = [SP flag-list] [SP date-time] SP append-data
    r.sp()
    mailbox = r.mailbox()
    messages: list[ev.AppendMessage] = []
    while r.maybe_sp():
        flags: tuple[str, ...] = ()
        date = None
        if r.peek() == b"(":
            flags = r.flag_list()
            if r"\Recent" in flags:
                raise ParseError(r"\Recent cannot be set")  # RFC 3501 §2.3.2
            r.sp()
        if r.peek() == b'"':
            date = r.date_time()
            r.sp()
        if r.peek_upper(b"UTF8"):
            # RFC 6855 §4: append-data =/ "UTF8" SP "(" literal8 ")" (UTF8=ACCEPT)
            r.expect(b"UTF8 (", "UTF8 (literal8)")
            data, binary = r.literal(allow_literal8=True)
            r.expect(b")", "')'")
        elif r.peek()[:1] not in (b"{", b"~"):
            raise ParseError("APPEND needs the message as a literal")
        else:
            data, binary = r.literal(allow_literal8=True)
        messages.append(ev.AppendMessage(data, flags, date, binary))
    if not messages:
        raise ParseError("APPEND needs a message")
    r.end()
    return ev.Append(tag, mailbox, tuple(messages))


def _id(r: Reader, tag: str) -> ev.Command:
    # RFC 2971 §4: id-params-list = "(" *(string SP nstring) ")" / nil; at most 30
    # pairs, fields up to 30 octets, values up to 1024.
    r.sp()
    if r.peek_upper(b"NIL"):
        r.pos += 3
        r.end()
        return ev.Id(tag, None)
    pairs: list[tuple[str, str | None]] = []

    def pair() -> tuple[str, str | None]:
        key = r.string()
        r.sp()
        value = r.nstring()
        if len(key) > 30 or (value is not None and len(value) > 1024):
            raise ParseError("ID field or value too long")
        return (
            key.decode("utf-8", "replace"),
            None if value is None else value.decode("utf-8", "replace"),
        )

    pairs = r.list_of(pair)
    if len(pairs) > 30:
        raise ParseError("ID takes at most 30 pairs")
    r.end()
    return ev.Id(tag, tuple(pairs))


def _expunge(r: Reader, tag: str) -> ev.Command:
    r.end()
    return ev.Expunge(tag)


def _uid_expunge(r: Reader, tag: str) -> ev.Command:
    r.sp()  # RFC 4315 §2.1
    uids = r.sequence_set()
    r.end()
    return ev.Expunge(tag, uids)


def _search(uid: bool) -> Callable[[Reader, str], ev.Command]:
    def parse(r: Reader, tag: str) -> ev.Command:
        r.sp()
        return_options: tuple[str, ...] | None = None
        if r.peek_upper(b"RETURN"):
            # RFC 4731 §3.1: search-return-opts = SP "RETURN" SP "(" [opts] ")"
            r.pos += 6
            r.sp()
            return_options = tuple(o.upper() for o in r.list_of(lambda: r.atom("an option")))
            unknown = set(return_options) - RETURN_OPTIONS
            if unknown:
                raise ParseError(f"Unknown SEARCH return option {sorted(unknown)[0][:30]}")
            r.sp()
        charset: str | None = None
        if r.peek_upper(b"CHARSET"):
            r.pos += 7
            r.sp()
            charset = r.astring().decode("ascii", "replace").upper()
            if charset not in CHARSETS:
                # RFC 9051 §6.4.4: tagged NO [BADCHARSET (supported charsets)]
                raise ParseError("Unsupported charset", status="NO", code="BADCHARSET")
            r.sp()
        criteria = SearchParser(r, charset or "UTF-8").program()
        r.end()
        return ev.Search(tag, criteria, uid, charset, return_options)

    return parse


# --- FETCH (RFC 9051 §6.4.5) ------------------------------------------------------------

_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SIMPLE = frozenset(
    {"ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE"}
    | {"RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID", "MODSEQ"}
)
_FETCH_NAME = re.compile(rb"[A-Za-z0-9.]+")
_SECTION_TEXTS = {t.value: t for t in ev.SectionText}


def _section(r: Reader, binary: bool) -> ev.Section:
    """Inside "[...]": section-spec, or section-binary = [section-part] for BINARY."""
    parts: list[int] = []
    text: ev.SectionText | None = None
    fields: tuple[str, ...] = ()
    if r.peek()[:1].isdigit():
        parts.append(r.number(nz=True))
        while r.peek(2)[:1] == b"." and r.peek(2)[1:].isdigit():
            r.pos += 1
            parts.append(r.number(nz=True))
        if r.peek() == b".":
            r.pos += 1
            if binary:
                raise ParseError("BINARY takes a part number only")  # RFC 3516 §4.1
            text = _section_text(r, allow_mime=True)
    elif r.peek() != b"]":
        if binary:
            raise ParseError("BINARY takes a part number only")
        text = _section_text(r, allow_mime=False)
    if text in (ev.SectionText.HEADER_FIELDS, ev.SectionText.HEADER_FIELDS_NOT):
        r.sp()
        names = r.list_of(r.astring, allow_empty=False)
        try:
            fields = tuple(name.decode("ascii").upper() for name in names)
        except UnicodeDecodeError:
            raise ParseError("Header field names are ASCII") from None
    r.expect(b"]", "']'")
    return ev.Section(tuple(parts), text, fields)


def _section_text(r: Reader, *, allow_mime: bool) -> ev.SectionText:
    name = r.atom("a section").upper()
    text = _SECTION_TEXTS.get(name)
    if text is None or (text is ev.SectionText.MIME and not allow_mime):
        raise ParseError(f"Invalid section {name[:30]}")
    return text


def _fetch_att(r: Reader) -> ev.FetchAttribute:
    match = _FETCH_NAME.match(r.text, r.pos)
    if match is None:
        raise ParseError("Expected a FETCH item")
    r.pos = match.end()
    r.count()
    name = match[0].decode("ascii").upper()
    if r.peek() != b"[":
        if name not in _SIMPLE:
            raise ParseError(f"Unknown FETCH item {name[:30]}")
        return ev.FetchAttribute(name)
    base, peek = name, False
    if name.endswith(".PEEK"):
        base, peek = name[:-5], True
    if base not in ("BODY", "BINARY", "BINARY.SIZE") or (peek and base == "BINARY.SIZE"):
        raise ParseError(f"Unknown FETCH item {name[:30]}")
    r.pos += 1
    section = _section(r, binary=base != "BODY")
    partial = None
    if r.peek() == b"<":
        if base == "BINARY.SIZE":
            raise ParseError("BINARY.SIZE takes no partial")
        # partial = "<" number64 "." nz-number64 ">" (RFC 9051 §9)
        r.pos += 1
        origin = r.number64()
        r.expect(b".", "'.'")
        length = r.number(nz=True, limit=0x7FFFFFFFFFFFFFFF)
        r.expect(b">", "'>'")
        partial = (origin, length)
    return ev.FetchAttribute(base, section, partial, peek)


def _fetch(uid: bool) -> Callable[[Reader, str], ev.Command]:
    def parse(r: Reader, tag: str) -> ev.Command:
        r.sp()
        sequence_set = r.sequence_set()
        r.sp()
        attributes: tuple[ev.FetchAttribute, ...]
        if r.peek() == b"(":
            attributes = tuple(r.list_of(lambda: _fetch_att(r), allow_empty=False))
        else:
            for macro, names in _MACROS.items():
                if r.peek_upper(macro.encode()):
                    r.pos += len(macro)
                    r.count()
                    attributes = tuple(ev.FetchAttribute(name) for name in names)
                    break
            else:
                attributes = (_fetch_att(r),)
        changedsince: int | None = None
        vanished = False
        if r.maybe_sp():
            # RFC 7162 §3.1.4.1: fetch-modifier CHANGEDSINCE; §3.2.6: VANISHED (UID only)
            def modifier() -> None:
                nonlocal changedsince, vanished
                name = r.atom("a FETCH modifier").upper()
                if name == "CHANGEDSINCE":
                    r.sp()
                    changedsince = r.number64()
                elif name == "VANISHED" and uid:
                    vanished = True
                else:
                    raise ParseError(f"Unknown FETCH modifier {name[:30]}")

            r.list_of(modifier, allow_empty=False)
            if vanished and changedsince is None:
                raise ParseError("VANISHED needs CHANGEDSINCE")  # RFC 7162 §3.2.6
        r.end()
        return ev.Fetch(tag, sequence_set, attributes, uid, changedsince, vanished)

    return parse


def _store(uid: bool) -> Callable[[Reader, str], ev.Command]:
    def parse(r: Reader, tag: str) -> ev.Command:
        # RFC 9051 §9: store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
        r.sp()
        sequence_set = r.sequence_set()
        r.sp()
        unchangedsince: int | None = None
        if r.peek() == b"(":
            # RFC 7162 §3.1.3: store-modifier = "UNCHANGEDSINCE" SP mod-sequence-valzer
            def modifier() -> None:
                nonlocal unchangedsince
                if r.atom("a STORE modifier").upper() != "UNCHANGEDSINCE":
                    raise ParseError("Unknown STORE modifier")
                r.sp()
                unchangedsince = r.number64()

            r.list_of(modifier, allow_empty=False)
            r.sp()
        mode = ev.StoreMode.REPLACE
        if r.peek() in (b"+", b"-"):
            mode = ev.StoreMode(r.peek().decode())
            r.pos += 1
        item = r.atom("FLAGS").upper()
        if item not in ("FLAGS", "FLAGS.SILENT"):
            raise ParseError("Expected FLAGS, +FLAGS or -FLAGS")
        r.sp()
        if r.peek() == b"(":
            flags = r.flag_list()
        else:
            flag_names = [r.flag()]
            while r.maybe_sp():
                flag_names.append(r.flag())
            flags = tuple(flag_names)
        r.end()
        return ev.Store(
            tag, sequence_set, mode, flags, item.endswith(".SILENT"), uid, unchangedsince
        )

    return parse


def _copy_or_move(
    factory: type[ev.Copy] | type[ev.Move], uid: bool
) -> Callable[[Reader, str], ev.Command]:
    def parse(r: Reader, tag: str) -> ev.Command:
        r.sp()
        sequence_set = r.sequence_set()
        r.sp()
        mailbox = r.mailbox()
        r.end()
        return factory(tag, sequence_set, mailbox, uid)

    return parse


# The dispatch tables: command name → argument parser (RFC 9051 §6).
COMMANDS: dict[str, Callable[[Reader, str], ev.Command]] = {
    "CAPABILITY": _no_args(ev.Capability),
    "NOOP": _no_args(ev.Noop),
    "LOGOUT": _no_args(ev.Logout),
    "ID": _id,
    "STARTTLS": _no_args(ev.StartTls),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "ENABLE": _enable,
    "SELECT": _select(read_only=False),
    "EXAMINE": _select(read_only=True),
    "CREATE": _create,
    "DELETE": _one_mailbox(ev.Delete),
    "RENAME": _rename,
    "SUBSCRIBE": _one_mailbox(ev.Subscribe),
    "UNSUBSCRIBE": _one_mailbox(ev.Unsubscribe),
    "LIST": _list,
    "LSUB": _lsub,
    "NAMESPACE": _no_args(ev.Namespace),
    "STATUS": _status,
    "APPEND": _append,
    "IDLE": _no_args(ev.Idle),
    "CHECK": _no_args(ev.Check),
    "CLOSE": _no_args(ev.Close),
    "UNSELECT": _no_args(ev.Unselect),
    "EXPUNGE": _expunge,
    "SEARCH": _search(uid=False),
    "FETCH": _fetch(uid=False),
    "STORE": _store(uid=False),
    "COPY": _copy_or_move(ev.Copy, uid=False),
    "MOVE": _copy_or_move(ev.Move, uid=False),
}
# RFC 9051 §6.4.9: UID FETCH/SEARCH/STORE/COPY/MOVE/EXPUNGE.
UID_COMMANDS: dict[str, Callable[[Reader, str], ev.Command]] = {
    "FETCH": _fetch(uid=True),
    "SEARCH": _search(uid=True),
    "STORE": _store(uid=True),
    "COPY": _copy_or_move(ev.Copy, uid=True),
    "MOVE": _copy_or_move(ev.Move, uid=True),
    "EXPUNGE": _uid_expunge,
}


def _tag_and_name(head: bytes) -> tuple[str | None, str]:
    tag_match = TAG.match(head)
    if tag_match is None or head[tag_match.end() : tag_match.end() + 1] != b" ":
        return (tag_match[0].decode("ascii") if tag_match else None), ""
    word = _WORD.match(head, tag_match.end() + 1)
    return tag_match[0].decode("ascii"), (word[0].decode("ascii").upper() if word else "")


class CommandParser:
    """Client bytes in, commands out: the server side of one IMAP connection."""

    def __init__(
        self,
        *,
        max_line: int = MAX_LINE,
        max_literal: int = MAX_LITERAL,
        max_literals: int = MAX_LITERALS,
        max_command: int | None = None,
        max_depth: int = MAX_DEPTH,
        max_arguments: int = MAX_ARGUMENTS,
        literal_minus: bool = False,
        utf8: bool = False,
    ) -> None:
        """`literal_minus`: the server announces LITERAL- rather than LITERAL+, so a
        `{n+}` over 4096 octets is refused (RFC 7888 §5).  `max_command` bounds the
        whole command, literals included (default: two of the largest literal)."""
        self._framer = Framer(
            max_line=max_line,
            max_literal=max_literal,
            max_literals=max_literals,
            max_command=max_command if max_command is not None else 2 * max_literal + max_line,
            handshake=True,
            non_sync_limit=LITERAL_MINUS if literal_minus else None,
        )
        self._max_depth = max_depth
        self._max_arguments = max_arguments
        self.utf8 = utf8
        self._eof = False
        self._idle_tag: str | None = None
        self._sasl_tag: str | None = None

    # --- session switches the server flips ------------------------------------------

    def set_max_literal(self, max_literal: int) -> None:
        """The largest literal from the next one on, LITERAL+ included (a server takes
        only small ones before login, RFC 7888 §4)."""
        self._framer.max_literal = max_literal
        self._framer.max_command = 2 * max_literal + self._framer.max_line

    def enable_utf8(self) -> None:
        """After `ENABLE UTF8=ACCEPT` (RFC 6855 §3): names and strings are UTF-8."""
        self.utf8 = True

    def start_idle(self, tag: str) -> None:
        """ "+ idling" has gone out: the next line must be DONE (RFC 2177 §3)."""
        self._idle_tag = tag

    def expect_sasl_response(self, tag: str) -> None:
        """A "+ challenge" has gone out: the next line is a SASL response
        (RFC 9051 §6.2.2), not a command."""
        self._sasl_tag = tag

    @property
    def needs_continuation(self) -> bool:
        """A synchronising literal waits for `accept_literal()` or `reject_literal()`."""
        return self._framer.waiting is not None

    def accept_literal(self) -> None:
        """Send "+ Ready" (any Continuation): the client sends the octets next."""
        if self._framer.waiting is None:
            raise LocalProtocolError("no literal is waiting for a continuation")
        self._framer.accept()

    def reject_literal(self) -> None:
        """Send a tagged NO or BAD instead of "+": the command is over (RFC 9051 §7.5)."""
        if self._framer.waiting is None:
            raise LocalProtocolError("no literal is waiting for a continuation")
        self._framer.reject()

    # --- the verbs --------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        if self._eof:
            if data:
                raise LocalProtocolError("receive_data() after the connection was closed")
            return
        if not data:
            self._eof = True
            return
        self._framer.buffer += data

    def next_command(self) -> ev.ServerEvent | Sentinel:
        if self._framer.waiting is not None:
            raise LocalProtocolError("answer the LiteralPending first (accept or reject)")
        raw = self._idle_tag is not None or self._sasl_tag is not None
        frame = self._framer.next_frame(raw_line=raw)
        if frame is None:
            return ev.ConnectionClosed() if self._eof else NEED_DATA
        if isinstance(frame, PendingLiteral):
            tag, name = _tag_and_name(frame.head)
            if tag is None:
                # Not even a tag: refuse and let the client give up the command.
                self._framer.reject()
                return ev.BadCommand(None, Untagged("BAD", text="Missing tag"), frame.head)
            return ev.LiteralPending(tag, name, frame.size, frame.binary)
        if isinstance(frame, Refused):
            return self._refused(frame)
        if self._idle_tag is not None:
            return self._idle_line(frame)
        if self._sasl_tag is not None:
            return self._sasl_line(frame)
        return self._parse(frame)

    # --- internals --------------------------------------------------------------------

    def _refused(self, frame: Refused) -> ev.BadCommand:
        tag, _ = _tag_and_name(frame.head)
        if self._idle_tag is not None or self._sasl_tag is not None:
            tag = self._idle_tag or self._sasl_tag
            self._idle_tag = self._sasl_tag = None
        text = frame.problem.value
        if tag is None:
            return ev.BadCommand(None, Untagged("BAD", text=text), frame.head)
        if frame.problem in (Problem.LITERAL_TOO_BIG, Problem.COMMAND_TOO_BIG):
            # RFC 7888 §4: a refused non-synchronising literal gets BAD [TOOBIG]; a
            # synchronising one NO [TOOBIG] (RFC 9051 §7.1, RFC 4469 §5).
            status = "BAD" if frame.non_synchronising else "NO"
            return ev.BadCommand(tag, Tagged(tag, status, text, TOOBIG), frame.head)
        return ev.BadCommand(tag, Tagged(tag, "BAD", text), frame.head)

    def _idle_line(self, frame: Frame) -> ev.ServerEvent:
        tag = self._idle_tag
        assert tag is not None
        self._idle_tag = None
        # RFC 2177 §3: the client ends IDLE with "DONE"; case-insensitive like commands.
        if frame.text.upper() == b"DONE":
            return ev.IdleDone(tag)
        return ev.BadCommand(tag, Tagged(tag, "BAD", "Expected DONE"), frame.text[:100])

    def _sasl_line(self, frame: Frame) -> ev.ServerEvent:
        tag = self._sasl_tag
        assert tag is not None
        self._sasl_tag = None
        if frame.text == b"*":
            return ev.SaslAbort(tag)  # RFC 9051 §6.2.2: the client cancels
        try:
            return ev.SaslResponse(tag, binascii.a2b_base64(frame.text, strict_mode=True))
        except binascii.Error:
            return ev.BadCommand(tag, Tagged(tag, "BAD", "Invalid base64 in SASL response"))

    def _parse(self, frame: Frame) -> ev.ServerEvent:
        text = frame.text
        tag_match = TAG.match(text)
        if tag_match is None:
            text_out = "Empty line" if not text else "Missing or invalid tag"
            return ev.BadCommand(None, Untagged("BAD", text=text_out), text[:100])
        tag = tag_match[0].decode("ascii")
        reader = Reader(
            text,
            frame.literals,
            max_depth=self._max_depth,
            max_items=self._max_arguments,
            utf8=self.utf8,
        )
        reader.pos = tag_match.end()
        try:
            reader.sp()
            name = reader.atom("a command name").upper()
            table = COMMANDS
            if name == "UID":
                reader.sp()
                name = reader.atom("a command name").upper()
                table = UID_COMMANDS
            parse = table.get(name)
            if parse is None:
                raise ParseError("Unknown command")
            return parse(reader, tag)
        except ParseError as exc:
            code = None
            if exc.code == "BADCHARSET":
                code = badcharset()
            elif exc.code is not None:
                code = ResponseCode(exc.code)
            response = Tagged(tag, exc.status, exc.text, code)
            return ev.BadCommand(tag, response, _loggable(text))


def _loggable(text: bytes) -> bytes:
    head = text[:100]
    _, name = _tag_and_name(head)
    if name in ("LOGIN", "AUTHENTICATE"):
        return head[: head.upper().find(name.encode()) + len(name)] + b" [redacted]"
    return head
