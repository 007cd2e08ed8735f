"""BODY and BODYSTRUCTURE (RFC 9051 §7.5.2).  Cases marked "Dovecot" are the
parse_tests of dovecot/core src/lib-imap/test-imap-bodystructure.c; Dovecot counts
sizes as if lines ended in CRLF, so the messages are stored here with CRLF and the
expected text is Dovecot's, unchanged."""

from __future__ import annotations

import pytest

from posthouse.mime.bodystructure import body_structure, structure_of
from posthouse.mime.tree import MAX_DEPTH, parse
from tests.mime.imaptext import crlf, expected, wire, wire_with_runs

PLAIN = "From: user@domain.org\nDate: Sat, 24 Mar 2017 23:00:00 +0200\nMime-Version: 1.0\n"
ENV_2017 = (
    '("Sat, 24 Mar 2017 23:00:00 +0200" NIL ((NIL NIL "user" "domain.org")) '
    '((NIL NIL "user" "domain.org")) ((NIL NIL "user" "domain.org")) NIL NIL NIL NIL NIL)'
)

DOVECOT_MIXED = (
    "From: user@domain.org\n"
    "Date: Sat, 24 Mar 2007 23:00:00 +0200\n"
    "Mime-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="foo\n'
    ' bar"\n'
    "\n"
    "Root MIME prologue\n"
    "\n"
    "--foo bar\n"
    'Content-Type: text/x-myown; charset=us-ascii; foo="quoted\\"string"\n'
    "Content-ID: <foo@example.com>\n"
    "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
    "Content-Disposition: inline; foo=bar\n"
    "Content-Description: hellodescription\n"
    "Content-Language: en, fi, se\n"
    "Content-Location: http://example.com/test.txt\n"
    "\n"
    "hello\n"
    "\n"
    "--foo bar\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: sub@domain.org\n"
    "To: sub-to1@domain.org, sub-to2@domain.org\n"
    "Date: Sun, 12 Aug 2012 12:34:56 +0300\n"
    "Subject: submsg\n"
    'Content-Type: multipart/alternative; boundary="sub1"\n'
    "\n"
    "Sub MIME prologue\n"
    "--sub1\n"
    "Content-Type: text/html\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "<p>Hello world</p>\n"
    "\n"
    "--sub1\n"
    "Content-Type: text/plain\n"
    "Content-Transfer-Encoding: ?invalid\n"
    "\n"
    "Hello another world\n"
    "\n"
    "--sub1--\n"
    "Sub MIME epilogue\n"
    "\n"
    "--foo bar--\n"
    "Root MIME epilogue\n"
)
SUB_ENV = (
    '("Sun, 12 Aug 2012 12:34:56 +0300" "submsg" ((NIL NIL "sub" "domain.org")) '
    '((NIL NIL "sub" "domain.org")) ((NIL NIL "sub" "domain.org")) '
    '((NIL NIL "sub-to1" "domain.org")(NIL NIL "sub-to2" "domain.org")) NIL NIL NIL NIL)'
)

