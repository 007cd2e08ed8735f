"""Real IMAP clients we did not write, against a running posthouse: Python's imaplib
and imapclient, curl, neomutt, mbsync (isync), fetchmail, getmail6 and s-nail.

Every test uses an account of its own on a module-scoped server, and checks what the
client did independently: in the store (`stored_messages`), over a second imaplib
session, or in the Maildir, file or screen the client produced.  The wire behaviour the
clients show is described in ../shared/INTEROP.md.
"""

from __future__ import annotations

import getpass
import imaplib
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient  # type: ignore[import-untyped]

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
    subject_of,
    subjects,
    tmux,
    wait_screen,
)

pytestmark = pytest.mark.interop


def cert(server: MailServer) -> Path:
    return server.dir / "tls" / "cert.pem"


def tls_context(server: MailServer) -> ssl.SSLContext:
    """Trusts only the instance's self-signed certificate, host name checked."""
    return ssl.create_default_context(cafile=str(cert(server)))


@contextmanager
def checker(server: MailServer, address: str) -> Iterator[imaplib.IMAP4]:
    """A second, independent session (imaplib over implicit TLS) to look at results."""
    m = imaplib.IMAP4_SSL("127.0.0.1", server.ports["imaps"], ssl_context=tls_context(server))
    try:
        m.login(address, PASSWORD)
        yield m
    finally:
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def flags_by_subject(
    server: MailServer, address: str, mailbox: str = "INBOX"
) -> dict[str, set[str]]:
    """Subject -> flags, read with EXAMINE (which changes nothing)."""
    found: dict[str, set[str]] = {}
    with checker(server, address) as m:
        typ, _ = m.select(f'"{mailbox}"', readonly=True)
        assert typ == "OK"
        typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        if data == [None]:
            return found
        for item in data:
            if isinstance(item, tuple):
                meta, header = item
                flags = re.search(rb"FLAGS \(([^)]*)\)", meta)
                assert flags is not None, meta
                found[subject_of(b"\r\n" + header)] = set(flags.group(1).decode().split())
    return found


def wait_until(predicate: object, timeout: float = 15, what: str = "condition") -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


# --- imaplib ----------------------------------------------------------------------------


def imaplib_idle_until_exists(m: imaplib.IMAP4, trigger: object) -> list[bytes]:
    """Python 3.11 has no IMAP4.idle(): send IDLE, wait for '+', run trigger, read the
    untagged responses until an EXISTS arrives, then DONE and the tagged OK."""
    assert callable(trigger)
    tag = m._new_tag()  # type: ignore[attr-defined]
    m.send(tag + b" IDLE\r\n")
    line = m.readline()
    assert line.startswith(b"+"), line
    trigger()
    seen = []
    while True:
        line = m.readline()
        assert line, "connection closed during IDLE"
        seen.append(line)
        if line.rstrip().endswith(b"EXISTS"):
            break
    m.send(b"DONE\r\n")
    while True:
        line = m.readline()
        if line.startswith(tag):
            assert line.split()[1] == b"OK", line
            return seen
        seen.append(line)


def ok(result: tuple[str, list[Any]]) -> list[Any]:
    """The data of an imaplib result whose status is OK."""
    typ, data = result
    assert typ == "OK", result
    return data


def imaplib_session(server: MailServer, m: imaplib.IMAP4, address: str, token: str) -> None:
    """A full session: the commands a program built on imaplib uses, each result
    checked in the store."""
    deliver(server, address, f"one {token}", "first body\r\n.a line starting with a dot\r\n")
    deliver(server, address, f"two {token}")
    ok(m.login(address, PASSWORD))
    assert "IDLE" in m.capabilities and "UIDPLUS" in m.capabilities

    listing: list[bytes] = ok(m.list())
    assert any(line.endswith(b' "/" INBOX') for line in listing), listing
    assert any(b"\\Sent" in line for line in listing)  # SPECIAL-USE attributes

    assert ok(m.select("INBOX")) == [b"2"]
    assert ok(m.search(None, "SUBJECT", f'"two {token}"')) == [b"2"]
    first_uid, second_uid = ok(m.uid("SEARCH", "ALL"))[0].split()

    stored = stored_messages(server.dir, address)
    data = ok(m.uid("FETCH", first_uid, "(BODY.PEEK[] RFC822.SIZE FLAGS)"))
    assert data[0][1] == stored[0]
    rest = data[0][0] + data[1]
    assert f"RFC822.SIZE {len(stored[0])}".encode() in rest and b"FLAGS ()" in rest
    data = ok(m.fetch("1", "(BODY[TEXT])"))  # not PEEK: sets \Seen
    assert data[0][1] == b"first body\r\n.a line starting with a dot\r\n"

    data = ok(m.uid("STORE", second_uid, "+FLAGS", r"(\Flagged)"))
    assert b"\\Flagged" in data[0]
    flags = flags_by_subject(server, address)
    assert flags == {f"one {token}": {"\\Seen"}, f"two {token}": {"\\Flagged"}}

    box = f"Archive-{token}"
    ok(m.create(box))
    ok(m.uid("COPY", first_uid, box))
    # imaplib files the tagged OK's response code with the untagged responses.
    data = m.response("COPYUID")[1]
    assert re.fullmatch(rb"\d+ %s 1" % first_uid, data[0]), data
    assert stored_messages(server.dir, address, box) == [stored[0]]

    appended = f"Subject: appended {token}\r\nFrom: <{address}>\r\n\r\nvia imaplib\r\n".encode()
    data = ok(m.append(box, r"(\Draft)", imaplib.Time2Internaldate(time.time()), appended))
    assert re.match(rb"\[APPENDUID \d+ 2\]", data[0]), data
    assert stored_messages(server.dir, address, box) == [stored[0], appended]
    data = ok(m.status(box, "(MESSAGES UIDNEXT UNSEEN)"))
    assert re.search(rb"MESSAGES 2 UIDNEXT 3 UNSEEN 1", data[0]), data

    # IDLE in INBOX while a message arrives over SMTP.
    seen = imaplib_idle_until_exists(m, lambda: deliver(server, address, f"three {token}"))
    assert b"* 3 EXISTS\r\n" in seen

    ok(m.uid("STORE", first_uid, "+FLAGS.SILENT", r"(\Deleted)"))
    assert ok(m.expunge()) == [b"1"]
    assert subjects(server, address) == [f"two {token}", f"three {token}"]
    ok(m.close())
    ok(m.delete(box))
    with checker(server, address) as other:
        assert not any(box.encode() in line for line in ok(other.list()))
    assert m.logout()[0] == "BYE"


