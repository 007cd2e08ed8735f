"""A real Postfix as the peer of posthouse's relay, both directions, with and without
STARTTLS.

The Postfix is private to this test (the approach of ../shared/interop/scratch_pair.sh):
`postfix -c <own dir>` with its own queue, ports and Maildirs, nothing written under
/etc/postfix. It serves gamma.test (carol's Maildir) and relays alpha.test to the
posthouse instance on 127.0.0.2. Needs root and the Debian package postfix.
"""

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
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.relay_pair import (
    Instance,
    create_instance,
    free_port_on,
    lab_dns,
    wait_for,
)

pytestmark = pytest.mark.interop

SERVICES = (
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "tlsmgr unix - - n 1000? 1 tlsmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "smtp unix - - n - - smtp",
    "relay unix - - n - - smtp",
    "showq unix n - n - - showq",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "local unix - n n - - local",
    "virtual unix - n n - - virtual",
    "lmtp unix - - n - - lmtp",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
)


@dataclass
class Postfix:
    root: Path
    port: int

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    def postfix(self, *args: str) -> None:
        p = subprocess.run(
            ["postfix", "-c", str(self.conf), *args], capture_output=True, text=True, timeout=60
        )
        if p.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)}: {p.stdout}{p.stderr}")

    def set(self, **settings: str) -> None:
        args = [f"{k}={v}" for k, v in settings.items()]
        subprocess.run(["postconf", "-c", str(self.conf), "-e", *args], check=True, timeout=30)
        self.postfix("reload")
        time.sleep(1)

    def maildir(self, user: str) -> list[bytes]:
        folder = self.root / "mail" / user / "new"
        return [p.read_bytes() for p in folder.iterdir()] if folder.is_dir() else []

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


