"""Real third-party POP3 clients (Debian packages): curl, fetchmail, getmail6, neomutt.

Each client is driven directly (the recipes in ../shared/interop check their results
over IMAP, which posthouse does not serve yet); results are checked independently in
the store (`stored_messages`) and in the Maildir or screen the client produced.
Every test uses an account of its own, so one client's deletions never touch another
test's mail.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.server import MailServer, stored_messages
from tests.interop.clients import (
    HOSTNAME,
    PASSWORD,
    Getmail,
    deliver,
    maildir,
    make_maildir,
    need,
    run,
    subjects,
    tmux,
    wait_screen,
)

pytestmark = pytest.mark.interop


# --- curl: one connection per operation; AUTH PLAIN as soon as CAPA offers it ---------


class Curl:
    def __init__(self, server: MailServer, address: str, tmp: Path) -> None:
        self.url = f"pop3://127.0.0.1:{server.ports['pop3']}"
        self.base = [need("curl"), "-sS", "--max-time", "30", "--user", f"{address}:{PASSWORD}"]
        self.trace = tmp / "curl-trace.txt"

    def __call__(self, *args: str, path: str = "/") -> bytes:
        command = [*self.base, *args, "-v", "--stderr", str(self.trace), self.url + path]
        p = subprocess.run(command, capture_output=True, timeout=60)
        trace = self.trace.read_text(errors="replace")
        assert p.returncode == 0, f"curl {args} rc={p.returncode}\n{trace}"
        return p.stdout  # bytes: CRLF as received

    def sent(self) -> list[str]:
        """The commands curl sent in its last run (from its -v trace)."""
        lines = self.trace.read_text(errors="replace").splitlines()
        return [line[2:] for line in lines if line.startswith("> ")]


def test_curl_stls_list_uidl_top_retr_dele(server: MailServer, user: str, tmp_path: Path) -> None:
    deliver(server, user, "curl one")
    deliver(server, user, "curl two", "hello from curl\r\n.a line starting with a dot\r\n")
    stored = stored_messages(server.dir, user)
    curl = Curl(server, user, tmp_path)
    tls = ("--ssl-reqd", "-k")

    listing = curl(*tls).decode()
    assert listing.splitlines() == [f"{n} {len(raw)}" for n, raw in enumerate(stored, 1)]
    sent = curl.sent()
    # CAPA, STLS, CAPA again inside TLS, then SASL PLAIN (continuation form).
    assert sent[:4] == ["CAPA", "STLS", "CAPA", "AUTH PLAIN"]
    assert sent[-1] == "LIST"  # curl's trace stops before its closing QUIT

    uidl = curl(*tls, "-X", "UIDL").decode().splitlines()
    assert [line.split()[0] for line in uidl] == ["1", "2"]
    assert len({line.split()[1] for line in uidl}) == 2

    top = curl(*tls, "-X", "TOP 2 0")
    assert top == stored[1][: stored[1].index(b"\r\n\r\n") + 4]

    body = curl(*tls, path="/2")
    assert body == stored[1]  # dot-unstuffed, byte for byte
    assert b"\r\n.a line starting with a dot\r\n" in body

    # -X DELE needs -I, or curl waits for a multi-line reply.
    curl(*tls, "-X", "DELE 1", "-I")
    assert curl.sent()[-1] == "DELE 1"
    # Removed, so curl did send QUIT: deletions happen only in UPDATE (RFC 1939 §6).
    assert stored_messages(server.dir, user) == [stored[1]]


def test_curl_plain_loopback_sasl_forms(server: MailServer, user: str, tmp_path: Path) -> None:
    deliver(server, user, "curl plain")
    raw = stored_messages(server.dir, user)[0]
    curl = Curl(server, user, tmp_path)
    # Loopback: no TLS needed, and curl picks AUTH PLAIN because CAPA lists it.
    assert curl(path="/1") == raw
    sent = curl.sent()
    assert "STLS" not in sent and sent[:2] == ["CAPA", "AUTH PLAIN"]
    # With --sasl-ir the initial response rides on the AUTH line (RFC 5034 §4).
    assert curl("--sasl-ir", path="/1") == raw
    assert curl.sent()[1].startswith("AUTH PLAIN ")
    # --login-options selects the LOGIN mechanism.
    assert curl("--login-options", "AUTH=LOGIN", path="/1") == raw
    assert curl.sent()[1] == "AUTH LOGIN"


# --- fetchmail: UIDL, keep then nokeep, fetches with TOP n 99999999 -------------------


def fetchmail_rc(server: MailServer, address: str, tmp: Path, mda: Path, keep: str) -> Path:
    cert = server.dir / "tls" / "cert.pem"
    rc = tmp / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\n"
        "set no spambounce\n"
        f"poll 127.0.0.1 service {server.ports['pop3']} protocol pop3 uidl auth password\n"
        "  timeout 30\n"
        f'  user "{address}" there with password "{PASSWORD}" is "{getpass.getuser()}" here\n'
        f'  sslproto tls1.2+ sslcertck sslcertfile "{cert}" sslcommonname "{HOSTNAME}"\n'
        f"  {keep}\n"
        f'  mda "{mda} %T"\n'
    )
    rc.chmod(0o600)
    return rc


def test_fetchmail_keep_uidl_then_nokeep(server: MailServer, user: str, tmp_path: Path) -> None:
    fetchmail = need("fetchmail")
    md = make_maildir(tmp_path / "Maildir")
    mda = tmp_path / "deliver.sh"
    # A minimal MDA: the message on stdin into the Maildir (tmp, then rename to new).
    mda.write_text(
        "#!/bin/sh\nset -e\n"
        f'n="$(date +%s%N).$$"\ncat > "{md}/tmp/$n"\nmv "{md}/tmp/$n" "{md}/new/$n"\n'
    )
    mda.chmod(0o755)
    env = {**os.environ, "FETCHMAILHOME": str(tmp_path)}
    ids = tmp_path / "fetchids"
    log = tmp_path / "fetchmail.log"

    def poll(keep: str) -> int:
        rc = fetchmail_rc(server, user, tmp_path, mda, keep)
        p = run(fetchmail, "-f", str(rc), "-i", str(ids), "--nosyslog", "-v", env=env)
        with log.open("a") as f:
            f.write(p.stdout + p.stderr)
        return p.returncode

    deliver(server, user, "fetchmail first")
    first = stored_messages(server.dir, user)[0]
    assert poll("keep") == 0, log.read_text()
    fetched = maildir(md)
    # fetchmail hands the MDA LF line ends and a Received line of its own; everything
    # from the original From: on arrives intact.
    original = first.replace(b"\r\n", b"\n")
    assert len(fetched) == 1
    assert fetched[0].endswith(original[original.index(b"\nFrom: ") :])
    text = log.read_text()
    assert re.search(r"POP3> TOP 1 99999999", text), "fetchmail fetches with TOP n 99999999"
    assert "POP3> STLS" in text
    # Second poll: UIDL says nothing is new; fetchmail's exit code 1 = no mail.
    assert poll("keep") == 1, log.read_text()
    assert len(maildir(md)) == 1
    deliver(server, user, "fetchmail second")
    assert poll("nokeep") == 0, log.read_text()
    assert len(maildir(md)) == 2
    # Only the new message was fetched and deleted; the one kept before stays.
    assert subjects(server, user) == ["fetchmail first"]


# --- getmail6: implicit TLS only, oldmail/UIDL, delete=true empties the mailbox -------


def test_getmail_implicit_tls_no_refetch_then_delete(
    server: MailServer, user: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    getmail = Getmail.prepare(tmp_path, request)
    md = getmail.maildir

    def fetch(delete: bool) -> None:
        retriever = [
            "type = SimplePOP3SSLRetriever",
            "server = 127.0.0.1",
            f"port = {server.ports['pop3s']}",
            f"username = {user}",
            f"password = {PASSWORD}",
        ]
        getmail.write_rc("pop.rc", retriever, delete=delete, verbose=3)
        getmail.run("pop.rc")

    deliver(server, user, "getmail first")
    first = stored_messages(server.dir, user)[0]
    fetch(delete=False)
    fetched = maildir(md)
    # Maildir files hold LF line ends; otherwise the message is exactly what was stored.
    assert len(fetched) == 1 and fetched[0] == first.replace(b"\r\n", b"\n")
    fetch(delete=False)  # read_all=false: the UIDL it saw last time is not fetched again
    assert len(maildir(md)) == 1
    deliver(server, user, "getmail second")
    fetch(delete=True)
    assert len(maildir(md)) == 2
    # getmail DELEs every message it has seen, not only this run's: the INBOX empties.
    assert stored_messages(server.dir, user) == []


# --- neomutt: the POP3 index in a terminal (tmux), delete and quit ---------------------


def test_neomutt_pop3_index_delete_and_quit(server: MailServer, user: str, tmp_path: Path) -> None:
    neomutt = need("neomutt")
    token = uuid.uuid4().hex[:8]
    deliver(server, user, f"neopop one {token}")
    deliver(server, user, f"neopop two {token}")
    rc = tmp_path / "muttrc"
    (tmp_path / "Mail").mkdir()
    rc.write_text(
        f'set folder="{tmp_path / "Mail"}"\n'
        "set ssl_starttls=yes\n"
        "set ssl_force_tls=yes\n"
        f'set certificate_file="{server.dir / "tls" / "cert.pem"}"\n'
        "set ssl_verify_host=no\n"
        f'set pop_user="{user}"\n'
        f'set pop_pass="{PASSWORD}"\n'
        'set header_cache="" message_cachedir=""\n'
        'set record="" copy=no postpone=no\n'
        "set delete=yes quit=yes move=no mark_old=no\n"
        "set wait_key=no beep=no help=no\n"
        "set sort=date-received\n"
        'set index_format="%4C %Z %-20.20L %s"\n'
    )
    rc.chmod(0o600)
    folder = f"pop://127.0.0.1:{server.ports['pop3']}/"
    with tmux(tmp_path) as tm:
        shell = (
            f"HOME='{tmp_path}' TERM=xterm-256color {neomutt} -n -F '{rc}' "
            f"-d 2 -l '{tmp_path / 'neomutt.log'}' -f '{folder}'; "
            "echo NEOMUTT-EXIT=$?; sleep 30"
        )
        started = run(*tm, "new", "-d", "-s", "nm", "-x", "200", "-y", "40", shell)
        assert started.returncode == 0, started.stderr
        screen = wait_screen(tm, f"neopop two {token}")
        assert f"neopop one {token}" in screen
        run(*tm, "send-keys", "-t", "nm", "d")  # delete the first (oldest) message
        time.sleep(0.5)
        run(*tm, "send-keys", "-t", "nm", "q")  # quit: DELE, then QUIT (UPDATE)
        wait_screen(tm, "NEOMUTT-EXIT=0", 20)
    assert subjects(server, user) == [f"neopop two {token}"]
    # ssl_starttls: neomutt upgraded with STLS before it sent the password.
    assert re.search(rf"logged in as {re.escape(user)} over TLSv1\.[23]", server.log())
