"""FETCH, STORE, COPY and MOVE on the selected mailbox (RFC 9051 §6.4.5-6.4.8, UIDPLUS
RFC 4315, MOVE RFC 6851, CONDSTORE/QRESYNC RFC 7162)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from posthouse.mime.sections import UnknownTransferEncoding
from posthouse.proto.imap import events as ev
from posthouse.proto.imap import response as rs
from posthouse.proto.imap.events import StoreMode
from posthouse.proto.imap.response import ResponseCode, Untagged
from posthouse.server import imap_names
from posthouse.server.imap_fetch import FetchPlan, needs_octets, render
from posthouse.server.imap_refusal import bad, no
from posthouse.server.imap_selected import sorted_flags, system_flag
from posthouse.store.base import FlagMode, MessageRecord

if TYPE_CHECKING:
    from posthouse.server.imap import ImapSession

WRITE_BATCH = 256 * 1024  # octets of FETCH responses gathered per write
READ_AHEAD_OCTETS = 4 * 1024 * 1024  # message octets read from the store per call

_MODES = {
    StoreMode.REPLACE: FlagMode.SET,
    StoreMode.ADD: FlagMode.ADD,
    StoreMode.REMOVE: FlagMode.REMOVE,
}


async def fetch(s: ImapSession, cmd: ev.Fetch) -> None:
    sel = s.sel
    if cmd.uid:
        await s.sync(expunge_ok=True)  # UID FETCH may announce expunges first
    if cmd.vanished and not (cmd.uid and s.qresync):
        raise bad("VANISHED needs UID FETCH and ENABLE QRESYNC")  # RFC 7162 §3.2.6
    if cmd.changedsince is not None:
        s.condstore = True
    pairs = s._resolve(cmd.sequence_set, uid=cmd.uid)
    plan = FetchPlan.of(
        cmd.attributes,
        uid=cmd.uid,
        modseq=s.condstore
        and (
            cmd.changedsince is not None
            or any(a.name == "MODSEQ" for a in cmd.attributes)
            or s.qresync
        ),
        read_only=sel.read_only,
    )
    if cmd.vanished and cmd.changedsince is not None:
        # RFC 7162 §3.2.6: the UIDs in the set expunged since CHANGEDSINCE.
        change = await s.store.changes_since(sel.mailbox_id, cmd.changedsince)
        largest = max(sel.uids[-1] if sel.uids else 0, *(change.expunged_uids or (0,)))
        gone = [
            u
            for u in change.expunged_uids
            if not cmd.sequence_set.saved and (u, largest) in cmd.sequence_set
        ]
        if gone:
            s.send(rs.vanished(gone, earlier=True).to_bytes())
    missing = False
    # One read of the index for the whole command (one query for a big range), and
    # the responses written in large writes, not one per message.
    records = await s.records(pairs)
    out: list[bytes] = []
    pending = 0
    for start in range(0, len(pairs), 500):
        batch = pairs[start : start + 500]
        seen_uids = set()
        if plan.sets_seen:
            unseen = [u for _, u in batch if u in records and "\\Seen" not in records[u].flags]
            if unseen:
                changed, _ = await s.store.store_flags(
                    sel.mailbox_id, unseen, ["\\Seen"], FlagMode.ADD
                )
                for seen in changed:
                    records[seen.uid] = seen
                    sel.echoed[seen.uid] = seen.modseq
                    seen_uids.add(seen.uid)
                s.watcher.poke(sel.mailbox_id)
        octets: dict[str, bytes] = {}
        for seq, uid in batch:
            record = records.get(uid)
            if record is None:
                missing = True
                continue
            if cmd.changedsince is not None and record.modseq <= cmd.changedsince:
                continue  # RFC 7162 §3.1.4.1
            raw = None
            if needs_octets(plan, record.blob_id):
                if record.blob_id not in octets:
                    octets = await _read_ahead(s, batch, records, plan, seq)
                raw = octets.get(record.blob_id)
                if raw is None:
                    missing = True
                    continue
            try:
                chunks = render(seq, record, plan, raw, add_flags=uid in seen_uids)
            except UnknownTransferEncoding:
                # RFC 3516 §4.3: BINARY of a part whose encoding is unknown.
                s.send(*out)
                raise no(
                    f"Message {seq}: unknown Content-Transfer-Encoding", "UNKNOWN-CTE"
                ) from None
            out += chunks
            pending += sum(map(len, chunks))
            if pending >= WRITE_BATCH:
                s.send(*out)
                out.clear()
                pending = 0
                if not await s.drain():
                    return
    s.send(*out)
    if missing and not cmd.uid:
        # RFC 9051 §7.1: messages expunged by another session, not yet announced.
        await s.sync(expunge_ok=False)
        s.tagged(
            cmd.tag,
            "NO",
            "Some of the requested messages no longer exist",
            ResponseCode("EXPUNGEISSUED"),
        )
        return
    await s.ok(cmd, "FETCH completed")


async def _read_ahead(
    s: ImapSession,
    batch: list[tuple[int, int]],
    records: dict[int, MessageRecord],
    plan: FetchPlan,
    seq: int,
) -> dict[str, bytes]:
    """The octets of the next messages of `batch` from `seq` on, in one store call:
    up to READ_AHEAD_OCTETS (at least one message, however large)."""
    wanted: list[str] = []
    total = 0
    for number, uid in batch:
        if number < seq:
            continue
        record = records.get(uid)
        if record is None or not needs_octets(plan, record.blob_id):
            continue
        if wanted and total + record.size > READ_AHEAD_OCTETS:
            break
        wanted.append(record.blob_id)
        total += record.size
    return await s.store.read_messages(wanted)


def _check_flags(flags: tuple[str, ...]) -> list[str]:
    out = []
    for flag in flags:
        if flag.startswith("\\"):
            proper = system_flag(flag)
            if proper is None:
                # RFC 9051 §2.3.2: \Recent and unknown system flags cannot be stored.
                raise bad(f"Flag {flag} cannot be stored")
            out.append(proper)
        else:
            out.append(flag)
    return out


async def store(s: ImapSession, cmd: ev.Store) -> None:
    sel = s.sel
    if sel.read_only:
        raise no("The mailbox is read-only (EXAMINE)", "READ-ONLY")
    if cmd.uid:
        await s.sync(expunge_ok=True)
    if cmd.unchangedsince is not None:
        s.condstore = True
    flags = _check_flags(cmd.flags)
    pairs = s._resolve(cmd.sequence_set, uid=cmd.uid)
    changed, skipped = await s.store.store_flags(
        sel.mailbox_id,
        [u for _, u in pairs],
        flags,
        _MODES[cmd.mode],
        unchanged_since=cmd.unchangedsince,
    )
    if changed:
        s.watcher.poke(sel.mailbox_id)
    by_uid: dict[int, MessageRecord] = {r.uid: r for r in changed}
    for mine in changed:
        # This session's own change: the next sync must not report it back, which
        # would undo .SILENT (RFC 9051 §6.4.6).
        sel.echoed[mine.uid] = mine.modseq
    # RFC 9051 §2.3.2: flags are case-insensitive, so "$label" after "$Label" is not
    # new; and removing a keyword never defines one.
    known = {k.lower() for k in sel.keywords}
    for keyword in flags if cmd.mode is not StoreMode.REMOVE else ():
        if not keyword.startswith("\\") and keyword.lower() not in known:
            known.add(keyword.lower())
            sel.keywords.add(keyword)
            s.send(sel.flags_line()[0])  # RFC 9051 §7.3.5: a new keyword in * FLAGS
    if not cmd.silent:
        # RFC 9051 §6.4.6: the new flags of every message named (changed or not).
        unchanged = [(seq, u) for seq, u in pairs if u not in by_uid and u not in skipped]
        current = await s.records(unchanged) if unchanged else {}
        current.update(by_uid)
    else:
        current = by_uid if s.condstore else {}
    out: list[bytes] = []
    for seq, uid in pairs:
        record = current.get(uid)
        if record is None or uid in skipped:
            continue
        sel.echoed[uid] = record.modseq
        items: list[tuple[str, rs.Value]] = []
        if not cmd.silent:
            items.append(("FLAGS", rs.flags(sorted_flags(record.flags))))
        if cmd.uid or s.qresync:
            items.append(("UID", uid))
        if s.condstore:
            # RFC 7162 §3.1.3: MODSEQ in the STORE's FETCH responses, .SILENT or not.
            items.append(("MODSEQ", (record.modseq,)))
        if items:
            out.append(rs.fetch_response(seq, items).to_bytes())
    s.send(*out)
    code = None
    if skipped:
        # RFC 7162 §3.1.3: the messages UNCHANGEDSINCE refused, as the client numbers them.
        if cmd.uid:
            code = rs.modified(skipped)
        else:
            seqs = [seq for seq, u in pairs if u in set(skipped)]
            code = rs.modified(seqs)
    await s.ok(cmd, "STORE completed" if not skipped else "Conditional STORE failed", code)


async def copy_or_move(s: ImapSession, cmd: ev.Copy | ev.Move) -> None:
    sel = s.sel
    moving = isinstance(cmd, ev.Move)
    if moving and sel.read_only:
        raise no("The mailbox is read-only (EXAMINE)", "READ-ONLY")
    # The numbers mean what they meant to the client when it sent the command: resolve
    # them before the sync below announces (and renumbers for) pending expunges.
    # Messages already expunged are skipped by the store.
    pairs = s._resolve(cmd.sequence_set, uid=cmd.uid)
    uids = [u for _, u in pairs]
    await s.sync(expunge_ok=True)
    target = await s.store.get_mailbox(s.user.id, imap_names.normalize(cmd.mailbox))
    if target is None:
        raise no(f"No mailbox {cmd.mailbox!r}", "TRYCREATE")  # RFC 9051 §6.4.7
    verb = "MOVE" if moving else "COPY"
    if not uids:
        await s.ok(cmd, f"{verb} completed: nothing to do")
        return
    if moving:
        done = await s.store.move(sel.mailbox_id, uids, target.id)
    else:
        done = await s.store.copy(sel.mailbox_id, uids, target.id)
    s.watcher.poke(target.id)
    code = None
    if done:
        code = rs.copyuid(target.uidvalidity, [a for a, _ in done], [b for _, b in done])
    if moving:
        s.watcher.poke(sel.mailbox_id)
        # RFC 6851 §4.3: COPYUID in an untagged OK before the expunges.
        if code is not None:
            s.send(Untagged("OK", code=code, text="Moved").to_bytes())
        sel.pending.update(a for a, _ in done if sel.seq_of(a) is not None)
        s.send(*sel.announce_expunges(qresync=s.qresync))
        await s.ok(cmd, "MOVE completed")
        return
    await s.ok(cmd, "COPY completed", code)