def test_imaplib_plain_loopback_full_session(server: MailServer, user: str) -> None:
    m = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    # Loopback: passwords allowed in cleartext, so LOGINDISABLED is not advertised.
    assert "LOGINDISABLED" not in m.capabilities and "STARTTLS" in m.capabilities
    imaplib_session(server, m, user, uuid.uuid4().hex[:8])


def test_imaplib_starttls_verified_full_session(server: MailServer, user: str) -> None:
    m = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    typ, _ = m.starttls(ssl_context=tls_context(server))  # checks the name 127.0.0.1
    assert typ == "OK"
    assert isinstance(m.sock, ssl.SSLSocket)
    assert "STARTTLS" not in m.capabilities  # asked again after the handshake
    imaplib_session(server, m, user, uuid.uuid4().hex[:8])


def test_imaplib_implicit_tls_verified_full_session(server: MailServer, user: str) -> None:
    port = server.ports["imaps"]
    # Verification is real: the system trust store does not know this certificate.
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ssl.create_default_context())
    # The certificate names localhost and mail.example.test as well as 127.0.0.1.
    m = imaplib.IMAP4_SSL("localhost", port, ssl_context=tls_context(server), timeout=30)
    assert isinstance(m.sock, ssl.SSLSocket)
    peer = m.sock.getpeercert()
    assert peer is not None and peer["subject"][0] == (("commonName", HOSTNAME),)
    assert "STARTTLS" not in m.capabilities
    imaplib_session(server, m, user, uuid.uuid4().hex[:8])


# --- imapclient ---------------------------------------------------------------------------


def test_imapclient_tls_folders_fetch_flags_move_idle(server: MailServer, user: str) -> None:
    token = uuid.uuid4().hex[:8]
    deliver(server, user, f"ic one {token}")
    deliver(server, user, f"ic two {token}", "second body\r\n")
    stored = stored_messages(server.dir, user)
    client = IMAPClient("127.0.0.1", port=server.ports["imaps"], ssl_context=tls_context(server))
    try:
        client.login(user, PASSWORD)
        assert b"MOVE" in client.capabilities()
        folders = {name: flags for flags, _, name in client.list_folders()}
        assert "INBOX" in folders
        assert b"\\Trash" in folders["Trash"]
        selected = client.select_folder("INBOX")
        assert selected[b"EXISTS"] == 2
        uids = client.search(["SUBJECT", f"ic two {token}"])
        assert len(uids) == 1
        uid = uids[0]
        data = client.fetch([uid], ["ENVELOPE", "BODY[]", "FLAGS"])[uid]
        envelope = data[b"ENVELOPE"]
        assert envelope.subject == f"ic two {token}".encode()
        assert envelope.from_[0].mailbox == b"sender" and envelope.from_[0].host == b"example.org"
        assert envelope.to[0].mailbox.decode() + "@" + envelope.to[0].host.decode() == user
        assert data[b"BODY[]"] == stored[1]
        # BODY[] is not PEEK: the server set \Seen and said so in the same response.
        assert client.get_flags([uid])[uid] == (b"\\Seen",)

        client.set_flags([uid], [b"\\Flagged", b"$Label1"])
        assert set(client.get_flags([uid])[uid]) == {b"\\Flagged", b"$Label1"}
        assert flags_by_subject(server, user)[f"ic two {token}"] == {"\\Flagged", "$Label1"}
        client.add_flags([uid], [b"\\Answered"])
        client.remove_flags([uid], [b"$Label1"])
        assert flags_by_subject(server, user)[f"ic two {token}"] == {"\\Flagged", "\\Answered"}

        client.create_folder("Kept")
        client.move([uid], "Kept")
        assert subjects(server, user) == [f"ic one {token}"]
        assert subjects(server, user, "Kept") == [f"ic two {token}"]
        assert len(client.search()) == 1

        client.idle()
        deliver(server, user, f"ic three {token}")
        responses = client.idle_check(timeout=15)
        assert (2, b"EXISTS") in responses, responses
        # Another session flags the new message and expunges the old one: the idling
        # client hears of both, the expunge by sequence number.
        with checker(server, user) as other:
            ok(other.select("INBOX"))
            ok(other.store("2", "+FLAGS", "(\\Flagged)"))
            ok(other.store("1", "+FLAGS", "(\\Deleted)"))
            ok(other.expunge())
        heard: list[Any] = []
        deadline = time.monotonic() + 15
        while (1, b"EXPUNGE") not in heard and time.monotonic() < deadline:
            heard += client.idle_check(timeout=2)
        client.idle_done()
        fetches = [r for r in heard if r[:2] == (2, b"FETCH")]
        assert fetches and b"\\Flagged" in fetches[-1][2][fetches[-1][2].index(b"FLAGS") + 1]
        assert (1, b"EXPUNGE") in heard, heard
        assert heard.index((1, b"EXPUNGE")) > heard.index(fetches[-1])
        assert client.search(["SUBJECT", f"ic three {token}"]) != []
        assert client.search() == client.search(["SUBJECT", f"ic three {token}"])
    finally:
        client.logout()


# --- curl: one connection per URL; STARTTLS, then AUTHENTICATE PLAIN -------------------


