"""Bytes to text the way mail needs it: a declared charset that may be unknown or
wrong, transfer encodings that may be broken, and RFC 2047 encoded-words.
Nothing here raises on bad input; what cannot be decoded becomes latin-1 or U+FFFD."""

from __future__ import annotations

import binascii
import functools
import re

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64 = bytes(b for b in range(256) if b not in _BASE64_ALPHABET)


def decode_base64(data: bytes) -> bytes:
    """Base64 that never fails: characters outside the alphabet are dropped and the
    first "=" ends the data (RFC 2045 §6.8 allows both); a truncated final group
    keeps what it holds."""
    end = data.find(b"=")
    clean = (data if end < 0 else data[:end]).translate(None, _NOT_BASE64)
    extra = len(clean) % 4
    if extra == 1:  # a lone sixth of a byte carries nothing
        clean = clean[:-1]
    elif extra:
        clean += b"=" * (4 - extra)
    return binascii.a2b_base64(clean)


def decode_quoted_printable(data: bytes, header: bool = False) -> bytes:
    """RFC 2045 §6.7 (and RFC 2047 §4.2 "_" with `header`); a malformed "=" escape
    is kept as it stands, as §6.7 note (2) suggests."""
    return binascii.a2b_qp(data, header=header)


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """Undo a Content-Transfer-Encoding (RFC 2045 §6); unknown ones pass through."""
    encoding = encoding.strip().lower()
    if encoding == "base64":
        return decode_base64(data)
    if encoding == "quoted-printable":
        return decode_quoted_printable(data)
    return data


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
        if word.group(2) in "Bb":
            data = decode_base64(text)
        else:
            data = decode_quoted_printable(text, header=True)
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