def _start_postfix(root: Path, port: int, alpha: Instance) -> Postfix:
    pfx = Postfix(root, port)
    for sub in ("conf", "queue", "data", "mail"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.chown(root / "mail", "nobody", "nogroup")
    shutil.chown(root / "data", "postfix")
    os.chmod(root / "data", 0o700)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=mx.gamma.test",
            "-keyout",
            str(root / "key.pem"),
            "-out",
            str(root / "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    alpha_smtp = f"[{alpha.address}]:{alpha.ports['smtp']}"
    (pfx.conf / "main.cf").write_text(
        f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.gamma.test
mydomain = gamma.test
mydestination =
mynetworks = 127.0.0.0/8
maillog_file_prefixes = /var, /dev/stdout, {root}
maillog_file = {root}/maillog
virtual_mailbox_domains = gamma.test
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = inline:{{ carol@gamma.test=carol/ }}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
relay_domains = alpha.test
transport_maps = inline:{{ alpha.test=smtp:{alpha_smtp} }}
smtp_dns_support_level = disabled
smtp_tls_security_level = may
smtpd_tls_cert_file = {root}/cert.pem
smtpd_tls_key_file = {root}/key.pem
smtpd_tls_security_level = may
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
biff = no
"""
    )
    (pfx.conf / "master.cf").write_text(
        f"{port} inet n - n - - smtpd\n" + "\n".join(SERVICES) + "\n"
    )
    pfx.postfix("start")
    wait_for(lambda: _listening(port), 20, "postfix to listen")
    return pfx


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Instance, Postfix]]:
    if shutil.which("postfix") is None or os.geteuid() != 0:
        pytest.fail("needs root and Debian's postfix: run scripts/test.sh")
    # Postfix's own processes (user postfix, virtual(8) as nobody) must read what
    # is created here, whatever umask an earlier in-process CLI call left behind.
    old_umask = os.umask(0o022)
    # Not under pytest's 0700 tmp: the virtual(8) agent runs as nobody.
    root = Path(tempfile.mkdtemp(prefix="posthouse-postfix-"))
    os.chmod(root, 0o755)
    pfx_port = free_port_on("127.0.0.1")
    dns = lab_dns()
    alpha = create_instance(
        root / "posthouse",
        "alpha.test",
        smtp_port=free_port_on("127.0.0.2"),
        dns=dns,
        relay={"routes": {"gamma.test": f"127.0.0.1:{pfx_port}"}},
        users=("alice@alpha.test",),
    )
    pfx = None
    try:
        alpha.start()
        pfx = _start_postfix(root / "postfix", pfx_port, alpha)
        yield alpha, pfx
    finally:
        os.umask(old_umask)
        alpha.stop()
        if pfx is not None:
            subprocess.run(
                ["postfix", "-c", str(pfx.conf), "stop"], capture_output=True, timeout=60
            )
        shutil.rmtree(root, ignore_errors=True)


def _set_alpha_tls(alpha: Instance, level: str) -> None:
    def change(data: dict) -> None:  # type: ignore[type-arg]
        data["relay"]["tls"] = level

    alpha.stop()
    alpha.edit(change)
    alpha.start()


def _first_received(raw: bytes) -> str:
    """The topmost Received field, unfolded (the one the receiving server added)."""
    match = re.search(rb"(?ms)^Received: (.*?)\r?\n(?=\S)", raw)
    assert match is not None
    return b" ".join(match.group(1).split()).decode()


def _message(sender: str, to: str, token: str) -> bytes:
    return f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {token}\r\n\r\nbody {token}\r\n".encode()


@pytest.mark.parametrize("tls", ["may", "none"])
def test_posthouse_relays_to_postfix(lab: tuple[Instance, Postfix], tls: str) -> None:
    alpha, pfx = lab
    _set_alpha_tls(alpha, tls)
    token = f"to-postfix-{tls}-{uuid.uuid4().hex}"
    alpha.submit(
        "alice@alpha.test",
        ["carol@gamma.test"],
        _message("alice@alpha.test", "carol@gamma.test", token),
    )
    wait_for(
        lambda: any(token.encode() in m for m in pfx.maildir("carol")), 60, "Postfix's Maildir"
    )
    [raw] = [m for m in pfx.maildir("carol") if token.encode() in m]
    top = _first_received(raw)
    assert "127.0.0.2" in top and "mx.gamma.test" in top
    # Postfix's Received header names the protocol: ESMTPS with TLS, ESMTP without.
    assert ("with ESMTPS" in top) == (tls == "may"), top
    assert re.search(rb"(?m)^Return-Path: <alice@alpha.test>", raw)
    assert "0 message(s)" in alpha.cli("queue", "list")


def test_a_burst_goes_to_postfix_written_ahead(lab: tuple[Instance, Postfix]) -> None:
    """Postfix offers CHUNKING and PIPELINING: a burst of messages leaves as whole
    RSET, MAIL, RCPT, BDAT LAST transactions written ahead of their replies (RFC 3030
    §4.2), and every one arrives once."""
    alpha, pfx = lab
    _set_alpha_tls(alpha, "may")
    tokens = [f"burst-{n}-{uuid.uuid4().hex}" for n in range(30)]
    with alpha.submission("alice@alpha.test") as smtp:
        for token in tokens:
            smtp.sendmail(
                "alice@alpha.test",
                ["carol@gamma.test"],
                _message("alice@alpha.test", "carol@gamma.test", token),
            )

    def arrived() -> list[bytes]:
        return [m for m in pfx.maildir("carol") if b"burst-" in m]

    wait_for(lambda: len(arrived()) >= len(tokens), 60, "the burst in Postfix's Maildir")
    got = arrived()
    for token in tokens:
        assert sum(token.encode() in m for m in got) == 1, token
    assert "0 message(s)" in alpha.cli("queue", "list")


@pytest.mark.parametrize("tls", ["may", "none"])
def test_postfix_relays_to_posthouse(lab: tuple[Instance, Postfix], tls: str) -> None:
    alpha, pfx = lab
    pfx.set(smtp_tls_security_level=tls)
    token = f"from-postfix-{tls}-{uuid.uuid4().hex}"
    with smtplib.SMTP("127.0.0.1", pfx.port, timeout=30) as smtp:
        smtp.sendmail(
            "carol@gamma.test",
            ["alice@alpha.test"],
            _message("carol@gamma.test", "alice@alpha.test", token),
        )
    wait_for(
        lambda: any(token.encode() in m for m in alpha.messages("alice@alpha.test")),
        60,
        f"alice's INBOX (postfix log: {pfx.log()[-2000:]})",
    )
    [raw] = [m for m in alpha.messages("alice@alpha.test") if token.encode() in m]
    top = _first_received(raw)
    assert "by mail.alpha.test" in top and "mx.gamma.test" in top
    assert ("using TLS" in top) == (tls == "may"), top
