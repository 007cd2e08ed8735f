"""SEARCH and UID SEARCH (RFC 9051 §6.4.4, ESEARCH RFC 4731, SEARCHRES RFC 5182,
CONDSTORE RFC 7162 §3.1.5).

The program is evaluated by `posthouse.mime.search`: metadata first, message octets
only for the messages the flags, dates and sizes do not already decide, and only the
header block when no BODY/TEXT key asks for more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posthouse.mime.headerblock import header_end
from posthouse.mime.search import Matcher, MessageMeta, Need, SearchContext
from posthouse.proto.imap import events as ev
from posthouse.proto.imap import response as rs
from posthouse.proto.imap.search import And, Criterion, Not, Or, SearchKey
from posthouse.store.base import NotFound

if TYPE_CHECKING:
    from posthouse.server.imap import ImapSession


def _uses_modseq(key: SearchKey) -> bool:
    if isinstance(key, Criterion):
        return key.name == "MODSEQ"
    if isinstance(key, Not):
        return _uses_modseq(key.key)
    if isinstance(key, Or):
        return _uses_modseq(key.left) or _uses_modseq(key.right)
    assert isinstance(key, And)
    return any(_uses_modseq(k) for k in key.keys)


async def search(s: ImapSession, cmd: ev.Search) -> None:
    sel = s.sel
    if cmd.uid:
        await s.sync(expunge_ok=True)
    records = {r.uid: r for r in await s.watcher.list_messages(sel.mailbox_id)}
    uids = sel.uids
    context = SearchContext(
        max_seq=len(uids),
        max_uid=uids[-1] if uids else 0,
        saved=frozenset(sel.saved),
    )
    matcher = Matcher(cmd.criteria, context)
    found: list[tuple[int, int, int]] = []  # (seq, uid, modseq)
    for seq, uid in enumerate(uids, 1):
        record = records.get(uid)
        if record is None:
            continue  # expunged meanwhile, not yet announced: matches nothing
        view = MessageMeta(
            seq=seq,
            uid=uid,
            modseq=record.modseq,
            flags=record.flags,
            internal_date=record.internal_date,
            size=record.size,
        )
        verdict = matcher.decide(view)
        if verdict is None:
            try:
                raw = await s.store.read_message(record.blob_id)
            except NotFound:
                continue
            if matcher.need is Need.HEADER:
                raw = raw[: header_end(raw)]
            verdict = matcher.matches(view, raw)
        if verdict:
            found.append((seq, uid, record.modseq))
    numbers = [uid if cmd.uid else seq for seq, uid, _ in found]
    modseq = None
    if _uses_modseq(cmd.criteria):
        s.condstore = True
        # RFC 7162 §3.1.5: the highest mod-sequence of the messages found.
        modseq = max((m for _, _, m in found), default=None)
    options = cmd.return_options
    if options is not None and "SAVE" in options:
        saved = found
        if {"MIN", "MAX"} & set(options) and not {"ALL", "COUNT"} & set(options):
            # RFC 5182 §2.1: SAVE with MIN and/or MAX alone saves just those messages.
            ends = [found[0]] if "MIN" in options and found else []
            if "MAX" in options and found and found[-1] not in ends:
                ends.append(found[-1])
            saved = ends
        sel.saved = tuple(uid for _, uid, _ in saved)  # RFC 5182 §2.1
    if options is None and not s.rev2:
        s.send(rs.search_response(numbers, modseq=modseq).to_bytes())
    else:
        wanted = set(options or ()) or {"ALL"}
        if options is not None and set(options) == {"SAVE"}:
            wanted = set()  # RFC 5182 §2.1: SAVE alone returns no ESEARCH
        if wanted - {"SAVE"}:
            s.send(
                rs.esearch_response(
                    cmd.tag,
                    uid=cmd.uid,
                    minimum=min(numbers) if "MIN" in wanted and numbers else None,
                    maximum=max(numbers) if "MAX" in wanted and numbers else None,
                    count=len(numbers) if "COUNT" in wanted else None,
                    all_numbers=numbers if "ALL" in wanted else None,
                    modseq=modseq if numbers else None,
                ).to_bytes()
            )
    await s.ok(cmd, "SEARCH completed")
