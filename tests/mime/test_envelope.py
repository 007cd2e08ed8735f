"""ENVELOPE (RFC 9051 §7.5.2).  Cases marked "Dovecot" are the imaptest cases in
dovecot/core src/lib-imap/test-imap-envelope.c, stored with CRLF."""

from __future__ import annotations

import pytest

from posthouse.mime.envelope import envelope
from posthouse.proto.imap.response import Run
from tests.mime.imaptext import crlf, expected, wire, wire_with_runs

DATE = '"Thu, 15 Feb 2007 01:02:03 +0200"'

CASES = [
    pytest.param(
        "Message-ID: <msg@id>\n"
        "In-Reply-To: <reply@to.id>\n"
        "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
        "Subject: subject header\n"
        "From: From Real <fromuser@fromdomain.org>\n"
        "To: To Real <touser@todomain.org>\n"
        "Cc: Cc Real <ccuser@ccdomain.org>\n"
        "Bcc: Bcc Real <bccuser@bccdomain.org>\n"
        "Sender: Sender Real <senderuser@senderdomain.org>\n"
        "Reply-To: ReplyTo Real <replytouser@replytodomain.org>\n"
        "\n"
        "body\n",
        f'({DATE} "subject header" '
        '(("From Real" NIL "fromuser" "fromdomain.org")) '
        '(("Sender Real" NIL "senderuser" "senderdomain.org")) '
        '(("ReplyTo Real" NIL "replytouser" "replytodomain.org")) '
        '(("To Real" NIL "touser" "todomain.org")) '
        '(("Cc Real" NIL "ccuser" "ccdomain.org")) '
        '(("Bcc Real" NIL "bccuser" "bccdomain.org")) '
        '"<reply@to.id>" "<msg@id>")',
        id="dovecot-all-fields",
    ),
    pytest.param(
        "Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain\n\nbody\n",
        f'({DATE} NIL ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain")) '
        '((NIL NIL "user" "domain")) NIL NIL NIL NIL NIL)',
        id="dovecot-sender-reply-to-default-to-from",
    ),
    pytest.param(
        "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
        "From: user@domain (Real Name)\n"
        "To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\n"
        "Cc: group:;, group2: (foo) ;\n"
        "\n"
        "body\n",
        f'({DATE} NIL (("Real Name" NIL "user" "domain")) '
        '(("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) '
        '((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")'
        '(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL)) '
        '((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL)) '
        "NIL NIL NIL)",
        id="dovecot-groups-and-comment-name",
    ),
    pytest.param(
        "Date: Thu, 15 Feb 2007 01:02:03 +0200\n"
        "From: user@domain (Real Name)\n"
        "Sender: \n"
        "Reply-To: \n"
        "\n"
        "body\n",
        f'({DATE} NIL (("Real Name" NIL "user" "domain")) '
        '(("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) '
        "NIL NIL NIL NIL NIL)",
        id="dovecot-empty-sender-reply-to",
    ),
    pytest.param(
        "Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: <@route:user@domain>\n\nbody\n",
        f'({DATE} NIL ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) '
        '((NIL "@route" "user" "domain")) NIL NIL NIL NIL NIL)',
        id="dovecot-route",
    ),
    pytest.param(
        # mox imapserver/fetch_test.go exampleMsg (RFC 3501 §6.3.11's APPEND example)
        "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\n"
        "From: Fred Foobar <foobar@Blurdybloop.example>\n"
        "Subject: afternoon meeting\n"
        "To: mooch@owatagu.siam.edu.example\n"
        "Message-Id: <B27397-0100000@Blurdybloop.example>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
        "\n"
        "Hello Joe, do you think we can meet at 3:30 tomorrow?\n",
        '("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "afternoon meeting" '
        '(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) '
        '(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) '
        '(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) '
        '((NIL NIL "mooch" "owatagu.siam.edu.example")) NIL NIL NIL '
        '"<B27397-0100000@Blurdybloop.example>")',
        id="rfc3501-append-example",
    ),
    pytest.param(
        "Subject: no addresses at all\n\nbody\n",
        '(NIL "no addresses at all" NIL NIL NIL NIL NIL NIL NIL NIL)',
        id="missing-headers",
    ),
    pytest.param("", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)", id="empty-message"),
]


@pytest.mark.parametrize(("message", "text"), CASES)
def test_envelope(message: str, text: str) -> None:
    assert wire(envelope(crlf(message))) == expected(text)


def test_bare_lf_header_reads_like_crlf() -> None:
    message = "From: A <a@example.org>\nSubject: hi\n\nbody\n"
    assert envelope(message.encode()) == envelope(crlf(message))


def test_folded_values_are_unfolded_not_decoded() -> None:
    raw = crlf(
        "Subject: =?utf-8?q?caf=C3=A9?=\n"
        "  and more\n"
        "From: =?iso-8859-1?q?Andr=E9?= Pirard\n"
        " <PIRARD@vm1.ulg.ac.be>\n"
        "\n"
    )
    assert wire(envelope(raw)) == expected(
        '(NIL "=?utf-8?q?caf=C3=A9?=  and more" '
        '(("=?iso-8859-1?q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be")) '
        '(("=?iso-8859-1?q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be")) '
        '(("=?iso-8859-1?q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be")) '
        "NIL NIL NIL NIL NIL)"
    )


def test_eight_bit_utf8_header_goes_as_literals() -> None:
    raw = crlf("Subject: Grüße\nFrom: Jörg <jörg@bücher.example>\n\n")
    env = envelope(raw)
    assert isinstance(env, tuple)
    assert env[1] == "Grüße".encode()
    (addresses,) = env[2]  # a Run: RFC 9051 §9 "(" 1*address ")"
    assert isinstance(addresses, Run)
    assert addresses.items == (("Jörg".encode(), None, "jörg".encode(), "bücher.example".encode()),)
    assert wire(env).startswith(b"(NIL {7}\r\nGr\xc3\xbc\xc3\x9fe ((")


def test_only_the_header_block_is_read() -> None:
    raw = crlf("Subject: top\n\nSubject: not a header\nFrom: x@y\n")
    env = envelope(raw)
    assert isinstance(env, tuple)
    assert env[1] == b"top" and env[2] is None


def test_empty_subject_is_an_empty_string() -> None:
    env = envelope(crlf("Subject:\n\n"))
    assert isinstance(env, tuple) and env[1] == b""


def test_nul_in_header_becomes_replacement_character() -> None:
    env = envelope(b"Subject: a\x00b\r\n\r\n")
    assert isinstance(env, tuple) and env[1] == "a\ufffdb".encode()
    wire(env)


@pytest.mark.parametrize(("message", "text"), CASES)
def test_envelope_byte_exact_once_the_codec_writes_runs(
    runs: None, message: str, text: str
) -> None:
    assert wire_with_runs(envelope(crlf(message))) == text.encode()


def test_repeated_address_fields_show_every_address() -> None:
    # Dovecot 2.3: Subject keeps its last occurrence, From lists both.
    raw = crlf("Subject: first\nSubject: second\nFrom: a@b.test\nFrom: c@d.test\n\nx\n")
    assert wire(envelope(raw)) == expected(
        '(NIL "second" ((NIL NIL "a" "b.test")(NIL NIL "c" "d.test")) '
        '((NIL NIL "a" "b.test")(NIL NIL "c" "d.test")) '
        '((NIL NIL "a" "b.test")(NIL NIL "c" "d.test")) NIL NIL NIL NIL NIL)'
    )
