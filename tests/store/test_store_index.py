"""Conformance: message summaries, threads, full-text search (MessageIndex)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from posthouse.store.base import FlagMode, Mailbox, SortKey, SpecialUse, Store, User
from posthouse.store.sqlite.backend import SQLiteStore
from posthouse.store.sqlite.index import fts_query
from posthouse.store.summary import summarize


def mail(
    subject: str,
    *,
    sender: str = "Bob <bob@example.net>",
    to: str = "alice@example.org",
    msgid: str = "",
    refs: str = "",
    date: str = "Mon, 02 Mar 2026 10:00:00 +0000",
    body: str = "hello",
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Date: {date}"]
    if msgid:
        lines.append(f"Message-ID: {msgid}")
    if refs:
        lines += [f"In-Reply-To: {refs.split()[-1]}", f"References: {refs}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def test_summarize_fields() -> None:
    raw = mail("Hi", msgid="<r@x>", refs="<a@x> <b@x>", to="Carol <c@x.org>, d@x.org")
    s = summarize(raw)
    assert (s.from_name, s.from_addr, s.subject) == ("Bob", "bob@example.net", "Hi")
    assert s.to_addrs == ("c@x.org", "d@x.org")
    assert (s.message_id, s.in_reply_to, s.thread_key) == ("<r@x>", "<b@x>", "<a@x>")
    assert s.date > 0 and not s.has_attachment and s.preview == "hello"


def test_summarize_attachment_and_html() -> None:
    raw = (
        b"From: a@x\r\nSubject: att\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/html\r\n\r\n<p>Visible <b>words</b></p>\r\n--b\r\n"
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="x.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n"
    )
    s = summarize(raw)
    assert s.has_attachment
    assert "Visible" in s.body_text and "<p>" not in s.body_text


def test_fts_query_quotes_everything() -> None:
    assert fts_query('a" OR b NEAR(') == '"a"* AND "OR"* AND "b"* AND "NEAR"*'
    assert fts_query("from:bob hi") == 'sender : "bob"* AND "hi"*'
    assert fts_query("  ") is None


async def test_list_sort_and_page(store: Store, inbox: Mailbox) -> None:
    samples = (("b", "zed", 3), ("a", "amy", 1), ("c", "max", 2))
    for subject, sender, day in samples:
        received = datetime(2026, 3, day, 1, tzinfo=UTC)
        await store.append(
            inbox.id, mail(f"{subject}-subject", sender=f"{sender}@x"), internal_date=received
        )
    page = await store.list_summaries(inbox.id, limit=2)
    assert page.total == 3
    assert [m.subject for m in page.items] == ["c-subject", "a-subject"]
    page = await store.list_summaries(inbox.id, offset=2, limit=2)
    assert [m.subject for m in page.items] == ["b-subject"]
    by_date = await store.list_summaries(inbox.id, sort=SortKey.DATE, descending=False)
    assert [m.subject for m in by_date.items] == ["a-subject", "c-subject", "b-subject"]
    by_from = await store.list_summaries(inbox.id, sort=SortKey.FROM, descending=False)
    assert [m.from_addr for m in by_from.items] == ["amy@x", "max@x", "zed@x"]
    by_size = await store.list_summaries(inbox.id, sort=SortKey.SIZE, descending=False)
    assert [m.record.size for m in by_size.items] == sorted(m.record.size for m in by_size.items)
    by_subject = await store.list_summaries(inbox.id, sort=SortKey.SUBJECT, descending=True)
    assert by_subject.items[0].subject == "c-subject"
    await store.store_flags(inbox.id, [1, 2], ["\\Seen"], FlagMode.ADD)
    unseen = await store.list_summaries(inbox.id, unseen_only=True)
    assert unseen.total == 1 and unseen.items[0].record.uid == 3


async def test_threads(store: Store, user: User, inbox: Mailbox) -> None:
    await store.append(inbox.id, mail("topic", msgid="<1@x>"))
    await store.append(inbox.id, mail("other", msgid="<9@x>"))
    await store.append(inbox.id, mail("Re: topic", msgid="<2@x>", refs="<1@x>"))
    sent = await store.mailbox_by_role(user.id, SpecialUse.SENT)
    assert sent is not None
    await store.append(sent.id, mail("Re: topic", msgid="<3@x>", refs="<1@x> <2@x>"))
    page = await store.list_summaries(inbox.id, threads=True)
    assert page.total == 2
    assert [(m.subject, m.thread_size) for m in page.items] == [("Re: topic", 2), ("other", 1)]
    thread = await store.thread(user.id, "<1@x>")
    assert [m.message_id for m in thread] == ["<1@x>", "<2@x>", "<3@x>"]
    assert await store.thread(user.id + 1, "<1@x>") == []


async def test_search_is_per_user_and_follows_copies(
    store: Store, user: User, inbox: Mailbox
) -> None:
    other = await store.add_user("mallory@example.org", "hash")
    other_inbox = await store.get_mailbox(other.id, "INBOX")
    assert other_inbox is not None
    await store.append(inbox.id, mail("Quarterly report", body="numbers for the board"))
    await store.append(other_inbox.id, mail("Quarterly secrets", body="numbers"))
    found = await store.search_messages(user.id, "quarter")
    assert [m.subject for m in found] == ["Quarterly report"]
    assert [m.subject for m in await store.search_messages(user.id, "board numb")] == [
        "Quarterly report"
    ]
    assert await store.search_messages(user.id, "subject:board") == []
    assert len(await store.search_messages(user.id, "from:bob")) == 1
    archive = await store.create_mailbox(user.id, "Archive")
    await store.move(inbox.id, [1], archive.id)
    found = await store.search_messages(user.id, "quarterly")
    assert [(m.record.mailbox_id, m.subject) for m in found] == [(archive.id, "Quarterly report")]
    assert await store.search_messages(user.id, "quarterly", mailbox_id=inbox.id) == []
    await store.expunge(archive.id, [1])
    assert await store.search_messages(user.id, "quarterly") == []


async def test_accept_summarises(store: Store, user: User, inbox: Mailbox) -> None:
    from posthouse.store.base import LocalDelivery

    result = await store.accept(mail("delivered", body="unique-token"), [LocalDelivery(inbox.id)])
    summary = await store.get_summary(inbox.id, result.messages[0].uid)
    assert summary is not None and summary.subject == "delivered"
    assert len(await store.search_messages(user.id, "unique")) == 1


async def test_unread_counts_follow_flag_changes(store: Store, user: User, inbox: Mailbox) -> None:
    for n in range(5):
        await store.append(inbox.id, mail(f"m{n}"))
    await store.store_flags(inbox.id, [1, 2], ["\\Seen"], FlagMode.ADD)
    assert (await store.mailbox_counts(user.id))[inbox.id] == (5, 3)
    await store.store_flags(inbox.id, [1], ["\\Seen"], FlagMode.REMOVE)
    await store.store_flags(inbox.id, [5], ["\\Seen", "\\Flagged"], FlagMode.SET)
    assert (await store.mailbox_counts(user.id))[inbox.id] == (5, 3)
    await store.expunge(inbox.id, [3])
    assert (await store.mailbox_counts(user.id))[inbox.id] == (4, 2)
    page = await store.list_summaries(inbox.id, unseen_only=True)
    assert [m.record.uid for m in page.items] == [4, 1] and page.total == 2


async def test_counts_and_recipients(store: Store, user: User, inbox: Mailbox) -> None:
    await store.append(inbox.id, mail("one"))
    await store.append(inbox.id, mail("two"), flags=["\\Seen"])
    counts = await store.mailbox_counts(user.id)
    assert counts[inbox.id] == (2, 1)
    assert len(counts) == len(await store.list_mailboxes(user.id))
    sent = await store.mailbox_by_role(user.id, SpecialUse.SENT)
    assert sent is not None
    await store.append(sent.id, mail("a", to="carol@x.org, dave@x.org"))
    await store.append(sent.id, mail("b", to="carol@x.org"))
    assert await store.recent_recipients(user.id) == ["carol@x.org", "dave@x.org"]
    assert await store.recent_recipients(user.id, "da") == ["dave@x.org"]
    assert await store.recent_recipients(user.id, "%") == []


async def test_unparseable_message_still_stored(store: Store, inbox: Mailbox) -> None:
    record = await store.append(inbox.id, b"\x00\xff garbage without header\r\n")
    summary = await store.get_summary(inbox.id, record.uid)
    assert summary is not None and summary.record.uid == record.uid


async def test_migration_from_v1_backfills(tmp_path: Path) -> None:
    """A version-1 database gets summaries for the messages it already holds."""
    db, blobs = tmp_path / "p.sqlite", tmp_path / "blobs"
    store = await SQLiteStore.open(db, blobs)
    await store.add_domain("example.org")
    user = await store.add_user("alice@example.org", "hash")
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    await store.append(inbox.id, mail("old mail", body="searchable"))
    big = mail("big one", body="needle " + "x" * 300_000)
    await store.append(inbox.id, big)
    await store.close()
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM summaries")
    for statement in (
        "DROP TRIGGER blobs_removed_summary",
        "DROP TRIGGER summaries_removed",
        "DROP TABLE message_text",
        "DROP TABLE summaries",
        "DROP TABLE web_sessions",
        "DROP INDEX messages_unseen",
        "DROP INDEX messages_received",
        "DROP INDEX messages_size",
        "DROP INDEX messages_by_from",
        "DROP INDEX messages_by_subject",
        "ALTER TABLE messages DROP COLUMN sort_from",
        "ALTER TABLE messages DROP COLUMN sort_subject",
        "ALTER TABLE blobs DROP COLUMN dot_safe",
        "PRAGMA user_version = 1",
    ):
        conn.execute(statement)
    conn.commit()
    conn.close()
    store = await SQLiteStore.open(db, blobs)
    try:
        assert [m.subject for m in await store.search_messages(user.id, "searchable")] == [
            "old mail"
        ]
        assert [m.subject for m in await store.search_messages(user.id, "needle")] == ["big one"]
        # Sort keys of the back-filled summaries reach the messages too.
        page = await store.list_summaries(inbox.id, sort=SortKey.SUBJECT, descending=False)
        assert [m.subject for m in page.items] == ["big one", "old mail"]
    finally:
        await store.close()


async def test_sort_keys_follow_copies(store: Store, user: User, inbox: Mailbox) -> None:
    for sender in ("Zoe <z@x>", "adam@x", "Mia <m@x>"):
        await store.append(inbox.id, mail(f"from {sender}", sender=sender))
    other = await store.create_mailbox(user.id, "Other")
    await store.copy(inbox.id, [1, 2, 3], other.id)
    page = await store.list_summaries(other.id, sort=SortKey.FROM, descending=False)
    assert [m.from_addr for m in page.items] == ["adam@x", "m@x", "z@x"]
    await store.move(other.id, [1, 2], inbox.id)
    page = await store.list_summaries(inbox.id, sort=SortKey.FROM, descending=True)
    assert [m.from_addr for m in page.items] == ["z@x", "z@x", "m@x", "adam@x", "adam@x"]


def test_html_preview_skips_scripts_and_styles() -> None:
    raw = (
        b"From: a@x\r\nContent-Type: text/html\r\n\r\n<head><title>T</title><style>p{}</style>"
        b"</head><p>Hi &amp; bye</p><script>alert(1)</script>\r\n"
    )
    summary = summarize(raw)
    assert summary.preview == "Hi & bye"
    assert "alert" not in summary.body_text


async def test_thread_pages(store: Store, inbox: Mailbox) -> None:
    # 7 threads of 3 messages each, interleaved, plus 4 loose messages.
    for round_ in range(3):
        for t in range(7):
            refs = f"<root{t}@x>" if round_ else ""
            msgid = f"<root{t}@x>" if not round_ else f"<r{t}.{round_}@x>"
            await store.append(inbox.id, mail(f"t{t}", msgid=msgid, refs=refs))
    for n in range(4):
        await store.append(inbox.id, mail(f"loose{n}"))
    first = await store.list_summaries(inbox.id, threads=True, limit=5)
    assert [m.subject for m in first.items] == ["loose3", "loose2", "loose1", "loose0", "t6"]
    assert first.more and first.total >= 6
    assert [m.thread_size for m in first.items] == [1, 1, 1, 1, 3]
    second = await store.list_summaries(inbox.id, threads=True, offset=5, limit=5)
    assert [m.subject for m in second.items] == ["t5", "t4", "t3", "t2", "t1"]
    last = await store.list_summaries(inbox.id, threads=True, offset=10, limit=5)
    assert [m.subject for m in last.items] == ["t0"] and not last.more and last.total == 11
    everything = await store.list_summaries(inbox.id, threads=True, limit=100)
    assert everything.total == 11 and not everything.more


async def test_text_is_indexed_after_accepting(store: Store, user: User, inbox: Mailbox) -> None:
    """Accepting stores the header summary; the text comes later, and a search
    never misses it."""
    record = await store.append(inbox.id, mail("later", body="deferred words here"))
    summary = await store.get_summary(inbox.id, record.uid)
    assert summary is not None and summary.subject == "later"
    assert [m.subject for m in await store.search_messages(user.id, "deferred")] == ["later"]
    summary = await store.get_summary(inbox.id, record.uid)
    assert summary is not None and summary.preview == "deferred words here"
    await store.append(inbox.id, mail("quiet", body="indexed when quiet"))
    for _ in range(50):  # the background indexer runs once nothing is stored for a moment
        found = await store.get_summary(inbox.id, 2)
        if found is not None and found.preview:
            break
        await asyncio.sleep(0.1)
    assert found is not None and found.preview == "indexed when quiet"
