"""The JSON API v1 and /metrics."""

from __future__ import annotations

from tests.web.conftest import Site, mail


def test_index_is_public_and_documented(site: Site) -> None:
    index = site.client.get("/api/v1").json()
    assert index["version"] == 1
    paths = {e["path"] for e in index["endpoints"]}
    assert "/api/v1/send" in paths and "/api/v1/mailboxes/{id}/messages" in paths


def test_read_through_the_api(site: Site) -> None:
    uid = site.deliver("alice@example.test", mail("api subject", "api body words"))
    site.login("alice@example.test")
    boxes = site.client.get("/api/v1/mailboxes").json()
    inbox = next(b for b in boxes if b["name"] == "INBOX")
    assert inbox["messages"] == 1 and inbox["unseen"] == 1
    listing = site.client.get(f"/api/v1/mailboxes/{inbox['id']}/messages?limit=10").json()
    assert listing["total"] == 1 and listing["items"][0]["subject"] == "api subject"
    one = site.client.get(f"/api/v1/mailboxes/{inbox['id']}/messages/{uid}").json()
    assert one["text"].strip() == "api body words"
    assert one["from"]["address"] == "carol@remote.example"
    assert [m["uid"] for m in site.client.get("/api/v1/search?q=words").json()] == [uid]
    assert site.client.get(f"/api/v1/mailboxes/{inbox['id']}/messages?sort=x").status_code == 400


def test_writes_need_the_csrf_header(site: Site) -> None:
    uid = site.deliver("alice@example.test", mail("x"))
    csrf = site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    body = {"uids": [uid], "action": "flag"}
    assert site.client.post(f"/api/v1/mailboxes/{inbox}/actions", json=body).status_code == 403
    response = site.client.post(
        f"/api/v1/mailboxes/{inbox}/actions", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.json() == {"done": "updated"}
    assert "\\Flagged" in site.run(site.store.get_message, inbox, uid).flags
    bad = site.client.post(f"/api/v1/mailboxes/{inbox}/actions", json={"uids": "1"},
                           headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 400


def test_send_and_codes(site: Site) -> None:
    csrf = site.login("alice@example.test")
    headers = {"X-CSRF-Token": csrf}
    sent = site.client.post("/api/v1/send", headers=headers,
                            json={"to": "bob@example.test", "subject": "via api", "text": "hi"})
    assert sent.status_code == 200 and sent.json()["message_id"].startswith("<")
    assert site.client.post("/api/v1/send", json={"to": "bob@example.test"}).status_code == 403
    injected = site.client.post("/api/v1/send", headers=headers,
                                json={"to": "bob@example.test", "subject": "a\r\nBcc: x@y"})
    assert injected.status_code == 400
    created = site.client.post("/api/v1/app-passwords", headers=headers,
                               json={"name": "script", "protocols": ["imap"]})
    assert created.status_code == 201 and len(created.json()["code"].replace(" ", "")) == 16
    listed = site.client.get("/api/v1/app-passwords").json()
    assert [c["name"] for c in listed] == ["script"]
    revoke = site.client.delete(f"/api/v1/app-passwords/{listed[0]['id']}", headers=headers)
    assert revoke.status_code == 204
    assert site.client.get("/api/v1/app-passwords").json() == []
    assert site.client.delete("/api/v1/app-passwords/999", headers=headers).status_code == 404


def test_metrics(site: Site) -> None:
    # TestClient's peer is "testclient", not loopback: only an admin may look.
    assert site.client.get("/metrics").status_code == 404
    site.login("alice@example.test")
    assert site.client.get("/metrics").status_code == 404
    site.login("admin@example.test")
    text = site.client.get("/metrics").text
    for name in ("posthouse_auth_failures", "posthouse_messages_accepted_total",
                 "posthouse_queue_messages", "posthouse_web_requests_total",
                 "posthouse_queue_recipients"):
        assert name in text


def test_metrics_follow_the_servers_logs(site: Site) -> None:
    import logging

    from posthouse.web.monitor import Monitor

    monitor = Monitor()
    monitor.attach()
    try:
        logging.getLogger("posthouse.smtp").info(
            "smtp %s accepted %s from=<%s> rcpts=%d size=%d", "192.0.2.1", "ab", "a@b", 1, 10
        )
        queue = logging.getLogger("posthouse.queue")
        queue.info("queue %d: to=<%s> relay=%s status=%s (%s)", 1, "x@y", "mx", "delivered", "ok")
        queue.info("queue %d: to=<%s> relay=%s status=%s (%s)", 1, "z@y", "mx", "failed", "550")
        queue.info("queue %d: DSN to <%s> for %d recipient(s)", 1, "a@b", 1)
        logging.getLogger("posthouse.accounts.authenticate").info(
            "login failed: %r from %s (%s)", "a@b", "198.51.100.1", "imap"
        )
    finally:
        monitor.detach()
    from prometheus_client import generate_latest

    text = generate_latest(monitor.registry).decode()
    assert "posthouse_messages_accepted_total 1.0" in text
    assert 'posthouse_outbound_recipients_total{outcome="delivered"} 1.0' in text
    assert 'posthouse_outbound_recipients_total{outcome="failed"} 1.0' in text
    assert "posthouse_bounces_total 1.0" in text
    assert 'posthouse_auth_failures_total{protocol="imap"} 1.0' in text
    assert monitor.messages_per_minute() > 0
