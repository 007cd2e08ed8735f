"""FETCH data items (RFC 9051 §6.4.5, §7.5.2; BINARY RFC 3516; MODSEQ RFC 7162 §3.1.4).

`FetchPlan` looks at the requested items once per command: whether the message octets
are needed at all (FLAGS, UID, sizes and dates come from the index), and whether the
command marks messages \\Seen.  `render` builds one `* n FETCH (...)` response as a list
of byte chunks, so a message body goes to the socket without being copied into a line.

ENVELOPE and BODYSTRUCTURE are parsed once per stored message and kept, encoded, in a
per-process cache keyed by the message's blob (its content never changes).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from posthouse.mime.bodystructure import body_structure
from posthouse.mime.envelope import envelope
from posthouse.mime.sections import UnknownTransferEncoding, binary, binary_size, section
from posthouse.proto.imap import response as rs
from posthouse.proto.imap.events import FetchAttribute, Section, SectionText
from posthouse.server.imap_selected import sorted_flags
from posthouse.store.base import MessageRecord

# Items answered from the message index alone.
INDEX_ITEMS = frozenset({"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ"})
# Items that need only the parsed structure (cached).
STRUCTURE_ITEMS = frozenset({"ENVELOPE", "BODY", "BODYSTRUCTURE"})
# RFC 9051 §6.4.5: these set \Seen unless .PEEK (RFC822.HEADER never does).
_SETS_SEEN = frozenset({"RFC822", "RFC822.TEXT"})


class CachedStructure:
    """Encoded ENVELOPE / BODY / BODYSTRUCTURE by blob id, least recently used out."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def get(self, blob_id: str, item: str) -> bytes | None:
        key = (blob_id, item)
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, blob_id: str, item: str, value: bytes) -> None:
        self._items[(blob_id, item)] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)


STRUCTURES = CachedStructure()


@dataclass(frozen=True, slots=True)
class FetchPlan:
    attributes: tuple[FetchAttribute, ...]
    needs_raw: bool  # some item needs the message octets (beyond cached structure)
    structure: bool  # ENVELOPE / BODY / BODYSTRUCTURE asked
    sets_seen: bool  # a non-PEEK body item: \Seen gets set
    has_flags: bool
    labels: tuple[bytes, ...]  # each item's name in the response (RFC 9051 §7.5.2)

    @classmethod
    def of(
        cls, attributes: Sequence[FetchAttribute], *, uid: bool, modseq: bool, read_only: bool
    ) -> FetchPlan:
        atts = list(attributes)
        names = {a.name for a in atts}
        # RFC 9051 §6.4.8: UID FETCH always includes UID; RFC 7162 §3.1.4.1: MODSEQ once
        # CONDSTORE is on and CHANGEDSINCE asked, or always with CONDSTORE enabled.
        if uid and "UID" not in names:
            atts.insert(0, FetchAttribute("UID"))
        if modseq and "MODSEQ" not in names:
            atts.append(FetchAttribute("MODSEQ"))
        sets_seen = not read_only and any(
            (a.name in ("BODY", "BINARY") and a.section is not None and not a.peek)
            or a.name in _SETS_SEEN
            for a in atts
        )
        needs_raw = any(a.name not in INDEX_ITEMS and not _is_structure(a) for a in atts)
        return cls(
            attributes=tuple(atts),
            needs_raw=needs_raw,
            structure=any(_is_structure(a) for a in atts),
            sets_seen=sets_seen,
            has_flags="FLAGS" in names,
            labels=tuple(a.response_name().encode() for a in atts),
        )


def _is_structure(att: FetchAttribute) -> bool:
    """ENVELOPE, BODYSTRUCTURE, or BODY without a section (RFC 9051 §6.4.5)."""
    return att.name in STRUCTURE_ITEMS and att.section is None


def structure_item(blob_id: str, item: str, raw: bytes | None) -> bytes | None:
    """Encoded ENVELOPE/BODY/BODYSTRUCTURE from the cache, or built from `raw`; None
    when not cached and no octets were given."""
    cached = STRUCTURES.get(blob_id, item)
    if cached is not None or raw is None:
        return cached
    if item == "ENVELOPE":
        value = rs.encode_value(envelope(raw))
    else:
        value = rs.encode_value(body_structure(raw, extensible=item == "BODYSTRUCTURE"))
    STRUCTURES.put(blob_id, item, value)
    return value


