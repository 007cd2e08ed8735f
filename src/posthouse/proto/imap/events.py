"""IMAP commands and what the command parser reports (RFC 9051 §6, RFC 3501 §6).

Every command carries the client's `tag`; names are upper-case; arguments are typed:
mailbox names are Unicode (decoded from modified UTF-7 or UTF-8, "INBOX" in any case
made "INBOX"), sequence sets are `SequenceSet`, dates are `datetime.date` and
`datetime.datetime`, flags are `str` with system flags in canonical case.  Whether a
mailbox exists or message 7 is there only the store knows: the server decides.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field

from posthouse.proto.imap.response import Tagged, Untagged
from posthouse.proto.imap.search import SearchKey
from posthouse.proto.imap.seqset import SequenceSet


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA = _Sentinel("NEED_DATA")  # feed more bytes with receive_data()
Sentinel = _Sentinel


# --- any state (RFC 9051 §6.1) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capability:
    tag: str


@dataclass(frozen=True, slots=True)
class Noop:
    tag: str


@dataclass(frozen=True, slots=True)
class Logout:
    tag: str


@dataclass(frozen=True, slots=True)
class Id:
    """ID (RFC 2971 §3.1): `params` None for NIL, else (field, value-or-None) pairs."""

    tag: str
    params: tuple[tuple[str, str | None], ...] | None


# --- not authenticated (RFC 9051 §6.2) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class StartTls:
    tag: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    """AUTHENTICATE mechanism [initial-response] (RFC 9051 §6.2.2, SASL-IR RFC 4959 §3):
    `initial_response` is base64-decoded, b"" for "=", None when absent."""

    tag: str
    mechanism: str
    initial_response: bytes | None = None

    def __repr__(self) -> str:
        ir = "None" if self.initial_response is None else "<redacted>"
        return f"Authenticate(tag={self.tag!r}, mechanism={self.mechanism!r}, ir={ir})"


@dataclass(frozen=True, slots=True)
class Login:
    tag: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Login(tag={self.tag!r}, username={self.username!r}, password=<redacted>)"


# --- authenticated (RFC 9051 §6.3) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enable:
    """ENABLE (RFC 5161 §3.1); capability names upper-case."""

    tag: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QResync:
    """SELECT ... (QRESYNC (uidvalidity modseq [known-uids [seq-match]])) (RFC 7162
    §3.2.5.2); `known_sequences`/`known_uids` are the sequence-match-data pair."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    known_sequences: SequenceSet | None = None
    matching_uids: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Select:
    """SELECT, or EXAMINE when `read_only` (RFC 9051 §6.3.2-3); CONDSTORE and QRESYNC
    select parameters (RFC 7162 §3.1.8, §3.2.5)."""

    tag: str
    mailbox: str
    read_only: bool = False
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True, slots=True)
class Create:
    """CREATE (RFC 9051 §6.3.4); `special_use` from CREATE-SPECIAL-USE (RFC 6154 §3)."""

    tag: str
    mailbox: str
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete:
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename:
    tag: str
    mailbox: str
    new_name: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class List:
    """LIST (RFC 9051 §6.3.9, LIST-EXTENDED RFC 5258 §3): selection options such as
    SUBSCRIBED REMOTE RECURSIVEMATCH SPECIAL-USE; return options such as SUBSCRIBED
    CHILDREN SPECIAL-USE, and STATUS (items) (LIST-STATUS, RFC 5819 §2) in
    `return_status`.  `patterns` holds one or more mailbox patterns ("%" and "*")."""

    tag: str
    reference: str
    patterns: tuple[str, ...]
    selection: tuple[str, ...] = ()
    return_options: tuple[str, ...] = ()
    return_status: tuple[str, ...] | None = None
    extended: bool = False  # the LIST-EXTENDED syntax was used


@dataclass(frozen=True, slots=True)
class Lsub:
    """LSUB (RFC 3501 §6.3.9; gone from IMAP4rev2 but still sent by old clients)."""

    tag: str
    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Namespace:
    tag: str


@dataclass(frozen=True, slots=True)
class Status:
    """STATUS (RFC 9051 §6.3.11): items upper-case (MESSAGES UIDNEXT UIDVALIDITY UNSEEN
    DELETED SIZE RECENT HIGHESTMODSEQ)."""

    tag: str
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of APPEND (RFC 9051 §6.3.12); `binary` for a literal8 (RFC 3516
    §4.4).  The octets are stored exactly as sent (mbsync relies on it)."""

    data: bytes
    flags: tuple[str, ...] = ()
    internal_date: datetime.datetime | None = None
    binary: bool = False

    def __repr__(self) -> str:
        return (
            f"AppendMessage(<{len(self.data)} octets>, flags={self.flags!r}, "
            f"internal_date={self.internal_date!r}, binary={self.binary})"
        )


@dataclass(frozen=True, slots=True)
class Append:
    """APPEND; more than one message is MULTIAPPEND (RFC 3502 §6.3.11)."""

    tag: str
    mailbox: str
    messages: tuple[AppendMessage, ...]


@dataclass(frozen=True, slots=True)
class Idle:
    """IDLE (RFC 9051 §6.3.13, RFC 2177): send "+ idling", call `start_idle()`; the
    parser then reports `IdleDone` for the client's DONE line."""

    tag: str


@dataclass(frozen=True, slots=True)
class IdleDone:
    """The DONE that ends IDLE; answer the IDLE's `tag` with OK."""

    tag: str


# --- selected (RFC 9051 §6.4) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    tag: str


@dataclass(frozen=True, slots=True)
class Close:
    tag: str


