"""Pipelined commands (RFC 9051 §5.5): answered in order, each tagged reply after its
own untagged data; what mbsync does with about 8 commands and LITERAL+ APPENDs in
flight."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.imap.conftest import fill, unique
from tests.integration.imap.rawimap import RawImap, message


def test_many_commands_in_one_write(raw: Callable[..., RawImap]) -> None:
    c = raw()
    name = fill(c, 3)
    batch = [
        "p1 NOOP",
        "p2 FETCH 1 (UID)",
        "p3 UID FETCH 2 (FLAGS)",
        "p4 STORE 3 +FLAGS (\\Flagged)",
        "p5 SEARCH FLAGGED",
        f"p6 STATUS {name} (MESSAGES)",
        "p7 UID SEARCH ALL",
        "p8 NOOP",
    ]
    c.send("".join(line + "\r\n" for line in batch))
    replies = [c.read_until(f"p{i}") for i in range(1, 9)]
    assert all(r.status == "OK" for r in replies), replies
    assert replies[1].untagged == ["* 1 FETCH (UID 1)"]
    assert replies[2].untagged == ["* 2 FETCH (UID 2 FLAGS ())"]
    assert replies[3].untagged == ["* 3 FETCH (FLAGS (\\Flagged))"]
    assert replies[4].untagged == ["* SEARCH 3"]
    assert replies[5].untagged == [f"* STATUS {name} (MESSAGES 3)"]
    assert replies[6].untagged == ["* SEARCH 1 2 3"]


def test_pipelined_literal_plus_appends(raw: Callable[..., RawImap]) -> None:
    """RFC 7888 §3: {n+} needs no round trip, so appends can be pipelined."""
    c = raw()
    name = unique()
    c.cmd(f"CREATE {name}")
    data = b""
    for i in range(8):
        m = message(f"piped {i}")
        data += f"q{i} APPEND {name} {{{len(m)}+}}\r\n".encode() + m + b"\r\n"
    c.send(data)
    uids = []
    for i in range(8):
        r = c.read_until(f"q{i}")
        assert r.status == "OK", r
        found = re.fullmatch(r"APPENDUID \d+ (\d+)", r.code or "")
        assert found is not None, r
        uids.append(int(found.group(1)))
    assert uids == list(range(1, 9))


def test_error_in_the_middle_does_not_derail(raw: Callable[..., RawImap]) -> None:
    c = raw()
    fill(c, 1)
    c.send("r1 NOOP\r\nr2 FETCH 9 FLAGS\r\nr3 BOGUS\r\nr4 FETCH 1 (UID)\r\n")
    assert c.read_until("r1").status == "OK"
    assert c.read_until("r2").status == "BAD"
    assert c.read_until("r3").status == "BAD"
    r = c.read_until("r4")
    assert (r.status, r.untagged) == ("OK", ["* 1 FETCH (UID 1)"])


def test_byte_at_a_time(raw: Callable[..., RawImap]) -> None:
    """A command split anywhere (here into single octets) is the same command."""
    c = raw()
    fill(c, 1)
    body = message("slow")
    for byte in b"s1 FETCH 1 (UID FLAGS)\r\n":
        c.send(bytes([byte]))
    assert c.read_until("s1").untagged == ["* 1 FETCH (UID 1 FLAGS ())"]
    data = f"s2 APPEND INBOX {{{len(body)}+}}\r\n".encode() + body + b"\r\n"
    for i in range(0, len(data), 3):
        c.send(data[i : i + 3])
    assert c.read_until("s2").status == "OK"