def needs_octets(plan: FetchPlan, blob_id: str) -> bool:
    if plan.needs_raw:
        return True
    if plan.structure:
        return any(
            _is_structure(a) and STRUCTURES.get(blob_id, a.name) is None for a in plan.attributes
        )
    return False


def _partial(data: bytes, partial: tuple[int, int] | None) -> bytes:
    if partial is None:
        return data
    origin, length = partial
    # RFC 9051 §6.4.5: an origin past the end gives an empty string.
    return data[origin : origin + length]


def _body_section(raw: bytes, att: FetchAttribute) -> bytes | None:
    name = att.name
    if name == "RFC822" or (
        att.section is not None and not att.section.part and att.section.text is None
    ):
        return raw
    if name == "RFC822.HEADER":
        return section(raw, Section(text=SectionText.HEADER))
    if name == "RFC822.TEXT":
        return section(raw, Section(text=SectionText.TEXT))
    assert att.section is not None
    return section(raw, att.section)


_FLAG_TEXT: dict[frozenset[str], bytes] = {}


def flags_text(flags: frozenset[str]) -> bytes:
    """`(\\Seen \\Flagged)`, cached: a mailbox has few distinct flag sets."""
    text = _FLAG_TEXT.get(flags)
    if text is None:
        text = rs.encode_value(rs.flags(sorted_flags(flags)))
        if len(_FLAG_TEXT) < 4096:
            _FLAG_TEXT[flags] = text
    return text


def render(
    seq: int,
    record: MessageRecord,
    plan: FetchPlan,
    raw: bytes | None,
    *,
    flags: frozenset[str] | None = None,
    add_flags: bool = False,
) -> list[bytes]:
    """One FETCH response as chunks: the text between literals joined, each literal's
    octets a chunk of their own (never copied).  `flags` overrides the record's (after
    \\Seen was set by this fetch); `add_flags` appends FLAGS when the client did not
    ask for it (RFC 9051 §6.4.5: the \\Seen change is reported)."""
    current = record.flags if flags is None else flags
    chunks: list[bytes] = []
    text: list[bytes] = [b"* %d FETCH (" % seq]
    sep = b""
    for att, label in zip(plan.attributes, plan.labels, strict=True):
        name = att.name
        if name == "UID":
            text.append(b"%sUID %d" % (sep, record.uid))
        elif name == "FLAGS":
            text.append(sep + b"FLAGS " + flags_text(current))
        elif name == "RFC822.SIZE":
            text.append(b"%sRFC822.SIZE %d" % (sep, record.size))
        elif name == "INTERNALDATE":
            date = rs.date_time(record.internal_date).encode()
            text.append(b'%sINTERNALDATE "%s"' % (sep, date))
        elif name == "MODSEQ":
            text.append(b"%sMODSEQ (%d)" % (sep, record.modseq))
        elif name in STRUCTURE_ITEMS and att.section is None:
            value = structure_item(record.blob_id, name, raw)
            text.append(sep + label + b" " + (value if value is not None else b"NIL"))
        elif name == "BINARY.SIZE":
            assert raw is not None and att.section is not None
            text.append(b"%s%s %d" % (sep, label, binary_size(raw, att.section.part)))
        else:
            assert raw is not None
            if name == "BINARY":
                assert att.section is not None
                data: bytes | None = binary(raw, att.section.part)
                prefix = b"~{" if data is not None and b"\x00" in data else b"{"  # RFC 3516 §4.2
            else:  # BODY[...], RFC822, RFC822.HEADER, RFC822.TEXT
                data = _body_section(raw, att)
                prefix = b"{"
            if data is None:
                text.append(sep + label + b" NIL")
            else:
                data = _partial(data, att.partial)
                text.append(b"%s%s %s%d}\r\n" % (sep, label, prefix, len(data)))
                chunks.append(b"".join(text))
                chunks.append(data)
                text = []
        sep = b" "
    if add_flags and not plan.has_flags:
        text.append(sep + b"FLAGS " + flags_text(current))
    text.append(b")\r\n")
    chunks.append(b"".join(text))
    return chunks


__all__ = [
    "STRUCTURES",
    "FetchPlan",
    "UnknownTransferEncoding",
    "needs_octets",
    "render",
    "structure_item",
]