@dataclass(frozen=True, slots=True)
class Unselect:
    """UNSELECT (RFC 3691 §2, RFC 9051 §6.4.2)."""

    tag: str


@dataclass(frozen=True, slots=True)
class Expunge:
    """EXPUNGE, or UID EXPUNGE set (RFC 4315 §2.1, RFC 9051 §6.4.3) with `uids`."""

    tag: str
    uids: SequenceSet | None = None


@dataclass(frozen=True, slots=True)
class Search:
    """SEARCH / UID SEARCH (RFC 9051 §6.4.4).  `return_options` is None without RETURN
    (a classic `* SEARCH` answer); () for RETURN () which means ALL (RFC 4731 §3).
    String criteria are decoded with `charset` already."""

    tag: str
    criteria: SearchKey
    uid: bool = False
    charset: str | None = None
    return_options: tuple[str, ...] | None = None


class SectionText(enum.Enum):
    HEADER = "HEADER"
    HEADER_FIELDS = "HEADER.FIELDS"
    HEADER_FIELDS_NOT = "HEADER.FIELDS.NOT"
    TEXT = "TEXT"
    MIME = "MIME"


@dataclass(frozen=True, slots=True)
class Section:
    """A body section (RFC 9051 §6.4.5): `part` 1.2.3 (() for the whole message),
    `text` HEADER/HEADER.FIELDS(.NOT)/TEXT/MIME, `fields` upper-case header names."""

    part: tuple[int, ...] = ()
    text: SectionText | None = None
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        spec = ".".join(str(p) for p in self.part)
        if self.text is not None:
            spec = f"{spec}.{self.text.value}" if spec else self.text.value
            if self.fields:
                spec += " (" + " ".join(self.fields) + ")"
        return spec


@dataclass(frozen=True, slots=True)
class FetchAttribute:
    """One FETCH data item (RFC 9051 §6.4.5).  `name` is FLAGS, INTERNALDATE,
    RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE, UID, MODSEQ, RFC822, RFC822.HEADER,
    RFC822.TEXT, BODY[] (with `section`), BINARY[], BINARY.SIZE[]; `peek` for .PEEK;
    `partial` (origin, length) for <origin.length>."""

    name: str
    section: Section | None = None
    partial: tuple[int, int] | None = None
    peek: bool = False

    def response_name(self) -> str:
        """The name the FETCH response uses for this item (RFC 9051 §7.5.2): no .PEEK,
        and only the origin of a partial."""
        if self.section is None:
            return self.name
        text = f"{self.name}[{self.section}]"
        if self.partial is not None:
            text += f"<{self.partial[0]}>"
        return text


@dataclass(frozen=True, slots=True)
class Fetch:
    """FETCH / UID FETCH; macros ALL FAST FULL expanded (RFC 9051 §6.4.5).
    `changedsince` and `vanished` are CONDSTORE/QRESYNC modifiers (RFC 7162 §3.1.4,
    §3.2.6)."""

    tag: str
    sequence_set: SequenceSet
    attributes: tuple[FetchAttribute, ...]
    uid: bool = False
    changedsince: int | None = None
    vanished: bool = False


class StoreMode(enum.Enum):
    REPLACE = ""
    ADD = "+"
    REMOVE = "-"


@dataclass(frozen=True, slots=True)
class Store:
    """STORE / UID STORE (RFC 9051 §6.4.6); UNCHANGEDSINCE (RFC 7162 §3.1.3)."""

    tag: str
    sequence_set: SequenceSet
    mode: StoreMode
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False
    unchangedsince: int | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    tag: str
    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    """MOVE / UID MOVE (RFC 6851 §3)."""

    tag: str
    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False


# --- SASL exchange lines (RFC 9051 §6.2.2) ------------------------------------------


@dataclass(frozen=True, slots=True)
class SaslResponse:
    """A base64 line answering a "+ " challenge, decoded."""

    tag: str
    data: bytes

    def __repr__(self) -> str:
        return f"SaslResponse(tag={self.tag!r}, <{len(self.data)} octets>)"


@dataclass(frozen=True, slots=True)
class SaslAbort:
    """ "*" instead of a SASL response: answer the AUTHENTICATE tag with BAD."""

    tag: str


# --- what else the parser reports ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiteralPending:
    """A synchronising literal `{size}` (RFC 9051 §4.3, §7.5) was announced: call
    `accept_literal()` and send "+ Ready", or `reject_literal()` and send a tagged
    NO/BAD; the client sends the octets only after "+".  `command` is the upper-case
    command name when it could be read (APPEND, LOGIN…), for an APPENDLIMIT check."""

    tag: str
    command: str
    size: int
    binary: bool = False


@dataclass(frozen=True, slots=True)
class BadCommand:
    """The parser refused a command (syntax, limits, encoding): send `response`, a
    tagged BAD/NO, or an untagged BAD when no tag could be read (`tag` None)."""

    tag: str | None
    response: Tagged | Untagged
    line: bytes = field(default=b"", compare=False)


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The client closed its side."""


Command = (
    Capability
    | Noop
    | Logout
    | Id
    | StartTls
    | Authenticate
    | Login
    | Enable
    | Select
    | Create
    | Delete
    | Rename
    | Subscribe
    | Unsubscribe
    | List
    | Lsub
    | Namespace
    | Status
    | Append
    | Idle
    | Check
    | Close
    | Unselect
    | Expunge
    | Search
    | Fetch
    | Store
    | Copy
    | Move
)

ServerEvent = (
    Command | IdleDone | SaslResponse | SaslAbort | LiteralPending | BadCommand | ConnectionClosed
)
