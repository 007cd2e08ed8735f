"""With `workers = 2` exactly one process delivers (the holder of data/queue.lock);
when it dies another takes over."""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections import Counter
from pathlib import Path

from tests.integration.relay_pair import make_pair, wait_for


def _delivering_pids(log: str) -> list[int]:
    return [int(p) for p in re.findall(r"this process \((\d+)\) delivers outbound mail", log)]


def test_one_delivering_worker_and_takeover(tmp_path: Path) -> None:
    pair = make_pair(tmp_path, dkim=False)
    pair.alpha.edit(lambda data: data.__setitem__("workers", 2))
    try:
        pair.beta.start()
        pair.alpha.start()
        run = uuid.uuid4().hex[:8]

        def send(tag: str, count: int) -> None:
            with pair.alpha.submission("alice@alpha.test") as smtp:
                for n in range(count):
                    raw = f"From: <alice@alpha.test>\r\nSubject: {run}-{tag}-{n}\r\n\r\nx\r\n"
                    smtp.sendmail("alice@alpha.test", ["bob@beta.test"], raw.encode())

        def arrived(tag: str) -> Counter[str]:
            pattern = re.compile(rf"Subject: ({run}-{tag}-\d+)".encode())
            return Counter(
                m.group(1).decode()
                for raw in pair.beta.messages("bob@beta.test")
                if (m := pattern.search(raw))
            )

        send("a", 40)
        wait_for(lambda: len(arrived("a")) == 40, 60, "the first batch")
        assert set(arrived("a").values()) == {1}  # each exactly once
        [pid] = _delivering_pids(pair.alpha.log())
        os.kill(pid, signal.SIGKILL)
        send("b", 20)
        wait_for(lambda: len(arrived("b")) == 20, 60, "the batch after the kill")
        pids = _delivering_pids(pair.alpha.log())
        assert len(pids) == 2 and pids[1] != pid
    finally:
        pair.stop()
