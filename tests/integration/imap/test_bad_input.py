"""Hostile and broken input (issue part 5): every case gets a tagged BAD or NO (or an
untagged BAD when there is no tag), the session goes on, nothing outside the user's own
mailboxes is ever reached, and only a run of errors ends the session."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.imap.conftest import BOB, copy_server
from tests.integration.imap.rawimap import RawImap, message
from tests.integration.server import MailServer

APPEND_LIMIT = 100_000
MAX_ERRORS = 10


@pytest.fixture(scope="module")
def imap_server(
    tmp_path_factory: pytest.TempPathFactory, imap_template: Path
) -> Iterator[MailServer]:
    directory = tmp_path_factory.mktemp("imap-bad") / "instance"
    server = copy_server(
        imap_template, directory, imap={"append_limit": APPEND_LIMIT, "max_errors": MAX_ERRORS}
    ).start()
    try:
        yield server
    finally:
        server.stop()


def still_works(c: RawImap) -> None:
    assert c.cmd("NOOP").status == "OK"


# --- literals ---------------------------------------------------------------------------


def test_huge_synchronising_literal_refused_before_sent(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.1 TOOBIG / RFC 7889 §4: NO [TOOBIG] instead of "+": the client never
    sends the octets."""
    c = raw()
    c.send("t1 APPEND INBOX {999999999}\r\n")
    line = c.response()
    assert line.startswith("t1 NO [TOOBIG]"), line
    still_works(c)


