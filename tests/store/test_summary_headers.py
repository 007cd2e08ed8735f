"""summarize_headers splits a plain header block itself; whatever the block, the
summary is the one the email package's parser (compat32) gives."""

from __future__ import annotations

import email.utils
import random

import pytest

from posthouse.store import summary
from posthouse.store.summary import plain_fields, summarize_headers

BODY = b"\r\nHello\r\n"

SAMPLES = [
    b"From: Alice <alice@alpha.test>\r\nTo: <bob@beta.test>\r\nSubject: hi\r\n",
    b'From: <a@b.test>\r\nTo: x@y.test,\r\n\tq@w.test\r\nCc: "Q, R" <r@s.test>\r\n',
    b"Subject: folded\r\n  over\r\n\tthree lines\r\nDate: Thu, 26 Nov 2026 14:55:22 +0000\r\n",
    b"Message-ID: <one@x>\r\nIn-Reply-To: <two@x>\r\nReferences: <a@x> <b@x>\r\n <c@x>\r\n",
    b"Subject:\r\n starts on the next line\r\nFrom:a@b.test\r\nTO: Upper <U@B.TEST>\r\n",
    b"Subject: =?utf-8?q?caf=C3=A9?=\r\nFrom: =?utf-8?b?w6lyaWM=?= <e@x.test>\r\n",
    b"Subject: 8bit caf\xc3\xa9\r\nFrom: a@b.test\r\n",
    b"From a@b.test Thu Nov 26 14:55:22 2026\r\nSubject: mbox\r\n",
    b" continuation first\r\nSubject: x\r\n",
    b"Subject: bare\rCR\r\nFrom: a@b.test\r\n",
    b"Subject: lf only\nFrom: a@b.test\nTo: c@d.test,\n e@f.test\n",
    b"Subject : space before colon\r\nFrom: a@b.test\r\n",
    b": no name\r\nFrom: a@b.test\r\n",
    b"From: one@a.test\r\nFrom: two@b.test\r\nSubject: twice\r\nSubject: again\r\n",
    b"Subject: trailing blanks   \r\nDate: not a date\r\nX-Empty:\r\n",
    b"Subject: no final line end",
    b"Received: from x by y; Thu, 26 Nov 2026 14:55:22 +0000\r\nDKIM-Signature: v=1;\r\n"
    b"\ta=rsa-sha256; b=abc\r\n def\r\nFrom: <alice@alpha.test>\r\n",
    b"Subject: tab\there\r\nFrom:\t<tab@x.test>\r\nDate:   Fri, 27 Nov 2026 01:02:03 -0500\r\n",
    b"Subject: vertical\x0btab and \x0cff\r\nFrom: a@b.test\r\n",
    b"",
    b"From: Name<a@b.test>\r\nTo: A  B <a@b.test>, a@b.test,\r\nCc: a@b.test , C@D.TEST\r\n",
    b"From: <a@b.test>,<c@d.test>\r\nTo: (comment) a@b.test\r\nCc: 1 <2@3>, x <y@z>\r\n",
    b"From: a.b.c@d-e.f\r\nTo: a..b@c.d, .a@b.c, a@.b, a@b.\r\n",
    b"Cc: Ab Cd<e@f.g> , <h_i%j+k-l@m>\r\nTo: <a@b.test> x\r\nFrom: x <a@b.test>\r\n",
    b"From: A B C <a@b.test>\r\nTo: , a@b.test\r\nCc:\r\n\ta@b.test\r\n",
]


def _outcome(raw: bytes) -> summary.Summary | str:
    try:
        return summarize_headers(raw)
    except Exception as e:
        return repr(e)


def _slow(raw: bytes) -> summary.Summary | str:
    """The summary with every shortcut off: the email package parses the block and
    getaddresses() reads every address field."""
    fields, addresses = summary.plain_fields, summary._plain_addresses
    summary.plain_fields = lambda header: None  # type: ignore[assignment]
    summary._plain_addresses = lambda values: None  # type: ignore[assignment]
    try:
        return _outcome(raw)
    finally:
        summary.plain_fields, summary._plain_addresses = fields, addresses


@pytest.mark.parametrize("header", SAMPLES)
def test_same_summary_as_the_email_parser(header: bytes) -> None:
    raw = header + BODY if header.endswith(b"\n") else header
    assert _outcome(raw) == _slow(raw)


