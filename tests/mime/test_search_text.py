"""The text SEARCH reads: encoded-words, charsets, transfer encodings, MIME structure,
header folding — and that broken input never raises."""

from __future__ import annotations

import base64

import pytest

from posthouse.mime.encoded_words import decode_bytes, decode_words
from posthouse.mime.textsearch import MessageText, field_values, fold, html_text


def crlf(text: bytes) -> bytes:
    return text.replace(b"\n", b"\r\n")


# -- RFC 2047 encoded-words -----------------------------------------------------------

ENCODED_WORDS = [
    ("=?utf-8?q?caf=C3=A9?=", "café"),
    ("=?UTF-8?B?Y2Fmw6k=?=", "café"),
    ("=?iso-8859-1?q?a_b?=", "a b"),  # RFC 2047 §4.2: "_" is a space
    ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # §6.2: space between words goes
    ("=?utf-8?q?a?=\t =?utf-8?q?b?= c", "ab c"),
    ("x =?utf-8?q?a?= y", "x a y"),  # space next to plain text stays
    ("=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "é"),  # a character split over two words
    ("=?utf-8*en?q?hello?=", "hello"),  # RFC 2231 §5 language tag
    ("=?x-unknown?q?caf=E9?=", "café"),  # unknown charset: latin-1
    ("=?utf-8?b?Y2Fmw6k?=", "café"),  # missing padding
    ("=?utf-8?b?!!!?=", ""),  # nothing decodable
    ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),  # not an encoding: left alone
    ("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
    ("plain text", "plain text"),
]


@pytest.mark.parametrize(("raw", "text"), ENCODED_WORDS, ids=[e[0] for e in ENCODED_WORDS])
def test_decode_words(raw: str, text: str) -> None:
    assert decode_words(raw) == text


# -- charsets and transfer encodings --------------------------------------------------

CHARSETS = [
    (b"caf\xe9", "iso-8859-1", "café"),
    (b"caf\xe9", "windows-1252", "café"),
    (b"\x80", "windows-1252", "€"),
    (b"caf\xc3\xa9", None, "café"),  # no charset, valid UTF-8
    (b"caf\xe9", None, "café"),  # no charset, not UTF-8: latin-1
    (b"caf\xc3\xa9", "us-ascii", "café"),  # says ASCII, is UTF-8
    (b"caf\xe9", "no-such-charset", "café"),
    (b"caf\xe9", "base64", "café"),  # a bytes codec is no charset
    (b"caf\xe9", "undefined", "café"),  # Python's always-failing codec
    (b"caf\xe9", '"ISO-8859-1"', "café"),
    (b"caf\xe9", "x" * 500, "café"),
    (b"\xff\xfea\x00", "utf-16", "a"),
    (b"caf\xe9", "utf-8", "caf\ufffd"),  # wrong declared charset: replacement
]


@pytest.mark.parametrize(("data", "charset", "text"), CHARSETS)
def test_decode_bytes(data: bytes, charset: str | None, text: str) -> None:
    assert decode_bytes(data, charset) == text


# -- header fields --------------------------------------------------------------------


def lowered(header: bytes) -> bytes:
    return b"\n" + header.lower()


def test_field_values_unfold_and_match_whole_names() -> None:
    header = crlf(
        b"Subject: one\n two\n"
        b"Subjects: not this\n"
        b"X-Subject: nor this\n"
        b"SUBJECT : obsolete space\n"
        b"subject:\ttabbed\n"
    )
    assert field_values(header, lowered(header), b"subject") == [
        b"one two",
        b"obsolete space",
        b"tabbed",
    ]


def test_field_at_end_without_line_break() -> None:
    header = b"To: a@example.org\r\nSubject: last"
    assert field_values(header, lowered(header), b"subject") == [b"last"]
    assert field_values(header, lowered(header), b"to") == [b"a@example.org"]


def test_folded_subject_is_searched_unfolded() -> None:
    text = MessageText(crlf(b"Subject: quarterly\n\treport\n\nbody\n"))
    assert text.field("subject") == ["quarterly report"]


def test_utf8_header_rfc6532() -> None:
    text = MessageText(crlf("Subject: Grüße\n\n".encode()))
    assert text.field("SUBJECT") == ["grüsse"]


def test_decomposed_and_compatibility_forms_compare_equal() -> None:
    text = MessageText(crlf("Subject: Cafe\u0301 \uff21\uff22\uff23\n\n".encode()))
    assert fold("CAFÉ ABC") in text.field("subject")[0]


def test_latin1_header_bytes() -> None:
    text = MessageText(crlf(b"Subject: Gr\xfc\xdfe\n\n"))
    assert text.field("subject") == ["grüsse"]


def test_header_field_name_must_be_a_field_name() -> None:
    text = MessageText(crlf(b"Subject: x\n\n"))
    assert text.field("subject: x") == []
    assert text.field("sübject") == []
    assert text.field("") == []


def test_address_field_quoted_display_name() -> None:
    text = MessageText(crlf(b'From: "Smith, Anna" <anna@example.org>\n\n'))
    values = text.addresses("from")
    assert any("smith, anna <anna@example.org>" in v for v in values)
    assert any('"smith, anna"' in v for v in values)


def test_address_field_encoded_display_name() -> None:
    text = MessageText(crlf(b'To: "=?utf-8?q?J=C3=B6rg?=" <j@example.de>, b@example.org\n\n'))
    values = text.addresses("to")
    assert any("jörg <j@example.de>" in v for v in values)
    assert any("b@example.org" in v for v in values)


def test_sent_date_garbage_and_impossible_dates() -> None:
    assert MessageText(b"Date: yesterday\r\n\r\n").sent_date() is None
    assert MessageText(b"Date: 31 Feb 2025 10:00 +0000\r\n\r\n").sent_date() is None
    assert MessageText(b"Subject: none\r\n\r\n").sent_date() is None
    day = MessageText(b"Date: Tue, 1 Apr 2025 23:59:59 -1200\r\n\r\n").sent_date()
    assert day is not None and day.isoformat() == "2025-04-01"


# -- bodies ---------------------------------------------------------------------------


def body_of(raw: bytes) -> str:
    return MessageText(crlf(raw)).body()


def text_of(raw: bytes) -> str:
    return MessageText(crlf(raw)).text()


def test_base64_text_body_in_charset() -> None:
    encoded = base64.b64encode("Schöne Grüße".encode("iso-8859-1"))
    raw = (
        b"Content-Type: text/plain; charset=iso-8859-1\n"
        b"Content-Transfer-Encoding: base64\n\n" + encoded + b"\n"
    )
    assert "schöne grüsse" in body_of(raw)


def test_quoted_printable_body_joins_soft_breaks() -> None:
    raw = (
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: quoted-printable\n\n"
        b"a long sen=\ntence with caf=C3=A9\n"
    )
    assert "sentence with café" in body_of(raw)


def test_flowed_text_is_searched_as_paragraphs() -> None:
    raw = b"Content-Type: text/plain; format=flowed\n\nsee you at \nthe station\n"
    assert "see you at the station" in body_of(raw)
    raw = b"Content-Type: text/plain; format=flowed; delsp=yes\n\nsta \ntion\n"
    assert "station" in body_of(raw)
    assert "a\r\nb" in body_of(b"Content-Type: text/plain\n\na\nb\n")


def test_html_part_is_searched_as_its_text() -> None:
    raw = b"Content-Type: text/html\n\n<p>Fish &amp; <b>chips</b></p>\n"
    body = body_of(raw)
    assert "fish & " in body and "chips" in body
    assert "<b>" not in body
    assert html_text("a < b <i>c</i>") == "a < b  c "


def test_multipart_alternative_and_attachment() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="outer"\n\n'
        b"--outer\n"
        b'Content-Type: multipart/alternative; boundary="inner"\n\n'
        b"--inner\n"
        b"Content-Type: text/plain\n\nplain version\n"
        b"--inner\n"
        b"Content-Type: text/html\n\n<p>html version</p>\n"
        b"--inner--\n"
        b"--outer\n"
        b'Content-Type: image/png; name="pic.png"\n'
        b"Content-Transfer-Encoding: base64\n\n"
        + base64.b64encode(b"png-secret")
        + b"\n--outer--\n"
    )
    body = body_of(raw)
    assert "plain version" in body and "html version" in body
    assert "png-secret" not in body and "pic.png" not in body
    assert "pic.png" in text_of(raw)  # TEXT covers the part headers


