"""The admin console: only admins; domains, users, aliases, queue, DNS, failed logins."""

from __future__ import annotations

from posthouse.store.base import OutboundEnvelope, OutboundRecipient
from tests.web.conftest import Site, mail


def test_non_admins_never_reach_it(site: Site) -> None:
    csrf = site.login("alice@example.test")
    assert site.client.get("/admin").status_code == 404
    for path in ("/admin/domains", "/admin/users", "/admin/aliases", "/admin/users/1/delete",
                 "/admin/queue/1/retry", "/admin/domains/delete"):
        assert site.client.post(path, data={"csrf": csrf, "name": "x.example"}).status_code == 404
    assert "Admin" not in site.client.get("/settings").text.split("<main")[0].replace(
        "Administration", "")
    assert site.client.get("/metrics", headers={"x-forwarded-for": "127.0.0.1"}).status_code == 404


def test_manage_domains_users_aliases(site: Site) -> None:
    csrf = site.login("admin@example.test")
    page = site.client.get("/admin")
    assert page.status_code == 200 and "Server status" in page.text
    site.client.post("/admin/domains", data={"csrf": csrf, "name": "second.example"})
    assert site.run(site.store.get_domain, "second.example") is not None
    response = site.client.post(
        "/admin/users",
        data={"csrf": csrf, "address": "zed@second.example", "password": "zed-password-1",
              "quota": "10M", "display_name": "Zed"},
    )
    assert response.status_code == 200 and "Created." in response.text
    zed = site.run(site.store.get_user, "zed@second.example")
    assert zed is not None and zed.quota_bytes == 10 * 1024 * 1024
    bad = site.client.post("/admin/users", data={"csrf": csrf, "address": "y@second.example",
                                                  "password": "short"})
    assert bad.status_code == 400
    site.client.post(f"/admin/users/{zed.id}", data={"csrf": csrf, "quota": "", "p_imap": "on"})
    zed = site.run(site.store.get_user, "zed@second.example")
    assert zed.quota_bytes is None and zed.protocols == frozenset({"imap"}) and not zed.enabled
    site.client.post("/admin/aliases",
                     data={"csrf": csrf, "source": "team@second.example",
                           "targets": "zed@second.example, out@far.example"})
    alias = site.run(site.store.get_alias, "team@second.example")
    assert alias is not None and alias.targets == ("zed@second.example", "out@far.example")
    site.client.post("/admin/aliases/delete", data={"csrf": csrf, "source": "team@second.example"})
    assert site.run(site.store.get_alias, "team@second.example") is None
    site.client.post(f"/admin/users/{zed.id}/delete", data={"csrf": csrf})
    assert site.run(site.store.get_user, "zed@second.example") is None
    page = site.client.get("/admin")
    assert "_dmarc.second.example." in page.text and "v=spf1 mx -all" in page.text
    site.client.post("/admin/domains/delete", data={"csrf": csrf, "name": "second.example"})
    assert site.run(site.store.get_domain, "second.example") is None


def test_admin_cannot_lock_themselves_out(site: Site) -> None:
    csrf = site.login("admin@example.test")
    me = site.ids["admin@example.test"]
    site.client.post(f"/admin/users/{me}", data={"csrf": csrf, "quota": ""})
    user = site.run(site.store.get_user_by_id, me)
    assert user.is_admin and user.enabled and "web" in user.protocols
    response = site.client.post(f"/admin/users/{me}/delete", data={"csrf": csrf})
    assert response.status_code == 400


def test_queue_retry_and_delete(site: Site) -> None:
    envelope = OutboundEnvelope("alice@example.test", (OutboundRecipient("x@far.example"),))

    async def queue() -> int:
        result = await site.store.accept(mail("out"), [], envelope)
        assert result.queue_id is not None
        return result.queue_id

    queue_id = site.run(queue)
    csrf = site.login("admin@example.test")
    page = site.client.get("/admin")
    assert "x@far.example" in page.text and "pending" in page.text
    response = site.client.post(f"/admin/queue/{queue_id}/retry", data={"csrf": csrf})
    assert "Delivery will be retried now." in response.text
    site.client.post(f"/admin/queue/{queue_id}/delete", data={"csrf": csrf})
    assert site.run(site.store.list_queue) == []


def test_failed_logins_are_listed(site: Site) -> None:
    async def fail() -> None:
        for _ in range(3):
            await site.ctx.authenticator.authenticate(
                "alice@example.test", "wrong", protocol="web", remote_ip="198.51.100.9"
            )

    site.run(fail)
    site.login("admin@example.test")
    page = site.client.get("/admin")
    # The web app saw them through the account module's log.
    monitor = site.client.app.state.web.monitor  # type: ignore[attr-defined]
    monitor.attach()
    site.run(fail)
    monitor.detach()
    page = site.client.get("/admin")
    assert "198.51.100.9" in page.text
    assert 'id="failed-logins"' in page.text


def test_dkim_key_generation_and_records(site: Site) -> None:
    csrf = site.login("admin@example.test")
    page = site.client.get("/admin")
    assert "No DKIM keys" in page.text
    response = site.client.post("/admin/dkim", data={"csrf": csrf, "domain": "example.test",
                                                     "kind": "ed25519"})
    assert response.status_code == 200 and "Created." in response.text
    assert "._domainkey.example.test." in response.text and "k=ed25519" in response.text
    keys = list((site.ctx.config.dir / "dkim" / "example.test").glob("*.pem"))
    assert len(keys) == 1 and oct(keys[0].stat().st_mode & 0o777) == "0o600"
    bad = site.client.post("/admin/dkim", data={"csrf": csrf, "domain": "other.example",
                                                "kind": "rsa"})
    assert bad.status_code == 400
    site.login("alice@example.test")
    assert site.client.post("/admin/dkim", data={"csrf": csrf, "domain": "example.test"}
                            ).status_code in (403, 404)
