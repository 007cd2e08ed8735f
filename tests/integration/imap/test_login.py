"""LOGIN (RFC 9051 §6.2.3): success, failures with RFC 5530 codes, wrong state."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.imap.conftest import ALICE, copy_server
from tests.integration.imap.rawimap import RawImap
from tests.integration.server import USERS, MailServer, add_user, posthouse

ALICE_PW = "alicepw-Secret1"


def test_login_quoted_and_atom(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    r = c.cmd(f"LOGIN alice@example.test {ALICE_PW}")
    assert r.status == "OK"
    assert r.text == "Logged in as alice@example.test"


def test_login_with_literals(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §4.3: user name and password may be literals (here LITERAL+, RFC 7888)."""
    c = raw(None)
    user = b"alice@example.test"
    r = c.cmd(
        b"LOGIN {%d+}\r\n%s {%d+}\r\n%s" % (len(user), user, len(ALICE_PW), ALICE_PW.encode())
    )
    assert r.status == "OK"


def test_login_synchronising_literal(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    r = c.cmd_literal('LOGIN "alice@example.test" ', ALICE_PW.encode())
    assert r.status == "OK", r


def test_wrong_password(raw: Callable[..., RawImap]) -> None:
    """RFC 5530 §3: AUTHENTICATIONFAILED; the session stays usable."""
    c = raw(None)
    r = c.cmd('LOGIN "alice@example.test" "wrong"')
    assert r.status == "NO"
    assert r.code == "AUTHENTICATIONFAILED"
    assert c.cmd("NOOP").status == "OK"
    assert c.cmd(f'LOGIN "alice@example.test" "{ALICE_PW}"').status == "OK"


def test_unknown_user(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    r = c.cmd('LOGIN "nobody@example.test" "whatever"')
    assert (r.status, r.code) == ("NO", "AUTHENTICATIONFAILED")


def test_login_twice_is_bad(raw: Callable[..., RawImap]) -> None:
    """RFC 9051 §6.2: LOGIN is valid only in the not-authenticated state."""
    c = raw()
    r = c.cmd(f'LOGIN "alice@example.test" "{ALICE_PW}"')
    assert r.status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_login_missing_password(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd('LOGIN "alice@example.test"').status == "BAD"
    assert c.cmd("LOGIN").status == "BAD"
    assert c.cmd("NOOP").status == "OK"


def test_commands_before_login_are_refused(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    for command in ("SELECT INBOX", 'LIST "" "*"', "STATUS INBOX (MESSAGES)", "FETCH 1 FLAGS"):
        assert c.cmd(command).status == "BAD", command
    assert c.cmd("NOOP").status == "OK"


def test_user_name_case_insensitive(raw: Callable[..., RawImap]) -> None:
    c = raw(None)
    assert c.cmd(f'LOGIN "Alice@Example.TEST" "{ALICE_PW}"').status == "OK"


# --- account policy (as in the other protocols) -------------------------------------------


def test_app_password_and_imap_switch(imap_server: MailServer, raw: Callable[..., RawImap]) -> None:
    """An app password limited to IMAP logs in; one limited to POP3 and an account
    whose IMAP switch is off are refused with AUTHORIZATIONFAILED (RFC 5530 §3)."""
    user, password = "carol@example.test", "carolpw-Secret3"
    add_user(imap_server.dir, user, password)
    imap_code = json.loads(
        posthouse(
            imap_server.dir,
            "user",
            "app-password",
            "add",
            user,
            "phone",
            "--protocol",
            "imap",
            "--json",
        )
    )["code"]
    pop_code = json.loads(
        posthouse(
            imap_server.dir,
            "user",
            "app-password",
            "add",
            user,
            "pop",
            "--protocol",
            "pop3",
            "--json",
        )
    )["code"]
    assert raw(None).cmd(f'LOGIN "{user}" "{imap_code}"').status == "OK"
    r = raw(None).cmd(f'LOGIN "{user}" "{pop_code}"')
    assert (r.status, r.code) == ("NO", "AUTHORIZATIONFAILED")

    posthouse(imap_server.dir, "user", "protocols", user, "--disable", "imap")
    r = raw(None).cmd(f'LOGIN "{user}" "{password}"')
    assert (r.status, r.code) == ("NO", "AUTHORIZATIONFAILED")
    posthouse(imap_server.dir, "user", "protocols", user, "--enable", "imap")
    assert raw(None).cmd(f'LOGIN "{user}" "{password}"').status == "OK"


def test_disabled_account(imap_server: MailServer, raw: Callable[..., RawImap]) -> None:
    user, password = "dave@example.test", "davepw-Secret4"
    add_user(imap_server.dir, user, password)
    posthouse(imap_server.dir, "user", "disable", user)
    r = raw(None).cmd(f'LOGIN "{user}" "{password}"')
    assert r.status == "NO"
    assert r.code in ("CONTACTADMIN", "AUTHENTICATIONFAILED")


def test_sessions_per_user_limit(tmp_path: Path, imap_template: Path) -> None:
    """A cap on one account's sessions: the next login gets NO [UNAVAILABLE]; a LOGOUT
    frees a place."""
    server = copy_server(
        imap_template, tmp_path / "instance", imap={"max_connections_per_user": 2}
    ).start()
    clients = [RawImap(server.ports["imap"]) for _ in range(3)]
    try:
        clients[0].login(ALICE, USERS[ALICE])
        clients[1].login(ALICE, USERS[ALICE])
        r = clients[2].cmd(f'LOGIN "{ALICE}" "{USERS[ALICE]}"')
        assert (r.status, r.code) == ("NO", "UNAVAILABLE")
        assert clients[2].cmd('LOGIN "bob@example.test" "bobpw-Secret2"').status == "OK"
        clients[0].cmd("LOGOUT")
        assert clients[0].closed()
        deadline = time.monotonic() + 5
        while True:
            c = RawImap(server.ports["imap"])
            clients.append(c)
            if c.cmd(f'LOGIN "{ALICE}" "{USERS[ALICE]}"').status == "OK" or (
                time.monotonic() > deadline
            ):
                break
            time.sleep(0.1)
        assert c.cmd("SELECT INBOX").status == "OK"
    finally:
        for c in clients:
            c.close()
        server.stop()
