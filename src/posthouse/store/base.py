"""The one storage interface every backend implements.

Records are frozen dataclasses; every method is a coroutine so a networked engine
(PostgreSQL) fits the same shape as the embedded one (SQLite + files).

Durability contract (DESIGN.md principle 3): when a coroutine that writes returns,
the change is on stable storage (fsync'd).  Backends may batch many concurrent
writers into one fsync (group commit) but never skip it.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import EllipsisType
from typing import Any, Protocol


class StoreError(Exception):
    """Base class of storage errors that callers may want to report."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class QuotaExceeded(StoreError):
    """Accepting the message would take a user over their quota."""

    def __init__(self, user_id: int, used: int, limit: int, size: int) -> None:
        super().__init__(f"quota exceeded for user {user_id}: {used}+{size} > {limit}")
        self.user_id = user_id
        self.used = used
        self.limit = limit
        self.size = size


class Protocols(enum.StrEnum):
    """Access switches a user (or an app password) can have."""

    SMTP = "smtp"
    POP3 = "pop3"
    IMAP = "imap"
    WEB = "web"


ALL_PROTOCOLS = frozenset(p.value for p in Protocols)


class SpecialUse(enum.StrEnum):
    """RFC 6154 special-use attributes."""

    SENT = "\\Sent"
    DRAFTS = "\\Drafts"
    TRASH = "\\Trash"
    JUNK = "\\Junk"
    ARCHIVE = "\\Archive"


# Mailboxes every new user gets: (name, special use).
DEFAULT_MAILBOXES: tuple[tuple[str, SpecialUse | None], ...] = (
    ("INBOX", None),
    ("Sent", SpecialUse.SENT),
    ("Drafts", SpecialUse.DRAFTS),
    ("Trash", SpecialUse.TRASH),
    ("Junk", SpecialUse.JUNK),
)


# --- accounts ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Domain:
    id: int
    name: str  # lower-case, IDNA (A-label) form
    created: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: int
    domain_id: int
    localpart: str  # lower-case
    address: str  # localpart@domain, lower-case
    display_name: str
    password_hash: str
    enabled: bool
    is_admin: bool
    protocols: frozenset[str]  # values of Protocols the user switched on
    quota_bytes: int | None  # None = unlimited
    created: datetime


@dataclass(frozen=True, slots=True)
class Alias:
    id: int
    source: str  # "x@dom" or "@dom" (catch-all), lower-case
    targets: tuple[str, ...]  # destination addresses (local or remote)
    created: datetime


@dataclass(frozen=True, slots=True)
class AppPassword:
    id: int
    user_id: int
    name: str
    secret_hash: str
    protocols: frozenset[str]
    created: datetime
    last_used: datetime | None
    revoked: bool


# --- mail --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: int
    user_id: int
    name: str  # hierarchy separator "/"; "INBOX" is always spelled so
    special_use: str | None
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    subscribed: bool


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    mailbox_id: int
    uid: int
    modseq: int
    flags: frozenset[str]  # system flags spelled "\\Seen" etc., keywords as given
    internal_date: datetime
    size: int
    blob_id: str


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    messages: int
    unseen: int
    recent: int
    size: int  # RFC 8438 STATUS=SIZE
    uidnext: int
    uidvalidity: int
    highestmodseq: int


class FlagMode(enum.Enum):
    SET = "set"
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class LocalDelivery:
    """One copy of an accepted message for a local mailbox."""

    mailbox_id: int
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class OutboundRecipient:
    address: str
    # RFC 3461 DSN parameters as received (NOTIFY=..., ORCPT=...), kept verbatim
    dsn: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboundEnvelope:
    sender: str  # "" for the null reverse-path
    recipients: tuple[OutboundRecipient, ...]
    # MAIL FROM parameters that matter for relaying: BODY, SMTPUTF8, RET, ENVID
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AcceptResult:
    blob_id: str
    messages: tuple[MessageRecord, ...]  # one per LocalDelivery, same order
    queue_id: int | None


class RecipientState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent failure, bounced (or no bounce for null sender)


@dataclass(frozen=True, slots=True)
class QueueRecipient:
    address: str
    dsn: dict[str, str]
    state: RecipientState
    last_error: str | None


@dataclass(frozen=True, slots=True)
class QueueEntry:
    id: int
    sender: str
    params: dict[str, str]
    recipients: tuple[QueueRecipient, ...]
    blob_id: str
    size: int
    created: datetime
    next_attempt: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class MailboxChange:
    """What changed in a mailbox since a modseq: for IMAP sessions and IDLE."""

    highestmodseq: int
    updated: tuple[MessageRecord, ...]  # added or flag-changed, ordered by uid
    expunged_uids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """A message with the header fields a list, a thread or a search result shows."""

    record: MessageRecord
    from_name: str
    from_addr: str
    to_addrs: tuple[str, ...]
    to_text: str
    subject: str
    date: datetime | None  # the Date: header; None when absent or unreadable
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    thread_key: str
    has_attachment: bool
    preview: str
    thread_size: int = 1  # in a threaded listing: messages of the thread in the mailbox


