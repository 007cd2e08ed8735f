"""LIST and LSUB (RFC 9051 §6.3.9, LIST-EXTENDED RFC 5258, SPECIAL-USE RFC 6154,
CHILDREN RFC 3348, LIST-STATUS RFC 5819, RFC 3501 §6.3.9 LSUB)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from posthouse.proto.imap import events as ev
from posthouse.proto.imap import response as rs
from posthouse.proto.imap.response import Atom
from posthouse.server import imap_names
from posthouse.server.imap_names import DELIMITER, Entry

if TYPE_CHECKING:
    from posthouse.server.imap import ImapSession


async def _entries(s: ImapSession) -> tuple[dict[str, Entry], dict[str, int]]:
    mailboxes = await s.store.list_mailboxes(s.user.id)
    entries = imap_names.hierarchy((m.name, m.subscribed, m.special_use) for m in mailboxes)
    ids = {m.name: m.id for m in mailboxes}
    return entries, ids


def _matching(entries: dict[str, Entry], reference: str, patterns: tuple[str, ...]) -> list[str]:
    regexes = [imap_names.pattern_regex(reference, p) for p in patterns]
    names = [n for n in entries if any(r.fullmatch(n) for r in regexes)]
    return sorted(names, key=imap_names.sort_key)


async def list_responses(s: ImapSession, cmd: ev.List) -> list[bytes]:
    utf8 = s.utf8
    if not cmd.extended and len(cmd.patterns) == 1 and cmd.patterns[0] == "":
        # RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
        return [rs.list_response(["\\Noselect"], DELIMITER, "", utf8=utf8).to_bytes()]
    selection = set(cmd.selection)
    returning = set(cmd.return_options)
    subscribed_only = "SUBSCRIBED" in selection
    special_only = "SPECIAL-USE" in selection
    recursive = "RECURSIVEMATCH" in selection
    show_subscribed = subscribed_only or "SUBSCRIBED" in returning
    entries, ids = await _entries(s)
    out: list[bytes] = []
    matched = _matching(entries, cmd.reference, cmd.patterns)
    if subscribed_only and recursive:
        # RFC 5258 §3.5: a name that is not subscribed itself but has subscribed
        # children appears with CHILDINFO ("SUBSCRIBED").
        pass
    for name in matched:
        entry = entries[name]
        attrs: list[str] = []
        extended: list[rs.Value] = []
        if subscribed_only and not entry.subscribed:
            if recursive and _has_subscribed_child(entries, name):
                extended = [(b"CHILDINFO", (b"SUBSCRIBED",))]
                attrs.append("\\NonExistent" if not entry.exists else "\\HasChildren")
                out.append(_list_line(attrs, name, utf8, extended))
            continue
        if special_only and entry.special_use is None:
            continue
        if not entry.exists:
            attrs.append("\\NonExistent" if cmd.extended else "\\Noselect")
        # RFC 3348 / RFC 5258 §4: children are always reported (cheap here).
        attrs.append("\\HasChildren" if entry.has_children else "\\HasNoChildren")
        if show_subscribed and entry.subscribed:
            attrs.append("\\Subscribed")
        if entry.special_use:
            attrs.append(entry.special_use)  # RFC 6154 §2
        out.append(_list_line(attrs, name, utf8, extended))
        if cmd.return_status is not None and entry.exists:
            mailbox = await s.store.get_mailbox_by_id(ids[name])
            if mailbox is not None:
                items = await s.status_items(mailbox, cmd.return_status)
                out.append(rs.status_response(name, items, utf8=utf8).to_bytes())
    return out


def _list_line(attrs: list[str], name: str, utf8: bool, extended: list[rs.Value]) -> bytes:
    data: list[rs.Value] = [tuple(Atom(a) for a in attrs), DELIMITER, rs.mailbox(name, utf8=utf8)]
    if extended:
        # RFC 5258 §4: one list of tag/value pairs: ("CHILDINFO" ("SUBSCRIBED")).
        data.append(tuple(item for v in extended for item in _ext(v)))
    return rs.Untagged("LIST", tuple(data)).to_bytes()


def _ext(value: rs.Value) -> tuple[rs.Value, ...]:
    if isinstance(value, tuple) and value and value[0] == b"CHILDINFO":
        return ("CHILDINFO", value[1])
    return value if isinstance(value, tuple) else (value,)


def _has_subscribed_child(entries: dict[str, Entry], name: str) -> bool:
    prefix = name + DELIMITER
    return any(n.startswith(prefix) and e.subscribed for n, e in entries.items())


async def lsub_responses(s: ImapSession, cmd: ev.Lsub) -> list[bytes]:
    """RFC 3501 §6.3.9: subscribed names matching; a "%" that stops at a level with
    subscribed children lists that level with \\Noselect."""
    utf8 = s.utf8
    if cmd.pattern == "":
        return [
            rs.list_response(["\\Noselect"], DELIMITER, "", utf8=utf8, command="LSUB").to_bytes()
        ]
    entries, _ = await _entries(s)
    out = []
    for name in _matching(entries, cmd.reference, (cmd.pattern,)):
        entry = entries[name]
        if entry.subscribed:
            attrs = [entry.special_use] if entry.special_use else []
            out.append(
                rs.list_response(attrs, DELIMITER, name, utf8=utf8, command="LSUB").to_bytes()
            )
        elif "%" in cmd.pattern and _has_subscribed_child(entries, name):
            out.append(
                rs.list_response(
                    ["\\Noselect"], DELIMITER, name, utf8=utf8, command="LSUB"
                ).to_bytes()
            )
    return out