CASES = [
    pytest.param(
        PLAIN + "Content-Type: text/plain; charset=us-ascii\n\nbody\n",
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)',
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1)',
        id="dovecot-text-plain",
    ),
    pytest.param(
        PLAIN + "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\nbody\n\n",
        '("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 8 2 NIL NIL NIL NIL)',
        '("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 8 2)',
        id="dovecot-8bit",
    ),
    pytest.param(
        "From: user@domain.org\nDate: Sat, 24 Mar 2007 23:00:00 +0200\nMime-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="foo\n bar"\n'
        "\n--foo bar\nContent-Type: text/x-myown; charset=us-ascii\n\nhello\n\n--foo bar--\n\n",
        '(("text" "x-myown" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL) '
        '"mixed" ("boundary" "foo bar") NIL NIL NIL)',
        '(("text" "x-myown" ("charset" "us-ascii") NIL NIL "7bit" 7 1) "mixed")',
        id="dovecot-folded-boundary",
    ),
    pytest.param(
        PLAIN + 'Content-Type: multipart/mixed; boundary="foo bar"\n'
        "\n--foo bar\nContent-Type: text/plain; charset=us-ascii\n\nSee attached...\n\n"
        "--foo bar\nContent-Type: message/rfc822\n\n"
        + PLAIN
        + "Content-Type: text/plain; charset=us-ascii\n\nbody\n\n--foo bar--\n\n",
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 17 1 NIL NIL NIL NIL)'
        '("message" "rfc822" NIL NIL NIL "7bit" 133 ' + ENV_2017 + " "
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL) 6 '
        'NIL NIL NIL NIL) "mixed" ("boundary" "foo bar") NIL NIL NIL)',
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 17 1)'
        '("message" "rfc822" NIL NIL NIL "7bit" 133 ' + ENV_2017 + " "
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1) 6) "mixed")',
        id="dovecot-attached-message",
    ),
    pytest.param(
        PLAIN + 'Content-Type: multipart/mixed; boundary="foo bar"\n'
        "\n--foo bar\nContent-Type: text/plain; charset=us-ascii\n"
        "Content-ID: <A.frop.example.com>\nContent-Description: Container message\n"
        "\nSee attached...\n\n"
        "--foo bar\nContent-Type: message/rfc822\nContent-ID: <B.frop.example.com>\n"
        "Content-Description: Forwarded\n\n"
        + PLAIN
        + "Content-Type: text/plain; charset=us-ascii\n\nbody\n\n--foo bar--\n",
        '(("text" "plain" ("charset" "us-ascii") "<A.frop.example.com>" "Container message" '
        '"7bit" 17 1 NIL NIL NIL NIL)("message" "rfc822" NIL "<B.frop.example.com>" '
        '"Forwarded" "7bit" 133 ' + ENV_2017 + " "
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL) 6 '
        'NIL NIL NIL NIL) "mixed" ("boundary" "foo bar") NIL NIL NIL)',
        '(("text" "plain" ("charset" "us-ascii") "<A.frop.example.com>" "Container message" '
        '"7bit" 17 1)("message" "rfc822" NIL "<B.frop.example.com>" "Forwarded" "7bit" 133 '
        + ENV_2017
        + ' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1) 6) "mixed")',
        id="dovecot-content-id-description",
    ),
    pytest.param(
        DOVECOT_MIXED,
        '(("text" "x-myown" ("charset" "us-ascii" "foo" "quoted\\"string") '
        '"<foo@example.com>" "hellodescription" "7bit" 7 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" '
        '("inline" ("foo" "bar")) ("en" "fi" "se") "http://example.com/test.txt")'
        '("message" "rfc822" NIL NIL NIL "7bit" 412 ' + SUB_ENV + " "
        '(("text" "html" ("charset" "us-ascii") NIL NIL "8bit" 20 1 NIL NIL NIL NIL)'
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1 NIL NIL NIL NIL) '
        '"alternative" ("boundary" "sub1") NIL NIL NIL) 21 NIL NIL NIL NIL) '
        '"mixed" ("boundary" "foo bar") NIL NIL NIL)',
        '(("text" "x-myown" ("charset" "us-ascii" "foo" "quoted\\"string") '
        '"<foo@example.com>" "hellodescription" "7bit" 7 1)'
        '("message" "rfc822" NIL NIL NIL "7bit" 412 ' + SUB_ENV + " "
        '(("text" "html" ("charset" "us-ascii") NIL NIL "8bit" 20 1)'
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 1) "alternative") 21) '
        '"mixed")',
        id="dovecot-nested-everything",
    ),
    pytest.param(
        'Content-Type: multipart/mixed; boundary="foo"\n\n',
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) '
        '"mixed" ("boundary" "foo") NIL NIL NIL)',
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")',
        id="dovecot-multipart-without-parts",
    ),
]