def test_broken_base64_body_keeps_what_decodes() -> None:
    encoded = base64.b64encode(b"hello world").rstrip(b"=")
    raw = b"Content-Transfer-Encoding: base64\n\n" + encoded[:6] + b"*\n" + encoded[6:]
    assert "hello world" in body_of(raw)


def test_unknown_transfer_encoding_is_searched_as_is() -> None:
    assert "as is" in body_of(b"Content-Transfer-Encoding: x-uuencode\n\nas is\n")


def test_unterminated_multipart_keeps_last_part() -> None:
    raw = b'Content-Type: multipart/mixed; boundary="b"\n\npre\n--b\n\nA\n--b \n\nB'
    body = body_of(raw)
    assert "a" in body and "b" in body and "pre" not in body


def test_multipart_without_boundary_is_text() -> None:
    assert "loose" in body_of(b"Content-Type: multipart/mixed\n\nloose text\n")


def test_attached_message_headers_are_not_body() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\n"
        b"Content-Type: message/rfc822\n\n"
        b"Subject: inner subject\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: base64\n\n"
        + base64.b64encode("inner café".encode())
        + b"\n--b--\n"
    )
    assert "inner café" in body_of(raw)
    assert "inner subject" not in body_of(raw)  # Dovecot: BODY skips all headers
    assert "inner subject" in text_of(raw)


