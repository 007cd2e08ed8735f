"""SMTP receive and submission, driven by clients we did not write: smtplib, aiosmtplib."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from email.message import EmailMessage

import aiosmtplib
import pytest

from tests.integration.server import USERS, MailServer, find_message

ALICE = "alice@example.test"
BOB = "bob@example.test"


def insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(sender: str, to: str, token: str, body: str = "Hello.\n") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"test {token}"
    msg.set_content(body)
    return msg


def token() -> str:
    return uuid.uuid4().hex[:12]


def test_mta_accepts_local_mail_without_auth(server: MailServer) -> None:
    t = token()
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.ehlo("client.example.org")
        refused = s.send_message(message("someone@example.org", ALICE, t))
        assert refused == {}
    raw = find_message(server.dir, ALICE, t)
    assert raw is not None
    assert raw.startswith(b"Return-Path: <someone@example.org>\r\n")
    assert b"\r\nReceived: from client.example.org ([127.0.0.1])" in raw
    assert b"by mail.example.test" in raw
    assert b"with ESMTP" in raw


def test_mta_starttls_records_tls_in_received(server: MailServer) -> None:
    t = token()
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.starttls(context=insecure_context())
        s.ehlo("tls.example.org")
        s.send_message(message("x@example.org", BOB, t))
    raw = find_message(server.dir, BOB, t)
    assert raw is not None
    assert b"with ESMTPS" in raw
    assert b"(using TLSv1.3 with cipher" in raw


def test_mta_refuses_relay(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.ehlo()
        s.mail("x@example.org")
        code, text = s.rcpt("victim@elsewhere.example")
        assert code == 554
        assert b"5.7.1" in text


def test_mta_refuses_unknown_local_user(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.ehlo()
        s.mail("x@example.org")
        code, text = s.rcpt("nobody@example.test")
        assert code == 550
        assert b"5.1.1" in text


def test_postmaster_is_accepted(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.ehlo()
        s.mail("x@example.org")
        assert s.rcpt("<postmaster>")[0] == 250
        assert s.rcpt("postmaster@example.test")[0] == 250


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_submission_starttls_auth(server: MailServer, mechanism: str) -> None:
    t = token()
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
        s.starttls(context=insecure_context())
        s.ehlo()
        assert mechanism in s.esmtp_features["auth"]
        s.user, s.password = ALICE, USERS[ALICE]
        code, _ = s.auth(mechanism, getattr(s, f"auth_{mechanism.lower()}"))
        assert code == 235
        msg = message(ALICE, BOB, t)
        del msg["Date"]
        s.send_message(msg)
    raw = find_message(server.dir, BOB, t)
    assert raw is not None
    assert b"with ESMTPSA" in raw
    # RFC 6409 §8: the MSA adds what the client left out
    assert b"\r\nMessage-ID: <" in raw
    assert b"\r\nDate: " in raw


def test_submissions_implicit_tls(server: MailServer) -> None:
    t = token()
    ctx = insecure_context()
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=ctx, timeout=10) as s:
        s.login(BOB, USERS[BOB])
        s.send_message(message(BOB, ALICE, t))
    assert find_message(server.dir, ALICE, t) is not None


def test_submission_requires_auth(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
        s.starttls(context=insecure_context())
        s.ehlo()
        code, text = s.mail(ALICE)
        assert code == 530
        assert b"5.7.0" in text


def test_submission_wrong_password(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
        s.starttls(context=insecure_context())
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(ALICE, "wrong")
        assert e.value.smtp_code == 535


def test_submission_refuses_spoofed_envelope_sender(server: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
        s.starttls(context=insecure_context())
        s.login(ALICE, USERS[ALICE])
        code, text = s.mail("ceo@example.test")
        assert code == 553
        assert b"5.7.1" in text
        code, _ = s.mail(BOB)
        assert code == 553


def test_submission_refuses_spoofed_header_from(server: MailServer) -> None:
    t = token()
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
        s.starttls(context=insecure_context())
        s.login(ALICE, USERS[ALICE])
        msg = message("Ilon Mask <mask@tesla.example>", BOB, t)
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.send_message(msg, from_addr=ALICE)
        assert e.value.smtp_code == 553
    assert find_message(server.dir, BOB, t) is None


def test_submission_plus_address_sender_allowed(server: MailServer) -> None:
    t = token()
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
        s.starttls(context=insecure_context())
        s.login(ALICE, USERS[ALICE])
        s.send_message(message("alice+lists@example.test", BOB, t))
    assert find_message(server.dir, BOB, t) is not None


def test_submission_relays_to_remote_domain_via_queue(server: MailServer) -> None:
    import asyncio

    from posthouse.config import load_config
    from posthouse.store import open_store

    t = token()
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
        s.starttls(context=insecure_context())
        s.login(ALICE, USERS[ALICE])
        s.send_message(message(ALICE, "friend@remote.example", t))

    async def queued() -> list[bytes]:
        config = load_config(server.dir)
        store = await open_store(config.database_path, config.blob_dir)
        try:
            found = []
            for entry in await store.list_queue():
                if [r.address for r in entry.recipients] == ["friend@remote.example"]:
                    found.append(await store.read_message(entry.blob_id))
            return found
        finally:
            await store.close()

    assert any(t.encode() in raw for raw in asyncio.run(queued()))


def test_auth_offered_on_loopback_plaintext(server: MailServer) -> None:
    # Loopback is exempt from the TLS rule (nothing crosses a network).
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=10) as s:
        s.ehlo()
        assert "auth" in s.esmtp_features
        s.login(ALICE, USERS[ALICE])


async def test_aiosmtplib_starttls_and_auth(server: MailServer) -> None:
    t = token()
    result = await aiosmtplib.send(
        message(ALICE, BOB, t),
        hostname="127.0.0.1",
        port=server.ports["submission"],
        username=ALICE,
        password=USERS[ALICE],
        start_tls=True,
        tls_context=insecure_context(),
        timeout=10,
    )
    assert result[1].startswith("2.0.0")
    assert find_message(server.dir, BOB, t) is not None


async def test_aiosmtplib_implicit_tls(server: MailServer) -> None:
    t = token()
    await aiosmtplib.send(
        message(BOB, ALICE, t),
        hostname="127.0.0.1",
        port=server.ports["submissions"],
        username=BOB,
        password=USERS[BOB],
        use_tls=True,
        tls_context=insecure_context(),
        timeout=10,
    )
    assert find_message(server.dir, ALICE, t) is not None


def test_smtputf8_and_8bitmime(server: MailServer) -> None:
    t = token()
    body = f"Grüße {t} — ünïcödé\r\n".encode()
    raw = b"From: x@example.org\r\nTo: alice@example.test\r\nSubject: 8bit\r\n\r\n" + body
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.ehlo()
        assert s.has_extn("8bitmime") and s.has_extn("smtputf8")
        s.sendmail("x@example.org", [ALICE], raw, mail_options=["BODY=8BITMIME"])
    stored = find_message(server.dir, ALICE, t)
    assert stored is not None and stored.endswith(body)


def test_dot_lines_are_unstuffed(server: MailServer) -> None:
    t = token()
    raw = (
        f"From: x@example.org\r\nSubject: dots {t}\r\n\r\n.leading dot\r\n..two\r\n.\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.sendmail("x@example.org", [ALICE], raw)
    stored = find_message(server.dir, ALICE, t)
    assert stored is not None
    assert stored.endswith(b"\r\n\r\n.leading dot\r\n..two\r\n.\r\n")


def test_dsn_parameters_kept_with_message(server: MailServer) -> None:
    import asyncio

    from posthouse.config import load_config
    from posthouse.store import open_store

    t = token()
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.ehlo()
        assert s.has_extn("dsn")
        s.sendmail(
            "x@example.org",
            [ALICE],
            f"Subject: dsn {t}\r\n\r\nhi\r\n",
            mail_options=["RET=HDRS", "ENVID=env+2Bid"],
            rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;alice@example.test"],
        )

    async def meta() -> dict[str, object]:
        config = load_config(server.dir)
        store = await open_store(config.database_path, config.blob_dir)
        try:
            user = await store.get_user(ALICE)
            assert user is not None
            box = await store.get_mailbox(user.id, "INBOX")
            assert box is not None
            for m in await store.list_messages(box.id):
                if t.encode() in await store.read_message(m.blob_id):
                    return await store.message_meta(m.id)
            raise AssertionError("message not found")
        finally:
            await store.close()

    smtp = asyncio.run(meta())["smtp"]
    assert isinstance(smtp, dict)
    params = smtp["mail_params"]
    assert isinstance(params, dict)
    assert (params["RET"], params["ENVID"]) == ("HDRS", "env+2Bid")
    assert smtp["rcpt_params"] == [
        {"NOTIFY": "SUCCESS,FAILURE", "ORCPT": "rfc822;alice@example.test"}
    ]
    assert any(
        line.upper().startswith("C: MAIL FROM:<X@EXAMPLE.ORG>") for line in smtp["transcript"]
    )