@pytest.mark.parametrize(("message", "structure", "body"), CASES)
def test_dovecot_cases(message: str, structure: str, body: str) -> None:
    raw = crlf(message)
    assert wire(body_structure(raw, extensible=True)) == expected(structure)
    assert wire(body_structure(raw, extensible=False)) == expected(body)


def test_bare_lf_message_counts_its_own_octets() -> None:
    raw = (PLAIN + "Content-Type: text/plain; charset=us-ascii\n\nbody\n").encode()
    assert wire(body_structure(raw, extensible=False)) == (
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1)'
    )


def test_no_content_type_defaults_to_text_plain_us_ascii() -> None:
    raw = crlf("Subject: x\n\nline one\nline two\n")
    assert wire(body_structure(raw, extensible=True)) == (
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2 NIL NIL NIL NIL)'
    )


def test_rfc9051_example_parameters_case_kept() -> None:
    # RFC 9051 §7.5.2 BODYSTRUCTURE example: upper-case types and parameters as sent.
    raw = crlf(
        "From: a@b.test\nMIME-Version: 1.0\nContent-Type: MULTIPART/MIXED; BOUNDARY=x\n\n"
        "--x\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\nhello\n"
        "--x\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\n"
        "Content-ID: <960723163407.20117h@cac.washington.edu>\n"
        "Content-Description: Compiled diff\nContent-Transfer-Encoding: BASE64\n\n"
        "aGVsbG8K\n--x--\n"
    )
    assert wire(body_structure(raw, extensible=False)) == expected(
        '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7bit" 5 0)'
        '("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        '"<960723163407.20117h@cac.washington.edu>" "Compiled diff" "BASE64" 8 0) "MIXED")'
    )


def test_alternative_with_attachment_and_rfc2231_parameters() -> None:
    raw = crlf(
        "From: a@b.test\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="outer"\n\n'
        "preamble\n"
        "--outer\n"
        'Content-Type: multipart/alternative; boundary="inner"\n\n'
        "--inner\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9\n"
        "--inner\nContent-Type: text/html; charset=utf-8\n\n<p>Café</p>\n"
        "--inner--\n"
        "--outer\n"
        "Content-Type: application/pdf;\n name*=utf-8''r%C3%A9sum%C3%A9.pdf\n"
        "Content-Disposition: attachment;\n filename*0*=utf-8''r%C3%A9;\n filename*1=sum.pdf\n"
        "Content-Transfer-Encoding: base64\n\nJVBERi0=\n"
        "--outer--\n"
        "epilogue\n"
    )
    assert wire(body_structure(raw, extensible=True)) == expected(
        '((("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 9 0 NIL NIL NIL NIL)'
        '("text" "html" ("charset" "utf-8") NIL NIL "7bit" 12 0 NIL NIL NIL NIL) '
        '"alternative" ("boundary" "inner") NIL NIL NIL)'
        '("application" "pdf" ("name*" "utf-8\'\'r%C3%A9sum%C3%A9.pdf") NIL NIL '
        '"base64" 8 NIL ("attachment" ("filename*0*" "utf-8\'\'r%C3%A9" "filename*1" '
        '"sum.pdf")) NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)'
    )


def test_digest_parts_default_to_message_rfc822() -> None:
    raw = crlf(
        'Content-Type: multipart/digest; boundary="d"\n\n'
        "--d\n\nFrom: x@y.test\nSubject: one\n\nfirst\n"
        "--d\nContent-Type: text/plain\n\nplain\n"
        "--d--\n"
    )
    assert wire(body_structure(raw, extensible=False)) == expected(
        '(("message" "rfc822" NIL NIL NIL "7bit" 37 '
        '(NIL "one" ((NIL NIL "x" "y.test")) ((NIL NIL "x" "y.test")) ((NIL NIL "x" "y.test")) '
        'NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0) 3)'
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0) "digest")'
    )


def test_missing_boundary_parameter_gives_empty_multipart() -> None:
    raw = crlf("Content-Type: multipart/mixed\n\n--x\n\nhello\n--x--\n")
    assert wire(body_structure(raw, extensible=False)) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")'
    )


