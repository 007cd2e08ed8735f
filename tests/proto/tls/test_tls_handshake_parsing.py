"""Hand-built hellos: GREASE, unknown values, SSL 2.0 format, fragmentation, damage."""

from __future__ import annotations

import os

import tls_builder as b

from posthouse.proto.tls import (
    Alert,
    ClientHello,
    HandshakeMessage,
    Heartbeat,
    Problem,
    ServerHello,
    ServerKeyExchange,
    TLSObserver,
)
from posthouse.proto.tls.handshake import HRR_RANDOM

GREASE = 0x3A3A


def hello_with_grease() -> bytes:
    return b.client_hello(
        [GREASE, 0x1301, 0xC02F, 0x00FF, 0x7777],
        [
            b.ext(0x0A0A, b""),
            b.sni("imap.example.org"),
            b.alpn("imap", "pop3"),
            b.supported_versions(0x5A5A, 0x0304, 0x0303),
            b.supported_groups(0x2A2A, 29, 23, 0x11EC, 0x4321),
            b.signature_algorithms(0x0804, 0x0403, 0x0202, 0xEEEE),
            b.key_share(0x2A2A, 29),
            b.ext(0x1234, b"whatever this is"),
            b.ext(21, b"\x00" * 40),  # padding
        ],
    )


def test_grease_and_unknown_values_are_named_not_fatal() -> None:
    obs = TLSObserver()
    events = obs.feed(True, b.record(22, hello_with_grease(), version=0x0301))
    (hello,) = events
    assert isinstance(hello, ClientHello)
    names = [s.name for s in hello.cipher_suites]
    assert names == [
        "GREASE (0x3a3a)",
        "TLS_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        "unknown (0x7777)",
    ]
    assert hello.cipher_suites[0].grease and not hello.cipher_suites[4].known
    assert hello.cipher_suites[3].signalling
    assert [e.name for e in hello.extensions][:3] == [
        "GREASE (0x0a0a)",
        "server_name",
        "application_layer_protocol_negotiation",
    ]
    assert hello.extensions[-2].name == "unknown (0x1234)"
    assert hello.sni == "imap.example.org" and obs.sni == "imap.example.org"
    assert hello.alpn == ("imap", "pop3")
    assert [v.name for v in hello.supported_versions] == ["GREASE (0x5a5a)", "TLS 1.3", "TLS 1.2"]
    assert hello.highest_version.name == "TLS 1.3"
    assert [g.name for g in hello.supported_groups] == [
        "GREASE (0x2a2a)",
        "x25519",
        "secp256r1",
        "X25519MLKEM768",
        "unknown (0x4321)",
    ]
    assert [s.name for s in hello.signature_algorithms] == [
        "rsa_pss_rsae_sha256",
        "ecdsa_secp256r1_sha256",
        "dsa_sha1",
        "unknown (0xeeee)",
    ]
    assert [g.name for g in hello.key_share_groups] == ["GREASE (0x2a2a)", "x25519"]
    assert obs.version is None and obs.cipher_suite is None


def test_hello_without_extensions_block() -> None:
    body = b.client_hello([0x0005, 0x000A], extensions=None, version=0x0300)  # type: ignore[arg-type]
    (hello,) = TLSObserver().feed(True, b.record(22, body, version=0x0300))
    assert isinstance(hello, ClientHello)
    assert hello.legacy_version.name == "SSL 3.0" and hello.extensions == ()
    assert hello.highest_version.name == "SSL 3.0"
    assert hello.sni is None


def test_server_hello_spelled_out_and_downgrade_sentinel() -> None:
    obs = TLSObserver()
    obs.feed(True, b.record(22, b.client_hello([0xC030])))
    rnd = os.urandom(24) + b"DOWNGRD\x01"
    events = obs.feed(False, b.record(22, b.server_hello(0xC030, [b.alpn("smtp")], random=rnd)))
    (server,) = events
    assert isinstance(server, ServerHello)
    assert server.version.name == "TLS 1.2"
    assert server.cipher_suite.description == "ECDHE / RSA / AES-256-GCM / SHA-384"
    assert server.downgrade_sentinel == "TLS 1.2"
    assert obs.alpn == "smtp" and obs.version == "TLS 1.2"


