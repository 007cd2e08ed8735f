"""A raw-socket IMAP client for byte-exact test scripts: send exact lines, read every
response up to the tagged one, literals included.

    c = RawImap(port)
    c.login("alice@example.test", "...")
    r = c.cmd("SELECT INBOX")
    assert r.status == "OK" and r.code == "READ-WRITE"
    assert "* 3 EXISTS" in r.untagged
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field

_LITERAL = re.compile(rb"~?\{(\d+)\+?\}\r\n$")
_TAGGED = re.compile(r"^(\S+) (OK|NO|BAD)(?: \[([^\]]*)\])? ?(.*)$", re.DOTALL)
_UNTAGGED_CODE = re.compile(r"^\* (?:OK|NO|BAD|BYE|PREAUTH) \[([^\]]*)\]")


@dataclass
class Reply:
    """The responses to one command: untagged lines (literals inlined, CRLF removed)
    and the tagged completion."""

    tagged: str
    untagged: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        m = _TAGGED.match(self.tagged)
        return m.group(2) if m else ""

    @property
    def code(self) -> str | None:
        m = _TAGGED.match(self.tagged)
        return m.group(3) if m else None

    @property
    def text(self) -> str:
        m = _TAGGED.match(self.tagged)
        return m.group(4) if m else ""

    def codes(self) -> list[str]:
        """Response codes of the untagged OK/NO/BAD/BYE lines."""
        return [m.group(1) for line in self.untagged if (m := _UNTAGGED_CODE.match(line))]

    def starting(self, prefix: str) -> list[str]:
        return [line for line in self.untagged if line.startswith(prefix)]

    def __repr__(self) -> str:
        return "\n".join([*self.untagged, self.tagged])


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


class RawImap:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        self.next_tag = 0
        self.greeting = decode(self.readline())

    # --- bytes ---------------------------------------------------------------------
    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"server closed the connection; unread: {self.buffer!r}")
        self.buffer += chunk

    def _read_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _read_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line + b"\r\n"

    def readline(self) -> bytes:
        """One response with its literals, without the final CRLF."""
        out = b""
        while True:
            line = self._read_line()
            m = _LITERAL.search(line)
            if m is None:
                return out + line[:-2]
            out += line + self._read_exact(int(m.group(1)))

    def response(self) -> str:
        return decode(self.readline())

    def closed(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the connection (unread data is dropped)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (TimeoutError, OSError) as e:
            return not isinstance(e, TimeoutError)

    # --- commands ------------------------------------------------------------------
    def tag(self) -> str:
        self.next_tag += 1
        return f"a{self.next_tag}"

    def read_until(self, tag: str) -> Reply:
        untagged: list[str] = []
        while True:
            line = self.response()
            if line.startswith(tag + " "):
                return Reply(line, untagged)
            untagged.append(line)

    def cmd(self, line: str | bytes, tag: str | None = None) -> Reply:
        """Send `tag line CRLF` (a line holding {n} literals is sent whole: use
        literal+ or `cmd_literal` for synchronising ones) and read to the tagged reply."""
        tag = tag or self.tag()
        raw = line.encode() if isinstance(line, str) else line
        self.send(tag.encode() + b" " + raw + b"\r\n")
        return self.read_until(tag)

    def cmd_literal(self, before: str, literal: bytes, after: str = "") -> Reply:
        """A command with one synchronising literal: waits for the "+" first."""
        tag = self.tag()
        self.send(f"{tag} {before}{{{len(literal)}}}\r\n")
        line = self.response()
        if not line.startswith("+"):
            return Reply(line) if line.startswith(tag) else self.read_until(tag)
        self.send(literal + after.encode() + b"\r\n")
        return self.read_until(tag)

    def login(self, user: str, password: str) -> Reply:
        reply = self.cmd(f'LOGIN "{user}" "{password}"')
        assert reply.status == "OK", reply
        return reply

    def append(self, mailbox: str, message: bytes, flags: str = "") -> Reply:
        flags = f"({flags}) " if flags else ""
        return self.cmd(f'APPEND "{mailbox}" {flags}{{{len(message)}+}}\r\n'.encode() + message)

    def idle_start(self) -> str:
        tag = self.tag()
        self.send(f"{tag} IDLE\r\n")
        line = self.response()
        assert line.startswith("+"), line
        return tag

    def idle_done(self, tag: str) -> Reply:
        self.send(b"DONE\r\n")
        return self.read_until(tag)

    def wait_for(self, prefix: str, timeout: float = 5.0) -> tuple[str, float]:
        """The next response starting with `prefix` and the seconds it took."""
        start = time.monotonic()
        self.sock.settimeout(timeout)
        try:
            while True:
                line = self.response()
                if line.startswith(prefix) or re.match(prefix, line):
                    return line, time.monotonic() - start
        finally:
            self.sock.settimeout(10.0)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def message(subject: str = "test", body: str = "hello", **headers: str) -> bytes:
    extra = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
    return (
        f"From: Sender <sender@remote.test>\r\nTo: alice@example.test\r\n"
        f"Subject: {subject}\r\n{extra}\r\n{body}\r\n"
    ).encode()