def test_missing_closing_boundary_ends_last_part_at_end() -> None:
    raw = crlf("Content-Type: multipart/mixed; boundary=x\n\n--x\n\nhello\n--x\n\nworld\n")
    assert wire(body_structure(raw, extensible=False)) == expected(
        '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0)'
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 1) "mixed")'
    )


def test_longer_boundary_is_not_ours() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=x\n\n--x\n"
        "Content-Type: multipart/mixed; boundary=x-1\n\n--x-1\n\ninner\n--x-1--\n"
        "--x--\n"
    )
    part = parse(raw)
    assert part.children is not None and len(part.children) == 1
    inner = part.children[0].children
    assert inner is not None and len(inner) == 1 and inner[0].body == b"inner"


def test_broken_content_type_and_transfer_encoding_default() -> None:
    raw = crlf("Content-Type: garbage\nContent-Transfer-Encoding: two words\n\nx\n")
    assert wire(body_structure(raw, extensible=False)) == (
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 1)'
    )


def test_header_without_body() -> None:
    assert wire(body_structure(b"Subject: x\r\n", extensible=False)) == (
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)'
    )
    assert wire(body_structure(b"", extensible=False)) == (
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)'
    )


def test_nesting_deeper_than_the_limit_stays_opaque() -> None:
    depth = MAX_DEPTH + 5
    head = "".join(
        f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(depth)
    )
    raw = crlf(head + "\ndeep\n")
    value = structure_of(parse(raw), extensible=False)
    text = wire(value)
    assert text.count(b'"mixed"') == MAX_DEPTH
    assert b'"application" "octet-stream"' in text


def test_message_rfc822_is_parsed_once_for_structure_and_sections() -> None:
    tree = parse(crlf(DOVECOT_MIXED))
    assert tree.children is not None
    rfc822 = tree.children[1]
    assert rfc822.message is not None and rfc822.message.children is not None
    assert [c.subtype for c in rfc822.message.children] == [b"html", b"plain"]


@pytest.mark.parametrize(("message", "structure", "body"), CASES)
def test_dovecot_cases_byte_exact_once_the_codec_writes_runs(
    runs: None, message: str, structure: str, body: str
) -> None:
    raw = crlf(message)
    assert wire_with_runs(body_structure(raw, extensible=True)) == structure.encode()
    assert wire_with_runs(body_structure(raw, extensible=False)) == body.encode()


def test_deep_message_rfc822_chain_stays_within_the_limit() -> None:
    raw = crlf("Content-Type: message/rfc822\n\n" * (MAX_DEPTH + 50) + "Subject: bottom\n\nbody\n")
    text = wire(body_structure(raw, extensible=True))
    assert text.count(b'"rfc822"') == MAX_DEPTH
    assert b'"application" "octet-stream"' in text


def test_eight_bit_parameter_values_go_as_literals() -> None:
    raw = crlf(
        'Content-Type: application/pdf; name="Résumé.pdf"\n'
        'Content-Disposition: attachment; filename="Résumé.pdf"\n'
        "Content-Description: Lebenslauf für Jörg\n"
        "Content-Transfer-Encoding: base64\n\nJVBERi0=\n"
    )
    name = "Résumé.pdf".encode()
    description = "Lebenslauf für Jörg".encode()
    assert wire(body_structure(raw, extensible=True)) == (
        b'("application" "pdf" ("name" {12}\r\n'
        + name
        + b") NIL {21}\r\n"
        + description
        + b' "base64" 10 NIL ("attachment" ("filename" {12}\r\n'
        + name
        + b")) NIL NIL)"
    )


def test_message_global_is_a_basic_part() -> None:
    # IMAP4rev1 (RFC 3501 §9) has only message/rfc822 in the message form.
    raw = crlf("Content-Type: message/global\n\nSubject: g\n\nbody\n")
    assert wire(body_structure(raw, extensible=False)) == (
        b'("message" "global" NIL NIL NIL "7bit" 20)'
    )
