"""The TLS observer over every connection of the shared capture corpus.

Each direction is fed from its first TLS-looking record header (after STARTTLS, or from
the start on 465) in capture order, gaps included. Nothing may raise, and every
handshake tshark shows in `tls.tsv` must be found with the same values.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from tests.analyzer.reference import CAPTURES, capture_files, reference_dir

from posthouse.analyzer import Data, Direction, Gap, read_connections
from posthouse.analyzer.tcp import Connection
from posthouse.proto.tls import (
    ApplicationData,
    Certificate,
    ClientHello,
    HandshakeEncrypted,
    Problem,
    ServerHello,
    TLSEvent,
    TLSObserver,
)

FILES = capture_files()
pytestmark = pytest.mark.skipif(
    not FILES, reason=f"the shared capture corpus is absent ({CAPTURES})"
)

# A handshake record (type 22, version 3.0-3.4) or an SSL 2.0-format ClientHello.
_TLS_START = re.compile(rb"\x16\x03[\x00-\x04]|[\x80-\xff].\x01\x03[\x00-\x03]", re.DOTALL)


def _tls_rows(capture: Path) -> list[dict[str, str]]:
    path = reference_dir(capture) / "tls.tsv"
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


WITH_TLS = [p for p in FILES if _tls_rows(p)]


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(CAPTURES)) for p in paths]


def observe(conn: Connection) -> list[TLSEvent]:
    """Feed a connection's TLS part to an observer, in capture order."""
    starts: dict[Direction, int | None] = {}
    for direction in Direction:
        m = _TLS_START.search(conn.stream(direction))
        starts[direction] = m.start() if m else None
    delivered = {d: 0 for d in Direction}
    observer = TLSObserver()
    out: list[TLSEvent] = []
    for ev in conn.events:
        if isinstance(ev, Data):
            start, pos = starts[ev.direction], delivered[ev.direction]
            delivered[ev.direction] += len(ev.data)
            if start is None or pos + len(ev.data) <= start:
                continue
            chunk = ev.data[max(0, start - pos) :]
            out += observer.feed(ev.direction is Direction.FROM_CLIENT, chunk)
        elif isinstance(ev, Gap):
            start = starts[ev.direction]
            if start is not None and delivered[ev.direction] > start:
                observer.gap(ev.direction is Direction.FROM_CLIENT, ev.missing_bytes)
    return out + observer.finish()


@pytest.mark.parametrize("capture", FILES, ids=_ids(FILES))
def test_observer_survives_every_capture(capture: Path) -> None:
    for conn in read_connections(capture).connections:
        for event in observe(conn):
            assert event.offset >= 0


def test_the_four_tls_captures_are_there() -> None:
    assert len(WITH_TLS) == 4


def _codes(field: str) -> list[int]:
    return [int(v, 16) for v in field.split("|") if v]


@pytest.mark.parametrize("capture", WITH_TLS, ids=_ids(WITH_TLS))
def test_handshakes_match_tshark(capture: Path) -> None:
    conns = {c.index: c for c in read_connections(capture).connections}
    events_by_stream: dict[int, list[TLSEvent]] = {}
    for row in _tls_rows(capture):
        stream = int(row["tcp.stream"])
        if stream not in events_by_stream:
            events_by_stream[stream] = observe(conns[stream])
        events = events_by_stream[stream]
        types = [int(t) for t in row["tls.handshake.type"].split("|") if t]
        suites = _codes(row["tls.handshake.ciphersuite"])
        if 1 in types:
            hello = next(e for e in events if isinstance(e, ClientHello))
            assert [s.code for s in hello.cipher_suites] == suites
            assert hello.legacy_version.value == int(row["tls.handshake.version"], 16)
            assert [v.value for v in hello.supported_versions] == _codes(
                row["tls.handshake.extensions.supported_version"]
            )
            assert hello.sni == (row["tls.handshake.extensions_server_name"] or None)
        if 2 in types:
            server = next(e for e in events if isinstance(e, ServerHello))
            assert [server.cipher_suite.code] == suites
            assert server.legacy_version.value == int(row["tls.handshake.version"], 16)
            chosen = _codes(row["tls.handshake.extensions.supported_version"])
            assert server.version.value == (chosen[0] if chosen else server.legacy_version.value)
        if 11 in types:
            cert = next(e for e in events if isinstance(e, Certificate))
            names = " ".join(
                f"{c.subject} {c.issuer}" for c in cert.certificates if c.error is None
            )
            parts = row["x509sat.printableString"].split("|") + row["x509sat.uTF8String"].split("|")
            for part in filter(None, parts):
                assert part.replace(",", "\\,") in names or part in names, part


def test_starttls_tls10_rc4_session() -> None:
    """arkime smtp-starttls: TLS 1.0, RSA/RC4, Google's chain in the clear."""
    capture = CAPTURES / "arkime/tests/pcap/smtp-starttls.pcap"
    (conn,) = read_connections(capture).connections
    events = observe(conn)
    server = next(e for e in events if isinstance(e, ServerHello))
    assert server.version.name == "TLS 1.0"
    assert server.cipher_suite.name == "TLS_RSA_WITH_RC4_128_SHA"
    assert server.cipher_suite.description == "RSA / RSA / RC4-128 / SHA-1"
    cert = next(e for e in events if isinstance(e, Certificate))
    leaf = cert.certificates[0]
    assert leaf.subject is not None and "mx.google.com" in leaf.subject
    # the validity tshark shows (x509af.utcTime)
    assert (
        leaf.not_before is not None and leaf.not_before.isoformat() == "2013-09-09T11:32:35+00:00"
    )
    assert leaf.not_after is not None and leaf.not_after.isoformat() == "2014-09-09T11:32:35+00:00"
    assert [c.not_after.year for c in cert.certificates if c.not_after] == [2014, 2015, 2018]


def test_starttls_tls13_session() -> None:
    """suricata-verify smtp-startssl: TLS 1.3 with TLS_AES_256_GCM_SHA384, no keys."""
    capture = CAPTURES / "suricata-verify/tests/smtp-startssl/input.pcap"
    (conn,) = read_connections(capture).connections
    events = observe(conn)
    server = next(e for e in events if isinstance(e, ServerHello))
    assert server.version.name == "TLS 1.3"
    assert server.cipher_suite.name == "TLS_AES_256_GCM_SHA384"
    assert server.selected_group is not None
    # without keys: the server's encrypted flight and the client's Finished, by place
    hidden = [e for e in events if isinstance(e, HandshakeEncrypted)]
    assert [e.from_client for e in hidden] == [False] * 4 + [True]
    data = [e for e in events if isinstance(e, ApplicationData)]
    assert len(data) == 9 and all(e.plaintext is None for e in data)
    assert not any(isinstance(e, Problem) for e in events)