class SortKey(enum.StrEnum):
    ARRIVAL = "arrival"  # UID order
    DATE = "date"  # received (the internal date), not the Date: header
    FROM = "from"
    SUBJECT = "subject"
    SIZE = "size"


@dataclass(frozen=True, slots=True)
class SummaryPage:
    total: int  # messages (or threads) in the whole listing; see `more`
    items: tuple[MessageSummary, ...]
    # Threaded listings count threads only as far as they looked: `more` says that
    # pages after this one exist even when `total` does not show it yet.
    more: bool = False


@dataclass(frozen=True, slots=True)
class WebSession:
    id: str  # SHA-256 hex of the cookie token
    user_id: int
    csrf: str
    remote_ip: str
    created: datetime
    last_seen: datetime
    expires: datetime


# --- the interface -----------------------------------------------------------


class AccountStore(Protocol):
    async def add_domain(self, name: str) -> Domain: ...
    async def get_domain(self, name: str) -> Domain | None: ...
    async def list_domains(self) -> list[Domain]: ...
    async def delete_domain(self, name: str) -> None:
        """Remove a domain.  Raises StoreError if it still has users or aliases."""

    async def add_user(
        self,
        address: str,
        password_hash: str,
        *,
        display_name: str = "",
        is_admin: bool = False,
        protocols: Iterable[str] = ALL_PROTOCOLS,
        quota_bytes: int | None = None,
    ) -> User:
        """Create a user in an existing domain, with the DEFAULT_MAILBOXES."""

    async def get_user(self, address: str) -> User | None: ...
    async def get_user_by_id(self, user_id: int) -> User | None: ...
    async def list_users(self, domain: str | None = None) -> list[User]: ...
    async def update_user(
        self,
        user_id: int,
        *,
        password_hash: str | None = None,
        display_name: str | None = None,
        enabled: bool | None = None,
        is_admin: bool | None = None,
        protocols: Iterable[str] | None = None,
        quota_bytes: int | EllipsisType | None = ...,
    ) -> User: ...
    async def delete_user(self, user_id: int) -> None:
        """Remove a user with their mailboxes, messages and app passwords."""

    async def add_alias(self, source: str, targets: Sequence[str]) -> Alias: ...
    async def get_alias(self, source: str) -> Alias | None: ...
    async def list_aliases(self, domain: str | None = None) -> list[Alias]: ...
    async def delete_alias(self, source: str) -> None: ...

    async def add_app_password(
        self, user_id: int, name: str, secret_hash: str, protocols: Iterable[str]
    ) -> AppPassword: ...
    async def list_app_passwords(self, user_id: int) -> list[AppPassword]: ...
    async def revoke_app_password(self, user_id: int, name_or_id: str | int) -> None: ...
    async def touch_app_password(self, app_password_id: int) -> None:
        """Record a successful use (last_used = now).  Need not be durable at once."""