def test_sslv2_format_client_hello() -> None:
    challenge = bytes(range(16))
    data = b.sslv2_client_hello([0x010080, 0x000039, 0x00002F, 0x0700C0, 0x00FF], challenge)
    obs = TLSObserver()
    events = obs.feed(True, data[:7]) + obs.feed(True, data[7:])
    (hello,) = events
    assert isinstance(hello, ClientHello) and hello.sslv2_format
    assert hello.legacy_version.name == "TLS 1.0"
    assert [s.name for s in hello.cipher_suites] == [
        "SSL2_RC4_128_WITH_MD5",
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "SSL2_DES_192_EDE3_CBC_WITH_MD5",
        "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    ]
    assert hello.random == b"\x00" * 16 + challenge  # RFC 5246 §E.2
    # the server answers in TLS records
    (server,) = obs.feed(False, b.record(22, b.server_hello(0x002F, version=0x0301), 0x0301))
    assert isinstance(server, ServerHello) and server.version.name == "TLS 1.0"


def test_sslv2_server_hello_stops_cleanly() -> None:
    obs = TLSObserver()
    obs.feed(True, b.sslv2_client_hello([0x010080], b"c" * 16, version=0x0002))
    cert, specs, conn_id = b"C" * 20, bytes.fromhex("0700c0010080"), b"i" * 16
    body = b"\x04\x00\x01\x00\x02" + b.u16(len(cert)) + b.u16(len(specs)) + b.u16(16)
    body += cert + specs + conn_id
    events = obs.feed(False, b.u16(0x8000 | len(body)) + body)
    assert isinstance(events[0], ServerHello) and events[0].version.name == "SSL 2.0"
    assert events[0].cipher_suite.name == "SSL2_DES_192_EDE3_CBC_WITH_MD5"
    assert obs.version == "SSL 2.0"
    assert isinstance(events[1], Problem)
    assert obs.feed(False, os.urandom(100)) == [] and obs.feed(True, b"more") == []


def test_handshake_message_split_over_records_and_segments() -> None:
    msg = hello_with_grease()
    pieces = [msg[:1], msg[1:3], msg[3:100], msg[100:]]
    stream = b"".join(b.record(22, p) for p in pieces)
    obs = TLSObserver()
    events = []
    for i in range(0, len(stream), 7):
        events += obs.feed(True, stream[i : i + 7])
    (hello,) = events
    assert isinstance(hello, ClientHello) and hello.offset == 0
    assert hello.sni == "imap.example.org"


def test_several_messages_in_one_record_get_their_record_offset() -> None:
    obs = TLSObserver()
    obs.feed(True, b.record(22, b.client_hello([0x002F])))
    first = b.record(22, b.server_hello(0x002F))
    flight = b.handshake(14, b"") + b.handshake(14, b"")  # two ServerHelloDone
    split = b.handshake(11, b.vec24(b""))  # an empty Certificate, split over two records
    second = b.record(22, flight + split[:2])
    third = b.record(22, split[2:])
    events = obs.feed(False, first + second + third)
    assert [type(e).__name__ for e in events] == [
        "ServerHello",
        "HandshakeMessage",
        "HandshakeMessage",
        "Certificate",
    ]
    assert events[1].offset == events[2].offset == len(first)
    assert events[3].offset == len(first)  # where the Certificate began
    assert isinstance(events[1], HandshakeMessage)
    assert events[1].msg_type.name == "server_hello_done"


def test_plaintext_alerts_and_heartbeat() -> None:
    obs = TLSObserver()
    events = obs.feed(False, b.record(21, b"\x02\x28\x01\x00") + b.record(24, b"\x01\x00\x10"))
    assert [
        (a.level.name, a.description.name)
        for a in events
        if isinstance(a, Alert) and a.level and a.description
    ] == [
        ("fatal", "handshake_failure"),
        ("warning", "close_notify"),
    ]
    assert not any(a.encrypted for a in events if isinstance(a, Alert))
    assert isinstance(events[2], Heartbeat)


def test_record_versions_are_recognised() -> None:
    for version, name in ((0x0300, "SSL 3.0"), (0x0301, "TLS 1.0"), (0x0302, "TLS 1.1")):
        obs = TLSObserver()
        obs.feed(True, b.record(22, b.client_hello([0x002F], version=version), version))
        events = obs.feed(False, b.record(22, b.server_hello(0x002F, version=version), version))
        assert obs.version == name, events


def test_hello_retry_request() -> None:
    obs = TLSObserver()
    ch = b.client_hello(
        [0x1301], [b.supported_versions(0x0304), b.key_share(29), b.supported_groups(29, 23)]
    )
    events = obs.feed(True, b.record(22, ch, 0x0301))
    hrr = b.server_hello(0x1301, [b.selected_version(0x0304), b.ext(51, b.u16(23))], hrr=True)
    events += obs.feed(False, b.record(22, hrr))
    assert obs.version == "TLS 1.3" and obs.server_hello is None
    ch2 = b.client_hello([0x1301], [b.supported_versions(0x0304), b.key_share(23)])
    events += obs.feed(True, b.record(20, b"\x01") + b.record(22, ch2))
    sh = b.server_hello(0x1301, [b.selected_version(0x0304), b.server_key_share(23)])
    events += obs.feed(False, b.record(22, sh) + b.record(23, os.urandom(60)))
    servers = [e for e in events if isinstance(e, ServerHello)]
    assert [s.hello_retry_request for s in servers] == [True, False]
    assert servers[0].random == HRR_RANDOM
    assert servers[0].selected_group and servers[0].selected_group.name == "secp256r1"
    assert len([e for e in events if isinstance(e, ClientHello)]) == 2
    assert obs.cipher_suite and obs.cipher_suite.name == "TLS_AES_128_GCM_SHA256"
    assert type(events[-1]).__name__ == "HandshakeEncrypted"
    assert not [e for e in events if isinstance(e, Problem)]


def test_malformed_hello_is_a_problem() -> None:
    bad = b.handshake(1, b"\x03\x03" + b"\x00" * 10)  # random cut short
    events = TLSObserver().feed(True, b.record(22, bad))
    (problem,) = events
    assert isinstance(problem, Problem) and "malformed client_hello" in problem.message


def test_bad_extension_is_a_problem() -> None:
    hello = b.client_hello([0x1301], [b.ext(43, b"\x05\x03\x04")])  # odd-length list
    (problem,) = TLSObserver().feed(True, b.record(22, hello))
    assert isinstance(problem, Problem) and "supported_versions" in problem.message


def test_not_tls_at_all() -> None:
    obs = TLSObserver()
    events = obs.feed(True, b"EHLO client.example\r\nMAIL FROM:<a@b.example>\r\n")
    assert len(events) == 1 and isinstance(events[0], Problem)
    assert "not a TLS record" in events[0].message
    assert obs.feed(True, b"RCPT TO:<c@d.example>\r\n") == []


def test_truncated_stream_is_reported_at_finish() -> None:
    data = b.record(22, hello_with_grease())
    obs = TLSObserver()
    assert obs.feed(True, data[:-10]) == []
    (problem,) = obs.finish()
    assert isinstance(problem, Problem) and "ends inside a record" in problem.message


def test_oversized_record_then_resynchronisation() -> None:
    obs = TLSObserver()
    obs.feed(True, b.record(22, b.client_hello([0x002F])))
    bogus = b"\x17\x03\x03\xff\xff" + os.urandom(30)
    good = b.record(21, b"\x01\x00") + b.record(21, b"\x01\x00")
    events = obs.feed(True, bogus + good)
    problems = [e for e in events if isinstance(e, Problem)]
    assert "malformed record header" in problems[0].message
    assert "resynchronised" in problems[1].message
    alerts = [e for e in events if isinstance(e, Alert)]
    assert alerts and alerts[-1].description and alerts[-1].description.name == "close_notify"


def test_server_key_exchange_dhe_and_ecdhe_psk() -> None:
    prime = (1 << 2047) | 1  # only its size matters here
    dh = b.vec16(prime.to_bytes(256, "big")) + b.vec16(b"\x02") + b.vec16(b"\x05" * 256)
    ske = b.handshake(12, dh + b.u16(0x0804) + b.vec16(b"s" * 256))
    obs = TLSObserver()
    obs.feed(True, b.record(22, b.client_hello([0x009E])))
    events = obs.feed(False, b.record(22, b.server_hello(0x009E) + ske))
    kx = events[-1]
    assert isinstance(kx, ServerKeyExchange)
    assert (kx.key_exchange, kx.dh_prime_bits, kx.named_curve) == ("DHE", 2048, None)
    assert kx.signature_algorithm is not None
    assert kx.signature_algorithm.name == "rsa_pss_rsae_sha256"
    # RFC 5489 §2: ECDHE_PSK puts the identity hint first and signs nothing
    ske = b.handshake(12, b.vec16(b"hint") + b"\x03" + b.u16(24) + b.vec8(b"\x04" * 97))
    obs = TLSObserver()
    obs.feed(True, b.record(22, b.client_hello([0xC035], version=0x0301), 0x0301))
    events = obs.feed(False, b.record(22, b.server_hello(0xC035, version=0x0301) + ske, 0x0301))
    kx = events[-1]
    assert isinstance(kx, ServerKeyExchange)
    assert kx.named_curve is not None and kx.named_curve.name == "secp384r1"
    assert kx.signature_algorithm is None


def test_draft_tls13_versions() -> None:
    hello = b.client_hello([0x1301], [b.supported_versions(0x7F17, 0x0303)])
    (event,) = TLSObserver().feed(True, b.record(22, hello))
    assert isinstance(event, ClientHello)
    assert event.highest_version.name == "TLS 1.3 (draft 23)"
    obs = TLSObserver()
    obs.feed(True, b.record(22, hello))
    obs.feed(False, b.record(22, b.server_hello(0x1301, [b.selected_version(0x7F17)])))
    assert obs.version == "TLS 1.3 (draft 23)" and obs.tls13
