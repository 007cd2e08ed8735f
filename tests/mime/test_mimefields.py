"""Content-Type, Content-Disposition, Content-Language and
Content-Transfer-Encoding values (RFC 2045 §5.1, §6.1; RFC 2183; RFC 3282)."""

from __future__ import annotations

import pytest

from posthouse.mime.mimefields import content_type, disposition, languages, transfer_encoding

CONTENT_TYPES = [
    (b"text/plain", (b"text", b"plain", [])),
    (b"TEXT/HTML; CHARSET=UTF-8", (b"TEXT", b"HTML", [(b"CHARSET", b"UTF-8")])),
    (b'multipart/mixed; boundary="foo bar"', (b"multipart", b"mixed", [(b"boundary", b"foo bar")])),
    (b"text / plain ; charset = us-ascii ;", (b"text", b"plain", [(b"charset", b"us-ascii")])),
    # RFC 2045 §5.1 example with a comment
    (
        b"text/plain; charset=us-ascii (Plain text)",
        (b"text", b"plain", [(b"charset", b"us-ascii")]),
    ),
    (
        b'text/plain (x); charset="(not a comment)"',
        (b"text", b"plain", [(b"charset", b"(not a comment)")]),
    ),
    (
        b'text/plain; name="a \\"quoted\\" name"',
        (b"text", b"plain", [(b"name", b'a "quoted" name')]),
    ),
    # unquoted boundary with tspecials, as real mailers send it
    (
        b"multipart/alternative; boundary=----=_NextPart_000_0001",
        (b"multipart", b"alternative", [(b"boundary", b"----=_NextPart_000_0001")]),
    ),
    # RFC 2231 parameters stay as sent
    (
        b"application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1=fun",
        (
            b"application",
            b"x-stuff",
            [(b"title*0*", b"us-ascii'en'This%20is%20even%20more%20"), (b"title*1", b"fun")],
        ),
    ),
    (
        b'text/plain; name="R\xc3\xa9sum\xc3\xa9.txt"',
        (b"text", b"plain", [(b"name", b"R\xc3\xa9sum\xc3\xa9.txt")]),
    ),
    (b"text/plain; broken; charset=utf-8", (b"text", b"plain", [(b"charset", b"utf-8")])),
    (b"text", None),
    (b"text/", None),
    (b"/plain", None),
    (b"", None),
    (b'"text/plain"', None),
]


@pytest.mark.parametrize(("value", "parsed"), CONTENT_TYPES)
def test_content_type(value: bytes, parsed: object) -> None:
    assert content_type(value) == parsed


def test_disposition() -> None:
    assert disposition(b'attachment; filename="pigeon.png"') == (
        b"attachment",
        [(b"filename", b"pigeon.png")],
    )
    assert disposition(b"inline") == (b"inline", [])
    assert disposition(b"") is None
    assert disposition(b'"quoted"') is None


def test_languages() -> None:
    assert languages(b"en, fi, se") == [b"en", b"fi", b"se"]
    assert languages(b"la") == [b"la"]
    assert languages(b"en-US (comment), de") == [b"en-US", b"de"]
    assert languages(b"") == []
    assert languages(b"en; fi") == [b"en"]


def test_transfer_encoding() -> None:
    assert transfer_encoding(b"Base64") == b"Base64"
    assert transfer_encoding(b" 8bit (comment)") == b"8bit"
    assert transfer_encoding(b"?invalid") is None  # Dovecot then reports 7bit
    assert transfer_encoding(b"two words") is None
    assert transfer_encoding(b"") is None
