"""A real posthouse server in a subprocess, on free loopback ports, for tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOMAIN = "example.test"
USERS = {
    "alice@example.test": "alicepw-Secret1",
    "bob@example.test": "bobpw-Secret2",
}
ADMIN = ("admin@example.test", "adminpw-Secret0")
# Every listener `posthouse init` writes; each test server gets free ports for all.
LISTENERS = ("smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps", "https")
# An empty [dns] table: the instance asks no real DNS, and every name is unknown
# (NXDomain, as for the made-up domains tests send to), so mail a test queues for
# another domain bounces at once, never reaching the network.  Being empty, it is no
# lab: loopback clients are not judged by SPF, DKIM and DMARC.  A test that wants a
# lab adds [dns."name"] tables.
DNS_TABLE = "\n[dns]\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def posthouse(directory: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "posthouse", *args, "--dir", str(directory)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"posthouse {' '.join(args)} failed: {proc.stderr}{proc.stdout}")
    return proc.stdout


@dataclass
class MailServer:
    dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        teaching: bool = False,
        workers: int = 1,
        pop3: dict[str, int | float] | None = None,
        imap: dict[str, int | float] | None = None,
        **smtp: int | float,
    ) -> MailServer:
        """A fresh instance with alice and bob.  `smtp`, `pop3` and `imap` override
        settings of the [smtp], [pop3] and [imap] tables (e.g. idle_timeout=2)."""
        posthouse(
            directory,
            "init",
            "--domain",
            DOMAIN,
            "--hostname",
            "mail.example.test",
            stdin=ADMIN[1] + "\n",
        )
        server = cls(directory)
        text = server._with_free_ports((directory / "posthouse.toml").read_text())
        if teaching:
            text = text.replace("teaching_mode = false", "teaching_mode = true")
        text = text.replace("\nworkers = 1\n", f"\nworkers = {workers}\n")
        text = _set_table(text, "smtp", smtp)
        text = _set_table(text, "pop3", pop3 or {})
        text = _set_table(text, "imap", imap or {})
        (directory / "posthouse.toml").write_text(text + DNS_TABLE)
        for address, password in USERS.items():
            posthouse(directory, "user", "add", address, "--password-stdin", stdin=password + "\n")
        return server

    def _with_free_ports(self, text: str) -> str:
        """posthouse.toml `text` with a free port for every listener."""
        for name in LISTENERS:
            self.ports[name] = free_port()
            text = re.sub(
                rf"(\[listeners\.{name}\]\naddress = \"[^\"]*\"\nport = )\d+",
                rf"\g<1>{self.ports[name]}",
                text,
            )
        return text

    def start(self) -> MailServer:
        # A port found free can be taken before the server binds it (by any socket
        # that connects out meanwhile): then the server says so and exits, and it
        # is started again on other free ports.
        for _ in range(5):
            if self._launch():
                return self
            config = self.dir / "posthouse.toml"
            config.write_text(self._with_free_ports(config.read_text()))
        raise RuntimeError(f"no free ports after 5 tries: {self.log()}")

    def _launch(self) -> bool:
        """Start the server and wait until it serves on every port; False when a port
        was in use."""
        self.log_path = self.dir / "server.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:  # the server keeps its own descriptor
            started_at = log.tell()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "posthouse", "up", "--dir", str(self.dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        # The banner comes once every listener is bound: until then a port that
        # answers may belong to somebody else.
        while b"Ctrl-C stops the server cleanly" not in self._log_since(started_at):
            if self.proc.poll() is not None:
                if b"already in use" in self._log_since(started_at).lower():
                    self.proc = None
                    return False
                raise RuntimeError(f"server exited: {self.log()}")
            if time.monotonic() > deadline:
                self.kill_all()
                raise RuntimeError(f"server not ready: {self.log()}")
            time.sleep(0.05)
        for port in self.ports.values():
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        # Stop it (and its workers): a caller whose start() failed
                        # never reaches its own stop(), and the process would outlive
                        # the test run.
                        self.kill_all()
                        raise RuntimeError(f"no listener on {port}: {self.log()}") from None
                    time.sleep(0.05)
        return True

    def _log_since(self, offset: int) -> bytes:
        return self.log_path.read_bytes()[offset:] if self.log_path else b""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill_all(self) -> None:
        """SIGKILL the server and every worker process it forked."""
        if self.proc is None:
            return
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = children.read_text().split() if children.exists() else []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        self.kill()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def _set_table(text: str, table: str, values: dict[str, int | float]) -> str:
    """Set keys inside one [table] of posthouse.toml (the same key may live in another)."""
    for key, value in values.items():
        text, count = re.subn(
            rf"(?ms)^(\[{table}\]\n(?:(?!\[)[^\n]*\n)*?){key} = [^\n]*$",
            rf"\g<1>{key} = {value}",
            text,
        )
        if count != 1:
            raise ValueError(f"no setting {key} in [{table}]")
    return text


def add_user(directory: Path, address: str, password: str) -> None:
    """Create another user through the admin CLI (works while the server runs)."""
    posthouse(directory, "user", "add", address, "--password-stdin", stdin=password + "\n")


def stored_messages(directory: Path, address: str, mailbox: str = "INBOX") -> list[bytes]:
    """Read a user's mailbox straight from the store (independent of any protocol)."""
    from posthouse.config import load_config
    from posthouse.store import open_store

    async def read() -> list[bytes]:
        config = load_config(directory)
        store = await open_store(config.database_path, config.blob_dir)
        try:
            user = await store.get_user(address)
            assert user is not None, address
            box = await store.get_mailbox(user.id, mailbox)
            assert box is not None
            return [await store.read_message(m.blob_id) for m in await store.list_messages(box.id)]
        finally:
            await store.close()

    # A thread of its own, so async tests (with a running loop) can call it too.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def find_message(directory: Path, address: str, token: str) -> bytes | None:
    for raw in stored_messages(directory, address):
        if token.encode() in raw:
            return raw
    return None


def message_meta(directory: Path, address: str, token: str) -> dict[str, Any]:
    """The metadata kept with the INBOX message containing `token`."""
    from posthouse.config import load_config
    from posthouse.store import open_store

    async def read() -> dict[str, Any]:
        config = load_config(directory)
        store = await open_store(config.database_path, config.blob_dir)
        try:
            user = await store.get_user(address)
            assert user is not None, address
            box = await store.get_mailbox(user.id, "INBOX")
            assert box is not None
            for m in await store.list_messages(box.id):
                if token.encode() in await store.read_message(m.blob_id):
                    return await store.message_meta(m.id)
            raise AssertionError(f"no message with {token} for {address}")
        finally:
            await store.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()
