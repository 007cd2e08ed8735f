"""One posthouse server per IMAP test module, and imaplib connections to it."""

from __future__ import annotations

import imaplib
import re
import shutil
import smtplib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.imap.rawimap import RawImap, message
from tests.integration.server import LISTENERS, USERS, MailServer, _set_table, free_port

ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture(scope="session")
def imap_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised instance with alice and bob, copied for every server below
    (`posthouse init` and `user add` cost seconds each)."""
    directory: Path = tmp_path_factory.mktemp("imap-template") / "instance"
    MailServer.create(directory)
    return directory


def copy_server(
    template: Path,
    directory: Path,
    *,
    workers: int = 1,
    imap: dict[str, int | float] | None = None,
    smtp: dict[str, int | float] | None = None,
) -> MailServer:
    """A fresh instance copied from `template`, on new free ports (not started)."""
    shutil.copytree(template, directory)
    server = MailServer(directory)
    text = (directory / "posthouse.toml").read_text()
    for name in LISTENERS:
        server.ports[name] = free_port()
        text, count = re.subn(
            rf"(\[listeners\.{name}\]\naddress = \"[^\"]*\"\nport = )\d+",
            rf"\g<1>{server.ports[name]}",
            text,
        )
        assert count == 1, name
    text = text.replace("\nworkers = 1\n", f"\nworkers = {workers}\n")
    text = _set_table(text, "imap", imap or {})
    text = _set_table(text, "smtp", smtp or {})
    (directory / "posthouse.toml").write_text(text)
    return server


@pytest.fixture(scope="module")
def imap_server(
    tmp_path_factory: pytest.TempPathFactory, imap_template: Path
) -> Iterator[MailServer]:
    directory: Path = tmp_path_factory.mktemp("imap")
    server = copy_server(imap_template, directory / "instance").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def login(imap_server: MailServer) -> Iterator[Callable[..., imaplib.IMAP4]]:
    """login(user=ALICE) -> a logged-in imaplib client (plaintext on loopback)."""
    clients: list[imaplib.IMAP4] = []

    def make(user: str = ALICE) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", imap_server.ports["imap"], timeout=30)
        client.login(user, USERS[user])
        clients.append(client)
        return client

    yield make
    for client in clients:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


@pytest.fixture
def raw(imap_server: MailServer) -> Iterator[Callable[..., RawImap]]:
    """raw(user=ALICE) -> a logged-in RawImap (raw(None) -> not logged in)."""
    clients: list[RawImap] = []

    def make(user: str | None = ALICE, port: str = "imap") -> RawImap:
        client = RawImap(imap_server.ports[port])
        clients.append(client)
        if user is not None:
            client.login(user, USERS[user])
        return client

    yield make
    for client in clients:
        client.close()


def unique(prefix: str = "box") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fill(client: RawImap, count: int, *, select: bool = True, prefix: str = "box") -> str:
    """A new mailbox holding `count` messages (subjects m1..mN), selected by default."""
    name = unique(prefix)
    assert client.cmd(f'CREATE "{name}"').status == "OK"
    for i in range(1, count + 1):
        reply = client.append(name, message(f"m{i}", f"body of message {i}"))
        assert reply.status == "OK", reply
    if select:
        assert client.cmd(f'SELECT "{name}"').status == "OK"
    return name


def deliver(server: MailServer, to: str, subject: str | None = None, body: str = "hello") -> str:
    """Send one message over SMTP (port 2525 role); returns its unique subject."""
    subject = subject or f"test {uuid.uuid4().hex[:12]}"
    message = (
        f"From: Sender <sender@remote.test>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@remote.test>\r\n\r\n{body}\r\n"
    )
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as smtp:
        smtp.sendmail("sender@remote.test", [to], message.encode())
    return subject
