"""FETCH (RFC 9051 §6.4.5, §7.5.2; BINARY RFC 3516)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap

SIMPLE = (
    b"From: Sender <sender@remote.test>\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: simple\r\n"
    b"Date: Tue, 02 Jan 2024 10:00:00 +0000\r\n"
    b"Message-ID: <simple@remote.test>\r\n"
    b"\r\n"
    b"Hello world\r\n"
)
MULTIPART = (
    b"From: a@remote.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\npart one\r\n"
    b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    b"\r\nAAEC/w==\r\n"
    b"--b1--\r\n"
)


@pytest.fixture
def box(raw: Callable[..., RawImap]) -> RawImap:
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    c.append(name, SIMPLE)
    c.append(name, MULTIPART)
    c.cmd(f"SELECT {name}")
    return c


def one(c: RawImap, command: str) -> str:
    r = c.cmd(command)
    assert r.status == "OK", r
    fetches = r.starting("* ")
    assert len(fetches) == 1, r
    return fetches[0]


def test_flags_uid_size(box: RawImap) -> None:
    assert one(box, "FETCH 1 (FLAGS UID RFC822.SIZE)") == (
        f"* 1 FETCH (FLAGS () UID 1 RFC822.SIZE {len(SIMPLE)})"
    )


def test_internaldate(box: RawImap) -> None:
    line = one(box, "FETCH 1 INTERNALDATE")
    # RFC 9051 §9: date-day-fixed is space-padded.
    date = r'"[ \d]\d-\w{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"'
    assert re.fullmatch(rf"\* 1 FETCH \(INTERNALDATE {date}\)", line)


def test_envelope(box: RawImap) -> None:
    """RFC 9051 §7.5.2: date, subject, from, sender, reply-to, to, cc, bcc,
    in-reply-to, message-id."""
    assert one(box, "FETCH 1 ENVELOPE") == (
        '* 1 FETCH (ENVELOPE ("Tue, 02 Jan 2024 10:00:00 +0000" "simple" '
        '(("Sender" NIL "sender" "remote.test")) (("Sender" NIL "sender" "remote.test")) '
        '(("Sender" NIL "sender" "remote.test")) ((NIL NIL "alice" "example.test")) '
        'NIL NIL NIL "<simple@remote.test>"))'
    )


def test_bodystructure_multipart(box: RawImap) -> None:
    """RFC 9051 §7.5.2: types and parameter names are case-insensitive strings; the
    CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1): 8 octets."""
    line = one(box, "FETCH 2 BODYSTRUCTURE").upper()
    assert line.startswith('* 2 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "US-ASCII")')
    assert '"7BIT" 8 0 ' in line
    assert '"MIXED" ("BOUNDARY" "B1")' in line and '"APPLICATION" "OCTET-STREAM"' in line


def test_body_sections(box: RawImap) -> None:
    """RFC 9051 §6.4.5: BODY[1], BODY[HEADER.FIELDS (...)], partial <o.n>."""
    # RFC 2046 §5.1.1: the CRLF before "--b1" is part of the boundary, not of part 1.
    assert one(box, "FETCH 2 BODY.PEEK[1]") == "* 2 FETCH (BODY[1] {8}\r\npart one)"
    assert one(box, "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]") == (
        "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {19}\r\nSubject: simple\r\n\r\n)"
    )
    assert one(box, "FETCH 1 BODY.PEEK[TEXT]<0.5>") == "* 1 FETCH (BODY[TEXT]<0> {5}\r\nHello)"
    assert one(box, "FETCH 1 BODY.PEEK[TEXT]<100.5>") == '* 1 FETCH (BODY[TEXT]<100> "")' or (
        one(box, "FETCH 1 BODY.PEEK[TEXT]<100.5>") == "* 1 FETCH (BODY[TEXT]<100> {0}\r\n)"
    )


def test_body_sets_seen_peek_does_not(box: RawImap) -> None:
    """RFC 9051 §6.4.5: BODY[...] sets \\Seen (and the change is reported); PEEK does not."""
    one(box, "FETCH 1 BODY.PEEK[]")
    assert one(box, "FETCH 1 FLAGS") == "* 1 FETCH (FLAGS ())"
    line = one(box, "FETCH 1 BODY[TEXT]")
    assert "FLAGS (\\Seen)" in line
    assert one(box, "FETCH 1 FLAGS") == "* 1 FETCH (FLAGS (\\Seen))"


def test_rfc822_items(box: RawImap) -> None:
    header = SIMPLE.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    line = one(box, "FETCH 1 RFC822.HEADER")
    assert line == f"* 1 FETCH (RFC822.HEADER {{{len(header)}}}\r\n{header.decode()})"
    assert one(box, "FETCH 1 FLAGS") == "* 1 FETCH (FLAGS ())"  # RFC822.HEADER is a peek


def test_binary(box: RawImap) -> None:
    """RFC 3516 §4.2: BINARY[2] decodes base64; binary octets go in a literal8."""
    r = box.cmd("FETCH 2 (BINARY.PEEK[2] BINARY.SIZE[2])")
    assert r.status == "OK"
    assert r.untagged[0].encode("utf-8", "surrogateescape") == (
        b"* 2 FETCH (BINARY[2] ~{4}\r\n\x00\x01\x02\xff BINARY.SIZE[2] 4)"
    )


def test_macros(box: RawImap) -> None:
    """RFC 9051 §6.4.5: ALL, FAST, FULL."""
    assert one(box, "FETCH 1 FAST").startswith("* 1 FETCH (FLAGS () INTERNALDATE ")
    assert "ENVELOPE" in one(box, "FETCH 1 ALL")
    assert "BODY (" in one(box, "FETCH 1 FULL")


def test_range_and_star(box: RawImap) -> None:
    r = box.cmd("FETCH 1:* UID")
    assert r.untagged == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)"]
    r = box.cmd("FETCH *:1 UID")  # RFC 9051 §9: a range in either order
    assert r.untagged == ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)"]


def test_fetch_out_of_range(box: RawImap) -> None:
    """RFC 9051 §6.4.5: a sequence number past the end is an error."""
    assert box.cmd("FETCH 3 FLAGS").status == "BAD"
    assert box.cmd("FETCH 0 FLAGS").status == "BAD"
    assert box.cmd("NOOP").status == "OK"


def test_fetch_bad_arguments(box: RawImap) -> None:
    for bad in (
        "FETCH",
        "FETCH 1",
        "FETCH 1 BOGUS",
        "FETCH 1 (FLAGS",
        "FETCH 1 BODY[99.]",
        "FETCH x FLAGS",
        "FETCH 1 BODY[]<1.x>",
    ):
        assert box.cmd(bad).status == "BAD", bad
    assert box.cmd("NOOP").status == "OK"


def test_missing_part_is_empty(box: RawImap) -> None:
    """A part number that does not exist returns an empty string or NIL, not an error."""
    line = one(box, "FETCH 1 BODY.PEEK[5]")
    assert line in (
        '* 1 FETCH (BODY[5] "")',
        "* 1 FETCH (BODY[5] NIL)",
        "* 1 FETCH (BODY[5] {0}\r\n)",
    )


def test_fetch_not_selected(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"


def test_envelope_quoting_and_8bit(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §4.3: quotes and backslashes are escaped in quoted strings; 8-bit text
    (RFC 6532 headers) goes in a literal; encoded words are passed as they are."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    quoted = b'From: "Q \\"x\\" y" <a@b.test>\r\nSubject: say "hi" \\ there\r\n\r\nx\r\n'
    utf8 = "From: Jürgen <j@b.test>\r\nSubject: grüße\r\n\r\nx\r\n".encode()
    for m in (quoted, utf8):
        assert c.cmd(f"APPEND {name} {{{len(m)}+}}\r\n".encode() + m).status == "OK"
    c.cmd(f"SELECT {name}")
    r = c.cmd("FETCH 1:2 ENVELOPE")
    assert r.untagged[0] == (
        '* 1 FETCH (ENVELOPE (NIL "say \\"hi\\" \\\\ there" (("Q \\"x\\" y" NIL "a" "b.test")) '
        '(("Q \\"x\\" y" NIL "a" "b.test")) (("Q \\"x\\" y" NIL "a" "b.test")) '
        "NIL NIL NIL NIL NIL))"
    )
    assert r.untagged[1].startswith("* 2 FETCH (ENVELOPE (NIL {7}\r\ngrüße (({7}\r\nJürgen NIL")


def test_fetch_star_in_empty_mailbox(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §9 (seq-number): "*" in an empty mailbox names no message; a sequence
    number beyond the mailbox is BAD (UID FETCH 1:* is fine: test_uid)."""
    c = raw()
    fill(c, 0)
    assert c.cmd("FETCH 1:* FLAGS").status == "BAD"
    assert c.cmd("NOOP").status == "OK"
