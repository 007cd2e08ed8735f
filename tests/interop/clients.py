"""What the interop tests share: the account password, delivering test mail and
reading back its subjects, finding and running the third-party programs, Maildirs,
and a private tmux for full-screen clients."""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Getmail:
    """getmail6 with a getmail directory and a Maildir it may deliver to."""

    program: str
    directory: Path  # --getmaildir: the rc files and getmail's record of what it saw
    maildir: Path
    as_root: bool
    log: Path

    @classmethod
    def prepare(cls, tmp_path: Path, request: pytest.FixtureRequest) -> Getmail:
        program = need("getmail")
        directory = tmp_path / "getmail"
        directory.mkdir()
        # getmail refuses to deliver as root, so as root it delivers as nobody, who
        # must be able to reach the Maildir: a directory of its own outside pytest's
        # private tmp tree.
        outside = Path(tempfile.mkdtemp(prefix="posthouse-getmail-"))
        request.addfinalizer(lambda: shutil.rmtree(outside, ignore_errors=True))
        md = make_maildir(outside / "Maildir")
        as_root = os.geteuid() == 0
        if as_root:
            outside.chmod(0o755)
            for path in (md, md / "tmp", md / "new", md / "cur"):
                shutil.chown(path, "nobody", "nogroup")
        return cls(program, directory, md, as_root, tmp_path / "getmail.log")

    def write_rc(self, name: str, retriever: list[str], *, delete: bool, verbose: int) -> None:
        """The rc file `name`: `retriever` (the lines after [retriever]), delivery to
        the Maildir, and options that fetch only what was not seen before."""
        lines = [
            "[retriever]",
            *retriever,
            "[destination]",
            "type = Maildir",
            f"path = {self.maildir}/",
            *(["user = nobody"] if self.as_root else []),
            "[options]",
            f"verbose = {verbose}",
            "read_all = false",
            f"delete = {str(delete).lower()}",
            "delivered_to = false",
            "received = false",
        ]
        (self.directory / name).write_text("\n".join(lines) + "\n")

    def command(self, name: str, *args: str) -> list[str]:
        return [self.program, f"--getmaildir={self.directory}", f"--rcfile={name}", *args]

    def run(self, name: str) -> None:
        """One retrieval with the rc file `name`; it must succeed."""
        with self.log.open("a") as f:  # written as it goes: a hang still leaves a trace
            p = subprocess.run(self.command(name), stdout=f, stderr=subprocess.STDOUT, timeout=60)
        assert p.returncode == 0, self.log.read_text()


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
