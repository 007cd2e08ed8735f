"""The wire sequences real clients send (../shared/INTEROP.md, IMAP section)."""

from __future__ import annotations

import datetime

from tests.proto.imap.imap_script import commands, one

from posthouse.proto.imap import (
    NEED_DATA,
    Append,
    AppendMessage,
    Close,
    CommandParser,
    Expunge,
    Fetch,
    IdleDone,
    LiteralPending,
    Login,
    SequenceSet,
    Store,
    StoreMode,
)
from posthouse.proto.imap.events import Idle


def test_neomutt_sends_done_and_its_next_commands_in_one_segment() -> None:
    parser = CommandParser()
    assert one(b"a0010 IDLE\r\n", parser) == Idle("a0010")
    parser.start_idle("a0010")
    events = commands(
        b"DONE\r\na0011 UID STORE 4 +FLAGS.SILENT (\\Deleted)\r\na0012 EXPUNGE\r\n", parser
    )
    assert events == [
        IdleDone("a0010"),
        Store("a0011", SequenceSet.parse("4"), StoreMode.ADD, ("\\Deleted",), True, True),
        Expunge("a0012"),
    ]


def test_mbsync_pipelines_append_with_literal_plus() -> None:
    message = b"X-TUID: abc\r\nSubject: hi\r\n\r\nbody\r\n"
    data = (
        b"9 UID STORE 3 +FLAGS.SILENT (\\Seen)\r\n"
        b'10 APPEND "box" (\\Seen) "07-Feb-2024 10:00:00 +0000" {%d+}\r\n'
        % len(message)
        + message
        + b"\r\n11 CLOSE\r\n"
    )
    events = commands(data)
    assert len(events) == 3
    assert events[1] == Append(
        "10",
        "box",
        (
            AppendMessage(
                message, ("\\Seen",), datetime.datetime(2024, 2, 7, 10, tzinfo=datetime.UTC)
            ),
        ),
    )
    assert events[2] == Close("11")


def test_curl_append_with_a_synchronising_literal() -> None:
    parser = CommandParser()
    parser.receive_data(b"A003 APPEND INBOX (\\Seen) {11}\r\n")
    assert parser.next_command() == LiteralPending("A003", "APPEND", 11)
    parser.accept_literal()  # the server sends "+ Ready"
    assert parser.next_command() is NEED_DATA
    parser.receive_data(b"Subject: x\n\r\n")
    assert parser.next_command() == Append(
        "A003", "INBOX", (AppendMessage(b"Subject: x\n", ("\\Seen",)),)
    )


def test_getmail_login_with_an_atom_and_a_quoted_string() -> None:
    assert one(b'1 LOGIN bob "bobpw"\r\n') == Login("1", "bob", "bobpw")


def test_fetchmail_and_snail_fetches() -> None:
    for line in (
        b"a FETCH 3 RFC822.HEADER\r\n",
        b"a FETCH 3 BODY.PEEK[TEXT]\r\n",
        b"a FETCH 1:4 (FLAGS UID)\r\n",
        b"a UID FETCH 7 (BODY.PEEK[])\r\n",
        b"a FETCH 2 BODY[HEADER.FIELDS (SUBJECT)]\r\n",
    ):
        assert isinstance(one(line), Fetch)
