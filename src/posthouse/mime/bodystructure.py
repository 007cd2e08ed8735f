"""FETCH BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, grammar in §9 `body`).

Sizes are body octets as stored; line counts are the line ends in the body.  Types,
subtypes, parameter names and values are given as the message sends them.  Where
the message says nothing, the RFC 2045 defaults apply: text/plain with charset
us-ascii (§5.2) and 7bit (§6.1); a text part without a charset gets charset
us-ascii, as Dovecot reports it.
"""

from __future__ import annotations

from posthouse.mime.envelope import message_envelope
from posthouse.mime.imapvalue import run
from posthouse.mime.mimefields import Params, disposition, languages, transfer_encoding
from posthouse.mime.tree import Part, parse
from posthouse.proto.imap.response import Value

_DEFAULT_CHARSET = (b"charset", b"us-ascii")
_SEVEN_BIT = b"7bit"
# RFC 9051 §9: a multipart has at least one body; one without parts is shown
# with an empty text/plain part, as Dovecot does.
_EMPTY_BODY: tuple[Value, ...] = (b"text", b"plain", _DEFAULT_CHARSET, None, None, b"7bit", 0, 0)
_EMPTY_EXTENSION: tuple[Value, ...] = (None, None, None, None)


def body_structure(raw: bytes, *, extensible: bool) -> Value:
    """BODYSTRUCTURE (extensible=True) or BODY (extensible=False) of a raw message."""
    return structure_of(parse(raw), extensible=extensible)


def structure_of(part: Part, *, extensible: bool) -> Value:
    """The `body` value of a parsed entity."""
    if part.children is not None:
        return _multipart(part, extensible)
    return _single(part, extensible)


def _params(params: Params) -> Value:
    if not params:
        return None
    flat: list[Value] = []
    for name, value in params:
        flat += (name, value)
    return tuple(flat)


def _disposition(part: Part) -> Value:
    value = part.fields.get(b"content-disposition")
    parsed = disposition(value) if value is not None else None
    if parsed is None:
        return None
    return (parsed[0], _params(parsed[1]))


def _language(part: Part) -> Value:
    value = part.fields.get(b"content-language")
    tags = languages(value) if value is not None else []
    return tuple(tags) if tags else None


def _multipart(part: Part, extensible: bool) -> Value:
    assert part.children is not None
    if part.children:
        bodies = [structure_of(child, extensible=extensible) for child in part.children]
    else:
        bodies = [_EMPTY_BODY + _EMPTY_EXTENSION if extensible else _EMPTY_BODY]
    # body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
    items: tuple[Value, ...] = (*run(bodies), part.subtype)
    if extensible:
        items += (
            _params(part.params),
            _disposition(part),
            _language(part),
            part.fields.get(b"content-location"),
        )
    return items


def _single(part: Part, extensible: bool) -> Value:
    fields = part.fields
    text = part.ctype.lower() == b"text"
    params = part.params
    if text and part.param(b"charset") is None:
        params = [*params, _DEFAULT_CHARSET]
    cte = fields.get(b"content-transfer-encoding")
    encoding = transfer_encoding(cte) if cte is not None else None
    # body-fields = param id desc enc octets
    items: tuple[Value, ...] = (
        part.ctype,
        part.subtype,
        _params(params),
        fields.get(b"content-id"),
        fields.get(b"content-description"),
        encoding or _SEVEN_BIT,
        part.size,
    )
    if part.message is not None:
        # body-type-msg: envelope, the encapsulated body, lines
        items += (
            message_envelope(part.message),
            structure_of(part.message, extensible=extensible),
            part.lines(),
        )
    elif text:
        items += (part.lines(),)
    if extensible:
        items += (
            fields.get(b"content-md5"),
            _disposition(part),
            _language(part),
            fields.get(b"content-location"),
        )
    return items
