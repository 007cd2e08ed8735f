"""BODY[section] (RFC 9051 §6.4.5) over nested multiparts and message/rfc822 parts."""

from __future__ import annotations

import pytest

from posthouse.mime.sections import section, section_in
from posthouse.mime.tree import parse
from posthouse.proto.imap.events import Section, SectionText
from tests.mime.imaptext import crlf

INNER_HEADER = (
    "From: inner@example.org\nSubject: inner\nContent-Type: multipart/alternative; boundary=in\n\n"
)
MESSAGE = crlf(
    "From: Outer <outer@example.org>\n"
    "Subject: outer\n"
    "X-Folded: first\n"
    "  second\n"
    "subject: again\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=out\n"
    "\n"
    "preamble\n"
    "--out\n"
    "Content-Type: text/plain\n"
    "\n"
    "part one\n"
    "\n"
    "--out\n"
    "Content-Type: message/rfc822\n"
    "Content-Description: forwarded\n"
    "\n" + INNER_HEADER + "--in\n"
    "Content-Type: text/plain\n"
    "\n"
    "inner plain\n"
    "--in\n"
    "Content-Type: text/html\n"
    "\n"
    "<b>inner html</b>\n"
    "--in--\n"
    "\n"
    "--out\n"
    "Content-Type: multipart/related; boundary=rel\n"
    "\n"
    "--rel\n"
    "Content-Type: image/png\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "iVBORw0KGgo=\n"
    "--rel--\n"
    "--out--\n"
    "epilogue\n"
)
HEADER_END = MESSAGE.index(b"\r\n\r\n") + 4


def S(*part: int, text: SectionText | None = None, fields: tuple[str, ...] = ()) -> Section:
    return Section(part=part, text=text, fields=fields)


CASES = [
    (S(), MESSAGE),
    (S(text=SectionText.HEADER), MESSAGE[:HEADER_END]),
    (S(text=SectionText.TEXT), MESSAGE[HEADER_END:]),
    (S(1), b"part one\r\n"),
    (S(1, text=SectionText.MIME), b"Content-Type: text/plain\r\n\r\n"),
    (
        S(2, text=SectionText.MIME),
        b"Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n",
    ),
    (S(2, text=SectionText.HEADER), crlf(INNER_HEADER)),
    (S(2, text=SectionText.HEADER_FIELDS, fields=("SUBJECT",)), b"Subject: inner\r\n\r\n"),
    (S(2, 1), b"inner plain"),
    (S(2, 2), b"<b>inner html</b>"),
    (S(2, 2, text=SectionText.MIME), b"Content-Type: text/html\r\n\r\n"),
    (S(3, 1), b"iVBORw0KGgo="),
    (
        S(3, 1, text=SectionText.MIME),
        b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    ),
    # nonexistent parts
    (S(4), b""),
    (S(0), b""),
    (S(1, 1), b""),
    (S(3, 2), b""),
    (S(2, 3), b""),
    (S(2, 1, 1), b""),
    (S(1, text=SectionText.HEADER), b""),
    (S(3, text=SectionText.TEXT), b""),
]


@pytest.mark.parametrize(
    ("spec", "data"), CASES, ids=lambda v: str(v) if isinstance(v, Section) else ""
)
def test_section(spec: Section, data: bytes) -> None:
    assert section(MESSAGE, spec) == data
    assert section_in(parse(MESSAGE), spec) == data


def test_rfc822_part_text_and_body() -> None:
    inner = crlf(INNER_HEADER)
    whole = section(MESSAGE, S(2))
    assert whole.startswith(inner)
    assert section(MESSAGE, S(2, text=SectionText.TEXT)) == whole[len(inner) :]


def test_header_fields_keep_folding_and_order_case_insensitively() -> None:
    spec = S(text=SectionText.HEADER_FIELDS, fields=("SUBJECT", "X-FOLDED", "NOT-THERE"))
    assert section(MESSAGE, spec) == (
        b"Subject: outer\r\nX-Folded: first\r\n  second\r\nsubject: again\r\n\r\n"
    )


def test_header_fields_not() -> None:
    spec = S(text=SectionText.HEADER_FIELDS_NOT, fields=("SUBJECT", "X-FOLDED", "MIME-VERSION"))
    assert section(MESSAGE, spec) == (
        b"From: Outer <outer@example.org>\r\nContent-Type: multipart/mixed; boundary=out\r\n\r\n"
    )


def test_header_fields_nothing_matches_gives_the_empty_line() -> None:
    spec = S(text=SectionText.HEADER_FIELDS, fields=("X-NONE",))
    assert section(MESSAGE, spec) == b"\r\n"


def test_single_part_message_part_one_is_its_body() -> None:
    raw = crlf("Subject: s\nContent-Type: text/plain\n\nhello\n")
    assert section(raw, S(1)) == b"hello\r\n"
    # As mox reads it: part 1 of a non-multipart message is the message itself.
    assert section(raw, S(1, text=SectionText.HEADER)) == crlf(
        "Subject: s\nContent-Type: text/plain\n\n"
    )
    assert section(raw, S(1, text=SectionText.MIME)) == crlf(
        "Subject: s\nContent-Type: text/plain\n\n"
    )
    assert section(raw, S(2)) == b""


def test_top_level_message_rfc822() -> None:
    raw = crlf("Content-Type: message/rfc822\n\nSubject: in\n\nbody\n")
    assert section(raw, S(1)) == crlf("Subject: in\n\nbody\n")
    assert section(raw, S(1, text=SectionText.HEADER)) == crlf("Subject: in\n\n")
    assert section(raw, S(1, 1)) == b"body\r\n"


def test_bare_lf_message() -> None:
    raw = (
        b"Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n--b--\n"
    )
    assert section(raw, S(1)) == b"one"
    assert section(raw, S(2)) == b"two"
    assert section(raw, S(text=SectionText.HEADER_FIELDS, fields=("SUBJECT",))) == b"Subject: s\n\n"


def test_message_without_body() -> None:
    raw = b"Subject: only a header\r\n"
    assert section(raw, S(text=SectionText.HEADER)) == raw
    assert section(raw, S(text=SectionText.TEXT)) == b""
    assert section(raw, S(1)) == b""


def test_items_of_one_fetch_share_one_parse() -> None:
    raw = bytes(bytearray(MESSAGE))
    assert parse(raw) is parse(raw)
    other = bytes(bytearray(MESSAGE))
    assert parse(other) is not parse(raw)