class CurlImap:
    def __init__(self, server: MailServer, scheme: str, address: str, tmp: Path) -> None:
        port = server.ports[scheme]
        self.url = f"{scheme}://127.0.0.1:{port}"
        tls = ["--ssl-reqd"] if scheme == "imap" else []
        self.base = [
            need("curl"),
            "-sS",
            "--max-time",
            "30",
            *tls,
            "--cacert",
            str(cert(server)),
            "--user",
            f"{address}:{PASSWORD}",
        ]
        self.trace = tmp / "curl-trace.txt"

    def run(
        self, *args: str, path: str = "/", extra_url: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        urls = [self.url + path] + ([self.url + extra_url] if extra_url else [])
        command = [*self.base, *args, "-v", "--stderr", str(self.trace), *urls]
        return subprocess.run(command, capture_output=True, timeout=60)

    def __call__(self, *args: str, path: str = "/", extra_url: str | None = None) -> bytes:
        p = self.run(*args, path=path, extra_url=extra_url)
        trace = self.trace.read_text(errors="replace")
        assert p.returncode == 0, f"curl {args} {path} rc={p.returncode}\n{trace}"
        return p.stdout  # bytes: CRLF as received

    def sent(self) -> list[str]:
        """The commands curl sent in its last run, without tags (from its -v trace)."""
        lines = self.trace.read_text(errors="replace").splitlines()
        return [line[2:].split(" ", 1)[1] for line in lines if re.match(r"> [A-Z]\d+ ", line)]


@pytest.mark.parametrize("scheme", ["imap", "imaps"])
def test_curl_list_examine_search_fetch_append_store_expunge(
    server: MailServer, user: str, tmp_path: Path, scheme: str
) -> None:
    token = uuid.uuid4().hex[:8]
    deliver(server, user, f"curl one {token}")
    deliver(server, user, f"curl two {token}", "seed body\r\n.a line starting with a dot\r\n")
    stored = stored_messages(server.dir, user)
    curl = CurlImap(server, scheme, user, tmp_path)

    listing = curl().decode()
    assert re.search(r'^\* LIST \([^)]*\) "/" INBOX\r$', listing, re.M), listing
    assert re.search(r"^\* LIST \([^)]*\\Trash[^)]*\) \"/\" Trash\r$", listing, re.M), listing
    sent = curl.sent()
    login = ["CAPABILITY", "STARTTLS", "CAPABILITY"] if scheme == "imap" else ["CAPABILITY"]
    assert sent[: len(login)] == login, sent
    # SASL-IR is advertised, so the initial response rides on the command (RFC 4959).
    assert sent[len(login)].startswith("AUTHENTICATE PLAIN A"), sent
    assert sent[-1] == 'LIST "" *'

    examined = curl("-X", "EXAMINE INBOX").decode()
    assert re.search(r"^\* 2 EXISTS\r$", examined, re.M), examined
    validity = re.search(r"\[UIDVALIDITY (\d+)\]", examined)
    assert validity is not None, examined
    uidvalidity = validity.group(1)

    # A URL query is a SEARCH after SELECT, answered with sequence numbers.
    found = curl(path=f"/INBOX?SUBJECT%20%22curl%20two%20{token}%22").decode()
    assert found.strip() == "* SEARCH 2", found
    assert curl.sent()[-2:] == ["SELECT INBOX", f'SEARCH SUBJECT "curl two {token}"']
    found = curl("-X", f'UID SEARCH SUBJECT "curl two {token}"', path="/INBOX").decode()
    uid = found.split()[-1]
    assert found.strip() == f"* SEARCH {uid}", found

    # ;UIDVALIDITY is compared with SELECT's: a match fetches, a mismatch is exit 78.
    body = curl(path=f"/INBOX;UIDVALIDITY={uidvalidity}/;UID={uid}")
    assert body == stored[1]
    assert curl.sent()[-1] == f"UID FETCH {uid} BODY[]"
    wrong = curl.run(path=f"/INBOX;UIDVALIDITY={int(uidvalidity) + 1}/;UID={uid}")
    assert wrong.returncode == 78, wrong
    assert curl(path="/INBOX/;MAILINDEX=2") == stored[1]
    assert curl.sent()[-1] == "FETCH 2 BODY[]"
    text = curl(path=f"/INBOX/;UID={uid}/;SECTION=TEXT")
    assert text == b"seed body\r\n.a line starting with a dot\r\n"
    header = curl(path=f"/INBOX/;UID={uid}/;SECTION=HEADER.FIELDS%20(SUBJECT)")
    assert header == f"Subject: curl two {token}\r\n\r\n".encode()
    # BODY[] (not PEEK) set \Seen on the message curl fetched, and only on it.
    assert flags_by_subject(server, user) == {
        f"curl one {token}": set(),
        f"curl two {token}": {"\\Seen"},
    }

    upload = tmp_path / "append.eml"
    appended = (
        f"From: <{user}>\r\nTo: <{user}>\r\nSubject: curl append {token}\r\n"
        "MIME-Version: 1.0\r\n\r\nhello from curl\r\n.a line starting with a dot\r\n"
    ).encode()
    upload.write_bytes(appended)
    curl("-T", str(upload), path="/INBOX")
    assert re.fullmatch(r"APPEND INBOX \(\\Seen\) \{\d+\}", curl.sent()[-1]), curl.sent()
    assert stored_messages(server.dir, user) == [*stored, appended]

    curl("-X", f"UID STORE {uid} +FLAGS (\\Deleted)", path="/INBOX")
    assert flags_by_subject(server, user)[f"curl two {token}"] == {"\\Seen", "\\Deleted"}
    curl("-X", "EXPUNGE", path="/INBOX")
    assert curl.sent()[-2:] == ["SELECT INBOX", "EXPUNGE"]
    assert subjects(server, user) == [f"curl one {token}", f"curl append {token}"]


# --- mbsync: two-way sync with a local Maildir -------------------------------------------


def maildir_files(path: Path) -> dict[str, Path]:
    """Subject -> file, for the messages of one Maildir folder."""
    return {
        subject_of(f.read_bytes()): f for d in ("new", "cur") for f in sorted((path / d).glob("*"))
    }


def maildir_flags(path: Path) -> str:
    """The flag letters of a Maildir file name ('FS' of '...:2,FS')."""
    return path.name.rpartition(":2,")[2]


def mbsync_runner(
    server: MailServer, user: str, tmp: Path, md: Path, *settings: str
) -> Callable[[], str]:
    """Writes an mbsyncrc for one channel (Maildir `md` <-> the user's account, over
    STARTTLS) and returns a function that runs one sync and returns its -Dn trace.
    `settings` go to the account (PipelineDepth) or, for Patterns/Remove, the channel."""
    account = [x for x in settings if not x.startswith(("Patterns", "Remove"))]
    channel = [x for x in settings if x.startswith(("Patterns", "Remove"))]
    rc = tmp / "mbsyncrc"
    # isync 1.4 checks the host name even for a certificate given in CertificateFile:
    # connect by a name from the certificate that resolves to loopback.  A blank line
    # ends a section.
    lines = [
        "IMAPAccount interop",
        "Host localhost",
        f"Port {server.ports['imap']}",
        f"User {user}",
        f"Pass {PASSWORD}",
        "SSLType STARTTLS",
        f"CertificateFile {cert(server)}",
        "AuthMechs PLAIN",
        "Timeout 30",
        *account,
        "",
        "IMAPStore remote",
        "Account interop",
        "",
        "MaildirStore local",
        f"Path {md}/",
        f"Inbox {md}/INBOX",
        "SubFolders Verbatim",
        "",
        "Channel interop",
        "Far :remote:",
        "Near :local:",
        *channel,
        "Create Both",
        "Expunge Both",
        "Sync All",
        "SyncState *",
    ]
    rc.write_text("\n".join(lines) + "\n")
    rc.chmod(0o600)
    log = tmp / "mbsync.log"
    mbsync = need("mbsync")

    def sync() -> str:
        p = run(mbsync, "-c", str(rc), "-Dn", "interop", timeout=120)
        with log.open("a") as f:
            f.write(p.stdout + p.stderr)
        assert p.returncode == 0, p.stdout[-4000:] + p.stderr
        return p.stdout

    return sync


def test_mbsync_two_way_sync_with_maildir(server: MailServer, user: str, tmp_path: Path) -> None:
    need("mbsync")
    token = uuid.uuid4().hex[:8]
    for n in range(12):
        deliver(server, user, f"mb {n} {token}", f"body {n}\r\n")
    stored = stored_messages(server.dir, user)
    md = tmp_path / "Maildir"
    md.mkdir()
    sync = mbsync_runner(server, user, tmp_path, md, "PipelineDepth 8", "Patterns INBOX")

    inbox = md / "INBOX"
    # 1. The first run pulls every message.
    out = sync()
    local = maildir_files(inbox)
    assert sorted(local) == sorted(f"mb {n} {token}" for n in range(12))
    # Maildir files hold LF line ends and an X-TUID header of isync's; otherwise each
    # message is exactly what the server stored.
    for raw in stored:
        pulled = local[subject_of(raw)].read_bytes()
        assert re.sub(rb"X-TUID: [^\n]*\n", b"", pulled) == raw.replace(b"\r\n", b"\n")
    assert "STARTTLS" in out.split(">>> 1 ", 1)[1].splitlines()[0]
    # PipelineDepth 8: up to 8 commands in flight, never more.
    in_flight = [int(n) for n in re.findall(r"\((\d+) in progress\) >>>", out)]
    assert max(in_flight) == 7, in_flight

    # 2. Changes on both sides.
    mb = {n: f"mb {n} {token}" for n in range(12)}
    f0 = local[mb[0]]
    f0.rename(inbox / "cur" / (f0.name.rpartition(":2,")[0] + ":2,FS"))  # seen + flagged here
    local[mb[1]].unlink()  # deleted here
    new_name = f"{int(time.time())}.{os.getpid()}_1.interop"
    pushed = (
        f"From: <{user}>\r\nTo: <{user}>\r\nSubject: mb local {token}\r\n"
        f"Message-ID: <{new_name}@example.test>\r\n\r\nwritten into the Maildir\r\n"
    ).encode()
    (inbox / "new" / new_name).write_bytes(pushed)
    with checker(server, user) as m:
        m.select("INBOX")
        _, found = m.search(None, "SUBJECT", f'"{mb[2]}"')
        m.store(found[0].decode(), "+FLAGS", "(\\Answered \\Flagged)")  # flagged there
        _, found = m.search(None, "SUBJECT", f'"{mb[3]}"')
        m.store(found[0].decode(), "+FLAGS", "(\\Deleted)")  # deleted there
        m.expunge()
    out = sync()

    # Pushed: the new local message went up with LITERAL+ and its UID came from APPENDUID.
    append = re.search(r'>>> \d+ APPEND "?INBOX"? (\([^)]*\) )?("[^"]+" )?\{(\d+)\+\}', out)
    assert append is not None, out
    assert re.search(r"OK \[APPENDUID \d+ 13\]", out), out
    on_server = {subject_of(raw): raw for raw in stored_messages(server.dir, user)}
    up = on_server[f"mb local {token}"]
    assert len(up) == int(append.group(3))
    # isync may add an X-TUID header to find the message again; the rest is as written.
    assert re.sub(rb"X-TUID: [^\r\n]*\r\n", b"", up) == pushed
    flags = flags_by_subject(server, user)
    assert flags[mb[0]] == {"\\Seen", "\\Flagged"}
    assert mb[1] not in flags  # local deletion: \Deleted, then expunged on the server
    local = maildir_files(inbox)
    assert sorted(maildir_flags(local[mb[2]])) == ["F", "R"]  # server flags pulled
    assert mb[3] not in local  # server expunge: local file removed
    assert sorted(local) == sorted(flags)
    # The local file now carries the UID the server gave it.
    assert ",U=13" in local[f"mb local {token}"].name

    # 3. Flags changed again on the server, seen-only this time, then a run to settle.
    with checker(server, user) as m:
        m.select("INBOX")
        _, found = m.search(None, "SUBJECT", f'"{mb[0]}"')
        m.store(found[0].decode(), "-FLAGS", "(\\Flagged)")
    sync()
    assert maildir_flags(maildir_files(inbox)[mb[0]]) == "S"

    # 4. Nothing changed since: the next run moves no message and no flag.
    before_local = sorted(str(p) for p in inbox.rglob("*") if p.parent.name in ("new", "cur"))
    before_server = stored_messages(server.dir, user)
    before_flags = flags_by_subject(server, user)
    out = sync()
    commands = re.findall(r">>> \d+ ([A-Z]+(?: [A-Z]+)?)", out)
    assert not {"APPEND", "UID STORE", "EXPUNGE", "UID EXPUNGE"} & set(commands), commands
    assert not re.search(r"BODY\.PEEK\[\]", out)
    assert (
        sorted(str(p) for p in inbox.rglob("*") if p.parent.name in ("new", "cur")) == before_local
    )
    assert stored_messages(server.dir, user) == before_server
    assert flags_by_subject(server, user) == before_flags


# --- neomutt: STARTTLS straight after the greeting, read, flag, IDLE (in tmux) -----------


def keys(command: list[str], *sequence: str) -> None:
    run(*command, "send-keys", "-t", "nm", *sequence)
    time.sleep(0.4)


def neomutt_rc(server: MailServer, user: str, tmp: Path, *extra: str) -> Path:
    """A muttrc for the user's account over STARTTLS; `extra` lines are added."""
    rc = tmp / "muttrc"
    (tmp / "Mail").mkdir(exist_ok=True)
    # GnuTLS: certificate_file lists the certificates trusted as they are; the host
    # name localhost is in the certificate and is checked.
    lines = [
        "set ssl_starttls=yes",
        "set ssl_force_tls=yes",
        f'set certificate_file="{cert(server)}"',
        "set ssl_verify_host=yes",
        f'set imap_user="{user}"',
        f'set imap_pass="{PASSWORD}"',
        'set imap_authenticators="plain"',
        f'set folder="imap://localhost:{server.ports["imap"]}/"',
        'set spoolfile="+INBOX"',
        "set imap_idle=yes imap_check_subscribed=no imap_passive=yes",
        "set mail_check=2 timeout=2",
        'set header_cache="" message_cachedir=""',
        'set record="" copy=no postpone=no',
        "set delete=yes quit=yes move=no mark_old=no",
        "set wait_key=no beep=no help=no",
        "set sort=date-received",
        'set index_format="%4C %Z %-20.20L %s"',
        *extra,
    ]
    rc.write_text("\n".join(lines) + "\n")
    rc.chmod(0o600)
    return rc


def test_neomutt_starttls_read_flag_idle(server: MailServer, user: str, tmp_path: Path) -> None:
    neomutt = need("neomutt")
    token = uuid.uuid4().hex[:8]
    deliver(server, user, f"neo one {token}", f"the body of one {token}\r\n")
    deliver(server, user, f"neo two {token}")
    rc = neomutt_rc(server, user, tmp_path)
    debug = tmp_path / "neomutt.log"
    with tmux(tmp_path) as tm:
        shell = (
            f"HOME='{tmp_path}' TERM=xterm-256color {neomutt} -n -F '{rc}' "
            f"-d 5 -l '{debug}' -f '+INBOX'; echo NEOMUTT-EXIT=$?; sleep 30"
        )
        started = run(*tm, "new", "-d", "-s", "nm", "-x", "200", "-y", "40", shell)
        assert started.returncode == 0, started.stderr
        screen = wait_screen(tm, f"neo two {token}")
        assert f"neo one {token}" in screen
        # Limit the index to the first message, open it, back to the index, flag it.
        keys(tm, "l")
        keys(tm, f"~s 'neo one {token}'", "Enter")
        keys(tm, "Enter")
        wait_screen(tm, f"the body of one {token}")
        keys(tm, "i")
        keys(tm, "F")
        keys(tm, "l")
        keys(tm, "all", "Enter")
        wait_screen(tm, f"neo two {token}")
        # Now a message arrives while neomutt waits in IDLE.
        deliver(server, user, f"neo three {token}")
        wait_screen(tm, f"neo three {token}", 20)
        # Back in IDLE, then delete the second message and sync: neomutt sends DONE
        # together with the commands that follow it.
        time.sleep(2.5)
        keys(tm, "l")
        keys(tm, f"~s 'neo two {token}'", "Enter")
        keys(tm, "d")
        keys(tm, "$")
        wait_until(lambda: f"neo two {token}" not in subjects(server, user), 15, "the expunge")
        keys(tm, "q")  # quit: the flag changes go to the server first
        wait_screen(tm, "NEOMUTT-EXIT=0", 20)
    flags = flags_by_subject(server, user)
    assert flags == {
        f"neo one {token}": {"\\Seen", "\\Flagged"},
        f"neo three {token}": set(),
    }
    # neomutt's debug log: what it sent (level 2 or 5) and what it read.
    last_command = ""
    idle_exists = False
    sent = []
    for line in Path(f"{debug}0").read_text(errors="replace").splitlines():
        command = re.search(r"(?:^|4> )(a\d{4} .*|DONE)$", line)
        if command:
            sent.append(command.group(1))
            last_command = command.group(1)
        elif line.endswith("4< * 3 EXISTS") and last_command.endswith(" IDLE"):
            idle_exists = True
    # The greeting's [CAPABILITY ...] was enough: STARTTLS came first.
    assert sent[0] == "a0000 STARTTLS", sent
    assert sent[1] == "a0001 CAPABILITY" and sent[2].startswith("a0002 AUTHENTICATE PLAIN ")
    assert idle_exists, sent
    # Delete and sync ended an IDLE: DONE, then the store and EXPUNGE.
    deleted = next(i for i, c in enumerate(sent) if c.endswith("+FLAGS.SILENT (\\Deleted)"))
    assert sent[deleted - 1] == "DONE" and "UID STORE" in sent[deleted], sent
    assert any(c.endswith(" EXPUNGE") for c in sent[deleted:]), sent
    assert any(re.fullmatch(r"a\d{4} UID STORE \d+ \+FLAGS.SILENT \(\\Flagged\)", c) for c in sent)


# --- fetchmail: sequence numbers, keep then nokeep, IDLE -------------------------------


def maildir_mda(tmp: Path, md: Path) -> Path:
    """A minimal MDA: the message on stdin into the Maildir (tmp, then rename to new)."""
    mda = tmp / "deliver.sh"
    mda.write_text(
        "#!/bin/sh\nset -e\n"
        f'n="$(date +%s%N).$$"\ncat > "{md}/tmp/$n"\nmv "{md}/tmp/$n" "{md}/new/$n"\n'
    )
    mda.chmod(0o755)
    return mda


def test_fetchmail_imap_keep_nokeep_idle(server: MailServer, user: str, tmp_path: Path) -> None:
    fetchmail = need("fetchmail")
    token = uuid.uuid4().hex[:8]
    md = make_maildir(tmp_path / "Maildir")
    mda = maildir_mda(tmp_path, md)
    env = {**os.environ, "FETCHMAILHOME": str(tmp_path)}
    ids = tmp_path / "fetchids"
    log = tmp_path / "fetchmail.log"

    def write_rc(keep: str) -> Path:
        rc = tmp_path / "fetchmailrc"
        rc.write_text(
            "set no bouncemail\n"
            "set no spambounce\n"
            f"poll 127.0.0.1 service {server.ports['imap']} protocol imap auth password\n"
            "  timeout 30\n"
            f'  user "{user}" there with password "{PASSWORD}" is "{getpass.getuser()}" here\n'
            f'  sslproto tls1.2+ sslcertck sslcertfile "{cert(server)}"'
            f' sslcommonname "{HOSTNAME}"\n'
            f"  {keep}\n"
            f'  mda "{mda}"\n'
        )
        rc.chmod(0o600)
        return rc

    def poll(keep: str) -> int:
        p = run(fetchmail, "-f", str(write_rc(keep)), "-i", str(ids), "--nosyslog", "-v", env=env)
        with log.open("a") as f:
            f.write(p.stdout + p.stderr)
        return p.returncode

    def fetched() -> list[str]:
        return sorted(subject_of(raw) for raw in maildir(md))

    deliver(server, user, f"fm one {token}")
    first = stored_messages(server.dir, user)[0]
    assert poll("keep") == 0, log.read_text()
    # fetchmail hands the MDA LF line ends and a Received line of its own; everything
    # from the original From: on arrives intact.
    (got,) = maildir(md)
    original = first.replace(b"\r\n", b"\n")
    assert got.endswith(original[original.index(b"\nFrom: ") :])
    text = log.read_text()
    assert re.search(r"IMAP> A0001 STARTTLS", text), text  # straight after the greeting
    assert re.search(r"IMAP> A\d+ SEARCH UNSEEN", text), text
    # keep: still on the server, now \Seen.
    assert flags_by_subject(server, user) == {f"fm one {token}": {"\\Seen"}}
    # Nothing unseen now: exit code 1 = no mail.
    assert poll("keep") == 1, log.read_text()
    assert fetched() == [f"fm one {token}"]

    deliver(server, user, f"fm two {token}")
    assert poll("nokeep") == 0, log.read_text()
    assert fetched() == [f"fm one {token}", f"fm two {token}"]
    # Only the new message was fetched and deleted (\Deleted, EXPUNGE); the seen one stays.
    assert subjects(server, user) == [f"fm one {token}"]
    assert re.search(r"IMAP> A\d+ EXPUNGE", log.read_text())

    # idle: a daemon that waits in IDLE and fetches as soon as EXISTS arrives.
    idle_log = tmp_path / "fetchmail-idle.log"
    rc = write_rc("keep idle")
    with idle_log.open("w") as out:
        daemon = subprocess.Popen(
            [fetchmail, "-f", str(rc), "-i", str(ids), "--nosyslog", "-v", "-N", "-d", "300"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:

        def idling() -> bool:
            return bool(re.search(r"IMAP> A\d+ IDLE\n.*IMAP< \+", idle_log.read_text()))

        wait_until(idling, 20, "fetchmail to enter IDLE")
        deliver(server, user, f"fm three {token}")
        # The poll interval is 300 s: only IDLE's EXISTS can bring the message this fast.
        wait_until(lambda: f"fm three {token}" in fetched(), 20, "the IDLE fetch")
    finally:
        daemon.terminate()
        daemon.wait(20)
    assert flags_by_subject(server, user)[f"fm three {token}"] == {"\\Seen"}


# --- getmail6: implicit TLS only (no STARTTLS), oldmail by UID, delete, --idle ----------


def test_getmail_imapssl_keep_delete_idle(
    server: MailServer, user: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    token = uuid.uuid4().hex[:8]
    getmail = Getmail.prepare(tmp_path, request)
    md = getmail.maildir

    def write_rc(delete: bool) -> None:
        retriever = [
            "type = SimpleIMAPSSLRetriever",
            # ca_certs turns verification on; the host name checked is `server`.
            "server = localhost",
            f"port = {server.ports['imaps']}",
            f"ca_certs = {cert(server)}",
            f"username = {user}",
            f"password = {PASSWORD}",
            "mailboxes = ('INBOX',)",
            "record_mailbox = false",  # no X-getmail-retrieved-from-mailbox header
        ]
        getmail.write_rc("imap.rc", retriever, delete=delete, verbose=2)

    def fetch(delete: bool) -> None:
        write_rc(delete)
        getmail.run("imap.rc")

    def fetched() -> list[str]:
        return sorted(subject_of(raw) for raw in maildir(md))

    deliver(server, user, f"gm one {token}")
    first = stored_messages(server.dir, user)[0]
    fetch(delete=False)
    # Maildir files hold LF line ends; otherwise the message is exactly what was stored.
    assert maildir(md) == [first.replace(b"\r\n", b"\n")]
    # Kept: getmail fetched with BODY.PEEK[], so the message is not even \Seen.
    assert flags_by_subject(server, user) == {f"gm one {token}": set()}
    fetch(delete=False)  # read_all=false: a UID it saw last time is not fetched again
    assert len(maildir(md)) == 1
    deliver(server, user, f"gm two {token}")
    fetch(delete=True)
    assert fetched() == [f"gm one {token}", f"gm two {token}"]
    # getmail deletes every message it has seen, not only this run's: the INBOX empties.
    assert stored_messages(server.dir, user) == []

    # --idle: retrieve, IDLE, and retrieve again when the server reports new mail.
    write_rc(delete=True)
    idle_log = tmp_path / "getmail-idle.log"
    with idle_log.open("w") as out:
        daemon = subprocess.Popen(
            getmail.command("imap.rc", "--idle=INBOX"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # getmail logs nothing when it enters IDLE; it does so right after it has
        # summarised the first (empty) retrieval: SELECT, then IDLE.
        wait_until(lambda: "retrieved" in idle_log.read_text(), 20, "getmail to connect")
        time.sleep(1)
        deliver(server, user, f"gm three {token}")
        wait_until(lambda: f"gm three {token}" in fetched(), 20, "the IDLE fetch")
        wait_until(lambda: stored_messages(server.dir, user) == [], 10, "the deletion")
        assert "IDLE message received" in idle_log.read_text(), idle_log.read_text()
    finally:
        daemon.terminate()
        daemon.wait(20)


# --- s-nail: LOGIN, sequence numbers, print, flag, delete, quit --------------------------


def test_snail_search_print_flag_delete(server: MailServer, user: str, tmp_path: Path) -> None:
    snail = need("s-nail")
    token = uuid.uuid4().hex[:8]
    for n in range(3):
        deliver(server, user, f"sn {n} {token}", f"the body of {n} {token}\r\n")
    quoted = urllib.parse.quote(user, safe="") + ":" + urllib.parse.quote(PASSWORD, safe="")
    account = f"imap://{quoted}@localhost:{server.ports['imap']}"
    url = f"{account}/INBOX"
    # -:/ loads no resource files; hold and keepsave leave read mail where it is.
    base = [
        snail,
        "-:/",
        "-Sv15-compat",
        "-Sttycharset=utf-8",
        "-Shold",
        "-Skeepsave",
        f"-SDEAD={tmp_path / 'dead.letter'}",
        "-Simap-use-starttls",
        f"-Stls-ca-file={cert(server)}",  # the host name localhost is checked too
        f"-Sfolder={account}",  # +name = a mailbox of this account
    ]
    env = {**os.environ, "HOME": str(tmp_path)}

    # -e -L: a match test (exit 0 = something matches); -L alone lists the matches.
    p = run(*base, "-e", "-L", f"/{token}", "-f", url, env=env)
    assert p.returncode == 0, p.stderr
    p = run(*base, "-e", "-L", "/no-such-subject-anywhere", "-f", url, env=env)
    assert p.returncode == 1, p.stderr
    p = run(*base, "-L", f"/{token}", "-f", url, env=env)
    assert p.returncode == 0, p.stderr
    assert re.findall(r"sn \d", p.stdout) == ["sn 0", "sn 1", "sn 2"], p.stdout
    # Nothing was read so far.
    assert all(f == set() for f in flags_by_subject(server, user).values())

    # Batch mode: message numbers are sequence numbers.
    p = run(*base, "-vv", "-#", "-f", url, input="print 2\nflag 2\ndelete 3\nquit\n", env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert f"the body of 1 {token}" in p.stdout
    assert f"the body of 2 {token}" not in p.stdout
    sent = re.findall(r">>> T\d+ (.*)", p.stderr)
    assert sent[0] == "STARTTLS" and sent[2].startswith("LOGIN ")
    assert "FETCH 1:3 (FLAGS UID)" in sent, sent
    assert "CLOSE" in sent  # CLOSE expunges the deleted message
    assert flags_by_subject(server, user) == {
        f"sn 0 {token}": set(),
        f"sn 1 {token}": {"\\Seen", "\\Flagged"},
    }
    # s-nail printed the stored message, with LF line ends and a Status: header of its own.
    stored = stored_messages(server.dir, user)[1].decode().replace("\r\n", "\n")
    header, body = stored.split("\n\n", 1)
    assert header[header.index("From: ") :] + "\nStatus: RO\n\n" + body in p.stdout

    # copy and move to a folder that does not exist yet: APPEND is refused with
    # [TRYCREATE], s-nail creates the folder and appends again.
    p = run(*base, "-vv", "-#", "-f", url, input="copy 1 +Other\nmove 2 +Other\nquit\n", env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    sent = re.findall(r">>> T\d+ (.*)", p.stderr)
    assert 'CREATE "Other"' in sent, sent
    assert subjects(server, user) == [f"sn 0 {token}"]
    assert subjects(server, user, "Other") == [f"sn 0 {token}", f"sn 1 {token}"]


def test_imapclient_append_bodystructure_condstore_uid_expunge(
    server: MailServer, user: str
) -> None:
    token = uuid.uuid4().hex[:8]
    multipart = (
        f"From: <{user}>\r\nTo: <{user}>\r\nSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?= {token}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
        '--b1\r\nContent-Type: application/octet-stream; name="a.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b1--\r\n"
    ).encode()
    client = IMAPClient("127.0.0.1", port=server.ports["imaps"], ssl_context=tls_context(server))
    try:
        client.login(user, PASSWORD)
        (identity,) = client.id_({"name": "imapclient"})  # (key value ...)
        assert dict(zip(identity[::2], identity[1::2], strict=True))[b"name"] == b"posthouse"
        assert client.namespace().personal == (("", "/"),)
        assert client.enable("CONDSTORE") == [b"CONDSTORE"]
        reply = client.append("INBOX", multipart, flags=[b"\\Draft"], msg_time=None)
        assert re.match(rb"\[APPENDUID \d+ 1\]", reply), reply
        deliver(server, user, f"plain {token}")
        status = client.folder_status("INBOX", ["MESSAGES", "UIDNEXT", "UNSEEN"])
        assert status == {b"MESSAGES": 2, b"UIDNEXT": 3, b"UNSEEN": 2}
        selected = client.select_folder("INBOX")
        modseq = selected[b"HIGHESTMODSEQ"]
        data = client.fetch([1], ["BODYSTRUCTURE", "RFC822.SIZE", "INTERNALDATE"])[1]
        assert data[b"RFC822.SIZE"] == len(multipart)
        body = data[b"BODYSTRUCTURE"]
        assert body.is_multipart and body[1] == b"mixed"
        text, attachment = body[0]
        assert text[:2] == (b"text", b"plain") and attachment[:2] == (
            b"application",
            b"octet-stream",
        )
        assert client.fetch([1], ["BODY.PEEK[2]"])[1][b"BODY[2]"] == b"AAEC"
        # SEARCH CHARSET UTF-8 matches the decoded subject.
        assert client.search(["SUBJECT", f"grüße {token}"], charset="UTF-8") == [1]

        client.add_flags([2], [b"\\Seen"])
        changed = client.fetch([1, 2], ["FLAGS"], modifiers=[f"CHANGEDSINCE {modseq}"])
        assert list(changed) == [2] and changed[2][b"FLAGS"] == (b"\\Seen",)
        assert changed[2][b"MODSEQ"][0] > modseq

        client.delete_messages([1, 2])
        client.uid_expunge([1])  # UID EXPUNGE (UIDPLUS): only UID 1 goes
        assert subjects(server, user) == [f"plain {token}"]
        assert flags_by_subject(server, user) == {f"plain {token}": {"\\Seen", "\\Deleted"}}
        client.unselect_folder()

        # Non-ASCII names: imapclient sends modified UTF-7 (RFC 3501 §5.1.3).
        client.create_folder("Entwürfe/Privat")
        client.subscribe_folder("Entwürfe/Privat")
        client.rename_folder("Entwürfe/Privat", "Entwürfe/Öffentlich")
        names = [name for _, _, name in client.list_folders()]
        assert "Entwürfe" in names and "Entwürfe/Öffentlich" in names, names
        assert "Entwürfe/Privat" not in names
        subscribed = [name for _, _, name in client.list_sub_folders()]
        assert "Entwürfe/Öffentlich" in subscribed and "Entwürfe/Privat" not in subscribed
        client.append("Entwürfe/Öffentlich", b"Subject: utf7\r\n\r\nx\r\n")
        assert subjects(server, user, "Entwürfe/Öffentlich") == ["utf7"]
        with checker(server, user) as other:  # the same names, as they go on the wire
            listed = b"".join(ok(other.list('""', "Entw*")))
            assert b"Entw&APw-rfe/&ANY-ffentlich" in listed, listed
        client.delete_folder("Entwürfe/Öffentlich")
        assert "Entwürfe/Öffentlich" not in [name for _, _, name in client.list_folders()]
    finally:
        client.logout()


def test_mbsync_unlimited_pipeline_create_and_remove_mailbox(
    server: MailServer, user: str, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex[:8]
    for n in range(40):
        deliver(server, user, f"many {n} {token}")
    md = tmp_path / "Maildir"
    md.mkdir()
    # isync's default PipelineDepth is unlimited: every UID FETCH goes out at once.
    sync = mbsync_runner(server, user, tmp_path, md, "Patterns *", "Remove Both")
    out = sync()
    in_flight = [int(n) for n in re.findall(r"\((\d+) in progress\) >>>", out)]
    assert max(in_flight) >= 30, in_flight
    assert len(maildir_files(md / "INBOX")) == 40
    # Every special-use mailbox came down as a folder.
    assert {"Drafts", "Junk", "Sent", "Trash"} <= {p.name for p in md.iterdir()}

    # A new local folder with a message: CREATE, then APPEND on the server.
    box = make_maildir(md / f"Projects-{token}")
    (box / "new" / f"{int(time.time())}.1.interop").write_bytes(
        f"Subject: in a new folder {token}\r\n\r\nhello\r\n".encode()
    )
    out = sync()
    assert f'CREATE "Projects-{token}"' in out, out
    assert subjects(server, user, f"Projects-{token}") == [f"in a new folder {token}"]

    # Its message deleted and the folder removed here: expunged, then DELETE there.
    for f in maildir_files(box).values():
        f.unlink()
    sync()
    assert stored_messages(server.dir, user, f"Projects-{token}") == []
    # With SyncState * the state lives in the folder: removing cur/ marks it deleted.
    shutil.rmtree(box / "cur")
    out = sync()
    assert f'DELETE "Projects-{token}"' in out, out
    with checker(server, user) as m:
        assert not any(token.encode() in line for line in ok(m.list()))


def test_curl_plain_loopback_login_forms_reuse_large_append(
    server: MailServer, user: str, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex[:8]
    deliver(server, user, f"reuse one {token}", "first\r\n")
    deliver(server, user, f"reuse two {token}", "second\r\n")
    curl = CurlImap(server, "imap", user, tmp_path)
    curl.base.remove("--ssl-reqd")  # loopback: cleartext allowed
    # Two URLs of one mailbox: one connection, one SELECT, two fetches.
    both = curl(path="/INBOX/;MAILINDEX=1", extra_url="/INBOX/;MAILINDEX=2")
    stored = stored_messages(server.dir, user)
    assert both == stored[0] + stored[1]
    sent = curl.sent()
    assert "STARTTLS" not in sent
    assert sent[-3:] == ["SELECT INBOX", "FETCH 1 BODY[]", "FETCH 2 BODY[]"], sent
    # The SASL LOGIN mechanism.
    assert curl("--login-options", "AUTH=LOGIN", path="/INBOX/;MAILINDEX=1") == stored[0]
    # With SASL-IR the user name rides on the command; the password follows a "+".
    assert curl.sent()[1].startswith("AUTHENTICATE LOGIN "), curl.sent()

    # A large upload: a synchronizing literal of about 3 MB.
    big = tmp_path / "big.eml"
    line = b"0123456789" * 7 + b"\r\n"
    payload = f"Subject: big {token}\r\n\r\n".encode() + line * 40_000
    big.write_bytes(payload)
    curl("-T", str(big), path="/INBOX")
    assert stored_messages(server.dir, user)[-1] == payload
    assert curl(path="/INBOX/;MAILINDEX=3") == payload


def test_neomutt_header_cache_qresync_reopen(server: MailServer, user: str, tmp_path: Path) -> None:
    """neomutt with a header cache and QRESYNC: on reopening it asks only for what
    changed (UID FETCH ... (CHANGEDSINCE m VANISHED)) and must show the mailbox as it
    is now."""
    neomutt = need("neomutt")
    token = uuid.uuid4().hex[:8]
    for n in range(4):
        deliver(server, user, f"hc {n} {token}")
    (tmp_path / "hcache").mkdir()
    rc = neomutt_rc(
        server,
        user,
        tmp_path,
        f'set header_cache="{tmp_path / "hcache"}/"',
        "set imap_condstore=yes imap_qresync=yes",
    )

    def session(number: int) -> str:
        log = tmp_path / f"neomutt{number}.log"
        with tmux(tmp_path) as tm:
            shell = (
                f"HOME='{tmp_path}' TERM=xterm-256color {neomutt} -n -F '{rc}' "
                f"-d 5 -l '{log}' -f '+INBOX'; echo NEOMUTT-EXIT=$?; sleep 30"
            )
            assert run(*tm, "new", "-d", "-s", "nm", "-x", "200", "-y", "40", shell).returncode == 0
            screen = wait_screen(tm, r"Msgs:\d+")
            keys(tm, "q")
            wait_screen(tm, "NEOMUTT-EXIT=0", 20)
        return screen + Path(f"{log}0").read_text(errors="replace")

    first = session(1)
    assert "Msgs:4 New:4" in first
    # Meanwhile, elsewhere: one message flagged, one expunged, one new.
    with checker(server, user) as m:
        ok(m.select("INBOX"))
        ok(m.store("2", "+FLAGS", "(\\Flagged)"))
        ok(m.store("3", "+FLAGS", "(\\Deleted)"))
        ok(m.expunge())
    deliver(server, user, f"hc 4 {token}")
    second = session(2)
    assert "ENABLE QRESYNC" in second
    assert re.search(r"UID FETCH 1:4 \(FLAGS\) \(CHANGEDSINCE \d+ VANISHED\)", second), second
    assert "4< * VANISHED (EARLIER) 3" in second
    index = [line for line in second.splitlines() if re.match(r"\s+\d+ ", line)]
    shown = [re.search(r"hc \d", line).group(0) for line in index if "hc " in line]  # type: ignore[union-attr]
    assert shown == ["hc 0", "hc 1", "hc 3", "hc 4"], index
    assert "!" in next(line for line in index if f"hc 1 {token}" in line)
    assert "Msgs:4 New:4 Flag:1" in second, second
