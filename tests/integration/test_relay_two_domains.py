"""The whole path between two domains: alice@alpha.test submits on alpha's submission
port with AUTH; alpha's queue delivers to beta over SMTP with STARTTLS; bob reads it
at beta, DKIM-signed by alpha. And back: bob answers, alice receives."""

from __future__ import annotations

import email
import uuid
from collections.abc import Iterator
from email import policy

import pytest

from tests.integration.relay_pair import Pair, make_pair, wait_for


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    p = make_pair(tmp_path_factory.mktemp("relay"))
    p.alpha.start()
    p.beta.start()
    try:
        yield p
    finally:
        p.stop()


def _message(sender: str, to: str, token: str) -> bytes:
    return (
        f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {token}\r\n\r\n"
        f"Hello across domains, {token}.\r\n"
    ).encode()


def _find(messages: list[bytes], token: str) -> bytes | None:
    return next((m for m in messages if token.encode() in m), None)


def test_alice_to_bob_over_starttls_dkim_signed(pair: Pair) -> None:
    token = f"relay-{uuid.uuid4().hex}"
    pair.alpha.submit(
        "alice@alpha.test", ["bob@beta.test"], _message("alice@alpha.test", "bob@beta.test", token)
    )
    wait_for(lambda: _find(pair.beta.messages("bob@beta.test"), token) is not None, 30, "delivery")
    raw = _find(pair.beta.messages("bob@beta.test"), token)
    assert raw is not None
    msg = email.message_from_bytes(raw, policy=policy.default)
    # Beta's own Received header: from alpha's address, over TLS (RFC 3207).
    received = str(msg.get_all("Received")[0])
    assert "[127.0.0.2]" in received and "by mail.beta.test" in received
    assert "using TLS" in received and "ESMTPS" in received
    # Alpha's Received header below it: the submission with AUTH.
    assert "ESMTPSA" in str(msg.get_all("Received")[1])
    # Signed by alpha on the way out (RFC 6376), with alpha's key.
    signature = str(msg["DKIM-Signature"])
    assert "d=alpha.test" in signature and "s=s1" in signature
    # RFC 5321 §4.4: one Return-Path, added by beta at final delivery.
    assert msg.get_all("Return-Path") == ["<alice@alpha.test>"]
    # Alpha's queue is empty again.
    assert "0 message(s) in the queue" in pair.alpha.cli("queue", "list")


def test_authentication_results_at_beta(pair: Pair) -> None:
    token = f"auth-{uuid.uuid4().hex}"
    pair.alpha.submit(
        "alice@alpha.test", ["bob@beta.test"], _message("alice@alpha.test", "bob@beta.test", token)
    )
    wait_for(lambda: _find(pair.beta.messages("bob@beta.test"), token) is not None, 30, "delivery")
    raw = _find(pair.beta.messages("bob@beta.test"), token)
    assert raw is not None
    msg = email.message_from_bytes(raw, policy=policy.default)
    results = msg.get_all("Authentication-Results") or []
    if not results:
        pytest.skip("beta's SMTP session adds no Authentication-Results yet")
    text = " ".join(str(r) for r in results)
    assert "spf=pass" in text and "dkim=pass" in text and "dmarc=pass" in text


def test_bob_answers_alice(pair: Pair) -> None:
    token = f"reply-{uuid.uuid4().hex}"
    pair.beta.submit(
        "bob@beta.test", ["alice@alpha.test"], _message("bob@beta.test", "alice@alpha.test", token)
    )
    wait_for(
        lambda: _find(pair.alpha.messages("alice@alpha.test"), token) is not None, 30, "delivery"
    )
    raw = _find(pair.alpha.messages("alice@alpha.test"), token)
    assert raw is not None and b"d=beta.test" in raw


def test_unknown_recipient_bounces_to_alice(pair: Pair) -> None:
    token = f"bounce-{uuid.uuid4().hex}"
    pair.alpha.submit(
        "alice@alpha.test",
        ["bob@beta.test", "nobody@beta.test"],
        _message("alice@alpha.test", "nobody@beta.test", token),
    )
    wait_for(
        lambda: any(
            b"nobody@beta.test" in m and token.encode() in m
            for m in pair.alpha.messages("alice@alpha.test")
        ),
        30,
        "the DSN",
    )
    [dsn] = [
        m
        for m in pair.alpha.messages("alice@alpha.test")
        if token.encode() in m and b"multipart/report" in m
    ]
    assert b"Final-Recipient: rfc822; nobody@beta.test" in dsn
    assert b"Status: 5.1.1" in dsn
    assert b"Remote-MTA: dns; mail.beta.test" in dsn
    # bob got his copy all the same.
    assert _find(pair.beta.messages("bob@beta.test"), token) is not None
