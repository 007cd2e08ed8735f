"""Two posthouse instances on their own loopback addresses, each with its domain, config
and data directory, and one StaticResolver table describing both: the lab for mail
between servers (alpha.test on 127.0.0.2, beta.test on 127.0.0.3)."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.server import posthouse, stored_messages

PASSWORDS = {
    "alice@alpha.test": "alice-Secret-1",
    "bob@beta.test": "bob-Secret-22",
}
ADMIN_PASSWORD = "admin-Secret-0"
ADDRESSES = {"alpha.test": "127.0.0.2", "beta.test": "127.0.0.3"}


def free_port_on(*hosts: str) -> int:
    """A port free on every one of `hosts` (the two instances share the SMTP port)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = int(s.getsockname()[1])
        try:
            for host in hosts[1:]:
                with socket.socket() as s:
                    s.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no common free port")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def dump_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for posthouse.toml: scalars and lists first, then sub-tables."""
    lines = []
    tables = []
    for key, value in data.items():
        name = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)
        if isinstance(value, dict):
            tables.append((f"{prefix}{name}", value))
        else:
            lines.append(f"{name} = {_toml_value(value)}")
    out = "\n".join(lines) + "\n"
    for table, value in tables:
        out += f"\n[{table}]\n" + dump_toml(value, f"{table}.")
    return out


def lab_dns(dkim_records: dict[str, str] | None = None) -> dict[str, Any]:
    """MX, A, SPF and DMARC for both domains (RFC 7208, RFC 7489), plus DKIM keys."""
    table: dict[str, Any] = {}
    for domain, ip in ADDRESSES.items():
        table[domain] = {"MX": [[10, f"mail.{domain}"]], "TXT": [f"v=spf1 ip4:{ip} -all"]}
        table[f"mail.{domain}"] = {"A": [ip]}
        table[f"_dmarc.{domain}"] = {"TXT": ["v=DMARC1; p=reject"]}
    for name, record in (dkim_records or {}).items():
        table[name] = {"TXT": [record]}
    table["2.0.0.127.in-addr.arpa"] = {"PTR": ["mail.alpha.test"]}
    table["3.0.0.127.in-addr.arpa"] = {"PTR": ["mail.beta.test"]}
    return table


@dataclass
class Instance:
    domain: str
    dir: Path
    address: str
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.dir / "posthouse.toml"

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        data = tomllib.loads(self.config_path.read_text())
        change(data)
        self.config_path.write_text(dump_toml(data))

    def start(self, timeout: float = 30) -> Instance:
        log = (self.dir / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "posthouse", "up", "--dir", str(self.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        for port in self.ports.values():
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.domain} exited: {self.log()}")
                try:
                    socket.create_connection((self.address, port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        self.stop(signal.SIGKILL)
                        raise RuntimeError(f"{self.domain}: no listener on {port}") from None
                    time.sleep(0.05)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cli(self, *args: str) -> str:
        return posthouse(self.dir, *args)

    def messages(self, address: str, mailbox: str = "INBOX") -> list[bytes]:
        return stored_messages(self.dir, address, mailbox)

    def submit(
        self, sender: str, recipients: list[str], raw: bytes, *, client: smtplib.SMTP | None = None
    ) -> None:
        """Submit over the submission port with STARTTLS and AUTH, as a mail client does."""
        if client is not None:
            client.sendmail(sender, recipients, raw)
            return
        with self.submission(sender) as smtp:
            smtp.sendmail(sender, recipients, raw)

    def submission(self, user: str) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.address, self.ports["submission"], timeout=30)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        smtp.starttls(context=context)
        smtp.login(user, PASSWORDS[user])
        return smtp


def create_instance(
    root: Path,
    domain: str,
    *,
    smtp_port: int,
    dns: dict[str, Any],
    relay: dict[str, Any] | None = None,
    users: tuple[str, ...] = (),
) -> Instance:
    directory = root / domain
    address = ADDRESSES[domain]
    posthouse(
        directory,
        "init",
        "--domain",
        domain,
        "--hostname",
        f"mail.{domain}",
        "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )
    inst = Instance(domain, directory, address)
    inst.ports = {"smtp": smtp_port, "submission": free_port_on(address)}

    def change(data: dict[str, Any]) -> None:
        listeners = {}
        for name, port in inst.ports.items():
            listeners[name] = {**data["listeners"][name], "address": address, "port": port}
        data["listeners"] = listeners
        data["log_level"] = "info"
        settings = {
            **data.get("relay", {}),
            "port": smtp_port,
            "source_address": address,
            "poll_interval": 0.2,
            "retry_schedule": [1, 2],
            "connect_timeout": 5,
            "command_timeout": 30,
        }
        settings.update(relay or {})
        data["relay"] = settings
        data["dns"] = dns

    inst.edit(change)
    for user in users:
        posthouse(directory, "user", "add", user, "--password-stdin", stdin=PASSWORDS[user] + "\n")
    return inst


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Pair:
    alpha: Instance
    beta: Instance

    def stop(self) -> None:
        for inst in (self.alpha, self.beta):
            inst.stop()


def make_pair(
    root: Path,
    *,
    alpha_relay: dict[str, Any] | None = None,
    beta_relay: dict[str, Any] | None = None,
    dkim: bool = True,
) -> Pair:
    """Both instances, configured and not started; each domain gets a DKIM key whose
    record is in the shared table."""
    from posthouse.senderauth.keys import create_key

    smtp_port = free_port_on(*ADDRESSES.values())
    alpha = create_instance(
        root,
        "alpha.test",
        smtp_port=smtp_port,
        dns={},
        relay=alpha_relay,
        users=("alice@alpha.test",),
    )
    beta = create_instance(
        root,
        "beta.test",
        smtp_port=smtp_port,
        dns={},
        relay=beta_relay,
        users=("bob@beta.test",),
    )
    records: dict[str, str] = {}
    if dkim:
        for inst in (alpha, beta):
            key = create_key(inst.dir, inst.domain, "rsa", "s1")
            records[f"s1._domainkey.{inst.domain}"] = key.record
    table = lab_dns(records)
    for inst in (alpha, beta):
        inst.edit(lambda data: data.__setitem__("dns", table))
    return Pair(alpha, beta)