class MailStore(Protocol):
    async def list_mailboxes(self, user_id: int) -> list[Mailbox]: ...
    async def get_mailbox(self, user_id: int, name: str) -> Mailbox | None:
        """Look a mailbox up by name; "inbox" in any case means INBOX."""

    async def get_mailbox_by_id(self, mailbox_id: int) -> Mailbox | None: ...
    async def mailbox_by_role(self, user_id: int, special_use: str) -> Mailbox | None: ...
    async def create_mailbox(
        self, user_id: int, name: str, special_use: str | None = None
    ) -> Mailbox: ...
    async def rename_mailbox(self, mailbox_id: int, new_name: str) -> Mailbox: ...
    async def delete_mailbox(self, mailbox_id: int) -> None: ...
    async def set_subscribed(self, mailbox_id: int, subscribed: bool) -> None: ...

    async def accept(
        self,
        raw: bytes,
        local: Sequence[LocalDelivery],
        outbound: OutboundEnvelope | None = None,
        *,
        internal_date: datetime | None = None,
        meta: dict[str, Any] | None = None,
    ) -> AcceptResult:
        """Store one message for local mailboxes and/or the outbound queue, atomically
        and durably.  Checks each local user's quota (QuotaExceeded, nothing stored).
        `meta` (JSON-able: transcript, TLS, authentication results) is kept with each copy."""

    async def append(
        self,
        mailbox_id: int,
        raw: bytes,
        flags: Iterable[str] = (),
        internal_date: datetime | None = None,
    ) -> MessageRecord:
        """IMAP APPEND / webmail save: one message into one mailbox, durably."""

    async def list_messages(self, mailbox_id: int) -> list[MessageRecord]:
        """Every message of a mailbox, ordered by UID."""

    async def get_message(self, mailbox_id: int, uid: int) -> MessageRecord | None: ...
    async def message_meta(self, message_id: int) -> dict[str, Any]: ...
    async def read_message(self, blob_id: str) -> bytes: ...
    async def read_messages(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        """Several messages in one call, by blob id; ids that are gone are left out."""

    async def read_messages_framed(self, blob_ids: Sequence[str]) -> dict[str, tuple[bytes, bool]]:
        """`read_messages`, with each message whether it can go into a dot-terminated
        body as it is (`posthouse.store.dotsafe.dot_safe`, noted when it was stored)."""

    async def store_flags(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        flags: Iterable[str],
        mode: FlagMode,
        *,
        unchanged_since: int | None = None,
    ) -> tuple[list[MessageRecord], list[int]]:
        """Change flags; returns (records changed, uids skipped by UNCHANGEDSINCE)."""

    async def expunge(self, mailbox_id: int, uids: Sequence[int]) -> list[int]:
        """Remove messages, durably and atomically; returns the UIDs removed."""

    async def copy(
        self, src_mailbox_id: int, uids: Sequence[int], dst_mailbox_id: int
    ) -> list[tuple[int, int]]:
        """Copy messages; returns (source uid, new uid) pairs."""

    async def move(
        self, src_mailbox_id: int, uids: Sequence[int], dst_mailbox_id: int
    ) -> list[tuple[int, int]]:
        """Atomic copy + expunge."""

    async def changes_since(self, mailbox_id: int, modseq: int) -> MailboxChange: ...
    async def mailbox_status(self, mailbox_id: int) -> MailboxStatus: ...
    async def highest_modseqs(self, mailbox_ids: Sequence[int]) -> dict[int, int]:
        """HIGHESTMODSEQ of each mailbox that exists, in one call: how IMAP sessions
        (IDLE) learn that a mailbox changed, whichever process changed it."""

    def change_token(self) -> int:
        """A number that differs whenever anything was committed since it was last read
        (cheap; polled by the mailbox watcher before asking `highest_modseqs`)."""

    async def usage(self, user_id: int) -> int:
        """Bytes the user's messages take (counted per copy), for quotas."""


class MessageIndex(Protocol):
    """Listing, threading and full-text search over per-message summaries."""

    async def list_summaries(
        self,
        mailbox_id: int,
        *,
        offset: int = 0,
        limit: int = 50,
        sort: SortKey = SortKey.ARRIVAL,
        descending: bool = True,
        threads: bool = False,
        unseen_only: bool = False,
    ) -> SummaryPage:
        """One page of a mailbox.  With `threads`, one item per thread (its newest
        message, with thread_size set), ordered by that newest message."""

    async def get_summary(self, mailbox_id: int, uid: int) -> MessageSummary | None: ...
    async def thread(self, user_id: int, thread_key: str) -> list[MessageSummary]:
        """Every message of the user's with that thread key, any mailbox, oldest first."""

    async def search_messages(
        self,
        user_id: int,
        query: str,
        *,
        mailbox_id: int | None = None,
        limit: int = 100,
    ) -> list[MessageSummary]:
        """Full-text search over sender, recipients, subject and text; words are
        matched as prefixes, all must match.  Newest first."""

    async def mailbox_counts(self, user_id: int) -> dict[int, tuple[int, int]]:
        """mailbox id -> (messages, unseen) for every mailbox of the user."""

    async def recent_recipients(self, user_id: int, prefix: str = "", limit: int = 10) -> list[str]:
        """Addresses the user has written to (from the Sent mailbox), most frequent
        first, optionally starting with `prefix`."""


class WebSessionStore(Protocol):
    async def create_web_session(
        self, session_id: str, user_id: int, csrf: str, remote_ip: str, expires: datetime
    ) -> WebSession: ...
    async def get_web_session(self, session_id: str) -> WebSession | None:
        """The session, or None when unknown or expired."""

    async def touch_web_session(self, session_id: str, expires: datetime) -> None: ...
    async def delete_web_session(self, session_id: str) -> None: ...
    async def delete_web_sessions(self, user_id: int, *, keep: str | None = None) -> int:
        """End every session of a user (but `keep`); returns how many."""


class QueueStore(Protocol):
    async def list_queue(self) -> list[QueueEntry]: ...
    async def get_queue_entry(self, queue_id: int) -> QueueEntry | None: ...
    async def due_queue_entries(
        self, now: datetime, limit: int = 100, exclude: Collection[int] = ()
    ) -> list[QueueEntry]:
        """Entries with pending recipients whose next attempt is due, oldest due
        first, leaving out the ids in `exclude` (those already being delivered)."""
    async def update_queue_entry(
        self,
        queue_id: int,
        *,
        recipient_states: dict[str, tuple[RecipientState, str | None]] | None = None,
        next_attempt: datetime | None = None,
        attempts: int | None = None,
        last_error: str | None = None,
        params: dict[str, str] | None = None,
    ) -> QueueEntry:
        """Change recipients' states and the entry's schedule; `params` replaces the
        entry's parameters (the queue keeps a DKIM signature there between attempts)."""

    async def delete_queue_entry(self, queue_id: int) -> None: ...


class Store(AccountStore, MailStore, MessageIndex, WebSessionStore, QueueStore, Protocol):
    """Everything a posthouse instance stores."""

    async def close(self) -> None: ...
