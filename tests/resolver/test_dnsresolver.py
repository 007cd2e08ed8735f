"""DnsResolver against a tiny DNS server on loopback (never real DNS)."""

from __future__ import annotations

import asyncio
import socket

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from posthouse.resolver import DnsResolver, NXDomain, TempFail

ZONE = {
    ("beta.test.", "MX"): ["10 mx.beta.test.", "20 mx2.beta.test."],
    ("nomail.test.", "MX"): ["0 ."],
    ("beta.test.", "A"): ["127.0.0.3"],
    ("beta.test.", "TXT"): ['"v=spf1 " "-all"'],
    ("3.0.0.127.in-addr.arpa.", "PTR"): ["mx.beta.test."],
}
EXISTING = {name for name, _ in ZONE}


class _Server(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        q = query.question[0]
        name = q.name.to_text().lower()
        rtype = dns.rdatatype.to_text(q.rdtype)
        if name == "servfail.test.":
            reply = dns.message.make_response(query)
            reply.set_rcode(dns.rcode.SERVFAIL)
        elif name == "silent.test.":
            return
        else:
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.RA
            if (name, rtype) in ZONE:
                reply.answer.append(
                    dns.rrset.from_text_list(name, 300, "IN", rtype, ZONE[(name, rtype)])
                )
            elif name not in EXISTING:
                reply.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(reply.to_wire(), addr)  # type: ignore[attr-defined]


@pytest.fixture
async def resolver() -> DnsResolver:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    transport, _ = await loop.create_datagram_endpoint(_Server, sock=sock)
    r = DnsResolver(timeout=1.0, nameservers=["127.0.0.1"])
    r._resolver.nameserver_ports = {"127.0.0.1": port}
    r._resolver.port = port
    yield r  # type: ignore[misc]
    transport.close()


async def test_answers(resolver: DnsResolver) -> None:
    assert await resolver.mx("beta.test") == [(10, "mx.beta.test"), (20, "mx2.beta.test")]
    assert await resolver.mx("nomail.test") == [(0, ".")]
    assert await resolver.a("beta.test") == ["127.0.0.3"]
    assert await resolver.txt("beta.test") == [b"v=spf1 -all"]
    assert await resolver.ptr("127.0.0.3") == ["mx.beta.test"]


async def test_nodata_nxdomain_tempfail(resolver: DnsResolver) -> None:
    assert await resolver.aaaa("beta.test") == []
    with pytest.raises(NXDomain):
        await resolver.a("gamma.test")
    with pytest.raises(TempFail):
        await resolver.a("servfail.test")
    with pytest.raises(TempFail):
        await resolver.a("silent.test")


@pytest.mark.parametrize("name", ["a..b.test", "x" * 64 + ".test", "\udcff.test", "a." * 130])
async def test_names_no_query_can_carry(resolver: DnsResolver, name: str) -> None:
    # like StaticResolver: a name that cannot even be asked for does not exist
    with pytest.raises(NXDomain):
        await resolver.txt(name)
