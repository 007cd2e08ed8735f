"""Account settings: password, protocol switches, authorization codes, client setup."""

from __future__ import annotations

import re

from posthouse.web import session
from tests.web.conftest import PASSWORDS, Site


def test_protocol_switches(site: Site) -> None:
    csrf = site.login("alice@example.test")
    response = site.client.post("/settings/protocols", data={"csrf": csrf, "imap": "on"})
    assert "Access switches saved." in response.text
    user = site.run(site.store.get_user, "alice@example.test")
    assert user.protocols == frozenset({"imap", "web"})

    async def pop3_login() -> str:
        result = await site.ctx.authenticator.authenticate(
            "alice@example.test", PASSWORDS["alice@example.test"], protocol="pop3",
            remote_ip="127.0.0.1",
        )
        return str(result.reason)

    assert site.run(pop3_login) == "protocol_disabled"
    assert 'id="switch-pop3">' in response.text and 'id="switch-imap" checked>' in response.text


def test_authorization_codes(site: Site) -> None:
    csrf = site.login("alice@example.test")
    response = site.client.post(
        "/settings/app-passwords",
        data={"csrf": csrf, "name": "Thunderbird", "code_imap": "on", "code_smtp": "on"},
    )
    assert response.status_code == 200
    code = re.search(r'id="new-code">([a-z ]+)<', response.text)
    assert code is not None
    # Shown once: the settings page never shows it again.
    assert code.group(1) not in site.client.get("/settings").text

    async def login(protocol: str) -> str:
        result = await site.ctx.authenticator.authenticate(
            "alice@example.test", code.group(1), protocol=protocol, remote_ip="127.0.0.1"
        )
        return str(result.reason)

    assert site.run(login, "imap") == "ok"
    assert site.run(login, "pop3") == "protocol_disabled"
    again = site.client.post(
        "/settings/app-passwords", data={"csrf": csrf, "name": "Thunderbird", "code_imap": "on"}
    )
    assert again.status_code == 400 and "exists" in again.text
    empty = site.client.post("/settings/app-passwords", data={"csrf": csrf, "name": "x"})
    assert empty.status_code == 400
    record = site.run(site.store.list_app_passwords, site.ids["alice@example.test"])[0]
    site.client.post(f"/settings/app-passwords/{record.id}/revoke", data={"csrf": csrf})
    assert site.run(login, "imap") == "bad_credentials"


def test_cannot_revoke_anothers_code(site: Site) -> None:
    from posthouse.accounts.app_passwords import create_app_password

    bob = site.run(site.store.get_user, "bob@example.test")
    created = site.run(create_app_password, site.store, bob, "phone")
    csrf = site.login("alice@example.test")
    site.client.post(f"/settings/app-passwords/{created.record.id}/revoke", data={"csrf": csrf})
    codes = site.run(site.store.list_app_passwords, bob.id)
    assert not codes[0].revoked


def test_password_change_ends_other_sessions(site: Site) -> None:
    site.login("alice@example.test")
    other = site.client.cookies.get(session.COOKIE)
    csrf = site.login("alice@example.test")
    wrong = site.client.post(
        "/settings/password",
        data={"csrf": csrf, "current": "no", "new": "new-pass-99", "confirm": "new-pass-99"},
    )
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    short = site.client.post(
        "/settings/password",
        data={"csrf": csrf, "current": PASSWORDS["alice@example.test"], "new": "x", "confirm": "x"},
    )
    assert short.status_code == 400
    done = site.client.post(
        "/settings/password",
        data={"csrf": csrf, "current": PASSWORDS["alice@example.test"],
              "new": "new-password-99", "confirm": "new-password-99"},
    )
    assert "Password changed" in done.text
    assert site.run(site.store.get_web_session, session.token_id(other or "")) is None
    assert site.client.get("/api/v1/me").status_code == 200
    site.login("alice@example.test", "new-password-99")


def test_client_setup_page(site: Site) -> None:
    site.login("alice@example.test")
    page = site.client.get("/settings/clients")
    assert page.status_code == 200
    text = page.text
    for expected in ("IMAP (reading)", "2993", "SSL/TLS (implicit)", "2143", "STARTTLS",
                     "SMTP (sending)", "2587", "mail.example.test"):
        assert expected in text
