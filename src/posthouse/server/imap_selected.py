"""The selected mailbox as one IMAP session knows it (RFC 9051 §2.3.1, §5.2, §7.5.1).

Message sequence numbers are positions in `uids`, the list of UIDs the client has been
told about.  Changes made by anyone (this session, another session, another process,
an SMTP delivery) are read back from the store with `changes_since(modseq)` and turned
into untagged responses:

* new messages → `* n EXISTS` (any time after a command);
* flag changes → `* n FETCH (FLAGS (...) [UID u] [MODSEQ (m)])`;
* removed messages → `* n EXPUNGE` (or `* VANISHED uids` once QRESYNC is enabled), but
  only when the rules allow: never while answering FETCH, STORE or SEARCH by sequence
  number (RFC 9051 §7.5.1), so the numbers the client is using never shift under it.
  Until then they wait in `pending`.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from posthouse.proto.imap import response as rs
from posthouse.proto.imap.seqset import SequenceSet
from posthouse.store.base import MailboxChange, MessageRecord

# RFC 9051 §2.3.2: the system flags a client may set; \Recent is the server's alone.
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
PERMANENT_FLAGS = (*SYSTEM_FLAGS, "\\*")


class BadSet(Exception):
    """A sequence set naming numbers the mailbox does not have."""


@dataclass
class Selected:
    mailbox_id: int
    name: str
    uidvalidity: int
    read_only: bool
    uids: array[int]  # sequence number - 1 -> UID, as the client knows them
    modseq: int  # HIGHESTMODSEQ the client has been brought up to
    uidnext: int
    pending: set[int] = field(default_factory=set)  # UIDs expunged, not yet announced
    saved: tuple[int, ...] = ()  # UIDs of the last SEARCH ... SAVE (RFC 5182)
    echoed: dict[int, int] = field(default_factory=dict)  # uid -> modseq already sent
    keywords: set[str] = field(default_factory=set)  # keywords seen, for * FLAGS

    # --- numbers ------------------------------------------------------------------
    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        if i < len(self.uids) and self.uids[i] == uid:
            return i + 1
        return None

    def resolve(self, seqset: SequenceSet, *, uid: bool) -> list[tuple[int, int]]:
        """(sequence number, uid) pairs a set names, ascending.  By UID, numbers that
        do not exist are skipped (RFC 9051 §6.4.8); "*" is the highest UID, and a
        range that starts above it still names that message (RFC 9051 §6.4.8 note).
        By sequence number, a number past the end is an error."""
        if seqset.saved:
            return [(s, u) for u in self.saved if (s := self.seq_of(u)) is not None]
        uids = self.uids
        if uid:
            if not uids:
                return []
            largest = uids[-1]
            pairs: list[tuple[int, int]] = []
            for lo, hi in seqset.intervals(largest):
                start = bisect.bisect_left(uids, lo)
                end = bisect.bisect_right(uids, hi)
                pairs.extend((i + 1, uids[i]) for i in range(start, end))
            return pairs
        count = len(uids)
        if count == 0:
            raise BadSet("No messages in the mailbox")
        pairs = []
        for lo, hi in seqset.intervals(count):
            if hi > count:
                raise BadSet(f"No message {hi}: the mailbox has {count}")
            pairs.extend((n, uids[n - 1]) for n in range(lo, hi + 1))
        return pairs

    # --- changes ------------------------------------------------------------------
    def apply(
        self,
        change: MailboxChange,
        *,
        expunge_ok: bool,
        condstore: bool,
        qresync: bool,
        utf8: bool = False,
    ) -> list[bytes]:
        """The untagged responses that bring the client up to `change`."""
        out: list[bytes] = []
        keywords_before = len(self.keywords)
        known_last = self.uids[-1] if self.uids else 0
        gone = {u for u in change.expunged_uids if self.seq_of(u) is not None}
        self.pending |= gone
        new: list[MessageRecord] = []
        for record in change.updated:
            if record.uid > known_last:
                if record.uid not in change.expunged_uids:
                    new.append(record)
                continue
            if record.uid in self.pending:
                continue
            if self.echoed.get(record.uid) == record.modseq:
                continue  # this session's own STORE already reported it
            seq = self.seq_of(record.uid)
            if seq is None:
                continue
            self.keywords.update(f for f in record.flags if not f.startswith("\\"))
            out.append(self.flags_fetch(seq, record, condstore=condstore or qresync))
        self.echoed.clear()
        if expunge_ok:
            out += self.announce_expunges(qresync=qresync)
        if new:
            for record in new:
                self.uids.append(record.uid)
                self.keywords.update(f for f in record.flags if not f.startswith("\\"))
            out.append(rs.exists(len(self.uids)).to_bytes())
        if len(self.keywords) != keywords_before:
            # RFC 9051 §7.3.5: a keyword new to the mailbox (set by another session)
            # changes the FLAGS list; say it before the FETCH that carries it.
            out.insert(0, self.flags_line()[0])
        self.modseq = max(self.modseq, change.highestmodseq)
        return out

    def announce_expunges(self, *, qresync: bool) -> list[bytes]:
        """`* n EXPUNGE` for every pending removal, highest number first so that each
        number is still right when the client reads it; or one VANISHED (RFC 7162
        §3.2.10)."""
        if not self.pending:
            return []
        gone = sorted(self.pending)
        self.pending.clear()
        out: list[bytes] = []
        seqs = [s for u in gone if (s := self.seq_of(u)) is not None]
        if qresync:
            out.append(rs.vanished(gone).to_bytes())
        else:
            out.extend(rs.expunge(seq).to_bytes() for seq in sorted(seqs, reverse=True))
        keep = set(gone)
        self.uids = array("I", (u for u in self.uids if u not in keep))
        self.saved = tuple(u for u in self.saved if u not in keep)
        return out

    def flags_fetch(self, seq: int, record: MessageRecord, *, condstore: bool) -> bytes:
        items: list[tuple[str, rs.Value]] = [("FLAGS", rs.flags(sorted_flags(record.flags)))]
        items.append(("UID", record.uid))
        if condstore:
            items.append(("MODSEQ", (record.modseq,)))
        return rs.fetch_response(seq, items).to_bytes()

    def flags_line(self) -> tuple[bytes, bytes]:
        """`* FLAGS (...)` and `* OK [PERMANENTFLAGS (...)]` (RFC 9051 §7.3.5, §7.1)."""
        names = [*SYSTEM_FLAGS, *sorted(self.keywords)]
        flags = rs.flags_response(names).to_bytes()
        permanent: Iterable[str] = () if self.read_only else (*names, "\\*")
        ok = rs.Untagged("OK", code=rs.permanentflags(permanent), text="Flags permitted")
        return flags, ok.to_bytes()


def system_flag(flag: str) -> str | None:
    """The canonical spelling of a system flag ("\\flagged" -> "\\Flagged"), or None
    when `flag` is not one a client may set."""
    proper = "\\" + flag[1:].capitalize()
    return proper if proper in SYSTEM_FLAGS else None


def sorted_flags(flags: Iterable[str]) -> list[str]:
    """System flags first in their usual order, then keywords: stable output."""
    order = {f: i for i, f in enumerate(SYSTEM_FLAGS)}
    return sorted(flags, key=lambda f: (order.get(f, len(order)), f))
