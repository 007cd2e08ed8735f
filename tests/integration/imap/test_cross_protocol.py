"""One message through the whole system: delivered over SMTP, read and flagged over
IMAP, moved to another folder, and seen the same way from a second IMAP session and
over POP3 (issue 4, "How it is checked")."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
from collections.abc import Callable

import pytest

from tests.integration.imap.conftest import ALICE, deliver, unique
from tests.integration.server import USERS, MailServer


def pop3_subjects(server: MailServer) -> list[str]:
    pop = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    try:
        pop.user(ALICE)
        pop.pass_(USERS[ALICE])
        count, _ = pop.stat()
        subjects = []
        for i in range(1, count + 1):
            _, lines, _ = pop.top(i, 0)
            subjects += [
                line.decode()[9:] for line in lines if line.lower().startswith(b"subject: ")
            ]
        return subjects
    finally:
        pop.quit()


def test_smtp_imap_move_pop3(imap_server: MailServer, login: Callable[..., imaplib.IMAP4]) -> None:
    subject = deliver(imap_server, ALICE, body="across protocols")
    assert subject in pop3_subjects(imap_server)

    first, second = login(), login()
    assert first.select("INBOX")[0] == "OK"
    assert second.select("INBOX")[0] == "OK"
    typ, found = first.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
    (uid,) = found[0].split()

    typ, data = first.uid("FETCH", uid, "(BODY[TEXT])")
    assert typ == "OK" and data[0][1] == b"across protocols\r\n"
    assert first.uid("STORE", uid, "+FLAGS", "(\\Flagged)")[0] == "OK"

    # The second session learns of both flags on its next command.
    typ, _ = second.noop()
    fetched = b" ".join(x for x in second.untagged_responses.get("FETCH", []) if x)
    assert b"\\Seen" in fetched and b"\\Flagged" in fetched
    typ, data = second.uid("FETCH", uid, "(FLAGS)")
    assert b"\\Flagged" in data[0] and b"\\Seen" in data[0]

    folder = unique("Projects")
    assert first.create(folder)[0] == "OK"
    typ, data = first.uid("MOVE", uid, folder)
    assert typ == "OK"

    # Gone from INBOX for both IMAP sessions and for POP3; present in the folder.
    typ, _ = second.noop()
    assert second.untagged_responses.get("EXPUNGE")
    typ, found = second.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
    assert found == [b""]
    assert subject not in pop3_subjects(imap_server)

    assert second.select(folder)[0] == "OK"
    typ, found = second.search(None, "SUBJECT", f'"{subject}"')
    (number,) = found[0].split()
    typ, data = second.fetch(number, "(FLAGS BODY.PEEK[TEXT])")
    assert b"\\Flagged" in data[0][0] and b"\\Seen" in data[0][0]
    assert data[0][1] == b"across protocols\r\n"


def test_smtputf8_message_with_8bit_headers_reaches_imap(
    imap_server: MailServer, login: Callable[..., imaplib.IMAP4]
) -> None:
    """RFC 6531/6532: a message with raw UTF-8 headers is accepted over SMTP and read
    back unchanged over IMAP.  (Its summary once failed to store: 451 for every such
    message.)"""
    subject = f"héllo wörld {unique()}"
    raw = (
        f"From: Jürgen <jürgen@remote.test>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\ngrüße\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", imap_server.ports["smtp"], timeout=30) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("smtputf8")
        smtp.sendmail(
            "sender@remote.test", [ALICE], raw, mail_options=["SMTPUTF8", "BODY=8BITMIME"]
        )
    m = login()
    m.select("INBOX")
    _, data = m.fetch("1:*", "(BODY.PEEK[])")
    bodies = [part[1] for part in data if isinstance(part, tuple)]
    # The server prepends its trace headers; the rest is the message as sent.
    assert any(body.endswith(raw) for body in bodies)


def test_pop3_and_imap_expunge_each_other(
    imap_server: MailServer, login: Callable[..., imaplib.IMAP4]
) -> None:
    """A POP3 DELE+QUIT reaches a selected IMAP session as EXPUNGE; a message IMAP
    expunged under an open POP3 session cannot be retrieved there."""
    user = "bob@example.test"
    subjects = [deliver(imap_server, user) for _ in range(3)]
    m = login(user)
    _, data = m.select("INBOX")
    total = int(data[0])
    pop = poplib.POP3("127.0.0.1", imap_server.ports["pop3"], timeout=10)
    pop.user(user)
    pop.pass_(USERS[user])
    count, _ = pop.stat()
    assert count == total

    _, found = m.search(None, "SUBJECT", f'"{subjects[0]}"')
    (first,) = found[0].split()
    m.store(first, "+FLAGS.SILENT", "(\\Deleted)")
    m.expunge()
    with pytest.raises(poplib.error_proto):
        pop.retr(int(first))

    _, found = m.search(None, "SUBJECT", f'"{subjects[1]}"')
    second = int(found[0].split()[0]) + 1  # POP3 still numbers from before the expunge
    pop.dele(second)
    # The sign-off counts what this session removed and what is on the server now,
    # not what its snapshot from login would say.
    assert pop.quit().endswith(b"(1 message deleted, %d left)" % (total - 2))
    m.noop()
    assert m.untagged_responses.get("EXPUNGE")
    _, found = m.search(None, "SUBJECT", f'"{subjects[1]}"')
    assert found == [b""]
    _, found = m.search(None, "SUBJECT", f'"{subjects[2]}"')
    assert found[0] != b""