def test_digest_parts_default_to_messages() -> None:
    # RFC 2046 §5.1.5
    raw = (
        b'Content-Type: multipart/digest; boundary="d"\n\n'
        b"--d\n\nSubject: digest item\n\nitem body\n"
        b"--d--\n"
    )
    assert "item body" in body_of(raw)
    assert "digest item" not in body_of(raw)


def test_lf_only_message() -> None:
    text = MessageText(b"Subject: bare lf\n\nbody line\n")
    assert text.field("subject") == ["bare lf"]
    assert "body line" in text.body()
    assert "body line" not in text.field("subject")[0]


def test_message_without_body() -> None:
    text = MessageText(b"Subject: only a header\r\n")
    assert text.body() == ""
    assert "only a header" in text.text()


def test_encoded_words_in_text_header() -> None:
    assert "grüsse" in text_of(b"Subject: =?iso-8859-1?q?Gr=FC=DFe?=\n\nx\n")


def test_deep_nesting_is_cut_off_without_error() -> None:
    raw = b""
    for depth in range(200):
        raw = b'Content-Type: multipart/mixed; boundary="' + str(depth).encode() + b'"\n\n'
        raw += b"--" + str(depth).encode() + b"\n" + (raw or b"\nleaf\n")
    MessageText(crlf(raw)).text()


BROKEN = [
    b"",
    b"\r\n\r\n",
    b'Content-Type: text/plain; charset="\n\n\xff\xfe\n',
    b"Content-Type: text/plain; charset=undefined\n\nx\n",
    b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n@@@=\n",
    b"Content-Type: multipart/mixed; boundary=\n\n--\n--\n",
    b'Content-Type: multipart/mixed; boundary="(["\n\n--([\nx\n',
    b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nnot base64 at all\n",
    b"\x00\x01\x02\xff: \xff\n \n\n\xff",
    b" continuation first\nSubject\n\n",
    b"Content-Type: text/html\n\n" + b"<" * 10000,
]


@pytest.mark.parametrize("raw", BROKEN)
def test_broken_messages_never_raise(raw: bytes) -> None:
    text = MessageText(raw)
    text.body()
    text.text()
    text.field("subject")
    text.addresses("from")
    text.sent_date()
