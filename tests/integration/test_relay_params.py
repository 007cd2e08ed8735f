"""MAIL parameters travel with a queued message: a declared SMTPUTF8 (RFC 6531 §3.4),
which has no value, is kept for the next hop rather than dropped."""

from __future__ import annotations

import json
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
