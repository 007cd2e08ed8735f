"""The scheduler against scripted peers: pipelining, per-recipient results,
connection reuse, retries, faults."""

from __future__ import annotations

import asyncio
import email
from email import policy

import pytest

from posthouse.store.base import RecipientState, Store
from tests.queue.conftest import Clock, SchedulerFactory, enqueue, inbox, message
from tests.queue.peer import Peer


def route(peer: Peer) -> dict[str, str]:
    return {"beta.test": f"127.0.0.1:{peer.port}"}


async def test_one_transaction_for_many_recipients_pipelined(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    queue_id = await enqueue(store, "bob@beta.test", "carol@beta.test", "dave@beta.test")
    await scheduler_for(routes=route(peer)).run_once()
    assert len(peer.received) == 1
    got = peer.received[0]
    assert got.mail_from == "alice@alpha.test"
    assert got.rcpts == ["bob@beta.test", "carol@beta.test", "dave@beta.test"]
    # RFC 5321 §4.4: the Return-Path the accepting session recorded is not relayed.
    assert not got.data.startswith(b"Return-Path")
    assert got.data == message()[len(b"Return-Path: <alice@alpha.test>\r\n") :]
    assert "SIZE=" in got.mail_params
    # RFC 2920: MAIL, RCPT... and DATA went out before the first reply was read; with
    # CHUNKING (RFC 3030) the content too, as one BDAT LAST chunk.
    i = peer.commands.index(f"MAIL FROM:<alice@alpha.test> SIZE={len(got.data)}")
    last = f"BDAT {len(got.data)} LAST" if "CHUNKING" in peer.extensions else "DATA"
    assert [c.split(":")[0] for c in peer.commands[i : i + 5]] == [
        "MAIL FROM",
        "RCPT TO",
        "RCPT TO",
        "RCPT TO",
        last,
    ]
    assert await store.get_queue_entry(queue_id) is None


async def test_per_recipient_4xx_and_5xx(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory, clock: Clock
) -> None:
    peer.rcpt_replies = {
        "later@beta.test": "451 4.3.0 try later",
        "nobody@beta.test": "550 5.1.1 no such user",
    }
    queue_id = await enqueue(store, "bob@beta.test", "later@beta.test", "nobody@beta.test")
    scheduler = scheduler_for(routes=route(peer))
    await scheduler.run_once()
    assert [r.rcpts for r in peer.received] == [["bob@beta.test"]]
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None
    states = {r.address: r.state for r in entry.recipients}
    assert states == {
        "bob@beta.test": RecipientState.DELIVERED,
        "later@beta.test": RecipientState.PENDING,
        "nobody@beta.test": RecipientState.FAILED,
    }
    assert entry.attempts == 1
    assert (entry.next_attempt - clock.now).total_seconds() == 60
    # One DSN for the 5xx, in alice's INBOX.
    bounces = await inbox(store)
    assert len(bounces) == 1
    report = email.message_from_bytes(bounces[0], policy=policy.default)
    assert report.get_content_type() == "multipart/report"
    status = report.get_payload()[1]
    text = status.as_string()
    assert "Final-Recipient: rfc822; nobody@beta.test" in text
    assert "Status: 5.1.1" in text
    assert "later@beta.test" not in text
    # The retry delivers only to the deferred recipient.
    peer.rcpt_replies = {}
    clock.advance(61)
    await scheduler.run_once()
    assert [r.rcpts for r in peer.received] == [["bob@beta.test"], ["later@beta.test"]]
    assert await store.get_queue_entry(queue_id) is None
    assert len(await inbox(store)) == 1


async def test_connection_reused_across_messages(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    for _ in range(20):
        await enqueue(store, "bob@beta.test")
    await scheduler_for(routes=route(peer), concurrency=2).run_once()
    assert len(peer.received) == 20
    assert peer.connections <= 2
    assert peer.max_active <= 2
    assert await store.list_queue() == []


async def test_next_transaction_pipelined_behind_the_content(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    """RFC 2920 §3.1: the next message's MAIL, RCPT and DATA leave with the previous
    message's content, and every reply still lands on its own transaction."""
    peer.rcpt_replies = {"nobody@beta.test": "550 5.1.1 no such user"}
    replies = iter(["451 4.3.0 not now", "554 5.7.1 no"])
    peer.on_final = lambda got: next(replies, None)
    ids = []
    for n in range(12):
        ids.append(await enqueue(store, "bob@beta.test", raw=message(f"m{n}")))
    ids.append(await enqueue(store, "nobody@beta.test", raw=message("lost")))
    for n in range(12, 20):
        ids.append(await enqueue(store, "bob@beta.test", raw=message(f"m{n}")))
    await scheduler_for(routes=route(peer), concurrency=1).run_once()
    assert peer.connections == 1
    assert peer.sent_ahead >= 5
    # 20 for bob: one deferred, one refused; none for nobody (refused at RCPT)
    assert len(peer.received) == 18
    assert len({r.data for r in peer.received}) == 18
    states = []
    for queue_id in ids:
        entry = await store.get_queue_entry(queue_id)
        states.append(None if entry is None else [r.state for r in entry.recipients])
    assert states.count([RecipientState.PENDING]) == 1
    assert states.count(None) == 21 - 1  # delivered, or bounced (two DSNs)
    assert len(await inbox(store)) == 2


async def test_concurrency_limit_per_destination(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    for _ in range(30):
        await enqueue(store, "bob@beta.test")
    await scheduler_for(routes=route(peer), concurrency=3).run_once()
    assert len(peer.received) == 30
    assert peer.max_active <= 3


async def test_refused_connection_is_retried_until_the_peer_returns(
    store: Store, scheduler_for: SchedulerFactory, clock: Clock
) -> None:
    peer = Peer()
    await peer.start()
    port = peer.port
    await peer.stop()  # nothing listens there now
    queue_id = await enqueue(store, "bob@beta.test")
    scheduler = scheduler_for(routes={"beta.test": f"127.0.0.1:{port}"})
    await scheduler.run_once()
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None and entry.attempts == 1
    assert entry.last_error is not None and "connect" in entry.last_error
    clock.advance(30)
    await scheduler.run_once()  # not due yet
    assert (await store.get_queue_entry(queue_id)).attempts == 1  # type: ignore[union-attr]
    clock.advance(31)
    await scheduler.run_once()
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None and entry.attempts == 2
    assert (entry.next_attempt - clock.now).total_seconds() == 300  # the schedule grows
    back = Peer(port=port)
    await back.start()
    try:
        clock.advance(300)
        await scheduler.run_once()
        assert len(back.received) == 1
        assert await store.get_queue_entry(queue_id) is None
    finally:
        await back.stop()
    assert await inbox(store) == []


async def test_close_mid_data_is_retried(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory, clock: Clock
) -> None:
    peer.close_mid_data = True
    queue_id = await enqueue(
        store, "bob@beta.test", raw=message(extra=b"X-Pad: " + b"x" * 200 + b"\r\n")
    )
    scheduler = scheduler_for(routes=route(peer))
    await scheduler.run_once()
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None and entry.recipients[0].state is RecipientState.PENDING
    assert peer.received == []
    peer.close_mid_data = False
    clock.advance(60)
    await scheduler.run_once()
    assert len(peer.received) == 1
    assert await store.get_queue_entry(queue_id) is None


async def test_final_dot_5xx_bounces_every_accepted_recipient(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.final_reply = "554 5.6.0 content rejected"
    await enqueue(store, "bob@beta.test", "carol@beta.test")
    await scheduler_for(routes=route(peer)).run_once()
    assert await store.list_queue() == []
    [bounce] = await inbox(store)
    assert b"Final-Recipient: rfc822; bob@beta.test" in bounce
    assert b"Final-Recipient: rfc822; carol@beta.test" in bounce
    assert b"Diagnostic-Code: smtp; 554 5.6.0 content rejected" in bounce


async def test_mail_from_4xx_defers_everyone(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.mail_reply = "421 4.7.0 busy"
    queue_id = await enqueue(store, "bob@beta.test", "carol@beta.test")
    await scheduler_for(routes=route(peer)).run_once()
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None
    assert all(r.state is RecipientState.PENDING for r in entry.recipients)
    assert await inbox(store) == []


async def test_helo_fallback_without_pipelining(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.esmtp = False
    await enqueue(store, "bob@beta.test", "carol@beta.test")
    await scheduler_for(routes=route(peer)).run_once()
    assert [r.rcpts for r in peer.received] == [["bob@beta.test", "carol@beta.test"]]
    assert any(c.startswith("HELO mail.alpha.test") for c in peer.commands)
    # No SIZE parameter for a server that announced nothing.
    assert peer.received[0].mail_params == ""


async def test_smtputf8_needed_but_not_offered_bounces(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.extensions = ["PIPELINING", "8BITMIME"]
    await enqueue(store, "bjørn@beta.test", params={"SMTPUTF8": ""})
    await scheduler_for(routes=route(peer)).run_once()
    assert peer.received == []
    [bounce] = await inbox(store)
    assert b"Status: 5.6.7" in bounce
    assert b"message/global-delivery-status" in bounce


async def test_smtputf8_passed_on_when_offered(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    await enqueue(store, "bjørn@beta.test", params={"SMTPUTF8": ""})
    await scheduler_for(routes=route(peer)).run_once()
    assert peer.received[0].rcpts == ["bjørn@beta.test"]
    assert "SMTPUTF8" in peer.received[0].mail_params


async def test_8bit_body_announced(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    raw = message() + "Grüße\r\n".encode()
    await enqueue(store, "bob@beta.test", raw=raw)
    await scheduler_for(routes=route(peer)).run_once()
    assert "BODY=8BITMIME" in peer.received[0].mail_params


async def test_dsn_parameters_relayed_when_offered(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    await enqueue(
        store,
        "bob@beta.test",
        params={"RET": "HDRS", "ENVID": "abc123"},
        dsn={"NOTIFY": "FAILURE", "ORCPT": "rfc822;bob@beta.test"},
    )
    await scheduler_for(routes=route(peer)).run_once()
    got = peer.received[0]
    assert "RET=HDRS" in got.mail_params and "ENVID=abc123" in got.mail_params
    assert got.rcpt_params == ["NOTIFY=FAILURE ORCPT=rfc822;bob@beta.test"]


async def test_size_over_the_peer_limit_bounces(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.extensions = ["PIPELINING", "SIZE 100"]
    await enqueue(store, "bob@beta.test")
    await scheduler_for(routes=route(peer)).run_once()
    assert peer.received == []
    [bounce] = await inbox(store)
    assert b"Status: 5.3.4" in bounce


async def test_no_bounce_to_the_null_sender(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.rcpt_replies = {"bob@beta.test": "550 5.1.1 no"}
    await enqueue(store, "bob@beta.test", sender="")
    await scheduler_for(routes=route(peer)).run_once()
    assert await store.list_queue() == []
    assert await inbox(store) == []


async def test_notify_never_means_no_bounce(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.rcpt_replies = {"bob@beta.test": "550 5.1.1 no"}
    await enqueue(store, "bob@beta.test", dsn={"NOTIFY": "NEVER"})
    await scheduler_for(routes=route(peer)).run_once()
    assert await store.list_queue() == []
    assert await inbox(store) == []


async def test_expiry_sends_exactly_one_dsn(
    store: Store, scheduler_for: SchedulerFactory, clock: Clock
) -> None:
    peer = Peer()
    await peer.start()
    port = peer.port
    await peer.stop()
    queue_id = await enqueue(store, "bob@beta.test", "carol@beta.test")
    scheduler = scheduler_for(routes={"beta.test": f"127.0.0.1:{port}"}, max_age=600)
    for _ in range(10):
        await scheduler.run_once()
        clock.advance(301)
    assert await store.get_queue_entry(queue_id) is None
    bounces = await inbox(store)
    assert len(bounces) == 1
    report = email.message_from_bytes(bounces[0], policy=policy.default)
    assert report["To"].addresses[0].addr_spec == "alice@alpha.test"
    assert report["Auto-Submitted"] == "auto-replied"
    text = bounces[0].decode()
    assert "Action: failed" in text
    assert "Final-Recipient: rfc822; bob@beta.test" in text
    assert "Final-Recipient: rfc822; carol@beta.test" in text
    assert "delivery time expired" in text
    # The original comes back whole.
    assert "Subject: hello" in text and "message/rfc822" in text


async def test_two_domains_two_transactions(store: Store, scheduler_for: SchedulerFactory) -> None:
    beta, gamma = Peer(), Peer()
    await beta.start()
    await gamma.start()
    try:
        await enqueue(store, "bob@beta.test", "x@gamma.test", "carol@beta.test")
        await scheduler_for(
            routes={"beta.test": f"127.0.0.1:{beta.port}", "gamma.test": f"127.0.0.1:{gamma.port}"}
        ).run_once()
        assert [r.rcpts for r in beta.received] == [["bob@beta.test", "carol@beta.test"]]
        assert [r.rcpts for r in gamma.received] == [["x@gamma.test"]]
        assert await store.list_queue() == []
    finally:
        await beta.stop()
        await gamma.stop()


async def test_stop_leaves_undelivered_mail_due(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory, clock: Clock
) -> None:
    for _ in range(5):
        await enqueue(store, "bob@beta.test")
    scheduler = scheduler_for(routes=route(peer), concurrency=1)
    scheduler.start()
    await asyncio.sleep(0.3)
    await scheduler.stop(grace=5)
    left = await store.list_queue()
    assert len(peer.received) + len(left) == 5
    assert all(e.next_attempt <= clock.now for e in left)


async def test_unexpected_error_leaves_the_entry_queued(
    store: Store,
    peer: Peer,
    scheduler_for: SchedulerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("posthouse.queue.scheduler.send_transaction", broken)
    monkeypatch.setattr("posthouse.queue.scheduler.chunked_result", broken)
    queue_id = await enqueue(store, "bob@beta.test")
    scheduler = scheduler_for(routes=route(peer))
    await scheduler.run_once()
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None and entry.attempts == 1
    assert entry.recipients[0].state is RecipientState.PENDING
    assert not scheduler._in_flight


async def test_notify_success_relayed_to_a_peer_without_dsn(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.extensions = ["PIPELINING", "8BITMIME"]  # no DSN
    await enqueue(store, "bob@beta.test", "carol@beta.test", dsn={"NOTIFY": "SUCCESS"})
    await scheduler_for(routes=route(peer)).run_once()
    [notice] = await inbox(store)
    assert b"Subject: Successful Mail Delivery Report" in notice
    assert b"Action: relayed" in notice and b"Status: 2.0.0" in notice
    assert b"text/rfc822-headers" in notice and b"Body hello" not in notice


async def test_notify_success_passed_on_to_a_dsn_peer(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    await enqueue(store, "bob@beta.test", dsn={"NOTIFY": "SUCCESS"})
    await scheduler_for(routes=route(peer)).run_once()
    assert peer.received[0].rcpt_params == ["NOTIFY=SUCCESS"]
    assert await inbox(store) == []  # the next hop reports delivery itself


async def test_notify_delay_gets_one_delay_notice(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory, clock: Clock
) -> None:
    peer.rcpt_replies = {"bob@beta.test": "451 4.2.0 later", "carol@beta.test": "451 4.2.0 later"}
    await enqueue(store, "bob@beta.test", dsn={"NOTIFY": "DELAY,FAILURE"})
    await enqueue(store, "carol@beta.test")  # no NOTIFY: no delay notice
    scheduler = scheduler_for(routes=route(peer), retry_schedule=[3600])
    for _ in range(7):
        await scheduler.run_once()
        clock.advance(3601)
    notices = await inbox(store)
    assert len(notices) == 1
    assert b"Action: delayed" in notices[0] and b"bob@beta.test" in notices[0]
    assert b"Status: 4.2.0" in notices[0]
    assert len(await store.list_queue()) == 2  # still trying


async def test_null_mx_bounces_at_once(store: Store, scheduler_for: SchedulerFactory) -> None:
    from posthouse.resolver import StaticResolver

    dns = StaticResolver({"nomail.test": {"MX": [(0, ".")]}})
    await enqueue(store, "x@nomail.test")
    await scheduler_for(dns).run_once()
    assert await store.list_queue() == []
    [bounce] = await inbox(store)
    assert b"Status: 5.1.10" in bounce and b"null MX" in bounce  # RFC 7505 §4.1


async def test_mx_lookup_failure_defers(store: Store, scheduler_for: SchedulerFactory) -> None:
    from posthouse.resolver import StaticResolver

    dns = StaticResolver({"flaky.test": {"TEMPFAIL": True}})
    queue_id = await enqueue(store, "x@flaky.test")
    await scheduler_for(dns).run_once()
    entry = await store.get_queue_entry(queue_id)
    assert entry is not None and entry.recipients[0].state is RecipientState.PENDING
    assert await inbox(store) == []


async def test_next_mx_when_the_first_refuses(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    from posthouse.resolver import StaticResolver

    dns = StaticResolver(
        {
            "beta.test": {"MX": [(10, "mx1.beta.test"), (20, "mx2.beta.test")]},
            "mx1.beta.test": {"A": ["127.0.0.5"]},  # nothing listens there
            "mx2.beta.test": {"A": ["127.0.0.1"]},
        }
    )
    await enqueue(store, "bob@beta.test")
    await scheduler_for(dns, port=peer.port).run_once()
    assert [r.rcpts for r in peer.received] == [["bob@beta.test"]]
    assert await store.list_queue() == []


async def test_5xx_greeting_tries_the_next_mx(
    store: Store, scheduler_for: SchedulerFactory
) -> None:
    from posthouse.resolver import StaticResolver

    grumpy = await Peer(host="127.0.0.6", greeting="554 5.3.2 not now").start()
    good = await Peer(host="127.0.0.7", port=grumpy.port).start()
    try:
        dns = StaticResolver(
            {
                "beta.test": {"MX": [(10, "mx1.beta.test"), (20, "mx2.beta.test")]},
                "mx1.beta.test": {"A": ["127.0.0.6"]},
                "mx2.beta.test": {"A": ["127.0.0.7"]},
            }
        )
        await enqueue(store, "bob@beta.test")
        await scheduler_for(dns, port=grumpy.port).run_once()
        assert grumpy.connections == 1 and grumpy.received == []
        assert len(good.received) == 1
    finally:
        await grumpy.stop()
        await good.stop()


async def test_dropped_cached_connection_is_redialled_not_deferred(
    store: Store, peer: Peer, scheduler_for: SchedulerFactory
) -> None:
    peer.max_transactions = 1  # closes after each message, without a word
    for _ in range(3):
        await enqueue(store, "bob@beta.test")
    await scheduler_for(routes=route(peer), concurrency=1).run_once()
    assert len(peer.received) == 3
    assert await store.list_queue() == []
