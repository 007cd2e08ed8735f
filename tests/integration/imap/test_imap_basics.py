"""The first IMAP session a lab shows: login, LIST, SELECT, FETCH, STORE, SEARCH,
MOVE, APPEND, EXPUNGE — through imaplib over a real socket."""

from __future__ import annotations

import imaplib
from collections.abc import Callable

from tests.integration.imap.conftest import ALICE, deliver
from tests.integration.server import MailServer


def test_read_flag_move_append_expunge(
    imap_server: MailServer, login: Callable[..., imaplib.IMAP4]
) -> None:
    subject = deliver(imap_server, ALICE, body="body text")
    m = login()
    typ, data = m.select("INBOX")
    assert typ == "OK"
    count = int(data[0])
    assert count >= 1
    typ, found = m.search(None, "SUBJECT", f'"{subject}"')
    assert typ == "OK"
    (number,) = found[0].split()
    typ, fetched = m.fetch(number, "(FLAGS ENVELOPE BODY.PEEK[TEXT])")
    assert typ == "OK"
    assert subject.encode() in fetched[0][0]
    assert fetched[0][1] == b"body text\r\n"
    assert b"\\Seen" not in fetched[0][0]  # PEEK
    typ, fetched = m.fetch(number, "(BODY[TEXT])")
    assert b"\\Seen" in b"".join(p if isinstance(p, bytes) else p[0] for p in fetched)
    typ, _ = m.store(number, "+FLAGS", "(\\Flagged)")
    assert typ == "OK"
    typ, flags = m.fetch(number, "(FLAGS)")
    assert b"\\Flagged" in flags[0] and b"\\Seen" in flags[0]
    assert m.create("Archive/2026")[0] == "OK"
    typ, data = m._simple_command("MOVE", number.decode(), "Archive/2026")
    assert typ == "OK"
    assert m.untagged_responses.get("EXPUNGE") == [number]
    typ, status = m.status("Archive/2026", "(MESSAGES UNSEEN)")
    assert status[0] == b"Archive/2026 (MESSAGES 1 UNSEEN 0)"
    typ, data = m.append("INBOX", "(\\Deleted)", None, b"Subject: appended\r\n\r\nx\r\n")
    assert typ == "OK" and b"APPENDUID" in data[0]
    typ, data = m.expunge()
    assert typ == "OK"
    assert data[0] is not None  # the appended, \Deleted message went
