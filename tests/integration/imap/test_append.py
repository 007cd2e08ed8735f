"""APPEND (RFC 9051 §6.3.12, UIDPLUS RFC 4315 §3, MULTIAPPEND RFC 3502, LITERAL+
RFC 7888, APPENDLIMIT RFC 7889)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.imap.conftest import unique
from tests.integration.imap.rawimap import RawImap, message
from tests.integration.server import MailServer, add_user, posthouse


def uidvalidity(c: RawImap, name: str) -> int:
    r = c.cmd(f"STATUS {name} (UIDVALIDITY)")
    return int(r.untagged[0].split()[-1].rstrip(")"))


def test_append_synchronising_literal(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §7.5: "+" before the literal; RFC 4315 §3: [APPENDUID validity uid]."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    r = c.cmd_literal(f"APPEND {name} ", message("sync"))
    assert (r.status, r.code) == ("OK", f"APPENDUID {uidvalidity(c, name)} 1")


def test_append_flags_and_date(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    body = message("dated")
    r = c.cmd(
        f'APPEND {name} (\\Seen $Label1) "05-Mar-2024 10:11:12 +0100" {{{len(body)}+}}\r\n'.encode()
        + body
    )
    assert r.status == "OK", r
    c.cmd(f"SELECT {name}")
    r = c.cmd("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)")
    assert r.untagged == [
        f'* 1 FETCH (FLAGS (\\Seen $Label1) INTERNALDATE "05-Mar-2024 10:11:12 +0100" '
        f"RFC822.SIZE {len(body)})"
    ]


def test_append_content_roundtrip(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    body = b"Subject: bytes\r\n\r\n\x01\x7f\xff\xfe binary-ish\r\n"
    c.append(name, body)
    c.cmd(f"SELECT {name}")
    r = c.cmd("FETCH 1 BODY.PEEK[]")
    assert r.untagged[0].encode("utf-8", "surrogateescape") == (
        b"* 1 FETCH (BODY[] {%d}\r\n%s)" % (len(body), body)
    )


def test_append_utf8_data(raw: Callable[..., RawImap]) -> None:
    """RFC 6855 §4: with UTF8=ACCEPT advertised, APPEND takes UTF8 (literal8) for a
    message with UTF-8 headers (RFC 6532)."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    c.cmd("ENABLE UTF8=ACCEPT")
    body = "Subject: héllo\r\nFrom: ü@example.test\r\n\r\nbody ü\r\n".encode()
    r = c.cmd(f"APPEND {name} (\\Seen) UTF8 (~{{{len(body)}+}}\r\n".encode() + body + b")")
    assert r.status == "OK", r
    c.cmd(f"SELECT {name}")
    r = c.cmd("FETCH 1 BODY.PEEK[]")
    assert r.untagged[0].encode("utf-8", "surrogateescape").endswith(body + b")")
    assert c.cmd(f"APPEND {name} UTF8 ({{1+}}\r\nx").status == "BAD"  # no ")"
    still = c.cmd("NOOP")
    assert still.status == "OK"


def test_append_trycreate(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.12: a missing mailbox gives NO [TRYCREATE]."""
    c = raw()
    r = c.append(unique(), message())
    assert (r.status, r.code) == ("NO", "TRYCREATE")


def test_multiappend(raw: Callable[..., RawImap]) -> None:
    """RFC 3502 §6.3.11: several messages in one command; APPENDUID gives a UID set."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    a, b = message("one"), message("two")
    r = c.cmd(
        f"APPEND {name} {{{len(a)}+}}\r\n".encode()
        + a
        + f" (\\Flagged) {{{len(b)}+}}\r\n".encode()
        + b
    )
    assert r.status == "OK"
    assert re.fullmatch(r"APPENDUID \d+ 1:2", r.code or "")
    assert c.cmd(f"STATUS {name} (MESSAGES)").untagged[0].endswith("(MESSAGES 2)")


def test_append_toobig_announcement(raw: Callable[..., RawImap]) -> None:
    """RFC 7889 §4 / RFC 9051 §7.1: a literal over APPENDLIMIT is refused before the
    client sends it: NO [TOOBIG] instead of "+"."""
    c = raw()
    caps = c.cmd("CAPABILITY").untagged[0]
    limit = int(re.search(r"APPENDLIMIT=(\d+)", caps).group(1))  # type: ignore[union-attr]
    c.send(f"t1 APPEND INBOX {{{limit + 1}}}\r\n")
    line = c.response()
    assert line.startswith("t1 NO [TOOBIG]"), line
    assert c.cmd("NOOP").status == "OK"


def test_append_empty_message(raw: Callable[..., RawImap]) -> None:
    c = raw()
    r = c.cmd("APPEND INBOX {0+}\r\n")
    assert r.status in ("BAD", "NO")
    assert c.cmd("NOOP").status == "OK"


def test_append_recent_flag_refused(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §2.3.2: \\Recent cannot be set by a client."""
    c = raw()
    r = c.append("INBOX", message(), flags="\\Recent")
    assert r.status in ("BAD", "NO")
    assert c.cmd("NOOP").status == "OK"


def test_append_bad_arguments(raw: Callable[..., RawImap]) -> None:
    c = raw()
    assert c.cmd("APPEND").status == "BAD"
    assert c.cmd("APPEND INBOX").status == "BAD"
    assert c.cmd('APPEND INBOX "not a literal"').status == "BAD"
    assert c.cmd('APPEND INBOX "bad date" {1+}\r\nx').status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_append_before_login_small_limit(raw: Callable[..., RawImap]) -> None:
    """Before login only small literals are taken (a stranger cannot make the server
    buffer megabytes)."""
    c = raw(None)
    c.send("t1 APPEND INBOX {1000000}\r\n")
    line = c.response()
    assert line.startswith("t1 NO [TOOBIG]") or line.startswith("t1 BAD"), line
    assert c.cmd("NOOP").status == "OK"


def test_append_to_selected_mailbox_announces_exists(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.12: the server SHOULD send EXISTS at once."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    c.cmd(f"SELECT {name}")
    r = c.append(name, message())
    assert "* 1 EXISTS" in r.untagged


def test_append_not_authenticated(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.3.12: APPEND needs the authenticated state; a small literal is read
    and the command refused."""
    c = raw(None)
    assert c.cmd("APPEND INBOX {5+}\r\nhello").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_append_and_copy_over_quota(imap_server: MailServer, raw: Callable[..., RawImap]) -> None:
    """RFC 9208 §4.3: a message that would pass the user's quota gets NO [OVERQUOTA]
    and nothing is stored; COPY likewise."""
    user, password = "quota@example.test", "quotapw-Secret5"
    add_user(imap_server.dir, user, password)
    posthouse(imap_server.dir, "user", "set", user, "--quota", "3000")
    c = raw(None)
    c.login(user, password)
    assert c.append("INBOX", message("fits", "x" * 1800)).status == "OK"
    r = c.append("INBOX", message("too much", "y" * 3000))
    assert (r.status, r.code) == ("NO", "OVERQUOTA")
    c.cmd("SELECT INBOX")
    target = unique()
    c.cmd(f"CREATE {target}")
    r = c.cmd(f"COPY 1 {target}")
    assert (r.status, r.code) == ("NO", "OVERQUOTA")
    assert c.cmd("STATUS INBOX (MESSAGES)").untagged == ["* STATUS INBOX (MESSAGES 1)"]
    assert c.cmd(f"STATUS {target} (MESSAGES)").untagged[0].endswith("(MESSAGES 0)")
    # MOVE inside one account needs no more room.
    assert c.cmd(f"MOVE 1 {target}").status == "OK"
