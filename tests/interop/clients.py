"""What the interop tests share: the account password, delivering test mail and
reading back its subjects, finding and running the third-party programs, Maildirs,
and a private tmux for full-screen clients."""

from __future__ import annotations

import re
import shutil
import smtplib
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.server import MailServer, stored_messages

PASSWORD = "interop-Secret-7"
HOSTNAME = "mail.example.test"  # the CN of the instance's self-signed certificate


def deliver(server: MailServer, rcpt: str, subject: str, body: str = "Hello.\r\n") -> None:
    """A message for `rcpt`, over SMTP as any sender would."""
    raw = (
        f"From: Interop <sender@example.org>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
        f"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@example.org>\r\n\r\n{body}"
    )
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.sendmail("sender@example.org", [rcpt], raw.encode())


def subject_of(raw: bytes) -> str:
    match = re.search(rb"(?:^|\r?\n)Subject: ([^\r\n]*)\r?\n", raw)
    return match.group(1).decode() if match else ""


def subjects(server: MailServer, address: str, mailbox: str = "INBOX") -> list[str]:
    """The subjects of the messages stored in one of `address`'s mailboxes."""
    return [subject_of(raw) for raw in stored_messages(server.dir, address, mailbox)]


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is not installed: run scripts/test.sh, which installs it")
    return path


def run(*args: str, timeout: float = 60, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload, no-any-return]


def maildir(path: Path) -> list[bytes]:
    return [f.read_bytes() for d in ("new", "cur") for f in sorted((path / d).glob("*"))]


def make_maildir(path: Path) -> Path:
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def tmux(tmp: Path) -> Iterator[list[str]]:
    """A private tmux server on its own socket; only that server is killed after."""
    command = [need("tmux"), "-S", str(tmp / "tmux.sock")]
    try:
        yield command
    finally:
        subprocess.run([*command, "kill-server"], capture_output=True, timeout=10)


def wait_screen(command: list[str], pattern: str, timeout: float = 25) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = run(*command, "capture-pane", "-p", "-t", "nm").stdout
        if re.search(pattern, screen):
            return screen
        time.sleep(0.25)
    raise AssertionError(f"{pattern!r} never appeared on the screen:\n{screen}")
