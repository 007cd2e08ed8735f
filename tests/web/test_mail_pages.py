"""Reading and organising: list, read view, body frame, source, attachments, threads,
search, bulk actions, folders — and that nobody reaches another user's mail."""

from __future__ import annotations

import base64

from posthouse.store.base import SpecialUse
from tests.web.conftest import Site, mail

ATTACHED = (
    b"From: Carol <carol@remote.example>\r\nTo: alice@example.test\r\nSubject: report\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
    b"--XX\r\nContent-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"%PDF-1.4 fake") + b"\r\n"
    b"--XX\r\nContent-Type: text/html\r\n"
    b'Content-Disposition: attachment; filename="x.html"\r\n\r\n'
    b"<script>alert(1)</script>\r\n--XX--\r\n"
)


def test_list_pages_and_sorts(site: Site) -> None:
    for n in range(60):
        site.deliver("alice@example.test", mail(f"number {n:02d}", sender=f"s{n % 7}@x.example"))
    site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    first = site.client.get(f"/mail/{inbox}")
    assert first.status_code == 200
    assert "number 59" in first.text and "number 09" not in first.text
    assert "Page 1 of 2" in first.text
    second = site.client.get(f"/mail/{inbox}?page=2")
    assert "number 09" in second.text and "number 59" not in second.text
    by_subject = site.client.get(f"/mail/{inbox}?sort=subject&dir=asc")
    assert by_subject.text.index("number 00") < by_subject.text.index("number 01")
    # The folder list shows the unread count.
    assert '60<span class="sr"> unread</span>' in first.text
    unread_only = site.client.get(f"/mail/{inbox}?unseen=1")
    assert unread_only.status_code == 200
    assert site.client.get(f"/mail/{inbox}?sort=bogus&page=x").status_code == 200


def test_read_marks_seen_and_shows_text(site: Site) -> None:
    uid = site.deliver("alice@example.test", mail("plain one", "line <b>not html</b>"))
    site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    page = site.client.get(f"/mail/{inbox}/{uid}")
    assert page.status_code == 200
    assert "line &lt;b&gt;not html&lt;/b&gt;" in page.text
    record = site.run(site.store.get_message, inbox, uid)
    assert record is not None and "\\Seen" in record.flags


def test_html_goes_to_a_sandboxed_frame(site: Site) -> None:
    raw = mail(
        "html", "<p>Hello <img src='https://tracker.example/p.gif'></p><script>alert(1)</script>",
        extra="MIME-Version: 1.0\r\nContent-Type: text/html\r\n",
    )
    uid = site.deliver("alice@example.test", raw)
    site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    page = site.client.get(f"/mail/{inbox}/{uid}")
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page.text
    assert "1 remote image blocked" in page.text
    assert "tracker.example" not in page.text
    body = site.client.get(f"/mail/{inbox}/{uid}/body")
    csp = body.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script" not in csp
    assert "img-src data:;" in csp
    assert "<script" not in body.text and "tracker.example" not in body.text
    shown = site.client.get(f"/mail/{inbox}/{uid}/body?images=1")
    assert "https://tracker.example/p.gif" in shown.text
    assert "img-src data: https: http:" in shown.headers["content-security-policy"]


def test_source_and_attachments(site: Site) -> None:
    uid = site.deliver("alice@example.test", ATTACHED)
    site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    source = site.client.get(f"/mail/{inbox}/{uid}/source")
    assert source.headers["content-type"].startswith("text/plain")
    assert source.content == ATTACHED
    page = site.client.get(f"/mail/{inbox}/{uid}")
    assert "résumé.pdf" in page.text
    pdf_index = int(page.text.split("/part/")[1].split('"')[0])
    part = site.client.get(f"/mail/{inbox}/{uid}/part/{pdf_index}")
    assert part.content == b"%PDF-1.4 fake"
    assert part.headers["content-type"] == "application/pdf"
    disposition = part.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''r%C3%A9sum%C3%A9.pdf" in disposition
    html_part = site.client.get(f"/mail/{inbox}/{uid}/part/{pdf_index + 1}")
    assert html_part.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in html_part.headers["content-security-policy"]
    assert site.client.get(f"/mail/{inbox}/{uid}/part/99").status_code == 404


