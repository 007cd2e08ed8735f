"""LOGIN (RFC 9051 §6.2.3): success, failures with RFC 5530 codes, wrong state."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.imap.rawimap import RawImap

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