def test_plain_block_is_split_here() -> None:
    fields = plain_fields(SAMPLES[2])
    assert fields is not None
    assert fields.get("subject") == "folded\r\n  over\r\n\tthree lines"
    assert plain_fields(SAMPLES[6]) is None  # 8-bit: the parser decides
    assert plain_fields(SAMPLES[7]) is None  # an mbox From line
    assert plain_fields(SAMPLES[9]) is None  # a bare CR


def test_random_header_blocks() -> None:
    rng = random.Random(6)
    pieces = [
        b"From: ",
        b"To: ",
        b"Cc: ",
        b"Subject: ",
        b"Date: ",
        b"Message-ID: ",
        b"References: ",
        b"In-Reply-To: ",
        b"X-A: ",
        b"from:",
        b"SUBJECT:",
        b"<a@b.test>",
        b"Name <n@x.test>",
        b'"Q, R" <q@r.test>',
        b",",
        b" ",
        b"\t",
        b"\r\n",
        b"\r\n ",
        b"\r\n\t",
        b"\n",
        b"\r",
        b"=?utf-8?q?x?=",
        b"<id@x>",
        b"Thu, 26 Nov 2026 14:55:22 +0000",
        b":",
        b"(c)",
        b"From ",
        b"\xc3\xa9",
        b"",
    ]
    plain = 0
    for _ in range(4000):
        header = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        raw = header + b"\r\n\r\nbody\r\n"
        assert _outcome(raw) == _slow(raw), header
        plain += plain_fields(raw[: raw.find(b"\r\n\r\n") + 2]) is not None
    assert plain > 400  # the fast path was tried often enough to mean something


def test_random_well_formed_blocks() -> None:
    """Blocks of fields and folded lines, the kind the fast path takes."""
    rng = random.Random(7)
    names = [
        "From",
        "To",
        "Cc",
        "Subject",
        "Date",
        "Message-ID",
        "References",
        "In-Reply-To",
        "Received",
        "X-Other",
        "from",
        "CC",
        "subject",
    ]
    words = [
        "N<a@b>",
        "A.B@C-D.E",
        "x",
        "9",
        "a@b",
        "<a@b>",
        ".",
        "_a%b+c-d@e",
        "a@b.test",
        "<c@d.test>",
        "Name",
        '"Last, First"',
        "<id@x>",
        ",",
        "(x)",
        "=?utf-8?q?caf=C3=A9?=",
        "=?iso-8859-1?b?6Q==?=",
        "Thu, 26 Nov 2026 14:55:22 +0000",
        "26 Nov 2026 14:55 GMT",
        ";",
        '""',
        "<>",
        "@",
        ":",
        "  ",
        "\t",
        "",
    ]
    for eol in ("\r\n", "\n"):
        for _ in range(1500):
            lines = []
            for _ in range(rng.randint(1, 6)):
                value = " ".join(rng.choice(words) for _ in range(rng.randint(0, 5)))
                lines.append(f"{rng.choice(names)}:{rng.choice(['', ' ', '  ', chr(9)])}{value}")
                for _ in range(rng.choice([0, 0, 1, 2])):
                    fold = " ".join(rng.choice(words) for _ in range(rng.randint(0, 3)))
                    lines.append(rng.choice([" ", "\t", "  "]) + fold)
            header = eol.join(lines).encode() + eol.encode()
            raw = header + eol.encode() + b"body" + eol.encode()
            assert plain_fields(header) is not None
            assert _outcome(raw) == _slow(raw), header


def test_plain_addresses_read_as_getaddresses_reads_them() -> None:
    rng = random.Random(8)
    atoms = ["a", "B", "c9", "_x", "%", "+", "-", "a-b", "Z_z"]
    names = ["", "Ann", "Ann Bee", "X 9", "Ann  Bee", "ann", "A.B"]

    def address() -> str:
        local = ".".join(rng.choice(atoms) for _ in range(rng.randint(1, 3)))
        domain = ".".join(rng.choice(["b", "test", "c-d", "X1", ""]) for _ in range(2))
        return f"{local}@{domain}"

    tried = 0
    for _ in range(5000):
        items = []
        for _ in range(rng.randint(1, 3)):
            name, addr = rng.choice(names), address()
            form = rng.choice(["{a}", "<{a}>", "{n} <{a}>", "{n}<{a}>", " {a} ", "\r\n\t{a}"])
            items.append(form.format(n=name, a=addr))
        value = rng.choice([",", ", ", " ,"]).join(items)
        plain = summary._plain_addresses([value])
        if plain is None:
            continue
        tried += 1
        expected = [(d, s.lower()) for d, s in email.utils.getaddresses([value]) if s or d]
        assert plain == expected, value
    assert tried > 1000
