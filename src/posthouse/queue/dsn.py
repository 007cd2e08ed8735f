"""Delivery status notifications (RFC 3464) in a multipart/report (RFC 6522).

Pure: given what failed, the bytes of the notification. RFC 6533 forms
(message/global-delivery-status, utf-8 address types) are used when an address is
not ASCII.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from posthouse.mime.headers import split_message
from posthouse.proto.smtp.address import decode_xtext
from posthouse.proto.smtp.reply import SMTPError
from posthouse.queue.results import RecipientResult

# Return at most this much of the original message; more goes back as headers only.
FULL_RETURN_LIMIT = 512 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Failure:
    result: RecipientResult
    orcpt: str | None = None  # the ORCPT parameter as received (RFC 3461 §4.2)


@dataclass(frozen=True)
class Report:
    reporting_mta: str  # our host name
    postmaster: str  # the From address of the notification
    recipient: str  # the original envelope sender
    arrival: datetime
    failures: tuple[Failure, ...]
    original: bytes
    envid: str | None = None  # RFC 3461 §4.4 ENVID, xtext-encoded as received
    ret: str | None = None  # RFC 3461 §4.3 RET: "FULL" or "HDRS"
    action: str = "failed"  # "failed", "delayed" or "relayed" (RFC 3464 §2.3.3)


def _clean(text: str, utf8: bool) -> str:
    """A field value: one line, and ASCII unless the report is a global one."""
    text = _CONTROL.sub(" ", text).strip()
    return text if utf8 else text.encode("ascii", "replace").decode("ascii")


def _address_field(address: str, utf8: bool) -> str:
    # RFC 3464 §2.3.2 rfc822 address type; RFC 6533 §3 utf-8 for non-ASCII addresses.
    return f"{'utf-8' if not address.isascii() and utf8 else 'rfc822'}; {_clean(address, utf8)}"


def _orcpt(value: str, utf8: bool) -> str | None:
    # RFC 3461 §4.2: ORCPT=addr-type;xtext-encoded-address
    kind, sep, encoded = value.partition(";")
    if not sep:
        return None
    try:
        address = decode_xtext(encoded)
    except (ValueError, SMTPError):
        return None
    return f"{_clean(kind, utf8)}; {_clean(address, utf8)}"


def _status_fields(report: Report, utf8: bool) -> str:
    date = format_datetime(report.arrival)
    lines = [f"Reporting-MTA: dns; {report.reporting_mta}"]
    if report.envid:
        try:
            lines.append(f"Original-Envelope-Id: {_clean(decode_xtext(report.envid), utf8)}")
        except (ValueError, SMTPError):
            pass
    lines.append(f"Arrival-Date: {date}")
    for failure in report.failures:
        result = failure.result
        lines.append("")
        if failure.orcpt and (orcpt := _orcpt(failure.orcpt, utf8)):
            lines.append(f"Original-Recipient: {orcpt}")
        lines.append(f"Final-Recipient: {_address_field(result.address, utf8)}")
        lines.append(f"Action: {report.action}")
        lines.append(f"Status: {result.status}")
        if result.remote_mta:
            lines.append(f"Remote-MTA: dns; {_clean(result.remote_mta, utf8)}")
        kind = "smtp" if result.smtp_reply else "x-posthouse"
        lines.append(f"Diagnostic-Code: {kind}; {_clean(result.diagnostic, utf8)}")
    return "\r\n".join(lines) + "\r\n"


def _human_text(report: Report) -> str:
    opening = {
        "failed": "Your message could not be delivered to the following recipients:",
        "delayed": "Your message is delayed for the following recipients:",
        "relayed": "Your message was delivered to the mail servers of the following "
        "recipients; they send no further delivery notifications:",
    }[report.action]
    lines = [f"This is the mail system at {report.reporting_mta}.", "", opening, ""]
    for failure in report.failures:
        result = failure.result
        lines.append(f"<{result.address}>: {_clean(result.diagnostic, True)}")
    if report.action == "delayed":
        lines += ["", "Delivery will be tried again; you need not send it again."]
    return "\r\n".join(lines) + "\r\n"


def build_report(report: Report, *, now: datetime, message_id: str) -> bytes:
    """The whole notification, headers and body, CRLF line ends."""
    utf8 = not report.recipient.isascii() or any(
        not f.result.address.isascii() for f in report.failures
    )
    boundary = f"=_posthouse_{uuid.uuid4().hex}"
    subject = {
        "failed": "Undelivered Mail Returned to Sender",
        "delayed": "Delayed Mail (still being retried)",
        "relayed": "Successful Mail Delivery Report",
    }[report.action]
    header = (
        f"From: Mail Delivery System <{report.postmaster}>\r\n"
        f"To: <{_clean(report.recipient, True)}>\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: {message_id}\r\n"
        # RFC 3834 §5: automatic responses say so, so nobody answers them automatically.
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f'\tboundary="{boundary}"\r\n'
    )
    status_type = "message/global-delivery-status" if utf8 else "message/delivery-status"
    parts = [
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + _human_text(report),
        f"Content-Type: {status_type}\r\n\r\n" + _status_fields(report, utf8),
    ]
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts).encode("utf-8")
    body += _returned_part(report, boundary, utf8)
    body += f"--{boundary}--\r\n".encode("ascii")
    return (
        header.encode("utf-8") + b"\r\n" + b"This is a delivery status notification.\r\n\r\n" + body
    )


def _returned_part(report: Report, boundary: str, utf8: bool) -> bytes:
    # RFC 3461 §4.3: RET=HDRS asks for headers only; without RET we decide by size.
    original = report.original
    header, _body = split_message(original)
    full = report.ret != "HDRS" and (report.ret == "FULL" or len(original) <= FULL_RETURN_LIMIT)
    if full:
        kind = "message/global" if utf8 else "message/rfc822"
        content = original if original.endswith(b"\r\n") else original + b"\r\n"
    else:
        kind = "text/rfc822-headers"
        content = header or b"\r\n"
    encoding = "8bit" if not content.isascii() else "7bit"
    head = f"--{boundary}\r\nContent-Type: {kind}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    return head.encode("ascii") + content + b"\r\n"
