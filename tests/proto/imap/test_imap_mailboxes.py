"""SELECT EXAMINE CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LIST LSUB NAMESPACE STATUS
APPEND IDLE, and mailbox names (INBOX, modified UTF-7, UTF-8 after UTF8=ACCEPT)."""

from __future__ import annotations

import datetime

import pytest
from tests.proto.imap.imap_script import bad, one

from posthouse.proto.imap import (
    Append,
    AppendMessage,
    CommandParser,
    Create,
    Delete,
    IdleDone,
    List,
    Lsub,
    Namespace,
    Noop,
    QResync,
    Rename,
    Select,
    SequenceSet,
    Status,
    Subscribe,
    Tagged,
    Unsubscribe,
)
from posthouse.proto.imap.events import Idle


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"a SELECT INBOX\r\n", Select("a", "INBOX")),
        (b"a select inbox\r\n", Select("a", "INBOX")),
        (b'a EXAMINE "InBoX"\r\n', Select("a", "INBOX", read_only=True)),
        (b"a SELECT Archive (CONDSTORE)\r\n", Select("a", "Archive", condstore=True)),
        (
            b"a SELECT A (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
            Select(
                "a",
                "A",
                qresync=QResync(
                    67890007, 20050715194045000, SequenceSet.parse("41,43:211,214:541")
                ),
            ),
        ),
        (b"a SELECT Entw&APw-rfe\r\n", Select("a", "Entwürfe")),
        (b"a CREATE Sent\r\n", Create("a", "Sent")),
        (b"a CREATE Junk (USE (\\Junk))\r\n", Create("a", "Junk", ("\\Junk",))),
        (b"a DELETE old\r\n", Delete("a", "old")),
        (b"a RENAME INBOX Old\r\n", Rename("a", "INBOX", "Old")),
        (b"a SUBSCRIBE news\r\n", Subscribe("a", "news")),
        (b"a UNSUBSCRIBE news\r\n", Unsubscribe("a", "news")),
        (b'a LIST "" *\r\n', List("a", "", ("*",))),
        (b'a LIST "" ""\r\n', List("a", "", ("",))),
        (b'a LIST "" "*"\r\n', List("a", "", ("*",))),
        (b"a LIST ~/Mail/ %\r\n", List("a", "~/Mail/", ("%",))),
        (
            b'a LIST (SUBSCRIBED RECURSIVEMATCH) "" (INBOX* Sent%) RETURN (CHILDREN)\r\n',
            List(
                "a",
                "",
                ("INBOX*", "Sent%"),
                ("SUBSCRIBED", "RECURSIVEMATCH"),
                ("CHILDREN",),
                None,
                True,
            ),
        ),
        (
            b'a LIST "" % RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))\r\n',
            List("a", "", ("%",), (), ("SPECIAL-USE",), ("MESSAGES", "UNSEEN", "SIZE"), True),
        ),
        (b'a LIST (SPECIAL-USE) "" *\r\n', List("a", "", ("*",), ("SPECIAL-USE",), (), None, True)),
        (b'a LSUB "" *\r\n', Lsub("a", "", "*")),
        (b"a NAMESPACE\r\n", Namespace("a")),
        (
            b"a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE)\r\n",
            Status(
                "a", "INBOX", ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE")
            ),
        ),
    ],
)
def test_command(line: bytes, event: object) -> None:
    assert one(line) == event


@pytest.mark.parametrize(
    "line",
    [
        b"a SELECT\r\n",
        b"a SELECT INBOX (FOO)\r\n",
        b"a SELECT &AGE-\r\n",  # invalid modified UTF-7
        b"a SELECT &Jjo\r\n",
        b'a SELECT "Entw\xc3\xbcrfe"\r\n',  # 8-bit quoted without UTF8=ACCEPT
        b"a SELECT {3+}\r\na\x00b\r\n",  # NUL in a mailbox name
        b"a STATUS INBOX ()\r\n",
        b"a STATUS INBOX (BOGUS)\r\n",
        b'a LIST (RECURSIVEMATCH) "" *\r\n',  # RFC 5258 §3.1
        b'a LIST "" * RETURN (BOGUS)\r\n',
        b'a LIST (BOGUS) "" *\r\n',
        b"a RENAME a\r\n",
        b"a CREATE x (FOO (\\Junk))\r\n",
    ],
)
def test_bad_mailbox_commands(line: bytes) -> None:
    assert bad(line).tag == "a"


def test_utf8_names_after_enable() -> None:
    parser = CommandParser()
    parser.enable_utf8()  # ENABLE UTF8=ACCEPT (RFC 6855 §3)
    assert one(b'a SELECT "Entw\xc3\xbcrfe"\r\n', parser) == Select("a", "Entwürfe")
    # With UTF-8 names, "&" is just a character.
    assert one(b"a SELECT A&B\r\n", parser) == Select("a", "A&B")
    assert bad(b'a SELECT "\xff"\r\n', parser).tag == "a"


def test_append_with_flags_and_date() -> None:
    event = one(b'a APPEND Sent (\\Seen $Label) " 7-Feb-2024 10:00:00 -0130" {3}\r\nabc\r\n')
    tz = datetime.timezone(-datetime.timedelta(hours=1, minutes=30))
    assert event == Append(
        "a",
        "Sent",
        (
            AppendMessage(
                b"abc", ("\\Seen", "$Label"), datetime.datetime(2024, 2, 7, 10, tzinfo=tz)
            ),
        ),
    )


def test_multiappend() -> None:
    event = one(b"a APPEND INBOX {1+}\r\nx (\\Flagged) {2+}\r\nyz\r\n")
    assert event == Append(
        "a", "INBOX", (AppendMessage(b"x"), AppendMessage(b"yz", ("\\Flagged",)))
    )


@pytest.mark.parametrize(
    "line",
    [
        b"a APPEND INBOX\r\n",
        b'a APPEND INBOX "abc"\r\n',  # the message must be a literal
        b'a APPEND INBOX "32-Feb-2024 10:00:00 +0000" {1+}\r\nx\r\n',
        b"a APPEND INBOX (\\Recent) {1+}\r\nx\r\n",
        b"a APPEND INBOX (\\Seen {1+}\r\nx\r\n",
    ],
)
def test_bad_append(line: bytes) -> None:
    assert bad(line).tag == "a"


def test_idle_and_done() -> None:
    parser = CommandParser()
    assert one(b"i IDLE\r\n", parser) == Idle("i")
    parser.start_idle("i")
    assert one(b"done\r\n", parser) == IdleDone("i")
    assert one(b"n NOOP\r\n", parser) == Noop("n")


def test_anything_but_done_ends_idle_with_bad() -> None:
    parser = CommandParser()
    parser.start_idle("i")
    event = bad(b"n NOOP\r\n", parser)
    assert event.response == Tagged("i", "BAD", "Expected DONE")
    assert one(b"n NOOP\r\n", parser) == Noop("n")