def test_huge_literal_before_login(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    c.send("t1 LOGIN {999999999}\r\n")
    assert c.response().startswith("t1 NO [TOOBIG]")
    still_works(c)


def test_oversized_non_synchronising_literal(raw: Callable[..., RawImap]) -> None:
    """RFC 7888 §4: a {n+} over the limit is read and thrown away, then refused with
    BAD [TOOBIG]; the next command is framed correctly."""
    c = raw()
    size = APPEND_LIMIT * 2
    r = c.cmd(f"APPEND INBOX {{{size}+}}\r\n".encode() + b"x" * size)
    assert (r.status, r.code) == ("BAD", "TOOBIG")
    still_works(c)


def test_oversized_non_synchronising_literal_before_login(raw: Callable[..., RawImap]) -> None:
    """Before login only small literals are taken, LITERAL+ or not: a stranger cannot
    make the server hold megabytes per connection."""
    c = raw(None)
    size = 50_000
    r = c.cmd(f"LOGIN {{{size}+}}\r\n".encode() + b"x" * size + b" pw")
    assert r.status in ("BAD", "NO")
    assert r.code == "TOOBIG"
    still_works(c)


def test_message_over_appendlimit_non_sync(raw: Callable[..., RawImap]) -> None:
    c = raw()
    body = message(body="y" * (APPEND_LIMIT + 10))
    r = c.append("INBOX", body)
    assert r.status in ("BAD", "NO") and r.code == "TOOBIG"
    still_works(c)


# --- syntax -------------------------------------------------------------------------------


def test_deep_nesting(raw: Callable[..., RawImap]) -> None:
    """Parenthesis nesting is bounded by the parser (no recursion blow-up)."""
    c = raw()
    c.cmd("SELECT INBOX")
    r = c.cmd("SEARCH " + "(" * 5000 + "ALL" + ")" * 5000)
    assert r.status == "BAD"
    still_works(c)
    r = c.cmd('LIST "" ' + "(" * 5000)
    assert r.status == "BAD"
    still_works(c)


def test_over_long_line(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd("NOOP " + "x" * 200_000)
    assert r.status == "BAD"
    still_works(c)


def test_unknown_commands(raw: Callable[..., RawImap]) -> None:
    c = raw()
    for command in ("FROBNICATE", "XLIST", "GETQUOTAROOT INBOX", "SELECTX INBOX", "UID FOO 1"):
        assert c.cmd(command).status == "BAD", command
        still_works(c)


def test_no_tag_and_bad_tags(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.1.5: a line with no usable tag gets an untagged "* BAD"."""
    c = raw()
    for line in (b"\r\n", b" NOOP\r\n", b"+ NOOP\r\n", b"a*b NOOP\r\n", b"NOOP\r\n"):
        c.send(line)
        reply = c.response()
        assert " BAD " in reply, (line, reply)
        still_works(c)


def test_binary_junk(raw: Callable[..., RawImap]) -> None:
    c = raw()
    for junk in (b"\x00\x01\x02\xff\xfe\r\n", b"t1 \x00NOOP\r\n", b"t2 NOOP \xff\xfe\r\n"):
        c.send(junk)
        assert " BAD " in c.response(), junk
        still_works(c)


def test_bare_lf_and_cr(raw: Callable[..., RawImap]) -> None:
    c = raw()
    c.send(b"t1 NOOP\n")
    c.send(b"t2 NOOP\r\n")
    lines = [c.response(), c.response()]
    assert lines[-1].startswith("t2 ")
    still_works(c)


def test_wrong_state_commands(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6: commands outside their state are BAD and change nothing."""
    c = raw(None)
    for command in ("SELECT INBOX", "FETCH 1 FLAGS", "IDLE", "APPEND INBOX {1+}\r\nx", "CLOSE"):
        assert c.cmd(command).status == "BAD", command
        still_works(c)
    c.login("alice@example.test", "alicepw-Secret1")
    for command in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "EXPUNGE", "UID SEARCH ALL"):
        assert c.cmd(command).status == "BAD", command
        still_works(c)


def test_invalid_modified_utf7(raw: Callable[..., RawImap]) -> None:
    """RFC 3501 §5.1.3: "&" must start a base64 run closed by "-"; a run must not
    encode printable ASCII; raw 8-bit is not allowed without UTF8=ACCEPT."""
    c = raw()
    for name in ('"a&Jjo"', '"a&AGE-"', '"a&-&ZeVnLIqe"', '"caf\xc3\xa9"', '"&;-"'):
        r = c.cmd(f"CREATE {name}".encode("utf-8", "surrogateescape"))
        assert r.status in ("BAD", "NO"), name
        still_works(c)


@pytest.mark.parametrize(
    "name",
    [
        "a/../b",
        "..",
        ".",
        "/leading",
        "trailing/",
        "dou//ble",
        "wild*card",
        "wild%card",
        "#news/x",
        "~alice",
        " spaced",
        "x" * 2000,
        "/".join(["d"] * 100),
    ],
)
def test_refused_mailbox_names(raw: Callable[..., RawImap], name: str) -> None:
    c = raw()
    r = c.cmd(f'CREATE "{name}"')
    assert r.status in ("BAD", "NO"), r
    assert c.cmd(f'LIST "" "{name}"').untagged == []
    still_works(c)


def test_control_characters_in_names(raw: Callable[..., RawImap]) -> None:
    c = raw()
    for raw_name in (b"a\x01b", b"a\x7fb", b"tab\tname"):
        literal = b"CREATE {%d+}\r\n%s" % (len(raw_name), raw_name)
        assert c.cmd(literal).status in ("BAD", "NO"), raw_name
        still_works(c)
    assert c.cmd(b'CREATE "a\rb"').status == "BAD"
    still_works(c)


# --- other users ---------------------------------------------------------------------------

OTHER_USER_NAMES = [
    "../bob",
    "../bob/INBOX",
    "../../bob@example.test/INBOX",
    "#user/bob",
    "#user/bob/INBOX",
    "#shared/bob",
    "~bob",
    "~bob/INBOX",
    "bob@example.test/INBOX",
    "/bob/INBOX",
    "INBOX/../../bob",
    "BobSecret",
    "Other Users/bob/INBOX",
]


@pytest.fixture
def bob_state(raw: Callable[..., RawImap]) -> Iterator[Callable[[], list[str]]]:
    """Bob owns "BobSecret" with one message; returns a reader of all bob can see."""
    bob = raw(BOB)
    if bob.cmd('LIST "" BobSecret').untagged == []:
        assert bob.cmd("CREATE BobSecret").status == "OK"
        assert bob.append("BobSecret", message("bob private")).status == "OK"

    def snapshot() -> list[str]:
        lines = list(
            bob.cmd('LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT HIGHESTMODSEQ))').untagged
        )
        bob.cmd("SELECT BobSecret")
        lines += bob.cmd("FETCH 1:* (UID FLAGS BODY.PEEK[])").untagged
        bob.cmd("UNSELECT")
        return lines

    yield snapshot


@pytest.mark.parametrize("name", OTHER_USER_NAMES)
def test_other_users_mailboxes_unreachable(
    raw: Callable[..., RawImap], bob_state: Callable[[], list[str]], name: str
) -> None:
    """Every name is looked up in alice's own namespace only (RFC 9051 §5.1: one
    personal namespace here, RFC 2342): bob's mailboxes and messages stay invisible and
    untouched whatever the name tries."""
    before = bob_state()
    c = raw()
    q = f'"{name}"'
    for command in (
        f"SELECT {q}",
        f"EXAMINE {q}",
        f"STATUS {q} (MESSAGES)",
        f"DELETE {q}",
        f"SUBSCRIBE {q}",
        f"RENAME {q} stolen",
    ):
        r = c.cmd(command)
        assert r.status in ("NO", "BAD"), (command, r)
    r = c.cmd(f"APPEND {q} {{5+}}\r\nhello".encode())
    assert r.status in ("NO", "BAD")
    for reference, pattern in (("", name), ("", f"{name}*"), (name, "*"), ("", "*")):
        listed = c.cmd(f'LIST "{reference}" "{pattern}"').untagged
        assert not [x for x in listed if "BobSecret" in x], (reference, pattern, listed)
    created = c.cmd(f"CREATE {q}")
    if created.status == "OK":
        # A plain name is alice's own new, empty mailbox, never bob's.
        r = c.cmd(f"SELECT {q}")
        assert "* 0 EXISTS" in r.untagged
        c.cmd("UNSELECT")
        top = name.split("/")[0]
        for level in reversed(range(1, name.count("/") + 2)):
            c.cmd(f'DELETE "{"/".join(name.split("/")[:level])}"')
        assert c.cmd(f'LIST "" "{top}*"').untagged == []
    assert bob_state() == before
    still_works(c)


def test_copy_and_move_to_other_users(
    raw: Callable[..., RawImap], bob_state: Callable[[], list[str]]
) -> None:
    before = bob_state()
    c = raw()
    c.append("INBOX", message("alice's"))
    c.cmd("SELECT INBOX")
    for name in OTHER_USER_NAMES:
        if name == "BobSecret":
            continue
        assert c.cmd(f'COPY 1 "{name}"').status in ("NO", "BAD"), name
        assert c.cmd(f'MOVE 1 "{name}"').status in ("NO", "BAD"), name
    assert bob_state() == before


# --- error limit ---------------------------------------------------------------------------


def test_too_many_errors_bye_and_others_unaffected(
    imap_server: MailServer, raw: Callable[..., RawImap]
) -> None:
    """After MAX_ERRORS BAD answers in a row the server says BYE and hangs up; other
    sessions are not affected."""
    other = raw()
    c = raw()
    for i in range(MAX_ERRORS - 1):
        assert c.cmd(f"BOGUS{i}").status == "BAD"
    c.send("last BOGUS\r\n")
    lines = [c.response(), c.response()]
    assert lines[0].startswith("last BAD")
    assert lines[1].startswith("* BYE ")
    assert c.closed()
    still_works(other)
    fresh = raw()
    still_works(fresh)


def test_errors_reset_by_success(raw: Callable[..., RawImap]) -> None:
    c = raw()
    for i in range(MAX_ERRORS * 2):
        assert c.cmd(f"BOGUS{i}").status == "BAD"
        still_works(c)


def test_garbage_flood_closes_without_harm(imap_server: MailServer) -> None:
    s = socket.create_connection(("127.0.0.1", imap_server.ports["imap"]), timeout=10)
    try:
        s.recv(4096)
        try:
            s.sendall(b"\xff\xfe garbage\r\n" * 500)
        except OSError:
            pass
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        assert b"* BYE" in data
    finally:
        s.close()


def test_connection_flood(tmp_path: Path, imap_template: Path) -> None:
    """Past the listener's connection cap a new client gets "* BYE [UNAVAILABLE]" at
    once (RFC 9051 §7.1.5) and the sessions already open keep working."""
    server = copy_server(imap_template, tmp_path / "instance", smtp={"max_connections": 3}).start()
    clients: list[RawImap] = []
    try:
        for _ in range(3):
            clients.append(RawImap(server.ports["imap"]))
        clients[0].login("alice@example.test", "alicepw-Secret1")
        extra = RawImap(server.ports["imap"])
        clients.append(extra)
        assert extra.greeting.startswith("* BYE [UNAVAILABLE]"), extra.greeting
        assert extra.closed()
        still_works(clients[0])
        clients[1].cmd("LOGOUT")
        assert clients[1].closed()
        deadline = time.monotonic() + 5
        while True:
            again = RawImap(server.ports["imap"])
            clients.append(again)
            if again.greeting.startswith("* OK") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert again.greeting.startswith("* OK")
    finally:
        for c in clients:
            c.close()
        server.stop()


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (workers), in KiB."""
    total = 0
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid, *(int(p) for p in children.read_text().split())]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def test_huge_non_synchronising_literal_is_not_buffered(
    imap_server: MailServer, raw: Callable[..., RawImap]
) -> None:
    """RFC 7888 §4: a {n+} far over the limit arrives anyway; the server throws the
    octets away as they come (no memory grows with them), and other sessions carry on."""
    assert imap_server.proc is not None
    other = raw()
    before = rss_kib(imap_server.proc.pid)
    c = raw()
    c.send("t1 APPEND INBOX {999999999+}\r\n")
    chunk = b"x" * (1 << 20)
    for _ in range(40):
        c.send(chunk)
    still_works(other)
    grown = rss_kib(imap_server.proc.pid) - before
    assert grown < 20 * 1024, f"server grew by {grown} KiB"
    c.close()
    still_works(other)