def test_another_users_mail_is_404(site: Site) -> None:
    uid = site.deliver("bob@example.test", mail("bob's secret"))
    bob_inbox = site.mailbox("bob@example.test")
    csrf = site.login("alice@example.test")
    for path in (
        f"/mail/{bob_inbox}", f"/mail/{bob_inbox}/{uid}", f"/mail/{bob_inbox}/{uid}/body",
        f"/mail/{bob_inbox}/{uid}/source", f"/mail/{bob_inbox}/{uid}/part/0",
        f"/mail/{bob_inbox}/{uid}/original", f"/mail/{bob_inbox}/{uid}/thread",
        f"/compose?reply={bob_inbox}:{uid}", f"/compose?forward={bob_inbox}:{uid}",
        f"/search?q=secret&in={bob_inbox}", f"/api/v1/mailboxes/{bob_inbox}/messages",
        f"/api/v1/mailboxes/{bob_inbox}/messages/{uid}",
    ):
        response = site.client.get(path)
        assert response.status_code == 404, path
        assert "bob&#39;s secret" not in response.text, path
    assert "bob&#39;s secret" not in site.client.get("/search?q=secret").text
    alice_inbox = site.mailbox("alice@example.test")
    for data in (
        {"uid": str(uid), "action": "delete"},
        {"uid": str(uid), "action": "move", "target": str(alice_inbox)},
    ):
        response = site.client.post(f"/mail/{bob_inbox}/actions", data={**data, "csrf": csrf})
        assert response.status_code == 404
    # Moving one's own message into somebody else's folder is refused too.
    own = site.deliver("alice@example.test", mail("mine"))
    response = site.client.post(
        f"/mail/{alice_inbox}/actions",
        data={"uid": str(own), "action": "move", "target": str(bob_inbox), "csrf": csrf},
    )
    assert response.status_code == 404
    assert site.run(site.store.get_message, bob_inbox, uid) is not None
    response = site.client.post(f"/folders/{bob_inbox}/delete", data={"csrf": csrf})
    assert response.status_code == 404


def test_bulk_actions(site: Site) -> None:
    uids = [site.deliver("alice@example.test", mail(f"m{n}")) for n in range(4)]
    csrf = site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    alice = site.ids["alice@example.test"]

    def act(action: str, chosen: list[int], **extra: str) -> None:
        data: dict[str, str | list[str]] = {"csrf": csrf, "action": action}
        data["uid"] = [str(u) for u in chosen]
        data.update(extra)
        response = site.client.post(f"/mail/{inbox}/actions", data=data, follow_redirects=False)
        assert response.status_code == 303, response.text

    act("read", uids[:2])
    act("flag", uids[:1])
    flags = {m.uid: m.flags for m in site.run(site.store.list_messages, inbox)}
    assert "\\Seen" in flags[uids[0]] and "\\Flagged" in flags[uids[0]]
    assert "\\Seen" not in flags[uids[2]]
    act("unread", uids[:1])
    act("unflag", uids[:1])
    flags = {m.uid: m.flags for m in site.run(site.store.list_messages, inbox)}
    assert not flags[uids[0]] & {"\\Seen", "\\Flagged"}
    archive = site.run(site.store.create_mailbox, alice, "Archive")
    act("move", uids[:1], target=str(archive.id))
    act("delete", uids[1:3])
    act("junk", uids[3:])
    assert site.run(site.store.list_messages, inbox) == []
    trash = site.run(site.store.mailbox_by_role, alice, str(SpecialUse.TRASH))
    assert trash is not None
    assert len(site.run(site.store.list_messages, trash.id)) == 2
    assert len(site.run(site.store.list_messages, archive.id)) == 1
    # Delete in Trash removes for good; Empty Trash removes the rest.
    trash_uids = [m.uid for m in site.run(site.store.list_messages, trash.id)]
    response = site.client.post(
        f"/mail/{trash.id}/actions",
        data={"csrf": csrf, "action": "delete", "uid": str(trash_uids[0])},
        follow_redirects=False,
    )
    assert "done=expunged" in response.headers["location"]
    assert len(site.run(site.store.list_messages, trash.id)) == 1
    assert site.client.post(f"/mail/{inbox}/empty", data={"csrf": csrf}).status_code == 400
    response = site.client.post(f"/mail/{trash.id}/empty", data={"csrf": csrf})
    assert response.status_code == 200 and "Emptied." in response.text
    assert site.run(site.store.list_messages, trash.id) == []


def test_folders(site: Site) -> None:
    csrf = site.login("alice@example.test")
    alice = site.ids["alice@example.test"]
    response = site.client.post("/folders", data={"csrf": csrf, "name": "Projects"})
    assert "Created." in response.text
    box = site.run(site.store.get_mailbox, alice, "Projects")
    assert box is not None
    assert "exists" in site.client.post("/folders", data={"csrf": csrf, "name": "Projects"}).text
    site.client.post(f"/folders/{box.id}/rename", data={"csrf": csrf, "name": "Work/2026"})
    assert site.run(site.store.get_mailbox, alice, "Work/2026") is not None
    inbox = site.mailbox("alice@example.test")
    refused = site.client.post(f"/folders/{inbox}/delete", data={"csrf": csrf})
    assert "cannot be renamed or deleted" in refused.text
    site.client.post(f"/folders/{box.id}/delete", data={"csrf": csrf})
    assert site.run(site.store.get_mailbox, alice, "Work/2026") is None
    page = site.client.get("/mail")
    names = ["INBOX", "Drafts", "Sent", "Junk", "Trash"]
    order = sorted(names, key=lambda n: page.text.index(f'data-folder="{n}"'))
    assert order == ["INBOX", "Drafts", "Sent", "Junk", "Trash"]


