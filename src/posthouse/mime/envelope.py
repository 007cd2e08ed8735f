"""FETCH ENVELOPE (RFC 9051 §7.5.2) from a message's header block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from posthouse.mime.addresses import parse_address_list
from posthouse.mime.headerblock import header_end, wanted_fields
from posthouse.mime.imapvalue import run
from posthouse.mime.tree import ENVELOPE_ADDRESSES, ENVELOPE_STRINGS, Part
from posthouse.proto.imap.response import Value

_NOTHING: frozenset[bytes] = frozenset()


def envelope(header: bytes) -> Value:
    """ENVELOPE of a header block (a whole message is fine: only its header is read)."""
    block = header[: header_end(header)]
    return envelope_of(wanted_fields(block, _NOTHING, ENVELOPE_STRINGS, ENVELOPE_ADDRESSES))


def message_envelope(message: Part) -> Value:
    """ENVELOPE of a parsed message (the root, or an encapsulated message/rfc822)."""
    return envelope_of(message.fields)


def _addresses(value: bytes | None) -> Value:
    if value is None:
        return None
    found: Sequence[Value] = parse_address_list(value)
    # RFC 9051 §9 env-from etc.: "(" 1*address ")" / nil
    return run(found) if found else None


def envelope_of(fields: Mapping[bytes, bytes]) -> Value:
    """(date subject from sender reply-to to cc bcc in-reply-to message-id) from the
    unfolded field values; strings raw, encoded-words left for the client."""
    get = fields.get
    from_ = _addresses(get(b"from"))
    # RFC 9051 §7.5.2: Sender and Reply-To, absent or empty, take the From value.
    sender = _addresses(get(b"sender"))
    reply_to = _addresses(get(b"reply-to"))
    return (
        get(b"date"),
        get(b"subject"),
        from_,
        sender if sender is not None else from_,
        reply_to if reply_to is not None else from_,
        _addresses(get(b"to")),
        _addresses(get(b"cc")),
        _addresses(get(b"bcc")),
        get(b"in-reply-to"),
        get(b"message-id"),
    )
