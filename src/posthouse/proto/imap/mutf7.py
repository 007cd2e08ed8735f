"""Modified UTF-7 for mailbox names (RFC 3501 §5.1.3, kept by RFC 9051 §5.1.3 for
IMAP4rev1 clients).

Printable US-ASCII except "&" stands for itself; "&" is written "&-"; every other run
of characters is "&" + modified BASE64 (RFC 2152 with "," for "/", no padding) of its
UTF-16BE form + "-".  Decoding is strict: the only accepted spelling of a name is the
one `encode` produces, so one mailbox never has two names (a classic way to dodge an
access check is a second spelling of the same name).
"""

from __future__ import annotations

import base64
import binascii

from posthouse.proto.imap.errors import ParseError


def _printable(char: str) -> bool:
    return " " <= char <= "~"


def encode(name: str) -> str:
    """`name` in modified UTF-7.  Lone surrogates cannot be encoded."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            b64 = base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")
            out.append("&" + b64 + "-")
            pending.clear()

    for char in name:
        if _printable(char):
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _decode_run(run: str) -> str:
    # RFC 3501 §5.1.3: modified BASE64 of UTF-16; "," stands for "/", no "=" padding.
    bits = 6 * len(run)
    if bits % 16 >= 6:
        raise ParseError("Invalid modified UTF-7: truncated base64 run")
    padded = run.replace(",", "/") + "=" * (-len(run) % 4)
    try:
        raw = binascii.a2b_base64(padded.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ParseError("Invalid modified UTF-7: bad base64") from None
    if len(raw) % 2:
        raise ParseError("Invalid modified UTF-7: odd number of UTF-16 octets")
    try:
        text = raw.decode("utf-16-be")
    except UnicodeDecodeError:
        raise ParseError("Invalid modified UTF-7: unpaired UTF-16 surrogate") from None
    if any(_printable(char) for char in text):
        # RFC 3501 §5.1.3: printable US-ASCII "MUST represent themselves".
        raise ParseError("Invalid modified UTF-7: encodes printable US-ASCII")
    return text


def decode(name: str) -> str:
    """The Unicode name for the modified UTF-7 `name`; ParseError when it is not the
    canonical spelling (8-bit or control characters, "&" without "-", bad base64,
    non-zero padding bits, adjacent runs, encoded printable ASCII)."""
    out: list[str] = []
    i = 0
    length = len(name)
    while i < length:
        char = name[i]
        if not _printable(char):
            raise ParseError("Invalid modified UTF-7: raw 8-bit or control character")
        if char != "&":
            out.append(char)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            raise ParseError("Invalid modified UTF-7: unterminated '&' run")
        run = name[i + 1 : end]
        out.append("&" if not run else _decode_run(run))
        i = end + 1
    text = "".join(out)
    if encode(text) != name:
        # Catches what the checks above let through: adjacent runs ("&AOQ-&AOQ-") and
        # non-zero pad bits in the last base64 character.
        raise ParseError("Invalid modified UTF-7: not the canonical encoding")
    return text
