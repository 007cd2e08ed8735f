"""Real TLS 1.2 and 1.3 sessions from Python's ssl, dissected and decrypted.

Each session's two byte streams are fed to a TLSObserver interleaved in random splits;
the handshake fields must match what OpenSSL negotiated and the decrypted application
data must equal what was sent, byte for byte and in order.
"""

from __future__ import annotations

import random
import ssl
from functools import cache

import pytest
from tls_traffic import HOSTNAME, Session, make_session, make_session_with_tls13_suite

from posthouse.proto.tls import (
    Alert,
    ApplicationData,
    Certificate,
    ChangeCipherSpec,
    ClientHello,
    EncryptedExtensions,
    EncryptedRecord,
    Finished,
    HandshakeEncrypted,
    HandshakeMessage,
    KeyLog,
    Problem,
    ServerHello,
    ServerKeyExchange,
    TLSEvent,
    TLSObserver,
)

TLS12 = {
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305": "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "AES128-CCM": "TLS_RSA_WITH_AES_128_CCM",
    "AES256-CCM8": "TLS_RSA_WITH_AES_256_CCM_8",
}
TLS13 = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
)


@cache
def tls12_session(openssl_name: str) -> Session:
    return make_session(
        max_version=ssl.TLSVersion.TLSv1_2, ciphers=openssl_name, alpn=["smtp", "imap"]
    )


@cache
def tls13_session(suite: str) -> Session:
    return make_session_with_tls13_suite(suite)


def feed_interleaved(
    observer: TLSObserver, session: Session, seed: int, max_piece: int = 1500
) -> list[TLSEvent]:
    """Feed both streams in random pieces, switching direction at random; one side may
    run ahead of the other, which the observer must absorb by holding records back."""
    rng = random.Random(seed)
    streams = {True: session.client_stream, False: session.server_stream}
    pos = {True: 0, False: 0}
    events: list[TLSEvent] = []
    while pos[True] < len(streams[True]) or pos[False] < len(streams[False]):
        side = rng.choice([s for s in (True, False) if pos[s] < len(streams[s])])
        n = rng.randint(1, max_piece)
        events += observer.feed(side, streams[side][pos[side] : pos[side] + n])
        pos[side] += n
    return events + observer.finish()


def feed_in_order(
    observer: TLSObserver, session: Session, seed: int, max_piece: int = 1500
) -> list[TLSEvent]:
    """Feed each flight in the order the peers sent them (as a capture has them), each
    cut into random pieces."""
    rng = random.Random(seed)
    events: list[TLSEvent] = []
    for from_client, data in session.flights:
        pos = 0
        while pos < len(data):
            n = rng.randint(1, max_piece)
            events += observer.feed(from_client, data[pos : pos + n])
            pos += n
    return events + observer.finish()


def plaintext(events: list[TLSEvent], from_client: bool) -> bytes:
    return b"".join(
        e.plaintext or b""
        for e in events
        if isinstance(e, ApplicationData) and e.from_client == from_client
    )


