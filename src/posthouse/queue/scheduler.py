"""The delivery scheduler: takes due entries from the queue, splits each by recipient
domain into jobs, runs the jobs over per-destination lanes of reused connections, and
writes the outcome back once every job of an entry is done.

Crash safety is at-least-once: a recipient is marked delivered only after the peer's
250, so a crash between the two repeats that delivery (RFC 5321 §6.1 accepts the
duplicate), and a DSN is stored before its recipients are marked failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from posthouse.config import Config
from posthouse.queue.bounce import send_bounce
from posthouse.queue.connection import ConnectionLost, OutboundConnection
from posthouse.queue.dial import DialError, DialOptions, dial
from posthouse.queue.results import Outcome, RecipientResult, local_result
from posthouse.queue.routes import Route, RouteError, find_route
from posthouse.queue.schedule import expired, next_attempt
from posthouse.queue.transaction import (
    Envelope,
    FollowUp,
    Recipient,
    TransactionResult,
    chunked,
    chunked_result,
    chunked_transaction,
    command_group,
    refusal,
    send_transaction,
    strip_return_path,
)
from posthouse.resolver import Resolver
from posthouse.store.base import NotFound, QueueEntry, RecipientState, Store

log = logging.getLogger("posthouse.queue")

MAX_IN_FLIGHT = 400  # queue entries being worked on at once
ROUTE_TTL = 60.0  # seconds a route (MX answer) is reused
IDLE_REUSE = 2.0  # seconds an idle connection waits for the next job
MAX_REUSE = 1000  # transactions per connection
WINDOW = 8  # transactions written ahead of their replies on one connection
WINDOW_OCTETS = 1 << 20  # content written ahead of its replies on one connection
WAKE_GATHER = 0.02  # seconds a wake-up waits for more mail queued in the same burst

# (entry, message) -> a header field to prepend (a DKIM signature), or None.
Signer = Callable[[QueueEntry, bytes], bytes | None]
SIGNATURE_PARAM = "dkim-signature"  # queue parameter keeping the signature for retries
DELAY_NOTICE_PARAM = "delay-notified"  # queue parameter: a "delayed" DSN went out
DELAY_NOTICE_AFTER = 4 * 3600.0  # seconds of delay before NOTIFY=DELAY is answered


def utc_now() -> datetime:
    return datetime.now(UTC)


def _nothing_decided(result: TransactionResult) -> bool:
    """Every recipient deferred without an SMTP reply: the connection failed under us."""
    return all(r.outcome is Outcome.DEFERRED and not r.smtp_reply for r in result.results)


def recipient_domain(address: str) -> str:
    """The domain to route: lower case, A-label (RFC 5890) when it can be encoded."""
    domain = address.rpartition("@")[2].strip().lower()
    if domain.isascii() or domain.startswith("["):
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


@dataclass
class _Attempt:
    entry: QueueEntry
    content: bytes = b""
    jobs_left: int = 0
    results: list[RecipientResult] = field(default_factory=list)
    interrupted: bool = False  # a job was dropped because we are stopping
    new_signature: bytes | None = None  # made for this attempt, kept if it must wait


@dataclass
class _Job:
    attempt: _Attempt
    domain: str
    recipients: tuple[Recipient, ...]


@dataclass
class _Lane:
    """Everything waiting for one destination (a route key)."""

    route: Route
    jobs: deque[_Job] = field(default_factory=deque)
    workers: int = 0
    idle: int = 0
    ready: asyncio.Condition = field(default_factory=asyncio.Condition)


class DeliveryScheduler:
    def __init__(
        self,
        config: Config,
        store: Store,
        resolver: Resolver,
        *,
        signer: Signer | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.settings = config.relay
        self.store = store
        self.resolver = resolver
        self.signer = signer
        self.clock = clock
        self.options = DialOptions(
            helo_name=self.settings.helo_name or config.hostname, settings=self.settings
        )
        self._in_flight: dict[int, _Attempt] = {}
        self._lanes: dict[str, _Lane] = {}
        self._routes: dict[str, tuple[float, Route | RouteError]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()  # set whenever nothing is in flight
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None

    # --- life cycle -------------------------------------------------------------

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._poll_loop(), name="queue-poll")

    def wake(self) -> None:
        """Look at the queue now (`posthouse queue flush`)."""
        self._wakeup.set()

    def mail_queued(self) -> None:
        """New mail is in the queue: look now, unless half the window is in flight,
        when the entries finishing wake the loop anyway; each look reads up to
        MAX_IN_FLIGHT entries, too much to repeat for every message of a burst."""
        if len(self._in_flight) < MAX_IN_FLIGHT // 2:
            self._wakeup.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the transactions in progress (up to `grace` seconds), leave the rest
        in the queue, due at once."""
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for lane in self._lanes.values():
            while lane.jobs:
                self._drop(lane.jobs.popleft())
            async with lane.ready:
                lane.ready.notify_all()
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)

    async def run_once(self) -> None:
        """Deliver everything due now and wait until those attempts are finished
        (tests)."""
        await self._admit()
        if self._in_flight:
            self._drained.clear()
            await self._drained.wait()

    def _spawn(self, coro: object, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("queue: task %s failed", task.get_name(), exc_info=task.exception())

    # --- taking work from the queue ----------------------------------------------

    async def _poll_loop(self) -> None:
        while not self._stopping:
            full = False
            try:
                full = await self._admit()
            except Exception:
                log.exception("queue: reading due entries failed")
            self._wakeup.clear()
            if full and len(self._in_flight) >= MAX_IN_FLIGHT // 2:
                await self._wakeup.wait()  # set when the number in flight drops
            else:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.settings.poll_interval)
                except TimeoutError:
                    continue
            # Woken (mail queued, entries finished): one look at the queue for the
            # whole burst rather than one per message.
            await asyncio.sleep(WAKE_GATHER)

    async def _admit(self) -> bool:
        """Start attempts for due entries not already in flight; True when more may be due."""
        capacity = MAX_IN_FLIGHT - len(self._in_flight)
        if capacity <= 0:
            return True
        entries = await self.store.due_queue_entries(
            self.clock(), limit=capacity, exclude=list(self._in_flight)
        )
        for entry in entries:
            if entry.id not in self._in_flight and len(self._in_flight) < MAX_IN_FLIGHT:
                attempt = _Attempt(entry)
                self._in_flight[entry.id] = attempt
                self._spawn(self._begin(attempt), f"queue-{entry.id}")
        return len(entries) >= capacity

    async def _begin(self, attempt: _Attempt) -> None:
        entry = attempt.entry
        try:
            raw = strip_return_path(await self.store.read_message(entry.blob_id))
            kept = entry.params.get(SIGNATURE_PARAM)
            if kept is not None:
                # Signed before the first attempt: every retry sends that signature.
                raw = kept.encode("utf-8") + raw
            elif self.signer is not None:
                signature = self.signer(entry, raw)
                if signature:
                    attempt.new_signature = signature
                    raw = signature + raw
            attempt.content = raw
        except Exception:
            log.exception("queue %d: reading the message failed", entry.id)
            self._release(entry.id)
            return
        by_domain: dict[str, list[Recipient]] = {}
        for r in entry.recipients:
            if r.state is RecipientState.PENDING:
                by_domain.setdefault(recipient_domain(r.address), []).append(
                    Recipient(r.address, r.dsn)
                )
        attempt.jobs_left = len(by_domain)
        if not by_domain:
            self._release(entry.id)
            return
        for domain, recipients in by_domain.items():
            job = _Job(attempt, domain, tuple(recipients))
            try:
                route = await self._route(domain)
            except Exception as e:
                if not isinstance(e, RouteError):
                    log.exception("queue %d: routing %s failed", entry.id, domain)
                    e = RouteError(False, "4.3.0", f"routing {domain} failed: {e}")
                outcome = Outcome.FAILED if e.permanent else Outcome.DEFERRED
                self._finish(
                    job, [local_result(r.address, outcome, e.status, e.text) for r in recipients]
                )
                continue
            self._enqueue(route, job)

    async def _route(self, domain: str) -> Route:
        now = asyncio.get_running_loop().time()
        cached = self._routes.get(domain)
        if cached is not None and cached[0] > now:
            found = cached[1]
        else:
            try:
                found = await find_route(domain, self.settings, self.resolver)
            except RouteError as e:
                found = e
            if isinstance(found, Route) or found.permanent:
                self._routes[domain] = (now + ROUTE_TTL, found)
        if isinstance(found, RouteError):
            raise found
        return found

    # --- lanes: connections per destination -----------------------------------------

    def _enqueue(self, route: Route, job: _Job) -> None:
        lane = self._lanes.get(route.key)
        if lane is None:
            lane = self._lanes[route.key] = _Lane(route)
        lane.route = route
        lane.jobs.append(job)
        if lane.idle > 0:
            self._spawn(self._notify(lane), "queue-notify")
        elif lane.workers < self.settings.concurrency:
            lane.workers += 1
            self._spawn(self._lane_worker(lane), f"queue-lane-{route.key}")

    async def _notify(self, lane: _Lane) -> None:
        async with lane.ready:
            lane.ready.notify()

    async def _next_job(self, lane: _Lane, wait: bool) -> _Job | None:
        if lane.jobs:
            return lane.jobs.popleft()
        if not wait or self._stopping:
            return None
        lane.idle += 1
        try:
            async with lane.ready:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        lane.ready.wait_for(lambda: bool(lane.jobs) or self._stopping),
                        IDLE_REUSE,
                    )
        finally:
            lane.idle -= 1
        return lane.jobs.popleft() if lane.jobs and not self._stopping else None

    async def _lane_worker(self, lane: _Lane) -> None:
        conn: OutboundConnection | None = None
        # Jobs written ahead on `conn` (RFC 2920 §3.1, RFC 3030 §4.2), oldest first:
        # they are on their way, so they are finished even while stopping.
        window: deque[_Job] = deque()
        try:
            while window or not self._stopping:
                sent = bool(window)
                job = window.popleft() if sent else await self._next_job(lane, conn is not None)
                if job is None:
                    break
                if conn is None:
                    try:
                        conn = await dial(lane.route, self.resolver, self.options)
                    except Exception as e:
                        if not isinstance(e, DialError):
                            log.exception("queue: dialling %s failed", lane.route.key)
                            e = DialError(False, "4.3.0", f"dialling failed: {e}")
                        # The destination is unreachable: everything waiting for it
                        # fails the same way now, without dialling again.
                        self._unreachable(lane, job, e)
                        break
                reused = conn.transactions > 0
                result = await self._send(conn, job, sent, lane, window)
                if reused and not result.reusable and _nothing_decided(result):
                    # A cached connection the server dropped meanwhile (idle timeout,
                    # a per-connection limit): once more on a fresh one before deferring;
                    # what was written behind it goes again too, in its turn.
                    self._requeue(lane, window)
                    await conn.close(quit=False)
                    conn = None
                    try:
                        conn = await dial(lane.route, self.resolver, self.options)
                    except Exception:
                        pass
                    else:
                        result = await self._send(conn, job)
                self._finish(job, result.results)
                if conn is None:
                    continue
                if not result.reusable or (conn.transactions >= MAX_REUSE and not window):
                    # Never QUIT behind transactions written ahead: the server would
                    # read it as their content or after them.
                    await conn.close(quit=result.reusable and not window)
                    self._requeue(lane, window)
                    conn = None
        finally:
            lane.workers -= 1
            on_wire = bool(window)
            self._requeue(lane, window)  # only when the worker failed or was cancelled
            if conn is not None:
                await conn.close(quit=not on_wire)
            if lane.jobs and not self._stopping and lane.workers == 0:
                # Jobs arrived while this worker was leaving.
                lane.workers += 1
                self._spawn(self._lane_worker(lane), f"queue-lane-{lane.route.key}")

    def _requeue(self, lane: _Lane, window: deque[_Job]) -> None:
        """Jobs written ahead on a connection that is gone, never answered: back to the
        front of their lane in order, to go again (at least once, RFC 5321 §6.1)."""
        while window:
            job = window.pop()
            if self._stopping:
                self._drop(job)
            else:
                lane.jobs.appendleft(job)

    def _ahead(self, lane: _Lane, conn: OutboundConnection, window: deque[_Job]) -> _Job | None:
        """The next waiting job, to be written behind the transaction in progress, when
        the connection will carry it and nothing about it is decided here."""
        if (
            self._stopping
            or not lane.jobs
            or conn.transactions + len(window) + 2 > MAX_REUSE
            or len(window) >= WINDOW
        ):
            return None
        job = lane.jobs[0]
        if refusal(conn, self._envelope(job), job.attempt.content) is not None:
            return None  # decided without the server when its turn comes
        return job

    def _follow_up(self, lane: _Lane, conn: OutboundConnection, window: deque[_Job]) -> FollowUp:
        """What writes the next waiting job's command group behind this message's
        content (RFC 2920 §3.1)."""

        def follow() -> bytes:
            if window:
                return b""
            job = self._ahead(lane, conn, window)
            if job is None:
                return b""
            try:
                group = command_group(conn, self._envelope(job), job.attempt.content)
            except Exception:
                return b""  # fails again in its own transaction, and is reported there
            lane.jobs.popleft()
            window.append(job)
            return group

        return follow

    def _write_ahead(
        self, lane: _Lane, conn: OutboundConnection, window: deque[_Job], size: int
    ) -> list[bytes]:
        """Whole transactions of waiting jobs to write behind the one in progress (`size`
        octets of content), up to WINDOW of them and WINDOW_OCTETS of content, so the
        server always has the next message at hand (RFC 3030 §4.2)."""
        size += sum(len(j.attempt.content) for j in window)
        out: list[bytes] = []
        while (job := self._ahead(lane, conn, window)) is not None:
            size += len(job.attempt.content)
            if size > WINDOW_OCTETS:
                break
            try:
                out.append(chunked_transaction(conn, self._envelope(job), job.attempt.content))
            except Exception:
                break  # fails again in its own transaction, and is reported there
            lane.jobs.popleft()
            window.append(job)
        return out

    async def _send(
        self,
        conn: OutboundConnection,
        job: _Job,
        sent: bool = False,
        lane: _Lane | None = None,
        window: deque[_Job] | None = None,
    ) -> TransactionResult:
        """One job's transaction; `sent`: it was written ahead already. With a lane and a
        window, the jobs waiting in the lane are written ahead behind it."""
        envelope = self._envelope(job)
        content = job.attempt.content
        timeout = self.settings.data_timeout
        try:
            if not chunked(conn):
                follow = None
                if lane is not None and window is not None and conn.offers("PIPELINING"):
                    follow = self._follow_up(lane, conn, window)
                return await send_transaction(
                    conn, envelope, content, timeout, group_sent=sent, follow=follow
                )
            if not sent:
                refused = refusal(conn, envelope, content)
                if refused is not None:
                    return refused
            try:
                out = [chunked_transaction(conn, envelope, content)] if not sent else []
                if lane is not None and window is not None:
                    out += self._write_ahead(lane, conn, window, len(content))
                if out:  # one write: one TLS record run, one wake-up at the server
                    conn.write(b"".join(out))
                await conn.drain()
            except ConnectionLost as e:
                deferred = [
                    local_result(r.address, Outcome.DEFERRED, "4.4.2", str(e))
                    for r in job.recipients
                ]
                return TransactionResult(deferred, False)
            return await chunked_result(conn, envelope, timeout)
        except Exception:
            # A bug must not strand the entry: it stays queued and is tried again.
            log.exception("queue %d: delivery failed", job.attempt.entry.id)
            deferred = [
                local_result(r.address, Outcome.DEFERRED, "4.3.0", "internal error")
                for r in job.recipients
            ]
            return TransactionResult(deferred, False)

    def _unreachable(self, lane: _Lane, job: _Job, error: DialError) -> None:
        outcome = Outcome.FAILED if error.permanent else Outcome.DEFERRED
        jobs = [job]
        if lane.workers <= 1:
            jobs += list(lane.jobs)
            lane.jobs.clear()
        for j in jobs:
            self._finish(
                j,
                [local_result(r.address, outcome, error.status, error.text) for r in j.recipients],
            )

    def _envelope(self, job: _Job) -> Envelope:
        entry = job.attempt.entry
        return Envelope(entry.sender, job.recipients, dict(entry.params))

    def _drop(self, job: _Job) -> None:
        job.attempt.interrupted = True
        self._finish(
            job,
            [
                local_result(r.address, Outcome.DEFERRED, "4.3.2", "delivery interrupted: stopping")
                for r in job.recipients
            ],
        )

    # --- writing results back ---------------------------------------------------

    def _finish(self, job: _Job, results: list[RecipientResult]) -> None:
        attempt = job.attempt
        attempt.results.extend(results)
        for result in results:
            log.info(
                "queue %d: to=<%s> relay=%s status=%s (%s)",
                attempt.entry.id,
                result.address,
                result.remote_mta or "none",
                result.outcome.value,
                result.diagnostic,
            )
        attempt.jobs_left -= 1
        if attempt.jobs_left == 0:
            self._spawn(self._conclude(attempt), f"queue-done-{attempt.entry.id}")

    async def _conclude(self, attempt: _Attempt) -> None:
        entry = attempt.entry
        try:
            await self._record(attempt)
        except NotFound:
            pass  # deleted meanwhile (`posthouse queue delete`)
        except Exception:
            log.exception("queue %d: recording the results failed", entry.id)
        finally:
            self._release(entry.id)

    def _release(self, queue_id: int) -> None:
        self._in_flight.pop(queue_id, None)
        if len(self._in_flight) < MAX_IN_FLIGHT // 2:
            self._wakeup.set()
        if not self._in_flight:
            self._drained.set()

    async def _record(self, attempt: _Attempt) -> None:
        entry = attempt.entry
        now = self.clock()
        delivered = [r for r in attempt.results if r.outcome is Outcome.DELIVERED]
        failed = [r for r in attempt.results if r.outcome is Outcome.FAILED]
        deferred = [r for r in attempt.results if r.outcome is Outcome.DEFERRED]
        if deferred and not attempt.interrupted and expired(self.settings, entry.created, now):
            # RFC 5321 §4.5.4.1: give up; the DSN carries the last temporary status.
            failed += [
                RecipientResult(
                    r.address,
                    Outcome.FAILED,
                    r.status,
                    f"delivery time expired; last error: {r.diagnostic}",
                    r.remote_mta,
                    r.smtp_reply,
                )
                for r in deferred
            ]
            deferred = []
        if failed:
            # Stored before the recipients are marked: a crash in between repeats the
            # notification rather than losing it.
            await send_bounce(self.store, self.config, entry, failed, now)
        relayed = [r for r in delivered if not r.peer_dsn]
        if relayed:
            # RFC 3464 §2.3.3: the next hop does not do DSN (RFC 3461), so NOTIFY=SUCCESS is
            # answered here with "relayed".
            await send_bounce(self.store, self.config, entry, relayed, now, action="relayed")
        if not deferred:
            await self.store.delete_queue_entry(entry.id)
            return
        states: dict[str, tuple[RecipientState, str | None]] = {}
        for r in delivered:
            states[r.address] = (RecipientState.DELIVERED, r.diagnostic)
        for r in failed:
            states[r.address] = (RecipientState.FAILED, r.diagnostic)
        for r in deferred:
            states[r.address] = (RecipientState.PENDING, r.diagnostic)
        if attempt.interrupted:
            when, attempts = now, entry.attempts
        else:
            attempts = entry.attempts + 1
            when = next_attempt(self.settings, attempts, entry.created, now)
        params = None
        if attempt.new_signature is not None:
            params = {**entry.params, SIGNATURE_PARAM: attempt.new_signature.decode("utf-8")}
        if (
            DELAY_NOTICE_PARAM not in entry.params
            and not attempt.interrupted
            and (now - entry.created).total_seconds() >= DELAY_NOTICE_AFTER
        ):
            # RFC 3461 §4.1: NOTIFY=DELAY asks to hear of a long delay; once.
            await send_bounce(self.store, self.config, entry, deferred, now, action="delayed")
            params = {**(params or entry.params), DELAY_NOTICE_PARAM: now.isoformat()}
        await self.store.update_queue_entry(
            entry.id,
            recipient_states=states,
            next_attempt=when,
            attempts=attempts,
            last_error=deferred[0].diagnostic,
            params=params,
        )
