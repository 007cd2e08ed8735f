"""What the admin console and /metrics show about the running servers.

The mail sessions report through their loggers (a failed login, an accepted
message); `Monitor` listens to those records, so the protocol code needs no hook.
Listener connection counts come from the runner through a `status` callable.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client import Counter as PromCounter

AUTH_LOGGER = "posthouse.accounts.authenticate"
SMTP_LOGGER = "posthouse.smtp"
QUEUE_LOGGER = "posthouse.queue"
LOGGERS = (AUTH_LOGGER, SMTP_LOGGER, QUEUE_LOGGER)


@dataclass(frozen=True, slots=True)
class ListenerStatus:
    name: str
    address: str
    port: int
    tls: str
    connections: int


@dataclass(frozen=True, slots=True)
class FailedLogin:
    when: float
    account: str
    remote_ip: str
    protocol: str


@dataclass
class Monitor:
    status: Callable[[], list[ListenerStatus]] = list
    started: float = field(default_factory=time.time)
    failed_logins: deque[FailedLogin] = field(default_factory=lambda: deque(maxlen=200))
    accepted_times: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.auth_failures = PromCounter(
            "posthouse_auth_failures", "Failed logins", ["protocol"], registry=r
        )
        self.messages_accepted = PromCounter(
            "posthouse_messages_accepted", "Messages accepted over SMTP", registry=r
        )
        self.web_requests = PromCounter(
            "posthouse_web_requests", "Webmail HTTP requests", ["status"], registry=r
        )
        self.web_sent = PromCounter("posthouse_web_messages_sent", "Sent from webmail", registry=r)
        self.outbound = PromCounter(
            "posthouse_outbound_recipients",
            "Relay attempts per recipient by outcome (delivered, deferred, failed)",
            ["outcome"],
            registry=r,
        )
        self.bounces = PromCounter("posthouse_bounces", "Delivery status notifications", registry=r)
        self.connections = Gauge(
            "posthouse_open_connections", "Open protocol sessions", ["listener"], registry=r
        )
        self.queue_size = Gauge("posthouse_queue_messages", "Messages in the queue", registry=r)
        self.queue_recipients = Gauge(
            "posthouse_queue_recipients", "Queued recipients by state", ["state"], registry=r
        )
        self._handler = _MonitorHandler(self)

    def attach(self) -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
            logger.addHandler(self._handler)

    def detach(self) -> None:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self._handler)

    def login_failed(self, account: str, remote_ip: str, protocol: str) -> None:
        self.failed_logins.append(FailedLogin(time.time(), account, remote_ip, protocol))
        self.auth_failures.labels(protocol).inc()

    def message_accepted(self) -> None:
        self.accepted_times.append(time.time())
        self.messages_accepted.inc()

    def messages_per_minute(self, minutes: int = 5) -> float:
        horizon = time.time() - 60 * minutes
        recent = sum(1 for t in self.accepted_times if t >= horizon)
        return recent / minutes

    def failures_by_ip(self) -> list[tuple[str, int]]:
        return Counter(f.remote_ip for f in self.failed_logins).most_common(20)


class _MonitorHandler(logging.Handler):
    def __init__(self, monitor: Monitor) -> None:
        super().__init__(logging.INFO)
        self.monitor = monitor

    def emit(self, record: logging.LogRecord) -> None:
        try:
            args = record.args if isinstance(record.args, tuple) else ()
            text = str(record.msg)
            if record.name == AUTH_LOGGER and text.startswith("login failed") and len(args) >= 3:
                self.monitor.login_failed(str(args[0]), str(args[1]), str(args[2]))
            elif record.name == SMTP_LOGGER and " accepted " in text:
                self.monitor.message_accepted()
            elif record.name == QUEUE_LOGGER and " status=%s " in text and len(args) >= 4:
                self.monitor.outbound.labels(str(args[3])).inc()
            elif record.name == QUEUE_LOGGER and ": DSN to " in text:
                self.monitor.bounces.inc()
        except Exception:  # a monitor must never break the code it watches
            pass
