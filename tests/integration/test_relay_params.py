"""MAIL parameters travel with a queued message: a declared SMTPUTF8 (RFC 6531 §3.4),
which has no value, is kept for the next hop rather than dropped."""

from __future__ import annotations

import json
import smtplib
import uuid
from pathlib import Path

from tests.integration.relay_pair import make_pair, wait_for


def test_smtputf8_without_value_is_queued(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, dkim=False)
    try:
        pair.alpha.start()  # beta is not running: the message stays queued
        token = f"utf8-{uuid.uuid4().hex}"
        raw = (
            f"From: <alice@alpha.test>\r\nTo: <bob@beta.test>\r\nSubject: {token}\r\n\r\nGrüße\r\n"
        ).encode()
        with pair.alpha.submission("alice@alpha.test") as smtp:
            smtp.sendmail("alice@alpha.test", ["bob@beta.test"], raw, mail_options=["SMTPUTF8"])

        def entries() -> list[dict]:  # type: ignore[type-arg]
            return json.loads(pair.alpha.cli("queue", "list", "--json"))  # type: ignore[no-any-return]

        wait_for(lambda: len(entries()) == 1, 30, "the queued message")
        [entry] = entries()
        assert "SMTPUTF8" in entry["params"], entry
    finally:
        pair.stop()


def test_test_instances_ask_no_real_dns(tmp_path: Path) -> None:
    """tests/integration/server.py instances carry an empty [dns] table: mail for a
    made-up domain bounces at once from the table, without a query leaving the host,
    and loopback clients on the MTA port are still not judged as peers."""
    from posthouse.config import load_config
    from tests.integration.server import USERS, MailServer, find_message, stored_messages

    server = MailServer.create(tmp_path / "instance")
    assert load_config(server.dir).dns == {}
    server.start()
    try:
        alice = "alice@example.test"
        token = f"nodns-{uuid.uuid4().hex}"
        with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as smtp:
            smtp.login(alice, USERS[alice])
            smtp.sendmail(
                alice,
                ["carol@remote.example"],
                f"From: {alice}\r\nTo: carol@remote.example\r\nSubject: {token}\r\n\r\nx\r\n",
            )
        wait_for(
            lambda: any(b"remote.example" in m for m in stored_messages(server.dir, alice)),
            30,
            "the bounce",
        )
        local = f"From: x@example.org\r\nTo: bob@example.test\r\nSubject: {token}\r\n\r\nx\r\n"
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as smtp:
            smtp.sendmail("x@example.org", ["bob@example.test"], local)
        raw = find_message(server.dir, "bob@example.test", token)
        assert raw is not None and b"Authentication-Results" not in raw
    finally:
        server.stop()
