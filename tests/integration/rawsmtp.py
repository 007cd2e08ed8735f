"""A raw socket that speaks SMTP the way a person in telnet does: line by line."""

from __future__ import annotations

import socket
import ssl
import time


class RawSMTP:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock: socket.socket | ssl.SSLSocket = socket.create_connection(
            (host, port), timeout=timeout
        )
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self, text: str) -> None:
        self.send(text.encode() + b"\r\n")

    def reply(self) -> tuple[int, list[str]]:
        """Read one (possibly multi-line) reply."""
        lines: list[str] = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed after {lines!r} / {self.buf!r}")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\n", 1)
            text = raw.rstrip(b"\r").decode()
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return int(text[:3]), lines

    def cmd(self, text: str) -> tuple[int, list[str]]:
        self.line(text)
        return self.reply()

    def closed(self, wait: float = 5.0) -> bool:
        """True when the server has closed the connection (reads EOF)."""
        deadline = time.monotonic() + wait
        self.sock.settimeout(wait)
        try:
            while time.monotonic() < deadline:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionError, OSError):
            return True
        return False

    def starttls(self) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        assert isinstance(self.sock, socket.socket)
        self.sock = ctx.wrap_socket(self.sock)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
