"""Undoing a Content-Transfer-Encoding (RFC 2045 §6) for FETCH BINARY (RFC 3516)."""

from __future__ import annotations

import binascii

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(c for c in range(256) if c not in _B64_ALPHABET)
_IDENTITY = frozenset({b"7bit", b"8bit", b"binary"})


class UnknownTransferEncoding(ValueError):
    """An encoding this server cannot undo; IMAP answers NO [UNKNOWN-CTE]
    (RFC 3516 §4.2)."""

    def __init__(self, encoding: bytes) -> None:
        super().__init__(f"unknown Content-Transfer-Encoding {encoding!r}")
        self.encoding = encoding


def decode_base64(data: bytes) -> bytes:
    """RFC 2045 §6.8, leniently: characters outside the alphabet are ignored, the
    first "=" ends the data, and missing padding is supplied."""
    end = data.find(b"=")
    if end >= 0:
        data = data[:end]
    data = data.translate(None, _NOT_B64)
    extra = len(data) % 4
    if extra == 1:
        data = data[:-1]
    elif extra:
        data += b"=" * (4 - extra)
    return binascii.a2b_base64(data)


def decode(body: bytes, encoding: bytes | None) -> bytes:
    """The body with `encoding` undone; None (absent or unreadable) means 7bit."""
    if encoding is None:
        return body
    name = encoding.lower()
    if name in _IDENTITY:
        return body
    if name == b"base64":
        return decode_base64(body)
    if name == b"quoted-printable":
        return binascii.a2b_qp(body)  # RFC 2045 §6.7, soft line breaks included
    raise UnknownTransferEncoding(encoding)
