"""RFC 3464 delivery status notifications, read back with the stdlib email parser."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

from posthouse.queue.bounce import wants_failure_notice
from posthouse.queue.dsn import Failure, Report, build_report
from posthouse.queue.results import Outcome, RecipientResult
from tests.queue.conftest import message

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def report(**changes: object) -> EmailMessage:
    failure = Failure(
        RecipientResult(
            "bob@beta.test", Outcome.FAILED, "5.1.1", "550 5.1.1 no such user", "mx.beta.test", True
        ),
        orcpt="rfc822;Bob+2B@beta.test",
    )
    fields: dict[str, object] = {
        "reporting_mta": "mail.alpha.test",
        "postmaster": "MAILER-DAEMON@alpha.test",
        "recipient": "alice@alpha.test",
        "arrival": NOW,
        "failures": (failure,),
        "original": message(),
        "envid": "QQ+2B1",
    }
    fields.update(changes)
    raw = build_report(Report(**fields), now=NOW, message_id="<x@alpha.test>")  # type: ignore[arg-type]
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_structure_and_fields() -> None:
    msg = report()
    # RFC 6522 §3: multipart/report with report-type, the human part first.
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["Auto-Submitted"] == "auto-replied"
    human, status, original = msg.iter_parts()
    assert human.get_content_type() == "text/plain"
    assert "bob@beta.test" in human.get_content()
    assert status.get_content_type() == "message/delivery-status"
    text = status.as_bytes().decode()
    # RFC 3464 §2.2: per-message fields, then §2.3 per-recipient fields.
    for line in (
        "Reporting-MTA: dns; mail.alpha.test",
        "Original-Envelope-Id: QQ+1",
        "Arrival-Date: Fri, 02 Jan 2026 03:04:05 +0000",
        "Original-Recipient: rfc822; Bob+@beta.test",
        "Final-Recipient: rfc822; bob@beta.test",
        "Action: failed",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx.beta.test",
        "Diagnostic-Code: smtp; 550 5.1.1 no such user",
    ):
        assert line in text, line
    assert original.get_content_type() == "message/rfc822"
    assert b"Subject: hello" in original.as_bytes()


def test_ret_hdrs_returns_headers_only() -> None:
    msg = report(ret="HDRS")
    returned = list(msg.iter_parts())[2]
    assert returned.get_content_type() == "text/rfc822-headers"
    assert b"Body hello" not in msg.as_bytes()


def test_hostile_diagnostic_stays_on_one_line() -> None:
    failure = Failure(
        RecipientResult("bob@beta.test", Outcome.FAILED, "5.0.0", "550 x\r\nInjected: yes")
    )
    msg = report(failures=(failure,))
    assert "Injected" not in [k for k, _ in list(msg.iter_parts())[1].items()]
    assert b"\r\nInjected: yes" not in msg.as_bytes()


def test_notify_decides() -> None:
    assert wants_failure_notice({})
    assert wants_failure_notice({"NOTIFY": "SUCCESS,FAILURE"})
    assert not wants_failure_notice({"NOTIFY": "NEVER"})
    assert not wants_failure_notice({"NOTIFY": "DELAY"})