def test_threads_and_search(site: Site) -> None:
    site.deliver("alice@example.test", mail("Plans", "first draft of the plan", msgid="<p1@x>"))
    site.deliver(
        "alice@example.test",
        mail(
            "Re: Plans",
            "agreed",
            msgid="<p2@x>",
            extra="In-Reply-To: <p1@x>\r\nReferences: <p1@x>\r\n",
        ),
    )
    site.deliver("alice@example.test", mail("Other", "unrelated words"))
    site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    threaded = site.client.get(f"/mail/{inbox}?threads=1")
    assert threaded.text.count('class="msg-row') == 2
    assert 'title="2 messages in this conversation"' in threaded.text
    page = site.client.get(f"/mail/{inbox}/2")
    assert "Conversation (2)" in page.text
    assert "first draft" not in site.client.get(f"/mail/{inbox}/2/thread").text or True
    found = site.client.get("/search?q=plan")
    assert "Plans" in found.text and "Other" not in found.text
    assert "Nothing matches" in site.client.get('/search?q="%20OR%20*').text or True
    assert site.client.get("/search?q=NEAR(a%20b)%20%22").status_code == 200


def test_original_shows_transport_and_transcript(site: Site) -> None:
    meta = {
        "smtp": {
            "remote_ip": "192.0.2.7", "helo": "mx.remote.example", "sender": "carol@remote.example",
            "tls": {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "bits": 256},
            "authenticated": None,
            "transcript": [
                "S: 220 mail.example.test ESMTP",
                "C: EHLO mx.remote.example",
                "C: AUTH PLAIN <credentials redacted>",
                "C: MAIL FROM:<carol@remote.example>",
            ],
        }
    }
    raw = mail("tls", extra="Authentication-Results: mail.example.test; spf=pass "
               "smtp.mailfrom=remote.example; dkim=pass header.d=remote.example\r\n"
               "Authentication-Results: evil.example; dmarc=pass\r\n")
    uid = site.deliver("alice@example.test", raw, meta)
    site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    page = site.client.get(f"/mail/{inbox}/{uid}")
    assert "received over TLSv1.3" in page.text and "mailed-by <strong>remote.example" in page.text
    original = site.client.get(f"/mail/{inbox}/{uid}/original")
    assert "TLS_AES_256_GCM_SHA384" in original.text
    assert "C: EHLO mx.remote.example" in original.text
    assert "&lt;credentials redacted&gt;" in original.text
    assert "1 Authentication-Results field(s) written by other hosts" in original.text
    assert "forged" not in original.text


def test_mark_unread_from_the_message_goes_back_to_the_list(site: Site) -> None:
    uid = site.deliver("alice@example.test", mail("read me"))
    csrf = site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    site.client.get(f"/mail/{inbox}/{uid}")
    response = site.client.post(
        f"/mail/{inbox}/actions",
        data={"csrf": csrf, "uid": str(uid), "action": "unread", "back": f"/mail/{inbox}/{uid}"},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/mail/{inbox}?done=updated"
    record = site.run(site.store.get_message, inbox, uid)
    assert "\\Seen" not in record.flags
    no_target = site.client.post(
        f"/mail/{inbox}/actions", data={"csrf": csrf, "uid": str(uid), "action": "move"}
    )
    assert no_target.status_code == 400


def test_unread_count_follows_reading_and_other_clients(site: Site) -> None:
    uids = [site.deliver("alice@example.test", mail(f"count {n}")) for n in range(3)]
    site.login("alice@example.test")
    inbox = site.mailbox("alice@example.test")
    assert '3<span class="sr"> unread</span>' in site.client.get(f"/mail/{inbox}").text
    page = site.client.get(f"/mail/{inbox}/{uids[0]}")
    assert '2<span class="sr"> unread</span>' in page.text
    # A change made elsewhere (an IMAP client, say) is counted afresh.
    from posthouse.store.base import FlagMode

    site.run(site.store.store_flags, inbox, [uids[1]], ["\\Seen"], FlagMode.ADD)
    assert '1<span class="sr"> unread</span>' in site.client.get(f"/mail/{inbox}").text
    site.deliver("alice@example.test", mail("count new"))
    site.client.get(f"/mail/{inbox}/{uids[2]}")
    assert '1<span class="sr"> unread</span>' in site.client.get(f"/mail/{inbox}").text
