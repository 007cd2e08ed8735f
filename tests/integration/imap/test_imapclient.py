"""The same commands through imapclient, a client we did not write: its parser must
accept every response (ENVELOPE, BODYSTRUCTURE, literals, COPYUID, ESEARCH, IDLE)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient

from tests.integration.imap.conftest import ALICE, deliver, unique
from tests.integration.server import USERS, MailServer


@pytest.fixture
def client(imap_server: MailServer) -> Iterator[IMAPClient]:
    c = IMAPClient("127.0.0.1", port=imap_server.ports["imap"], ssl=False, timeout=10)
    c.login(ALICE, USERS[ALICE])
    try:
        yield c
    finally:
        c.logout()


def test_folders_append_fetch(client: IMAPClient) -> None:
    folder = unique("imapclient")
    client.create_folder(folder)
    assert client.folder_exists(folder)
    when = datetime.datetime(2024, 3, 5, 10, 11, 12, tzinfo=datetime.UTC)
    result = client.append(
        folder,
        b"From: Ann <ann@remote.test>\r\nSubject: hi there\r\n\r\nbody\r\n",
        flags=[b"\\Flagged"],
        msg_time=when,
    )
    assert b"APPENDUID" in result
    client.select_folder(folder)
    (uid,) = client.search(["SUBJECT", "hi"])
    data = client.fetch([uid], ["ENVELOPE", "BODYSTRUCTURE", "FLAGS", "INTERNALDATE", "BODY[]"])
    msg = data[uid]
    assert msg[b"ENVELOPE"].subject == b"hi there"
    assert msg[b"ENVELOPE"].from_[0].mailbox == b"ann"
    assert (
        msg[b"INTERNALDATE"].replace(tzinfo=None) == when.replace(tzinfo=None)
        or msg[b"INTERNALDATE"].astimezone(datetime.UTC) == when
    )
    assert b"\\Flagged" in msg[b"FLAGS"] and b"\\Seen" in msg[b"FLAGS"]
    assert msg[b"BODY[]"].endswith(b"body\r\n")


def test_copy_move_delete(client: IMAPClient) -> None:
    a, b = unique("a"), unique("b")
    client.create_folder(a)
    client.create_folder(b)
    for i in range(3):
        client.append(a, f"Subject: n{i}\r\n\r\nx\r\n".encode())
    client.select_folder(a)
    uids = client.search("ALL")
    assert len(uids) == 3
    client.copy(uids[:1], b)
    client.move(uids[1:2], b)
    client.delete_messages(uids[2:])
    client.expunge()
    assert client.search("ALL") == [uids[0]]
    assert client.folder_status(b, [b"MESSAGES"])[b"MESSAGES"] == 2
    client.unselect_folder()
    client.delete_folder(a)
    assert not client.folder_exists(a)


def test_idle_with_imapclient(imap_server: MailServer, client: IMAPClient) -> None:
    client.select_folder("INBOX")
    client.idle()
    try:
        deliver(imap_server, ALICE)
        responses = client.idle_check(timeout=3)
    finally:
        client.idle_done()
    assert any(r[1] == b"EXISTS" for r in responses)


def test_list_special_use_and_namespace(client: IMAPClient) -> None:
    ns = client.namespace()
    assert ns.personal == ((b"", "/"),) or ns.personal[0][0] in ("", b"")
    folders = {name: flags for flags, _, name in client.list_folders()}
    assert "INBOX" in folders
    found = client.find_special_folder(b"\\Sent")
    assert found is None or found in folders
