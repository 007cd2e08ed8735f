"""Writing: send through the submission rules, drafts, reply/forward, and no header
injection through any field."""

from __future__ import annotations

import re
from typing import Any

from posthouse.store.base import SpecialUse
from tests.web.conftest import Site, mail


def send(site: Site, csrf: str, files: dict | None = None, **fields: str | list[str]) -> Any:
    data: dict[str, str | list[str]] = {"csrf": csrf, "action": "send", "subject": "s", "body": "b"}
    data.update(fields)
    return site.client.post("/compose", data=data, files=files, follow_redirects=False)


def messages(site: Site, address: str, role: str | None = None) -> list[bytes]:
    user_id = site.ids[address]
    box = (
        site.run(site.store.mailbox_by_role, user_id, role)
        if role
        else site.run(site.store.get_mailbox, user_id, "INBOX")
    )
    assert box is not None
    return [
        site.run(site.store.read_message, m.blob_id)
        for m in site.run(site.store.list_messages, box.id)
    ]


def test_send_to_local_user_with_attachment(site: Site) -> None:
    csrf = site.login("alice@example.test")
    response = send(
        site, csrf, to="Bob <bob@example.test>", subject="Quarterly numbers", body="Here.\n.dot",
        files={"files": ("numbers.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert response.status_code == 303 and "done=sent" in response.headers["location"]
    [received] = messages(site, "bob@example.test")
    assert b"Subject: Quarterly numbers" in received
    assert b"From: alice@example.test" in received
    assert b'filename="numbers.csv"' in received
    assert received.startswith(b"Return-Path: <alice@example.test>\r\nReceived: from webmail")
    assert b"Message-ID: <" in received and b"\r\nDate: " in received
    [sent] = messages(site, "alice@example.test", str(SpecialUse.SENT))
    assert b"Quarterly numbers" in sent
    sent_box = site.run(site.store.mailbox_by_role, site.ids["alice@example.test"], "\\Sent")
    assert "\\Seen" in site.run(site.store.list_messages, sent_box.id)[0].flags


def test_remote_recipients_are_queued_and_bcc_hidden(site: Site) -> None:
    csrf = site.login("alice@example.test")
    response = send(site, csrf, to="dave@remote.example", bcc="bob@example.test, eve@far.example")
    assert response.status_code == 303
    queue = site.run(site.store.list_queue)
    assert len(queue) == 1
    assert queue[0].sender == "alice@example.test"
    assert {r.address for r in queue[0].recipients} == {"dave@remote.example", "eve@far.example"}
    [copy] = messages(site, "bob@example.test")
    assert b"Bcc" not in copy and b"eve@far.example" not in copy


def test_sender_identity_is_enforced(site: Site) -> None:
    csrf = site.login("alice@example.test")
    response = send(site, csrf, to="bob@example.test", **{"from": "bob@example.test"})
    assert response.status_code == 400
    assert "may not send as bob@example.test" in response.text
    assert messages(site, "bob@example.test") == []


def test_unknown_local_recipient(site: Site) -> None:
    csrf = site.login("alice@example.test")
    response = send(site, csrf, to="nobody@example.test")
    assert response.status_code == 400 and "no such user here" in response.text


def test_header_injection_is_impossible(site: Site) -> None:
    csrf = site.login("alice@example.test")
    attempts = [
        {"to": "bob@example.test", "subject": "hi\r\nBcc: eve@evil.example"},
        {"to": "bob@example.test", "subject": "hi\nX-Injected: yes"},
        {"to": "bob@example.test\r\nBcc: eve@evil.example"},
        {"to": "bob@example.test", "cc": "x@y.example\nBcc: eve@evil.example"},
        {"to": "bob@example.test", "from": "alice@example.test\r\nBcc: eve@evil.example"},
        {"to": "bob@example.test", "in_reply_to": "<a@b>\r\nBcc: eve@evil.example"},
        {"to": "bob@example.test", "references": "<a@b>\nBcc: eve@evil.example"},
        {"to": "bob@example.test, eve@evil.example <bob@example.test>"},
    ]
    for fields in attempts:
        response = send(site, csrf, **fields)
        assert response.status_code == 400, fields
    response = send(
        site, csrf, to="bob@example.test",
        files={"files": ("a\r\nBcc: eve@evil.example.txt", b"x", "text/plain\r\nX-Evil: 1")},
    )
    for raw in messages(site, "bob@example.test"):
        header = raw.split(b"\r\n\r\n")[0]
        assert b"X-Injected" not in header and b"Bcc" not in header
        assert b"\r\nX-Evil" not in raw and b"\nBcc: eve" not in raw
    assert site.run(site.store.list_queue) == []


def test_reply_all_and_forward(site: Site) -> None:
    uid = site.deliver(
        "alice@example.test",
        mail("Lunch?", "Shall we?\nAt noon.", msgid="<orig@remote.example>",
             to="alice@example.test, bob@example.test",
             extra="Cc: carl@remote.example\r\nReferences: <root@remote.example>\r\n"),
    )
    csrf = site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    page = site.client.get(f"/compose?reply={inbox}:{uid}&all=1")
    assert 'value="Re: Lunch?"' in page.text
    assert "carol@remote.example, bob@example.test" in page.text
    assert 'name="cc" type="text" list="contacts" value="carl@remote.example"' in page.text
    assert "&gt; Shall we?" in page.text
    assert 'value="&lt;root@remote.example&gt; &lt;orig@remote.example&gt;"' in page.text
    response = send(
        site, csrf, to="bob@example.test", subject="Re: Lunch?", body="Yes",
        in_reply_to="<orig@remote.example>",
        references="<root@remote.example> <orig@remote.example>",
    )
    assert response.status_code == 303
    [reply] = messages(site, "bob@example.test")
    assert b"In-Reply-To: <orig@remote.example>" in reply
    assert b"References: <root@remote.example> <orig@remote.example>" in reply
    forward = site.client.get(f"/compose?forward={inbox}:{uid}")
    assert 'value="Fwd: Lunch?"' in forward.text and "Forwarded message" in forward.text


def test_forward_carries_attachments(site: Site) -> None:
    from tests.web.test_mail_pages import ATTACHED

    uid = site.deliver("alice@example.test", ATTACHED)
    csrf = site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    page = site.client.get(f"/compose?forward={inbox}:{uid}")
    keep = re.findall(r'name="keep" value="(\d+)"', page.text)
    assert len(keep) == 2
    response = send(site, csrf, to="bob@example.test", carry=f"{inbox}:{uid}", keep=keep[:1])
    assert response.status_code == 303
    [copy] = messages(site, "bob@example.test")
    assert b"%PDF" not in copy  # base64 in the message
    assert b"application/pdf" in copy and b"x.html" not in copy


def test_drafts_save_and_resume(site: Site) -> None:
    csrf = site.login("alice@example.test")
    response = site.client.post(
        "/compose",
        data={"csrf": csrf, "action": "save", "to": "bob@example.test", "bcc": "carl@x.example",
              "subject": "Work in progress", "body": "first words"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    ref = response.json()["draft"]
    drafts = site.run(site.store.mailbox_by_role, site.ids["alice@example.test"], "\\Drafts")
    [record] = site.run(site.store.list_messages, drafts.id)
    assert {"\\Draft", "\\Seen"} <= record.flags
    page = site.client.get(f"/compose?draft={ref}")
    assert 'value="Work in progress"' in page.text and "first words" in page.text
    assert 'value="carl@x.example"' in page.text
    # Opening the draft from the list goes to the editor.
    opened = site.client.get(f"/mail/{drafts.id}/{record.uid}", follow_redirects=False)
    assert opened.headers["location"] == f"/compose?draft={ref}"
    response = send(site, csrf, to="bob@example.test", subject="Done", draft=ref)
    assert response.status_code == 303
    assert site.run(site.store.list_messages, drafts.id) == []


def test_address_suggestions(site: Site) -> None:
    csrf = site.login("alice@example.test")
    send(site, csrf, to="bob@example.test, zoe@far.example")
    send(site, csrf, to="bob@example.test")
    assert site.client.get("/api/v1/contacts?q=").json() == ["bob@example.test", "zoe@far.example"]
    assert site.client.get("/api/v1/contacts?q=zo").json() == ["zoe@far.example"]


def test_too_large(site: Site) -> None:
    csrf = site.login("alice@example.test")
    limit = site.ctx.config.smtp.max_message_size
    big = ("big.bin", b"x" * int(limit * 0.8), "application/octet-stream")
    response = send(site, csrf, to="bob@example.test", files={"files": big})
    assert response.status_code == 413


def test_reply_to_ones_own_sent_message_goes_to_its_recipients(site: Site) -> None:
    csrf = site.login("alice@example.test")
    send(site, csrf, to="bob@example.test", subject="Sent by me")
    sent = site.run(site.store.mailbox_by_role, site.ids["alice@example.test"], "\\Sent")
    [record] = site.run(site.store.list_messages, sent.id)
    page = site.client.get(f"/compose?reply={sent.id}:{record.uid}")
    assert 'name="to" type="text" list="contacts" value="bob@example.test"' in page.text
