"""Properties: any split gives the same events; any input gives events, never an exception."""

from __future__ import annotations

import itertools
import ssl
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tls_traffic import Session, make_session

from posthouse.proto.tls import ApplicationData, KeyLog, Problem, TLSEvent, TLSObserver

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def session13() -> Session:
    return make_session(exchanges=[(b"EHLO a\r\n" * 300, b"250 ok\r\n" * 300)])


@cache
def session12() -> Session:
    return make_session(
        max_version=ssl.TLSVersion.TLSv1_2,
        ciphers="ECDHE-RSA-AES128-GCM-SHA256",
        exchanges=[(b"EHLO a\r\n" * 300, b"250 ok\r\n" * 300)],
    )


def run(session: Session, cuts_c: list[int], cuts_s: list[int]) -> dict[bool, list[TLSEvent]]:
    """Client flight, then server, in pieces; events sorted by direction."""
    obs = TLSObserver(KeyLog.parse(session.keylog))
    events: list[TLSEvent] = []
    for stream, cuts, from_client in (
        (session.client_stream, cuts_c, True),
        (session.server_stream, cuts_s, False),
    ):
        bounds = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
        for lo, hi in itertools.pairwise(bounds):
            events += obs.feed(from_client, stream[lo:hi])
    events += obs.finish()
    return {side: [e for e in events if e.from_client == side] for side in (True, False)}


@SETTINGS
@given(
    st.sampled_from(["1.3", "1.2"]),
    st.lists(st.integers(0, 1 << 20), max_size=30),
    st.lists(st.integers(0, 1 << 20), max_size=30),
)
def test_any_split_gives_the_same_events(
    version: str, cuts_c: list[int], cuts_s: list[int]
) -> None:
    session = session13() if version == "1.3" else session12()
    whole = run(session, [], [])
    assert run(session, cuts_c, cuts_s) == whole
    assert not any(isinstance(e, Problem) for side in whole.values() for e in side)


@SETTINGS
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=300)), max_size=20))
def test_arbitrary_bytes_never_raise(pieces: list[tuple[bool, bytes]]) -> None:
    obs = TLSObserver(KeyLog.parse(session13().keylog))
    fed = {True: 0, False: 0}
    for from_client, data in pieces:
        for event in obs.feed(from_client, data):
            assert 0 <= event.offset <= fed[event.from_client] + len(data)
        fed[from_client] += len(data)
    obs.finish()


@SETTINGS
@given(
    st.sampled_from(["1.3", "1.2"]),
    st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 1 << 20),
    st.booleans(),
)
def test_damaged_sessions_never_raise(
    version: str, flips: list[tuple[int, int]], cut: int, lose: bool
) -> None:
    """Bytes changed anywhere (headers, hellos, certificates, ciphertext), a gap, a cut."""
    session = session13() if version == "1.3" else session12()
    client, server = bytearray(session.client_stream), bytearray(session.server_stream)
    for i, (pos, value) in enumerate(flips):
        target = client if i % 2 else server
        target[pos % len(target)] = value
    obs = TLSObserver(KeyLog.parse(session.keylog))
    half = cut % len(server)
    obs.feed(True, bytes(client[:300]))
    obs.feed(False, bytes(server[:half]))
    if lose:
        obs.gap(False, 100)
        half += 100
    obs.feed(False, bytes(server[half:]))
    obs.feed(True, bytes(client[300:]))
    obs.finish()


@cache
def long_session(version: str) -> Session:
    data = b"".join(b"line %06d\r\n" % i for i in range(8000))  # 96 kB: six records
    if version == "1.3":
        return make_session(exchanges=[(data, b"250 ok\r\n")])
    return make_session(
        max_version=ssl.TLSVersion.TLSv1_2,
        ciphers="ECDHE-RSA-AES128-SHA256",  # CBC with encrypt-then-MAC
        exchanges=[(data, b"250 ok\r\n")],
    )


@SETTINGS
@given(st.sampled_from(["1.3", "1.2"]), st.integers(0, 1 << 20), st.integers(1, 40_000))
def test_after_any_gap_plaintext_stays_true(version: str, start: int, length: int) -> None:
    """Whatever is lost, what is decrypted is real data, in order, without repeats."""
    session = long_session(version)
    stream = session.client_stream
    start = start % len(stream)
    end = min(len(stream), start + length)
    obs = TLSObserver(KeyLog.parse(session.keylog))
    events = obs.feed(False, session.server_stream[:4000]) + obs.feed(True, stream[:start])
    obs.gap(True, end - start)
    events += obs.feed(True, stream[end:]) + obs.feed(False, session.server_stream[4000:])
    events += obs.finish()
    position = 0
    for event in events:
        if isinstance(event, ApplicationData) and event.from_client and event.plaintext:
            found = session.client_data.find(event.plaintext, position)
            assert found >= position
            position = found + len(event.plaintext)
