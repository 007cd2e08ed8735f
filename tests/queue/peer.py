"""A scripted SMTP peer for delivery tests: a few dozen lines of asyncio written for
the tests alone (not our server), whose every answer the test chooses."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    """One transaction the peer took (250 after the final dot)."""

    mail_from: str
    mail_params: str
    rcpts: list[str]
    rcpt_params: list[str]
    data: bytes
    tls: bool
    auth: str | None
    connection: int


def _split(rcpts: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(addresses, their parameters)"""
    return [a for a, _ in rcpts], [p for _, p in rcpts]


@dataclass
class Peer:
    host: str = "127.0.0.1"
    port: int = 0
    greeting: str = "220 peer.test ESMTP"
    esmtp: bool = True
    extensions: list[str] = field(
        default_factory=lambda: ["PIPELINING", "SIZE 10000000", "8BITMIME", "SMTPUTF8", "DSN"]
    )
    tls: ssl.SSLContext | None = None  # offer STARTTLS with this context
    implicit_tls: bool = False  # TLS from the first byte (with `tls`), like port 465
    auth: tuple[str, str] | None = None  # offer AUTH PLAIN LOGIN for this user/password
    mail_reply: str = "250 2.1.0 OK"
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> reply line
    data_reply: str = "354 go ahead"
    final_reply: str = "250 2.0.0 queued"
    close_mid_data: bool = False  # hang up after the first lines of content
    max_transactions: int = 0  # hang up silently after this many (0: no limit)
    on_final: Callable[[Received], str | None] | None = None  # overrides final_reply
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    active: int = 0
    max_active: int = 0
    commands: list[str] = field(default_factory=list)
    # Final dots that arrived with the next command already behind them (RFC 2920 §3.1)
    sent_ahead: int = 0
    _server: asyncio.AbstractServer | None = None

    async def start(self) -> Peer:
        ssl_ctx = self.tls if self.implicit_tls else None
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=ssl_ctx)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _final(self, got: Received) -> str:
        reply = self.on_final(got) if self.on_final is not None else None
        reply = reply or self.final_reply
        if reply.startswith("2"):
            self.received.append(got)
        return reply

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        number = self.connections
        try:
            await self._session(reader, writer, number)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # the test is over and the loop is closing
        finally:
            self.active -= 1
            writer.close()

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
    ) -> None:
        def send(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        send(self.greeting)
        if not self.greeting.startswith("220"):
            await writer.drain()
            return
        tls = self.implicit_tls
        done = 0
        user: str | None = None
        mail: tuple[str, str] | None = None
        rcpts: list[tuple[str, str]] = []
        chunks = bytearray()
        while True:
            line = await reader.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            self.commands.append(text)
            verb = text.split(" ", 1)[0].upper()
            arg = text[len(verb) :].strip()
            if verb == "EHLO":
                if not self.esmtp:
                    send("502 5.5.1 no EHLO here")
                    continue
                ext = list(self.extensions)
                if self.tls is not None and not tls:
                    ext.append("STARTTLS")
                if self.auth is not None:
                    ext.append("AUTH PLAIN LOGIN")
                lines = ["peer.test hello", *ext]
                for i, item in enumerate(lines):
                    send(("250 " if i == len(lines) - 1 else "250-") + item)
            elif verb == "HELO":
                send("250 peer.test")
            elif verb == "STARTTLS" and self.tls is not None and not tls:
                send("220 2.0.0 go")
                await writer.drain()
                await writer.start_tls(self.tls)
                tls = True
            elif verb == "AUTH" and self.auth is not None:
                parts = arg.split()
                if parts[0].upper() == "PLAIN":
                    raw = base64.b64decode(parts[1]).split(b"\0")
                    given = (raw[1].decode(), raw[2].decode())
                else:
                    send("334 VXNlcm5hbWU6")
                    await writer.drain()
                    name = base64.b64decode(await reader.readline()).decode()
                    send("334 UGFzc3dvcmQ6")
                    await writer.drain()
                    given = (name, base64.b64decode(await reader.readline()).decode())
                if given == self.auth:
                    user = given[0]
                    send("235 2.7.0 ok")
                else:
                    send("535 5.7.8 bad credentials")
            elif verb == "MAIL":
                address, _, params = arg[5:].strip().partition(" ")
                mail = (address.strip("<>"), params)
                rcpts = []
                send(self.mail_reply)
            elif verb == "RCPT":
                address, _, params = arg[3:].strip().partition(" ")
                address = address.strip("<>")
                reply = self.rcpt_replies.get(address, "250 2.1.5 OK")
                if reply.startswith("2"):
                    rcpts.append((address, params))
                send(reply)
            elif verb == "DATA":
                if mail is None or not rcpts:
                    send("554 5.5.1 no valid recipients")
                    continue
                send(self.data_reply)
                if not self.data_reply.startswith("354"):
                    continue
                await writer.drain()
                content = bytearray()
                while True:
                    chunk = await reader.readline()
                    if not chunk:
                        return
                    if chunk == b".\r\n":
                        if reader._buffer:  # type: ignore[attr-defined]
                            self.sent_ahead += 1
                        break
                    content += chunk[1:] if chunk.startswith(b".") else chunk
                    if self.close_mid_data and len(content) > 10:
                        return
                send(
                    self._final(
                        Received(
                            mail[0], mail[1], *_split(rcpts), bytes(content), tls, user, number
                        )
                    )
                )
                mail, rcpts = None, []
                done += 1
                if self.max_transactions and done >= self.max_transactions:
                    await writer.drain()
                    return
            elif verb == "BDAT" and "CHUNKING" in self.extensions:
                # RFC 3030 §2: the chunk's octets follow at once, whatever the reply.
                size, _, last = arg.partition(" ")
                if self.close_mid_data:
                    await reader.read(min(int(size), 10))
                    return
                chunk = await reader.readexactly(int(size))
                if mail is None or not rcpts:
                    send("554 5.5.1 no valid recipients")
                else:
                    chunks += chunk
                    if not last:
                        send(f"250 2.0.0 {len(chunk)} octets")
                    else:
                        send(
                            self._final(
                                Received(
                                    mail[0],
                                    mail[1],
                                    *_split(rcpts),
                                    bytes(chunks),
                                    tls,
                                    user,
                                    number,
                                )
                            )
                        )
                        if reader._buffer:  # type: ignore[attr-defined]
                            self.sent_ahead += 1
                        mail, rcpts, chunks = None, [], bytearray()
                        done += 1
                        if self.max_transactions and done >= self.max_transactions:
                            await writer.drain()
                            return
            elif verb == "RSET":
                mail, rcpts, chunks = None, [], bytearray()
                send("250 2.0.0 reset")
            elif verb == "NOOP":
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                send("221 2.0.0 bye")
                await writer.drain()
                return
            else:
                send("502 5.5.2 unknown command")
            if reader._buffer:  # type: ignore[attr-defined]  # more pipelined input
                continue
            await writer.drain()
