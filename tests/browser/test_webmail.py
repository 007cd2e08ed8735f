"""Webmail in a real Chromium: sign in, read what SMTP delivered, compose with an
attachment (checked over IMAP with imaplib), reply, move, search, authorization
codes used by smtplib and imaplib, POP3 switched off, keyboard and phone layout.
Screenshots of the main pages go to build/browser/ (or $BROWSER_ARTIFACTS)."""

from __future__ import annotations

import email
import imaplib
import poplib
import smtplib
import uuid
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import USERS, LiveServer, screenshot, sign_in


def unique(word: str) -> str:
    return f"{word}-{uuid.uuid4().hex[:10]}"


def message(subject: str, body: str, *, sender: str = "carol@remote.example",
            to: str = "alice@example.test", msgid: str = "") -> bytes:
    head = f"From: Carol <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
    head += "Date: Tue, 03 Mar 2026 09:30:00 +0000\r\n"
    if msgid:
        head += f"Message-ID: {msgid}\r\n"
    return (head + "\r\n" + body + "\r\n").encode()


def imap(live: LiveServer, address: str, password: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", live.port("imap"), timeout=30)
    client.starttls(ssl_context=live.tls_context())
    client.login(address, password)
    return client


def test_sign_in_and_read_what_smtp_delivered(page: Any, live: LiveServer) -> None:
    subject = unique("Delivered over SMTP")
    live.deliver("carol@remote.example", ["alice@example.test"], message(subject, "Hello Alice."))
    page.goto(live.url + "/mail")
    assert "/login" in page.url
    screenshot(page, "01-login")
    sign_in(page, live, "alice@example.test")
    page.wait_for_selector(f"text={subject}")
    screenshot(page, "02-inbox")
    page.click(f"text={subject}")
    page.wait_for_selector("#body-text")
    assert "Hello Alice." in page.inner_text("#body-text")
    assert "received over TLS" in page.inner_text("#transport")
    screenshot(page, "03-message")
    page.click("#show-original")
    page.wait_for_selector("#transcript")
    transcript = page.inner_text("#transcript")
    assert "C: EHLO peer.example" in transcript and "S: 250" in transcript
    assert "TLS" in page.inner_text("#tls-info")
    screenshot(page, "04-original")


def test_compose_with_attachment_to_local_user(page: Any, live: LiveServer, tmp_path: Path) -> None:
    subject = unique("Report with attachment")
    attachment = tmp_path / "figures.csv"
    attachment.write_bytes(b"quarter,total\nQ1,1200\nQ2,1350\n")
    sign_in(page, live, "alice@example.test")
    page.click("#compose-button")
    page.fill("#to", "Bob <bob@example.test>")
    page.fill("#subject", subject)
    page.fill("#body", "The figures are attached.\n.\nA line with only a dot above.")
    page.set_input_files("#files", str(attachment))
    screenshot(page, "05-compose")
    page.click("#send")
    page.wait_for_url("**done=sent")
    assert "Message sent." in page.inner_text(".notice")
    page.click('a[data-folder="Sent"]')
    page.wait_for_selector(f"text={subject}")
    # The recipient's INBOX, read by an independent client over IMAP.
    client = imap(live, "bob@example.test", USERS["bob@example.test"])
    try:
        client.select("INBOX")
        status, found = client.search(None, "SUBJECT", f'"{subject}"')
        assert status == "OK" and len(found[0].split()) == 1
        status, data = client.fetch(found[0].split()[0], "(BODY.PEEK[])")
        assert status == "OK"
        raw = data[0][1]
    finally:
        client.logout()
    msg = email.message_from_bytes(raw, policy=default_policy)
    assert msg["From"] == "alice@example.test" or "alice@example.test" in str(msg["From"])
    parts = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert parts == {"figures.csv": "quarter,total\nQ1,1200\nQ2,1350\n"}
    body = msg.get_body(("plain",))
    assert body is not None
    assert ".\nA line with only a dot above." in body.get_content().replace("\r\n", "\n")


def test_reply_move_and_search(page: Any, live: LiveServer) -> None:
    subject = unique("Meeting notes")
    word = unique("zebrafish")
    live.deliver(
        "bob@example.test",
        ["alice@example.test"],
        message(subject, f"Notes mention {word}.", sender="bob@example.test",
                msgid=f"<{uuid.uuid4().hex}@example.test>"),
    )
    sign_in(page, live, "alice@example.test")
    # Search finds it by a word of its text.
    page.fill("#q", word)
    page.press("#q", "Enter")
    page.wait_for_selector(f"text={subject}")
    screenshot(page, "06-search")
    page.click(f"text={subject}")
    page.wait_for_selector("#reply")
    page.keyboard.press("r")  # keyboard shortcut for Reply
    page.wait_for_url("**/compose?reply=*")
    assert page.input_value("#subject") == f"Re: {subject}"
    assert "bob@example.test" in page.input_value("#to")
    assert f"> Notes mention {word}." in page.input_value("#body")
    page.click("#send")
    page.wait_for_url("**done=sent")
    client = imap(live, "bob@example.test", USERS["bob@example.test"])
    try:
        client.select("INBOX")
        status, found = client.search(None, "SUBJECT", f'"Re: {subject}"')
        assert status == "OK" and found[0].split()
        status, data = client.fetch(found[0].split()[-1], "(BODY.PEEK[HEADER])")
        assert b"In-Reply-To: <" in data[0][1]
    finally:
        client.logout()
    # Make a folder and move the original there.
    page.goto(live.url + "/folders")
    folder = unique("Projects")
    page.fill("#new-folder", folder)
    page.click("#create-folder button")
    page.wait_for_url("**done=created")
    page.fill("#q", word)
    page.press("#q", "Enter")
    page.click(f"text={subject}")
    page.select_option("#move-target", label=folder)
    page.click("#move")
    page.wait_for_url("**done=moved")
    page.click(f'a[data-folder="{folder}"]')
    page.wait_for_selector(f"text={subject}")


def test_authorization_code_for_smtplib_and_imaplib(page: Any, live: LiveServer) -> None:
    sign_in(page, live, "bob@example.test")
    page.goto(live.url + "/settings")
    page.fill("#code-name", unique("Desktop client"))
    page.click("#create-code")
    page.wait_for_selector("#new-code")
    code = page.inner_text("#new-code").strip()
    screenshot(page, "07-settings-code")
    assert len(code.replace(" ", "")) == 16
    subject = unique("Sent with an authorization code")
    with smtplib.SMTP("127.0.0.1", live.port("submission"), timeout=30) as smtp:
        smtp.starttls(context=live.tls_context())
        smtp.login("bob@example.test", code)
        smtp.sendmail("bob@example.test", ["alice@example.test"],
                      message(subject, "via smtplib", sender="bob@example.test"))
    client = imap(live, "bob@example.test", code)
    client.logout()
    client = imap(live, "alice@example.test", USERS["alice@example.test"])
    try:
        client.select("INBOX")
        status, found = client.search(None, "SUBJECT", f'"{subject}"')
        assert status == "OK" and found[0].split()
    finally:
        client.logout()


def test_pop3_switched_off_is_refused(page: Any, live: LiveServer) -> None:
    def pop3_login() -> None:
        client = poplib.POP3("127.0.0.1", live.port("pop3"), timeout=30)
        try:
            client.stls(context=live.tls_context())
            client.user("bob@example.test")
            client.pass_(USERS["bob@example.test"])
        finally:
            client.quit() if client.sock else None

    pop3_login()
    sign_in(page, live, "bob@example.test")
    page.goto(live.url + "/settings")
    page.uncheck("#switch-pop3")
    page.click("#save-protocols")
    page.wait_for_url("**done=protocols")
    try:
        with pytest.raises(poplib.error_proto):
            pop3_login()
    finally:
        page.check("#switch-pop3")
        page.click("#save-protocols")
        page.wait_for_url("**done=protocols")
    pop3_login()


def test_keyboard_shortcuts_and_phone_layout(browser: Any, live: LiveServer) -> None:
    context = browser.new_context(
        ignore_https_errors=True, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        page = context.new_page()
        sign_in(page, live, "alice@example.test")
        assert page.is_visible("#menu-toggle") and not page.is_visible("#sidebar")
        screenshot(page, "08-phone-list")
        page.click("#menu-toggle")
        assert page.is_visible("#sidebar")
        assert page.get_attribute("#menu-toggle", "aria-expanded") == "true"
        screenshot(page, "09-phone-folders")
        page.click("#menu-toggle")
        page.keyboard.press("?")
        assert page.is_visible("#shortcuts")
        page.keyboard.press("Escape")
        page.keyboard.press("c")
        page.wait_for_url("**/compose")
        page.fill("#subject", "typing c here does not navigate")
        assert page.url.endswith("/compose")
    finally:
        context.close()


def test_admin_console_screenshot(page: Any, live: LiveServer) -> None:
    async def make_admin() -> None:
        assert live.running is not None
        store = live.running.ctx.store
        user = await store.get_user("alice@example.test")
        assert user is not None
        await store.update_user(user.id, is_admin=True)

    live.call(make_admin())
    sign_in(page, live, "alice@example.test")
    page.goto(live.url + "/admin")
    page.wait_for_selector("#listeners")
    listeners = page.inner_text("#listeners")
    assert "https" in listeners and "imap" in listeners
    screenshot(page, "10-admin")


def test_draft_is_saved_automatically(page: Any, live: LiveServer, tmp_path: Path) -> None:
    subject = unique("Unfinished letter")
    note = tmp_path / "note.txt"
    note.write_text("attached note")
    sign_in(page, live, "alice@example.test")
    page.goto(live.url + "/compose")
    page.fill("#to", "bob@example.test")
    page.fill("#subject", subject)
    page.fill("#body", "Half a thought")
    page.set_input_files("#files", str(note))
    page.dispatch_event("#compose-form", "posthouse:autosave")
    page.wait_for_selector("#autosave-status:has-text('Draft saved')")
    assert page.input_value("#draft-ref") != ""
    assert page.is_visible("fieldset.carried")  # the attachment now lives in the draft
    client = imap(live, "alice@example.test", USERS["alice@example.test"])
    try:
        client.select("Drafts")
        status, found = client.search(None, "SUBJECT", f'"{subject}"')
        assert status == "OK" and len(found[0].split()) == 1
        status, data = client.fetch(found[0].split()[0], "(FLAGS BODY.PEEK[])")
        assert b"\\Draft" in data[0][0] and b"note.txt" in data[0][1]
    finally:
        client.logout()
    # Sending it removes the draft and keeps the attachment.
    page.click("#send")
    page.wait_for_url("**done=sent")
    client = imap(live, "bob@example.test", USERS["bob@example.test"])
    try:
        client.select("INBOX")
        status, found = client.search(None, "SUBJECT", f'"{subject}"')
        status, data = client.fetch(found[0].split()[0], "(BODY.PEEK[])")
        assert b'filename="note.txt"' in data[0][1]
    finally:
        client.logout()
    client = imap(live, "alice@example.test", USERS["alice@example.test"])
    try:
        client.select("Drafts")
        status, found = client.search(None, "SUBJECT", f'"{subject}"')
        assert found[0].split() == []
    finally:
        client.logout()


def test_address_suggestions_from_sent_mail(page: Any, live: LiveServer) -> None:
    sign_in(page, live, "alice@example.test")
    page.goto(live.url + "/compose")
    page.fill("#to", "bob@example.test")
    page.fill("#subject", unique("So you are suggested"))
    page.click("#send")
    page.wait_for_url("**done=sent")
    page.goto(live.url + "/compose")
    page.type("#to", "someone@far.example, bo")
    option = page.wait_for_selector("#contacts option", state="attached")
    assert option.get_attribute("value") == "someone@far.example, bob@example.test"


UNLABELLED = """() => {
  const missing = [];
  for (const el of document.querySelectorAll("input, select, textarea, button, a[href]")) {
    if (el.type === "hidden" || el.closest("[hidden]")) continue;
    const name = (el.labels && el.labels.length ? el.labels[0].innerText : "")
      || el.getAttribute("aria-label") || el.getAttribute("title")
      || (el.tagName === "BUTTON" || el.tagName === "A" ? el.innerText : "");
    if (!name.trim()) missing.push(el.outerHTML.slice(0, 120));
  }
  return missing;
}"""


def test_every_control_has_an_accessible_name(page: Any, live: LiveServer) -> None:
    live.deliver("carol@remote.example", ["bob@example.test"], message("label check", "x",
                                                                        to="bob@example.test"))
    sign_in(page, live, "bob@example.test")
    inbox_url = page.url
    page.click("a.open:has-text('label check')")
    message_url = page.url
    for url in (inbox_url, message_url, "/compose", "/settings", "/folders", "/settings/clients",
                "/search?q=label"):
        page.goto(url if url.startswith("http") else live.url + url)
        assert page.evaluate(UNLABELLED) == [], url
        assert page.locator("main").count() == 1, url
    # The first Tab reaches the skip link, which leads to the main content.
    page.goto(inbox_url)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
