"""SASL mechanisms PLAIN (RFC 4616) and LOGIN, server side, sans-IO."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthouse.proto.sasl import (
    SERVER_MECHANISMS,
    Challenge,
    Credentials,
    SASLError,
    plain_initial_response,
    server_mechanism,
)


def test_server_mechanisms() -> None:
    assert SERVER_MECHANISMS == ("PLAIN", "LOGIN")
    for name in SERVER_MECHANISMS:
        assert server_mechanism(name).name == name
    assert server_mechanism("plain").name == "PLAIN"
    with pytest.raises(KeyError):
        server_mechanism("CRAM-MD5")


def test_each_call_is_a_fresh_exchange() -> None:
    assert server_mechanism("PLAIN") is not server_mechanism("PLAIN")


# --- PLAIN --------------------------------------------------------------------------


def test_plain_with_initial_response() -> None:
    mech = server_mechanism("PLAIN")
    assert mech.step(b"\x00alice\x00secret") == Credentials("", "alice", "secret")


def test_plain_with_authzid() -> None:
    mech = server_mechanism("PLAIN")
    assert mech.step(b"admin\x00alice\x00secret") == Credentials("admin", "alice", "secret")


def test_plain_without_initial_response() -> None:
    # RFC 4422 §5: the server sends an empty challenge first.
    mech = server_mechanism("PLAIN")
    assert mech.step(None) == Challenge(b"")
    assert mech.step(b"\x00alice\x00secret") == Credentials("", "alice", "secret")


def test_plain_utf8() -> None:
    mech = server_mechanism("PLAIN")
    data = "\x00jöran\x00pässwörd€".encode()
    assert mech.step(data) == Credentials("", "jöran", "pässwörd€")


@pytest.mark.parametrize(
    "response",
    [
        b"alice secret",  # no NUL at all
        b"alice\x00secret",  # one NUL
        b"",  # "AUTH PLAIN =": empty
        b"\x00\x00secret",  # empty authcid
        b"\x00alice\x00",  # empty password
        b"a\x00b\x00c\x00d",  # too many fields
        b"\x00al\xffice\x00pw",  # not UTF-8
    ],
)
def test_plain_malformed(response: bytes) -> None:
    with pytest.raises(SASLError):
        server_mechanism("PLAIN").step(response)


def test_plain_after_completion() -> None:
    mech = server_mechanism("PLAIN")
    mech.step(b"\x00a\x00b")
    with pytest.raises(SASLError):
        mech.step(b"\x00a\x00b")


def test_plain_second_none() -> None:
    mech = server_mechanism("PLAIN")
    mech.step(None)
    with pytest.raises(SASLError):
        mech.step(None)


def test_plain_initial_response_helper() -> None:
    assert plain_initial_response("alice", "secret") == b"\x00alice\x00secret"
    assert plain_initial_response("alice", "pw", authzid="admin") == b"admin\x00alice\x00pw"
    assert plain_initial_response("jöran", "€") == "\x00jöran\x00€".encode()
    with pytest.raises(ValueError):
        plain_initial_response("al\x00ice", "pw")


@given(
    st.text(min_size=1).filter(lambda s: "\x00" not in s),
    st.text(min_size=1).filter(lambda s: "\x00" not in s),
)
def test_plain_round_trip(username: str, password: str) -> None:
    try:
        response = plain_initial_response(username, password)
    except UnicodeEncodeError:  # lone surrogates cannot be sent
        return
    assert server_mechanism("PLAIN").step(response) == Credentials("", username, password)


# --- LOGIN --------------------------------------------------------------------------


def test_login() -> None:
    mech = server_mechanism("LOGIN")
    assert mech.step(None) == Challenge(b"Username:")
    assert mech.step(b"alice") == Challenge(b"Password:")
    assert mech.step(b"secret") == Credentials("", "alice", "secret")


def test_login_with_initial_response() -> None:
    # RFC 4954 §4 allows "AUTH LOGIN <base64 username>": Username: is skipped.
    mech = server_mechanism("LOGIN")
    assert mech.step(b"alice") == Challenge(b"Password:")
    assert mech.step(b"secret") == Credentials("", "alice", "secret")


def test_login_utf8() -> None:
    mech = server_mechanism("LOGIN")
    mech.step("jöran".encode())
    assert mech.step("pässwörd".encode()) == Credentials("", "jöran", "pässwörd")


@pytest.mark.parametrize(
    "steps",
    [
        [None, b""],  # empty username
        [b""],  # "AUTH LOGIN =": empty username
        [None, b"al\x00ice"],
        [None, b"\xff"],
        [b"alice", b"se\x00cret"],
        [b"alice", b"\xfe"],
        [b"alice", None],
    ],
)
def test_login_malformed(steps: list[bytes | None]) -> None:
    mech = server_mechanism("LOGIN")
    with pytest.raises(SASLError):
        for step in steps:
            mech.step(step)


def test_login_after_completion() -> None:
    mech = server_mechanism("LOGIN")
    mech.step(b"alice")
    mech.step(b"secret")
    with pytest.raises(SASLError):
        mech.step(b"more")
