"""DKIM signing on the way out: a key in dkim/<domain>/<selector>.pem signs mail whose
From is that domain; the signature verifies at the peer and survives retries unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from posthouse.queue.signing import SIGNATURE_PARAM, DKIMSigner
from posthouse.resolver import StaticResolver
from posthouse.senderauth import dkim
from posthouse.store.base import Store
from tests.queue.conftest import Clock, SchedulerFactory, enqueue, message
from tests.queue.peer import Peer


def _install_key(tmp_path: Path, kind: str, selector: str = "s1") -> StaticResolver:
    pem, record = dkim.generate_key(kind)
    folder = tmp_path / "dkim" / "alpha.test"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{selector}.pem").write_bytes(pem)
    return StaticResolver({f"{selector}._domainkey.alpha.test": {"TXT": [record]}})


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
async def test_signed_and_verifies(
    kind: str, tmp_path: Path, store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    dns = _install_key(tmp_path, kind)
    scheduler = scheduler_for(routes={"beta.test": f"127.0.0.1:{peer.port}"})
    scheduler.signer = DKIMSigner(tmp_path / "dkim")
    await enqueue(store, "bob@beta.test")
    await scheduler.run_once()
    data = peer.received[0].data
    assert data.startswith(b"DKIM-Signature:")
    [result] = await dkim.verify(dns, data)
    assert result.result == "pass", result
    assert result.domain == "alpha.test"


async def test_no_key_no_signature(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    await enqueue(store, "bob@beta.test")
    scheduler = scheduler_for(routes={"beta.test": f"127.0.0.1:{peer.port}"})
    scheduler.signer = DKIMSigner(Path("/nonexistent"))
    await scheduler.run_once()
    assert not peer.received[0].data.startswith(b"DKIM-Signature:")


async def test_same_signature_on_every_retry(
    tmp_path: Path, store: Store, peer: Peer, scheduler_for: SchedulerFactory, clock: Clock
) -> None:
    dns = _install_key(tmp_path, "rsa")
    seen: list[bytes] = []

    def final(got: object) -> str | None:
        seen.append(got.data)  # type: ignore[attr-defined]
        return "451 4.3.0 later" if len(seen) < 3 else None

    peer.on_final = final
    scheduler = scheduler_for(routes={"beta.test": f"127.0.0.1:{peer.port}"})
    scheduler.signer = DKIMSigner(tmp_path / "dkim")
    queue_id = await enqueue(store, "bob@beta.test")
    await scheduler.run_once()
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None and SIGNATURE_PARAM in entry.params
    for _ in range(2):
        clock.advance(400)
        await scheduler.run_once()
    assert len(seen) == 3 and len(peer.received) == 1
    assert seen[0] == seen[1] == seen[2]
    assert [r.result for r in await dkim.verify(dns, seen[2])] == ["pass"]
    # The kept signature is not an ESMTP parameter: it never appears on the wire.
    assert "dkim" not in peer.received[0].mail_params.lower()


def test_other_from_domain_not_signed(tmp_path: Path) -> None:
    _install_key(tmp_path, "rsa")
    signer = DKIMSigner(tmp_path / "dkim")
    raw = message().replace(b"From: Alice <alice@alpha.test>", b"From: <x@elsewhere.test>")
    assert signer(None, raw) is None  # type: ignore[arg-type]
    assert signer(None, message().split(b"\r\n", 1)[1]) is not None  # type: ignore[arg-type]
