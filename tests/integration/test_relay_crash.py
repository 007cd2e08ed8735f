"""posthouse killed (SIGKILL) while it delivers 1,000 queued messages: after a restart
every message arrives at least once; duplicates only for transactions whose outcome
was not yet recorded (RFC 5321 §6.1), counted and bounded."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from pathlib import Path

from tests.integration.relay_pair import make_pair, wait_for

COUNT = 1000


def test_sigkill_with_1000_queued(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, dkim=False, alpha_relay={"concurrency": 2})
    try:
        pair.alpha.start()  # beta is down: everything stays queued
        with pair.alpha.submission("alice@alpha.test") as smtp:
            for n in range(COUNT):
                raw = (
                    f"From: <alice@alpha.test>\r\nTo: <bob@beta.test>\r\n"
                    f"Subject: crash-{n:04d}\r\n\r\nmessage crash-{n:04d}\r\n"
                ).encode()
                smtp.sendmail("alice@alpha.test", ["bob@beta.test"], raw)
        assert f"{COUNT} message(s) in the queue" in pair.alpha.cli("queue", "list")

        def tokens() -> Counter[str]:
            found: Counter[str] = Counter()
            for m in pair.beta.messages("bob@beta.test"):
                match = re.search(rb"Subject: (crash-\d{4})", m)
                if match:
                    found[match.group(1).decode()] += 1
            return found

        def filed() -> int:
            # Cheap enough to poll often: the kill must come mid-way.
            db = pair.beta.dir / "data" / "posthouse.db"
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
                return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])

        pair.beta.start()
        wait_for(lambda: filed() >= 100, 60, "the first deliveries")
        pair.alpha.kill()
        before = len(tokens())
        assert before < COUNT, "all delivered before the kill: the test proved nothing"
        pair.alpha.start()
        wait_for(lambda: len(tokens()) == COUNT, 120, "every message")
        wait_for(lambda: "0 message(s)" in pair.alpha.cli("queue", "list"), 30, "an empty queue")
        found = tokens()
        assert set(found) == {f"crash-{n:04d}" for n in range(COUNT)}
        duplicates = sum(c - 1 for c in found.values())
        print(f"delivered before the kill: {before}; duplicates after restart: {duplicates}")
        # Only transactions in flight at the kill can repeat: on each connection the one
        # in progress and those written ahead of their replies (queue.scheduler.WINDOW,
        # RFC 3030 §4.2), plus those whose results were not yet written (a few hundred
        # at most).
        assert duplicates <= 400
    finally:
        pair.stop()
