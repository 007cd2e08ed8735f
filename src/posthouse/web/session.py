"""Browser sessions: a random token in a cookie, its hash in the store.

The cookie is `__Host-` prefixed (RFC 6265bis §4.1.3.2: Secure, Path=/, no Domain),
HttpOnly and SameSite=Strict.  A session ends after IDLE without a request, after
ABSOLUTE whatever happens, at sign-out, and when the password changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from posthouse.store.base import Store, User, WebSession

COOKIE = "__Host-posthouse"
LOGIN_CSRF_COOKIE = "__Host-posthouse-login"
IDLE = timedelta(hours=2)
ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=5)  # how stale last_seen may get before a write


@dataclass(frozen=True, slots=True)
class Auth:
    user: User
    session: WebSession

    @property
    def csrf(self) -> str:
        return self.session.csrf


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _expiry(created: datetime, now: datetime) -> datetime:
    return min(now + IDLE, created + ABSOLUTE)


async def start(store: Store, user: User, remote_ip: str) -> tuple[str, WebSession]:
    """A new session for `user`: (cookie token, record)."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    record = await store.create_web_session(
        token_id(token), user.id, secrets.token_urlsafe(24), remote_ip, _expiry(now, now)
    )
    return token, record


async def resume(store: Store, token: str | None) -> Auth | None:
    """The signed-in user of a request, or None; slides the idle expiry."""
    if not token or len(token) > 100:
        return None
    session = await store.get_web_session(token_id(token))
    if session is None:
        return None
    user = await store.get_user_by_id(session.user_id)
    if user is None or not user.enabled or "web" not in user.protocols:
        return None
    now = datetime.now(UTC)
    if now - session.last_seen > TOUCH_EVERY:
        await store.touch_web_session(session.id, _expiry(session.created, now))
    return Auth(user, session)


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
