"""Bytes to text the way mail needs it: a declared charset that may be unknown or
wrong, and RFC 2047 encoded-words.  Nothing here raises on bad input; what cannot
be decoded becomes latin-1 or U+FFFD."""

from __future__ import annotations

import binascii
import functools
import re

from posthouse.mime.transfer import decode_base64


@functools.lru_cache(maxsize=512)
def _codec(charset: str) -> str | None:
    """The Python codec for a MIME charset name, or None when there is no text codec
    of that name (b"".decode rejects bytes-to-bytes codecs such as "base64")."""
    name = charset.strip().strip('"').lower()
    if not name or len(name) > 64:
        return None
    try:
        b"".decode(name)
    except (LookupError, UnicodeError, ValueError):
        return None
    return name


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in `charset`; with no charset, an unknown one, or US-ASCII that is not
    ASCII, UTF-8 if the bytes are valid UTF-8 and latin-1 otherwise."""
    codec = _codec(charset) if charset else None
    if codec is not None and codec not in ("us-ascii", "ascii"):
        try:
            return data.decode(codec, "replace")
        except (LookupError, UnicodeError, ValueError):
            pass  # codecs such as "undefined" fail whatever the error handler
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?=";
# a run of them separated only by white space is one run (§6.2: the space goes).
_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_WORD_RUN = re.compile(r"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=(?:[ \t]+=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=)*")


def _decode_run(match: re.Match[str]) -> str:
    """One run of adjacent encoded-words.  Words in the same charset are joined as
    bytes before decoding, because senders do split a character across two words."""
    pieces: list[str] = []
    pending = bytearray()
    pending_charset = ""
    for word in _WORD.finditer(match.group(0)):
        # RFC 2231 §5: charset*language
        charset = word.group(1).split("*", 1)[0]
        text = word.group(3).encode("latin-1", "replace")
        # RFC 2047 §4.1 "B" is base64, §4.2 "Q" is quoted-printable with "_" a space
        b = word.group(2) in "Bb"
        data = decode_base64(text) if b else binascii.a2b_qp(text, header=True)
        if pending and charset.lower() != pending_charset.lower():
            pieces.append(decode_bytes(bytes(pending), pending_charset))
            pending.clear()
        pending += data
        pending_charset = charset
    if pending:
        pieces.append(decode_bytes(bytes(pending), pending_charset))
    return "".join(pieces)


def decode_words(text: str) -> str:
    """`text` with every RFC 2047 encoded-word replaced by what it encodes.  Words
    inside other words or quoted strings are decoded too, as most readers do."""
    if "=?" not in text:
        return text
    return _WORD_RUN.sub(_decode_run, text)
