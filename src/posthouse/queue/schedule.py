"""When to try again, and when to give up."""

from __future__ import annotations

from datetime import datetime, timedelta

from posthouse.config import RelaySettings


def next_attempt(
    settings: RelaySettings, attempts: int, created: datetime, now: datetime
) -> datetime:
    """After `attempts` failed attempts: the schedule's delay for that attempt (its last
    entry repeats), never past the moment the message expires, so it bounces on time.
    RFC 5321 §4.5.4.1: at least 30 minutes between retries is the advice for the
    Internet; the schedule starts shorter because a first failure is often brief."""
    schedule = settings.retry_schedule
    delay = schedule[min(max(attempts, 1), len(schedule)) - 1]
    return min(now + timedelta(seconds=delay), expires_at(settings, created))


def expires_at(settings: RelaySettings, created: datetime) -> datetime:
    # RFC 5321 §4.5.4.1: give up after at least 4-5 days.
    return created + timedelta(seconds=settings.max_age)


def expired(settings: RelaySettings, created: datetime, now: datetime) -> bool:
    return now >= expires_at(settings, created)
