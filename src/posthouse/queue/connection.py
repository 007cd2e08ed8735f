"""One outbound SMTP connection: the sans-IO client core driven over an asyncio stream.

Only I/O and waiting live here; what to send and what replies mean is decided by
dial.py and transaction.py.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from posthouse.proto.smtp.client import ClientConnection
from posthouse.proto.smtp.ehlo import parse_ehlo
from posthouse.proto.smtp.events import NEED_DATA, Command, ConnectionClosed, Hello, Quit, StartTLS
from posthouse.proto.smtp.reply import RemoteProtocolError, Reply

READ_SIZE = 65536


class ConnectionLost(Exception):
    """The peer closed the connection, broke the protocol or went silent."""


@dataclass
class OutboundConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    host: str  # the name dialled (or the address), for DSNs and logs
    address: str
    command_timeout: float
    core: ClientConnection = field(default_factory=ClientConnection)
    extensions: dict[str, str] = field(default_factory=dict)  # from the last EHLO
    esmtp: bool = False
    tls: bool = False
    transactions: int = 0  # completed on this connection

    @classmethod
    async def open(
        cls,
        address: str,
        port: int,
        *,
        host: str,
        connect_timeout: float,
        command_timeout: float,
        source_address: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> OutboundConnection:
        """Connect (with implicit TLS when `tls` is given); OSError or TimeoutError."""
        local = (source_address, 0) if source_address else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                address,
                port,
                local_addr=local,
                ssl=tls,
                server_hostname=(host if tls is not None and tls.check_hostname else None),
                limit=READ_SIZE * 4,
            ),
            connect_timeout,
        )
        return cls(reader, writer, host, address, command_timeout, tls=tls is not None)

    async def read_reply(self, timeout: float | None = None) -> Reply:
        """The next reply; ConnectionLost when the peer closes, breaks the protocol
        or says nothing for `timeout` seconds."""
        while True:
            try:
                event = self.core.next_event()
            except RemoteProtocolError as e:
                raise ConnectionLost(f"protocol error from {self.host}: {e}") from None
            if isinstance(event, Reply):
                return event
            if isinstance(event, ConnectionClosed):
                raise ConnectionLost(f"{self.host} closed the connection")
            assert event is NEED_DATA
            try:
                data = await asyncio.wait_for(
                    self.reader.read(READ_SIZE), timeout or self.command_timeout
                )
            except TimeoutError:
                raise ConnectionLost(f"timeout waiting for {self.host}") from None
            except (OSError, ssl.SSLError) as e:
                raise ConnectionLost(f"reading from {self.host}: {e}") from None
            self.core.receive_data(data)

    def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise ConnectionLost(f"connection to {self.host} is closed")
        self.writer.write(data)

    async def drain(self) -> None:
        try:
            await asyncio.wait_for(self.writer.drain(), self.command_timeout)
        except (OSError, ssl.SSLError, TimeoutError) as e:
            raise ConnectionLost(f"writing to {self.host}: {e or 'timeout'}") from None

    async def command(self, command: Command, timeout: float | None = None) -> Reply:
        self.write(self.core.send(command))
        await self.drain()
        return await self.read_reply(timeout)

    async def hello(self, name: str) -> Reply:
        """EHLO, and HELO when the server does not know EHLO (RFC 5321 §3.2)."""
        reply = await self.command(Hello("EHLO", name))
        if reply.code == 250:
            self.extensions = parse_ehlo(reply)
            self.esmtp = True
            return reply
        if reply.code >= 500:
            reply = await self.command(Hello("HELO", name))
        self.extensions = {}
        self.esmtp = False
        return reply

    def offers(self, keyword: str) -> bool:
        return keyword in self.extensions

    async def starttls(self, context: ssl.SSLContext, server_hostname: str | None) -> Reply:
        """STARTTLS and the handshake (RFC 3207 §4); a non-220 reply is returned, a
        failed handshake raises ssl.SSLError or ConnectionLost."""
        reply = await self.command(StartTLS())
        if reply.code != 220:
            return reply
        try:
            await asyncio.wait_for(
                self.writer.start_tls(context, server_hostname=server_hostname),
                self.command_timeout,
            )
        except TimeoutError:
            raise ConnectionLost(f"TLS handshake with {self.host} timed out") from None
        except OSError as e:
            raise ConnectionLost(f"TLS handshake with {self.host}: {e}") from None
        self.core.start_tls_done()
        self.tls = True
        # RFC 3207 §4.2: forget what the server said before; EHLO again.
        self.extensions = {}
        return reply

    def tls_info(self) -> dict[str, str]:
        obj = self.writer.get_extra_info("ssl_object")
        if obj is None:
            return {}
        cipher = obj.cipher()
        return {"version": obj.version() or "", "cipher": cipher[0] if cipher else ""}

    async def close(self, *, quit: bool = True) -> None:
        """QUIT politely when asked and possible, then close; never raises."""
        try:
            if quit and not self.writer.is_closing():
                self.write(self.core.send(Quit()))
                await asyncio.wait_for(self.writer.drain(), 5)
                await asyncio.wait_for(self.read_reply(5), 5)
        except (ConnectionLost, OSError, TimeoutError, ssl.SSLError):
            pass
        finally:
            self.writer.close()
            try:
                await asyncio.wait_for(self.writer.wait_closed(), 5)
            except (OSError, TimeoutError, ssl.SSLError):
                pass
