"""One pass over a raw message into its MIME tree, by offsets (no copies of bodies).

`parse(raw)` is shared by BODYSTRUCTURE, BODY[section] and BINARY[section], so a
FETCH asking for several items reads the message once.  Malformed MIME never
raises: a multipart without a boundary has no parts, a missing closing delimiter
ends the last part at the end of its parent, and nesting deeper than MAX_DEPTH (or
more than MAX_PARTS entities in one message) stays opaque.
"""

from __future__ import annotations

from dataclasses import dataclass

from posthouse.mime.headerblock import header_end, wanted_fields
from posthouse.mime.mimefields import Params, content_type

CONTENT_FIELDS = frozenset(
    {
        b"content-type",
        b"content-transfer-encoding",
        b"content-id",
        b"content-description",
        b"content-md5",
        b"content-disposition",
        b"content-language",
        b"content-location",
    }
)
# RFC 9051 §7.5.2 ENVELOPE members: the strings, and the address lists.
ENVELOPE_STRINGS = frozenset({b"date", b"subject", b"in-reply-to", b"message-id"})
ENVELOPE_ADDRESSES = frozenset({b"from", b"sender", b"reply-to", b"to", b"cc", b"bcc"})

MAX_DEPTH = 100
MAX_PARTS = 10_000
# RFC 3501 §9 media-message.  RFC 9051 adds message/global (RFC 6532), but an
# IMAP4rev1 client cannot read it in that form, so it stays a basic part (as in
# Dovecot) and the server need not know which revision a session speaks.
_ENCAPSULATED = (b"rfc822",)


@dataclass(slots=True, eq=False)
class Part:
    """One MIME entity: its header is raw[start:body_start] (with the empty line
    that ends it), its body raw[body_start:end].  `fields` holds the unfolded
    Content-* values (and, for a message, the envelope fields); `ctype`, `subtype`
    and `params` are as sent, or the RFC 2045 §5.2 default when absent.  Trees are
    shared (see `parse`): read them, do not change them."""

    raw: bytes
    start: int
    body_start: int
    end: int
    fields: dict[bytes, bytes]
    ctype: bytes
    subtype: bytes
    params: Params
    children: list[Part] | None = None  # multipart/*: its body parts
    message: Part | None = None  # message/rfc822: the encapsulated message
    is_message: bool = False  # carries an RFC 5322 header

    @property
    def header(self) -> bytes:
        return self.raw[self.start : self.body_start]

    @property
    def body(self) -> bytes:
        return self.raw[self.body_start : self.end]

    @property
    def size(self) -> int:
        return self.end - self.body_start

    def lines(self) -> int:
        """Body lines as IMAP counts them (RFC 9051 §7.5.2 body-fld-lines)."""
        return self.raw.count(b"\n", self.body_start, self.end)

    def param(self, name: bytes) -> bytes | None:
        for key, value in self.params:
            if key.lower() == name:
                return value
        return None


def parse(raw: bytes) -> Part:
    """The MIME tree of a whole message.  The last tree is kept for the same bytes
    object, so the items of one FETCH (BODYSTRUCTURE, BODY[1], BINARY[2]...) that
    each start from the raw message parse it once."""
    global _last
    last = _last
    if last is not None and last[0] is raw:
        return last[1]
    tree = _Builder(raw).entity(0, len(raw), 0, message=True, digest=False)
    _last = (raw, tree)
    return tree


_last: tuple[bytes, Part] | None = None


class _Builder:
    __slots__ = ("budget", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.budget = MAX_PARTS

    def entity(self, start: int, end: int, depth: int, *, message: bool, digest: bool) -> Part:
        raw = self.raw
        self.budget -= 1
        body_start = header_end(raw, start, end)
        header = raw[start:body_start]
        if message:
            found = wanted_fields(header, CONTENT_FIELDS, ENVELOPE_STRINGS, ENVELOPE_ADDRESSES)
        else:
            found = wanted_fields(header, CONTENT_FIELDS)
        value = found.get(b"content-type")
        parsed = content_type(value) if value is not None else None
        if parsed is None:
            # RFC 2045 §5.2 default; RFC 2046 §5.1.5 inside multipart/digest.
            ctype, subtype = (b"message", b"rfc822") if digest else (b"text", b"plain")
            part = Part(raw, start, body_start, end, found, ctype, subtype, [])
        else:
            part = Part(raw, start, body_start, end, found, *parsed)
        part.is_message = message
        kind = part.ctype.lower()
        if kind == b"multipart":
            if depth >= MAX_DEPTH or self.budget <= 0:
                self._opaque(part)
            else:
                boundary = part.param(b"boundary")
                sub_digest = part.subtype.lower() == b"digest"
                part.children = [
                    self.entity(s, e, depth + 1, message=False, digest=sub_digest)
                    for s, e in self._split(boundary, body_start, end)
                ]
        elif kind == b"message" and part.subtype.lower() in _ENCAPSULATED:
            if depth >= MAX_DEPTH or self.budget <= 0:
                self._opaque(part)
            else:
                part.message = self.entity(body_start, end, depth + 1, message=True, digest=False)
        return part

    @staticmethod
    def _opaque(part: Part) -> None:
        part.ctype, part.subtype, part.params = b"application", b"octet-stream", []

    def _split(self, boundary: bytes | None, start: int, end: int) -> list[tuple[int, int]]:
        """Body part ranges of a multipart body (RFC 2046 §5.1.1): a delimiter is
        "--" boundary at the start of a line, followed by "--" (the close) or by
        white space up to the line end; the line break before it belongs to it.
        The preamble and epilogue are not parts."""
        if not boundary:
            return []
        raw = self.raw
        delim = b"--" + boundary
        ranges: list[tuple[int, int]] = []
        current = -1
        pos = start
        while True:
            i = raw.find(delim, pos, end)
            if i < 0:
                break
            pos = i + 1
            if i != start and raw[i - 1] != 0x0A:
                continue
            j = i + len(delim)
            closing = raw.startswith(b"--", j, end)
            if not closing:
                k = j
                while k < end and raw[k] in b" \t":
                    k += 1
                if k < end and raw[k] not in b"\r\n":
                    continue  # a longer boundary that merely starts with ours
            if current >= 0:
                stop = i
                if i > start:
                    stop = i - 1
                    if stop > current and raw[stop - 1] == 0x0D:
                        stop -= 1
                ranges.append((current, max(stop, current)))
            if closing:
                return ranges
            line_end = raw.find(b"\n", j, end)
            current = end if line_end < 0 else line_end + 1
            pos = current
            if len(ranges) + 1 >= self.budget:
                break  # out of budget: the rest of the body is one last part
        if current >= 0:
            ranges.append((current, end))
        return ranges


def find_part(root: Part, path: tuple[int, ...]) -> Part | None:
    """The entity a section part number names (RFC 9051 §6.4.5): numbers index the
    parts of a multipart; a part that is message/rfc822 continues into the
    encapsulated message; a message that is not multipart has only part 1, its body.
    None when there is no such part."""
    part: Part | None = root
    for depth, number in enumerate(path):
        assert part is not None
        if depth > 0:
            if part.message is not None:
                part = part.message
            elif part.children is None:
                return None
        if part.children is not None:
            if not 1 <= number <= len(part.children):
                return None
            part = part.children[number - 1]
        elif number != 1 or not part.is_message:
            return None
    return part
