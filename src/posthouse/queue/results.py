"""What one delivery attempt says about each recipient."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from posthouse.proto.smtp.reply import Reply


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    DEFERRED = "deferred"  # try again later
    FAILED = "failed"  # permanent: bounce


@dataclass(frozen=True, slots=True)
class RecipientResult:
    address: str
    outcome: Outcome
    status: str  # enhanced status code (RFC 3463), "4.4.1", "5.1.1", "2.0.0"
    diagnostic: str  # what the remote server said ("smtp; 550 ...") or what happened
    remote_mta: str = ""  # the host that answered, for the DSN
    smtp_reply: bool = False  # `diagnostic` is an SMTP reply (Diagnostic-Code: smtp)
    # The next hop offered DSN (RFC 3461), so success notices are now its duty.
    peer_dsn: bool = True


def outcome_of(reply: Reply) -> Outcome:
    """RFC 5321 §4.2.1: 2yz done, 4yz transient, 5yz permanent."""
    if reply.code < 400:
        return Outcome.DELIVERED
    return Outcome.DEFERRED if reply.code < 500 else Outcome.FAILED


def status_of(reply: Reply) -> str:
    """The enhanced status of a reply, or one derived from its class (RFC 3463 §3.1)."""
    if reply.enhanced:
        return reply.enhanced
    return {2: "2.0.0", 3: "2.0.0", 4: "4.0.0"}.get(reply.code // 100, "5.0.0")


def reply_text(reply: Reply) -> str:
    text = " ".join(line for line in reply.lines if line)
    if reply.enhanced:
        text = f"{reply.enhanced} {text}"
    return f"{reply.code} {text}".strip()


def from_reply(
    address: str, reply: Reply, remote_mta: str, *, soft: bool = False, peer_dsn: bool = True
) -> RecipientResult:
    """The result a reply gives a recipient; `soft` turns a positive reply where none
    belongs (a 2yz to MAIL other than 250, no 354 to DATA) into a deferral."""
    outcome = outcome_of(reply)
    status = status_of(reply)
    if soft and outcome is Outcome.DELIVERED:
        outcome, status = Outcome.DEFERRED, "4.5.0"
    return RecipientResult(address, outcome, status, reply_text(reply), remote_mta, True, peer_dsn)


def local_result(address: str, outcome: Outcome, status: str, text: str) -> RecipientResult:
    """A result decided here (no route, connection refused, expired), not by a peer."""
    return RecipientResult(address, outcome, status, text)
