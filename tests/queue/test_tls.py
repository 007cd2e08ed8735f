"""STARTTLS per policy (none, may, encrypt, verify), the plaintext fallback of "may",
and a smarthost with AUTH over STARTTLS or implicit TLS."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from posthouse.resolver import StaticResolver
from posthouse.store.base import RecipientState, Store
from tests.queue.conftest import SchedulerFactory, enqueue
from tests.queue.peer import Peer

DNS = StaticResolver({"mx.beta.test": {"A": ["127.0.0.1"]}})


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    yield str(path)


def server_tls(ca: trustme.CA, **limits: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("mx.beta.test").configure_cert(ctx)
    for name, value in limits.items():
        setattr(ctx, name, value)
    return ctx


def routes(peer: Peer) -> dict[str, str]:
    return {"beta.test": f"mx.beta.test:{peer.port}"}


async def test_may_uses_starttls_when_offered(
    ca: trustme.CA, store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.tls = server_tls(ca)
    await enqueue(store, "bob@beta.test")
    await scheduler_for(DNS, routes=routes(peer)).run_once()
    assert [r.tls for r in peer.received] == [True]
    # RFC 3207 §4.2: EHLO again after the handshake.
    assert [c.split()[0] for c in peer.commands[:3]] == ["EHLO", "STARTTLS", "EHLO"]


async def test_may_without_starttls_goes_plaintext(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    await enqueue(store, "bob@beta.test")
    await scheduler_for(DNS, routes=routes(peer)).run_once()
    assert [r.tls for r in peer.received] == [False]


async def test_none_never_starts_tls(
    ca: trustme.CA, store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.tls = server_tls(ca)
    await enqueue(store, "bob@beta.test")
    await scheduler_for(DNS, routes=routes(peer), tls="none").run_once()
    assert [r.tls for r in peer.received] == [False]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
async def test_may_falls_back_to_plaintext_when_the_handshake_fails(
    ca: trustme.CA, store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    # A server stuck at TLS 1.1 cannot agree with our TLS 1.2 minimum.
    peer.tls = server_tls(ca, maximum_version=ssl.TLSVersion.TLSv1_1)
    await enqueue(store, "bob@beta.test")
    await scheduler_for(DNS, routes=routes(peer)).run_once()
    assert [r.tls for r in peer.received] == [False]
    assert peer.connections == 2


async def test_encrypt_refuses_plaintext(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    queue_id = await enqueue(store, "bob@beta.test")
    await scheduler_for(DNS, routes=routes(peer), tls="encrypt").run_once()
    assert peer.received == []
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None and entry.recipients[0].state is RecipientState.PENDING
    assert entry.last_error is not None and "STARTTLS" in entry.last_error


async def test_verify_checks_the_certificate(
    ca: trustme.CA, ca_file: str, store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.tls = server_tls(ca)
    await enqueue(store, "bob@beta.test")
    await scheduler_for(
        DNS, routes=routes(peer), tls_policy={"beta.test": "verify"}, tls_ca_file=ca_file
    ).run_once()
    assert [r.tls for r in peer.received] == [True]


async def test_verify_refuses_an_untrusted_certificate(
    ca: trustme.CA, store: Store, peer: Peer, scheduler_for: SchedulerFactory, tmp_path: Path
) -> None:
    peer.tls = server_tls(ca)
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    queue_id = await enqueue(store, "bob@beta.test")
    await scheduler_for(DNS, routes=routes(peer), tls="verify", tls_ca_file=str(other)).run_once()
    assert peer.received == []
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None and entry.last_error is not None
    assert "certificate" in entry.last_error.lower()
    # No plaintext fallback when the policy asks for a verified certificate.
    assert peer.connections == 1


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
async def test_smarthost_with_auth(
    mode: str, ca: trustme.CA, ca_file: str, store: Store, scheduler_for: SchedulerFactory
) -> None:
    peer = Peer(tls=server_tls(ca), auth=("relayuser", "relay-pw"), implicit_tls=mode == "implicit")
    await peer.start()
    try:
        await enqueue(store, "someone@gamma.test", "other@delta.test")
        await scheduler_for(
            DNS,
            smarthost=f"mx.beta.test:{peer.port}",
            smarthost_tls=mode,
            smarthost_username="relayuser",
            smarthost_password="relay-pw",
        ).run_once()
        assert sorted(r.rcpts[0] for r in peer.received) == [
            "other@delta.test",
            "someone@gamma.test",
        ]
        assert all(r.tls and r.auth == "relayuser" for r in peer.received)
        # One lane for the smarthost, whatever the domains.
        assert peer.connections <= 2
    finally:
        await peer.stop()


async def test_smarthost_bad_password_defers(
    ca: trustme.CA, store: Store, scheduler_for: SchedulerFactory
) -> None:
    peer = Peer(tls=server_tls(ca), auth=("relayuser", "relay-pw"))
    await peer.start()
    try:
        queue_id = await enqueue(store, "someone@gamma.test")
        await scheduler_for(
            DNS,
            smarthost=f"mx.beta.test:{peer.port}",
            smarthost_username="relayuser",
            smarthost_password="wrong",
        ).run_once()
        assert peer.received == []
        entry = await store.get_queue_entry(queue_id)
        assert entry is not None and entry.recipients[0].state is RecipientState.PENDING
        assert "AUTH" in (entry.last_error or "")
    finally:
        await peer.stop()
