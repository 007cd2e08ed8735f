"""FETCH (RFC 9051 §6.4.5), STORE (§6.4.6), COPY, MOVE (RFC 6851), EXPUNGE, UID
EXPUNGE (RFC 4315), CHECK CLOSE UNSELECT, and their UID forms (§6.4.9)."""

from __future__ import annotations

import pytest
from tests.proto.imap.imap_script import bad, one

from posthouse.proto.imap import (
    Check,
    Close,
    Copy,
    Expunge,
    Fetch,
    FetchAttribute,
    Move,
    Section,
    SectionText,
    SequenceSet,
    Store,
    StoreMode,
    Unselect,
)


def attributes(line: bytes) -> tuple[FetchAttribute, ...]:
    event = one(line)
    assert isinstance(event, Fetch), event
    return event.attributes


def names(line: bytes) -> list[str]:
    return [a.response_name() for a in attributes(line)]


def test_macros() -> None:
    assert names(b"a FETCH 1 ALL\r\n") == ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]
    assert names(b"a FETCH 1 fast\r\n") == ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    assert names(b"a FETCH 1 FULL\r\n")[-1] == "BODY"


def test_simple_items() -> None:
    line = (
        b"a FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE UID MODSEQ "
        b"RFC822 RFC822.HEADER RFC822.TEXT)\r\n"
    )
    assert names(line) == [
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODY",
        "BODYSTRUCTURE",
        "UID",
        "MODSEQ",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.TEXT",
    ]


@pytest.mark.parametrize(
    ("item", "attribute", "response_name"),
    [
        ("BODY[]", FetchAttribute("BODY", Section()), "BODY[]"),
        ("BODY.PEEK[]", FetchAttribute("BODY", Section(), peek=True), "BODY[]"),
        ("BODY[TEXT]", FetchAttribute("BODY", Section((), SectionText.TEXT)), "BODY[TEXT]"),
        (
            "body.peek[header.fields (Subject From)]",
            FetchAttribute(
                "BODY", Section((), SectionText.HEADER_FIELDS, ("SUBJECT", "FROM")), peek=True
            ),
            "BODY[HEADER.FIELDS (SUBJECT FROM)]",
        ),
        (
            "BODY[HEADER.FIELDS.NOT (X-A)]",
            FetchAttribute("BODY", Section((), SectionText.HEADER_FIELDS_NOT, ("X-A",))),
            "BODY[HEADER.FIELDS.NOT (X-A)]",
        ),
        ("BODY[1.2.3]", FetchAttribute("BODY", Section((1, 2, 3))), "BODY[1.2.3]"),
        ("BODY[2.MIME]", FetchAttribute("BODY", Section((2,), SectionText.MIME)), "BODY[2.MIME]"),
        (
            "BODY[1.HEADER]<0.1024>",
            FetchAttribute("BODY", Section((1,), SectionText.HEADER), (0, 1024)),
            "BODY[1.HEADER]<0>",
        ),
        ("BINARY[1]", FetchAttribute("BINARY", Section((1,))), "BINARY[1]"),
        (
            "BINARY.PEEK[]<10.20>",
            FetchAttribute("BINARY", Section(), (10, 20), True),
            "BINARY[]<10>",
        ),
        ("BINARY.SIZE[2]", FetchAttribute("BINARY.SIZE", Section((2,))), "BINARY.SIZE[2]"),
    ],
)
def test_sections(item: str, attribute: FetchAttribute, response_name: str) -> None:
    assert attributes(b"a FETCH 1 " + item.encode() + b"\r\n") == (attribute,)
    assert attribute.response_name() == response_name


def test_uid_fetch_with_changedsince_and_vanished() -> None:
    event = one(b"a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n")
    assert event == Fetch(
        "a", SequenceSet.parse("300:500"), (FetchAttribute("FLAGS"),), True, 12345, True
    )


@pytest.mark.parametrize(
    "line",
    [
        b"a FETCH 1\r\n",
        b"a FETCH 0 FLAGS\r\n",
        b"a FETCH 1 BOGUS\r\n",
        b"a FETCH 1 ()\r\n",
        b"a FETCH 1 BODY[MIME]\r\n",  # MIME needs a part
        b"a FETCH 1 BODY[HEADER.FIELDS]\r\n",
        b"a FETCH 1 BODY[0]\r\n",
        b"a FETCH 1 BODY[1]<5>\r\n",
        b"a FETCH 1 BODY[1]<5.0>\r\n",
        b"a FETCH 1 BINARY[TEXT]\r\n",
        b"a FETCH 1 BINARY.SIZE[1]<0.5>\r\n",
        b"a FETCH 1 BODY[TEXT\r\n",
        b"a FETCH 1 (FLAGS) (VANISHED)\r\n",  # VANISHED is for UID FETCH only
        b"a UID FETCH 1 (FLAGS) (VANISHED)\r\n",  # and needs CHANGEDSINCE
    ],
)
def test_bad_fetch(line: bytes) -> None:
    assert bad(line).tag == "a"


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (
            b"a STORE 1:3 +FLAGS (\\Seen \\Deleted)\r\n",
            Store("a", SequenceSet.parse("1:3"), StoreMode.ADD, ("\\Seen", "\\Deleted")),
        ),
        (
            b"a UID STORE 5 -FLAGS.SILENT \\seen\r\n",
            Store("a", SequenceSet.parse("5"), StoreMode.REMOVE, ("\\Seen",), True, True),
        ),
        (
            b"a UID STORE 9 FLAGS (\\Deleted \\Seen)\r\n",
            Store(
                "a", SequenceSet.parse("9"), StoreMode.REPLACE, ("\\Deleted", "\\Seen"), uid=True
            ),
        ),
        (
            b"a STORE 7 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT ($Junk)\r\n",
            Store("a", SequenceSet.parse("7"), StoreMode.ADD, ("$Junk",), True, False, 320162338),
        ),
        (b"a STORE 1 FLAGS ()\r\n", Store("a", SequenceSet.parse("1"), StoreMode.REPLACE, ())),
        (b"a COPY 2:4 Archive\r\n", Copy("a", SequenceSet.parse("2:4"), "Archive")),
        (b"a UID COPY 2:4 Archive\r\n", Copy("a", SequenceSet.parse("2:4"), "Archive", True)),
        (b"a MOVE $ Trash\r\n", Move("a", SequenceSet(saved=True), "Trash")),
        (b"a UID MOVE 1,3 Trash\r\n", Move("a", SequenceSet.parse("1,3"), "Trash", True)),
        (b"a EXPUNGE\r\n", Expunge("a")),
        (b"a UID EXPUNGE 3000:3002\r\n", Expunge("a", SequenceSet.parse("3000:3002"))),
        (b"a CHECK\r\n", Check("a")),
        (b"a CLOSE\r\n", Close("a")),
        (b"a UNSELECT\r\n", Unselect("a")),
    ],
)
def test_command(line: bytes, event: object) -> None:
    assert one(line) == event


@pytest.mark.parametrize(
    "line",
    [
        b"a STORE 1 +FLAGS\r\n",
        b"a STORE 1 FLAGZ (\\Seen)\r\n",
        b"a STORE 1 (BOGUS 5) FLAGS (\\Seen)\r\n",
        b"a STORE 1 +FLAGS (\\Seen\r\n",
        b"a COPY 1\r\n",
        b"a UID EXPUNGE\r\n",
        b"a UID NOOP\r\n",
        b"a EXPUNGE 1\r\n",
        b"a CLOSE now\r\n",
    ],
)
def test_bad_command(line: bytes) -> None:
    assert bad(line).tag == "a"
