"""Faults between two real instances: the destination is down for a while, and a
destination that never comes back until the message expires."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.integration.relay_pair import make_pair, wait_for
from tests.integration.server import posthouse


def _message(token: str) -> bytes:
    return (
        f"From: <alice@alpha.test>\r\nTo: <bob@beta.test>\r\nSubject: {token}\r\n\r\n"
        f"Body of {token}\r\n"
    ).encode()


def _queue(pair_alpha_cli) -> list[dict]:  # type: ignore[no-untyped-def]
    return json.loads(pair_alpha_cli("queue", "list", "--json"))


def test_destination_down_then_back(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, dkim=False)
    try:
        pair.alpha.start()  # beta is not running: its port refuses connections
        token = f"down-{uuid.uuid4().hex}"
        pair.alpha.submit("alice@alpha.test", ["bob@beta.test"], _message(token))
        wait_for(
            lambda: any(e["attempts"] >= 2 for e in _queue(pair.alpha.cli)), 30, "two attempts"
        )
        [entry] = _queue(pair.alpha.cli)
        assert entry["recipients"][0]["state"] == "pending"
        assert "connect" in (entry["last_error"] or "")
        pair.beta.start()
        wait_for(
            lambda: any(token.encode() in m for m in pair.beta.messages("bob@beta.test")),
            30,
            "delivery after beta came back",
        )
        wait_for(lambda: _queue(pair.alpha.cli) == [], 10, "an empty queue")
        assert [m for m in pair.beta.messages("bob@beta.test") if token.encode() in m]
        # No bounce: the message was only late.
        assert not any(b"multipart/report" in m for m in pair.alpha.messages("alice@alpha.test"))
    finally:
        pair.stop()


def test_expiry_gives_exactly_one_dsn(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, dkim=False, alpha_relay={"max_age": 3, "retry_schedule": [0.5]})
    try:
        pair.alpha.start()
        token = f"expire-{uuid.uuid4().hex}"
        pair.alpha.submit("alice@alpha.test", ["bob@beta.test"], _message(token))

        def bounces() -> list[bytes]:
            return [
                m
                for m in pair.alpha.messages("alice@alpha.test")
                if b"multipart/report" in m and token.encode() in m
            ]

        wait_for(lambda: len(bounces()) >= 1, 30, "the DSN")
        wait_for(lambda: _queue(pair.alpha.cli) == [], 10, "an empty queue")
        pair.alpha.stop()  # nothing more can come
        [dsn] = bounces()
        text = dsn.decode()
        assert "Action: failed" in text
        assert "Final-Recipient: rfc822; bob@beta.test" in text
        assert "Status: 4.4.1" in text  # the last temporary status (RFC 3464 §2.3.4)
        assert "delivery time expired" in text
        assert "From: Mail Delivery System <MAILER-DAEMON@alpha.test>" in text
        assert dsn.startswith(b"Return-Path: <>")
    finally:
        pair.stop()


def test_4xx_and_5xx_per_recipient_in_one_transaction(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, dkim=False)
    posthouse(
        pair.beta.dir,
        "user",
        "add",
        "carol@beta.test",
        "--password-stdin",
        stdin="carol-Secret-333\n",
    )
    try:
        pair.beta.cli("user", "set", "carol@beta.test", "--quota", "0")  # RCPT gets 452 4.2.2
        pair.beta.start()
        pair.alpha.start()
        token = f"mixed-{uuid.uuid4().hex}"
        pair.alpha.submit(
            "alice@alpha.test",
            ["bob@beta.test", "carol@beta.test", "nobody@beta.test"],
            _message(token),
        )
        wait_for(
            lambda: any(token.encode() in m for m in pair.beta.messages("bob@beta.test")),
            30,
            "bob's copy",
        )

        def dsns() -> list[bytes]:
            return [
                m
                for m in pair.alpha.messages("alice@alpha.test")
                if b"multipart/report" in m and token.encode() in m
            ]

        wait_for(lambda: len(dsns()) == 1, 30, "the DSN for nobody")
        [entry] = _queue(pair.alpha.cli)
        states = {r["address"]: r["state"] for r in entry["recipients"]}
        assert states == {
            "bob@beta.test": "delivered",
            "carol@beta.test": "pending",
            "nobody@beta.test": "failed",
        }
        assert "452" in (entry["last_error"] or "")
        pair.beta.cli("user", "set", "carol@beta.test", "--quota", "unlimited")
        wait_for(
            lambda: any(token.encode() in m for m in pair.beta.messages("carol@beta.test")),
            30,
            "carol's copy after the retry",
        )
        wait_for(lambda: _queue(pair.alpha.cli) == [], 10, "an empty queue")
        [dsn] = dsns()
        assert b"Final-Recipient: rfc822; nobody@beta.test" in dsn
        assert b"Final-Recipient: rfc822; carol@beta.test" not in dsn
        assert len([m for m in pair.beta.messages("bob@beta.test") if token.encode() in m]) == 1
    finally:
        pair.stop()