def only(events: list[TLSEvent], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


@pytest.mark.parametrize("openssl_name", sorted(TLS12))
@pytest.mark.parametrize("in_order", [True, False], ids=["in-order", "interleaved"])
def test_tls12_handshake_and_decryption(openssl_name: str, in_order: bool) -> None:
    session = tls12_session(openssl_name)
    observer = TLSObserver(KeyLog.parse(session.keylog))
    feed = feed_in_order if in_order else feed_interleaved
    events = feed(observer, session, 1)
    assert not only(events, Problem)
    hello = only(events, ClientHello)[0]
    assert hello.sni == HOSTNAME
    assert hello.alpn == ("smtp", "imap")
    assert len(hello.random) == 32
    assert any(s.name == TLS12[openssl_name] for s in hello.cipher_suites)
    server = only(events, ServerHello)[0]
    assert server.version.name == "TLS 1.2"
    assert server.cipher_suite.name == TLS12[openssl_name]
    assert server.alpn == "smtp"
    assert observer.version == "TLS 1.2"
    assert observer.cipher_suite is not None
    assert observer.cipher_suite.name == TLS12[openssl_name]
    assert observer.sni == HOSTNAME and observer.alpn == "smtp"
    assert observer.decrypting
    (cert,) = only(events, Certificate)
    assert not cert.decrypted
    leaf = cert.certificates[0]
    assert leaf.error is None
    assert HOSTNAME in leaf.subject_alt_names and "mx.example.test" in leaf.subject_alt_names
    assert leaf.issuer is not None and "posthouse test CA" in leaf.issuer
    assert leaf.not_before is not None and leaf.not_after is not None
    assert leaf.not_before < leaf.not_after
    assert leaf.public_key == "RSA 2048"
    if server.cipher_suite.key_exchange == "RSA":  # RFC 5246 §7.4.3: no ServerKeyExchange
        assert not only(events, ServerKeyExchange)
    else:
        (ske,) = only(events, ServerKeyExchange)
        assert ske.key_exchange == "ECDHE"
        assert ske.named_curve is not None and ske.named_curve.known
        assert ske.signature_algorithm is not None and ske.signature_algorithm.known
    kinds = [e.msg_type.name for e in only(events, HandshakeMessage)]
    assert "client_key_exchange" in kinds and "server_hello_done" in kinds
    assert len(only(events, ChangeCipherSpec)) == 2
    finished = only(events, Finished)
    assert {f.from_client for f in finished} == {True, False}
    assert all(f.decrypted and len(f.verify_data) == 12 for f in finished)
    assert plaintext(events, True) == session.client_data
    assert plaintext(events, False) == session.server_data
    alerts = only(events, Alert)
    assert {a.description.name for a in alerts if a.description} == {"close_notify"}
    assert all(a.encrypted and a.decrypted for a in alerts)


@pytest.mark.parametrize("suite_name", TLS13)
@pytest.mark.parametrize("in_order", [True, False], ids=["in-order", "interleaved"])
def test_tls13_handshake_and_decryption(suite_name: str, in_order: bool) -> None:
    session = tls13_session(suite_name)
    assert session.cipher == suite_name
    observer = TLSObserver(KeyLog.parse(session.keylog))
    feed = feed_in_order if in_order else feed_interleaved
    events = feed(observer, session, 3, max_piece=700)
    assert not only(events, Problem)
    hello = only(events, ClientHello)[0]
    assert hello.supported_versions[0].name == "TLS 1.3"
    assert hello.highest_version.name == "TLS 1.3"
    assert hello.key_share_groups and hello.signature_algorithms and hello.supported_groups
    server = only(events, ServerHello)[0]
    assert server.legacy_version.name == "TLS 1.2" and server.version.name == "TLS 1.3"
    assert not server.hello_retry_request
    assert server.selected_group in hello.key_share_groups
    assert server.cipher_suite.name == suite_name
    assert server.cipher_suite.key_exchange == "(negotiated separately)"
    assert observer.version == "TLS 1.3" and observer.decrypting
    assert len(only(events, EncryptedExtensions)) == 1
    (cert,) = only(events, Certificate)
    assert cert.decrypted and not cert.from_client
    assert HOSTNAME in cert.certificates[0].subject_alt_names
    assert len(only(events, Finished)) == 2
    assert not only(events, EncryptedRecord)
    assert plaintext(events, True) == session.client_data
    assert plaintext(events, False) == session.server_data


# OpenSSL's SSL_OP_NO_ENCRYPT_THEN_MAC (Python 3.11 has no name for it): without it,
# CBC suites use RFC 7366 encrypt-then-MAC; with it, the classic MAC-then-encrypt.
NO_ETM = 1 << 19
V = ssl.TLSVersion
CBC_CASES = [
    (V.TLSv1, "ECDHE-RSA-AES128-SHA", 0, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (V.TLSv1, "AES256-SHA", NO_ETM, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (V.TLSv1_1, "AES256-SHA", 0, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (V.TLSv1_1, "CAMELLIA128-SHA", NO_ETM, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (V.TLSv1_2, "ECDHE-RSA-AES128-SHA256", NO_ETM, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (V.TLSv1_2, "ECDHE-RSA-AES256-SHA384", 0, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
]


@pytest.mark.parametrize(("version", "openssl_name", "options", "iana"), CBC_CASES)
def test_cbc_suites_decrypt(
    version: ssl.TLSVersion, openssl_name: str, options: int, iana: str
) -> None:
    session = make_session(
        max_version=version,
        min_version=version,
        ciphers=openssl_name + ":@SECLEVEL=0",  # OpenSSL 3 refuses TLS 1.0/1.1 otherwise
        options=options,
    )
    observer = TLSObserver(KeyLog.parse(session.keylog))
    events = feed_interleaved(observer, session, 9)
    assert not only(events, Problem)
    assert observer.cipher_suite is not None and observer.cipher_suite.name == iana
    assert observer.version == {V.TLSv1: "TLS 1.0", V.TLSv1_1: "TLS 1.1"}.get(version, "TLS 1.2")
    etm = any(e.name == "encrypt_then_mac" for e in only(events, ServerHello)[0].extensions)
    assert etm == (options == 0)
    assert observer.decrypting
    assert plaintext(events, True) == session.client_data
    assert plaintext(events, False) == session.server_data


def test_tls13_without_keys_tells_handshake_from_data_by_place() -> None:
    session = tls13_session("TLS_AES_256_GCM_SHA384")
    observer = TLSObserver()
    events = feed_in_order(observer, session, 5)
    assert not only(events, Problem)
    assert not observer.decrypting
    assert observer.version == "TLS 1.3"
    assert not only(events, Certificate) and not only(events, EncryptedRecord)
    hidden = only(events, HandshakeEncrypted)
    # the server's EncryptedExtensions..Finished, and the client's Finished
    assert [e.from_client for e in hidden].count(True) == 1
    assert sum(e.length for e in hidden if not e.from_client) > 1000  # the certificate
    data = only(events, ApplicationData)
    assert all(e.plaintext is None for e in data)
    client_bytes = sum(e.length for e in data if e.from_client)
    server_bytes = sum(e.length for e in data if not e.from_client)
    assert len(session.client_data) < client_bytes < len(session.client_data) + 200
    # the server's side also carries its two NewSessionTickets
    assert len(session.server_data) < server_bytes < len(session.server_data) + 1000


def test_tls12_without_keys() -> None:
    session = tls12_session("ECDHE-RSA-AES128-GCM-SHA256")
    observer = TLSObserver(KeyLog.parse("# nothing here\n"))
    events = feed_interleaved(observer, session, 6)
    assert not only(events, Problem)
    assert not observer.decrypting
    assert len(only(events, HandshakeEncrypted)) == 2  # the two Finished
    data = only(events, ApplicationData)
    assert data and all(e.plaintext is None for e in data)
    assert all(a.encrypted and a.level is None for a in only(events, Alert))
    assert len(only(events, Certificate)) == 1  # TLS 1.2 certificates are in the clear


def test_wrong_keys_report_one_problem() -> None:
    session = tls12_session("ECDHE-RSA-AES128-GCM-SHA256")
    other = tls12_session("ECDHE-RSA-AES256-GCM-SHA384")
    first = TLSObserver().feed(True, session.client_stream)
    hello_random = next(e.random for e in first if isinstance(e, ClientHello))
    # the other session's master secret under this session's client random
    secret = other.keylog.split()[2]
    observer = TLSObserver(KeyLog.parse(f"CLIENT_RANDOM {hello_random.hex()} {secret}\n"))
    events = feed_interleaved(observer, session, 7)
    problems = only(events, Problem)
    assert len(problems) <= 2 and all("cannot decrypt" in p.message for p in problems)
    assert not observer.decrypting
    assert plaintext(events, True) == b""


def test_offsets_point_at_record_headers() -> None:
    session = tls13_session("TLS_AES_128_GCM_SHA256")
    observer = TLSObserver(KeyLog.parse(session.keylog))
    events = feed_interleaved(observer, session, 8)
    for e in events:
        stream = session.client_stream if e.from_client else session.server_stream
        assert stream[e.offset] in (20, 21, 22, 23), e
