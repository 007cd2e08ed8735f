"""Sign-in, sessions, CSRF and sign-out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from posthouse.web import session
from tests.web.conftest import PASSWORDS, Site


def login_token(site: Site) -> str:
    page = site.client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_pages_need_sign_in(site: Site) -> None:
    for path in ("/", "/mail", "/settings", "/compose", "/admin", "/folders", "/search?q=x"):
        response = site.client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    assert site.client.get("/api/v1/mailboxes").status_code == 401
    assert site.client.post("/logout").status_code == 401


def test_sign_in_sets_a_safe_cookie(site: Site) -> None:
    token = login_token(site)
    response = site.client.post(
        "/login",
        data={"username": "Alice@Example.test", "password": PASSWORDS["alice@example.test"],
              "csrf": token, "next": "/settings"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/settings"
    cookie = next(
        v for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith(session.COOKIE)
    )
    lowered = cookie.lower()
    assert "secure" in lowered and "httponly" in lowered and "samesite=strict" in lowered
    assert "path=/" in lowered and "domain=" not in lowered
    assert site.client.get("/settings").status_code == 200


def test_wrong_password(site: Site) -> None:
    token = login_token(site)
    response = site.client.post(
        "/login", data={"username": "alice@example.test", "password": "nope", "csrf": token}
    )
    assert response.status_code == 401
    assert "Wrong address or password" in response.text
    assert site.client.get("/api/v1/me").status_code == 401


def test_login_without_csrf_is_refused(site: Site) -> None:
    site.client.get("/login")
    response = site.client.post(
        "/login",
        data={"username": "alice@example.test", "password": PASSWORDS["alice@example.test"]},
    )
    assert response.status_code == 403
    site.client.cookies.clear()
    response = site.client.post(
        "/login",
        data={"username": "alice@example.test", "password": PASSWORDS["alice@example.test"],
              "csrf": "forged"},
    )
    assert response.status_code == 403


def test_throttle_is_shared_with_mail_protocols(site: Site) -> None:
    """Failures over SMTP/IMAP count against web sign-in, and the reverse."""
    auth = site.ctx.authenticator

    async def fail_over_imap() -> None:
        for _ in range(12):
            await auth.authenticate("alice@example.test", "bad", protocol="imap",
                                    remote_ip="testclient")

    site.run(fail_over_imap)
    token = login_token(site)
    response = site.client.post(
        "/login",
        data={"username": "alice@example.test", "password": PASSWORDS["alice@example.test"],
              "csrf": token},
    )
    assert response.status_code == 429
    assert "Retry-After" in response.headers


def test_web_switched_off(site: Site) -> None:
    async def imap_only() -> None:
        await site.store.update_user(site.ids["alice@example.test"], protocols=["imap"])

    site.run(imap_only)
    token = login_token(site)
    response = site.client.post(
        "/login",
        data={"username": "alice@example.test", "password": PASSWORDS["alice@example.test"],
              "csrf": token},
    )
    assert response.status_code == 401
    assert "switched off" in response.text


def test_next_is_never_another_site(site: Site) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"):
        site.client.cookies.clear()
        token = login_token(site)
        response = site.client.post(
            "/login",
            data={"username": "bob@example.test", "password": PASSWORDS["bob@example.test"],
                  "csrf": token, "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/mail", target


def test_csrf_refused_on_every_form_action(site: Site) -> None:
    csrf = site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    posts = {
        "/logout": {},
        f"/mail/{inbox}/actions": {"uid": "1", "action": "read"},
        "/folders": {"name": "X"},
        "/compose": {"to": "bob@example.test", "subject": "s", "body": "b", "action": "send"},
        "/settings/protocols": {"imap": "on"},
        "/settings/app-passwords": {"name": "x", "code_imap": "on"},
        "/settings/password": {"current": "a", "new": "b", "confirm": "b"},
    }
    for path, data in posts.items():
        assert site.client.post(path, data=data).status_code == 403, path
        assert site.client.post(path, data={**data, "csrf": "wrong"}).status_code == 403, path
    # A right token from another origin is refused too.
    response = site.client.post(
        "/folders", data={"name": "X", "csrf": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert site.client.post("/folders", data={"name": "X", "csrf": csrf},
                            follow_redirects=False).status_code == 303


def test_logout_ends_the_session(site: Site) -> None:
    csrf = site.login("alice@example.test")
    cookie = site.client.cookies.get(session.COOKIE)
    response = site.client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    site.client.cookies.set(session.COOKIE, cookie or "", domain="mail.example.test")
    assert site.client.get("/api/v1/me").status_code == 401


def test_expired_session(site: Site) -> None:
    site.login("alice@example.test")
    token = site.client.cookies.get(session.COOKIE) or ""
    site.run(site.store.touch_web_session, session.token_id(token),
             datetime.now(UTC) - timedelta(seconds=1))
    assert site.client.get("/api/v1/me").status_code == 401


def test_session_cookie_is_not_stored_in_clear(site: Site) -> None:
    site.login("alice@example.test")
    token = site.client.cookies.get(session.COOKIE) or ""
    assert site.run(site.store.get_web_session, token) is None
    assert site.run(site.store.get_web_session, session.token_id(token)) is not None


def test_security_headers(site: Site) -> None:
    site.login("alice@example.test")
    response = site.client.get("/mail", follow_redirects=True)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("style-src")[0]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "<script src=\"/static/app.js\"" in response.text
    assert "http://" not in response.text.replace("http://www.w3.org", "")
