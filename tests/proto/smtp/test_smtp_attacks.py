"""Attacks on the SMTP server core, one test per attack, bytes only."""

from __future__ import annotations

import pytest
from smtp_pair import GREETING, default_reply, events_of, feed, make_server, session

from posthouse.proto.smtp.events import (
    NEED_DATA,
    PAUSED,
    Auth,
    CommandRejected,
    ConnectionClosed,
    Data,
    Hello,
    MailFrom,
    MessageBody,
    MessageRejected,
    Quit,
    RcptTo,
    StartTLS,
)
from posthouse.proto.smtp.server import ServerConnection, ServerLimits, State

TRANSACTION = b"EHLO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
BARE_CR_LF = "Message contains bare CR or LF (RFC 5321 section 2.3.8)"


def _rejections(events: list[object]) -> list[MessageRejected]:
    return [e for e in events if isinstance(e, MessageRejected)]


# --- SMTP smuggling (RFC 5321 §2.3.8, CVE-2023-51764/51765/51766) ------------------

SMUGGLED = b"MAIL FROM:<admin@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nforged\r\n"


@pytest.mark.parametrize(
    "fake_end",
    [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r\n.\n\r\n", b"\n..\n"],
    ids=["LF.LF", "CRLF.LF", "LF.CRLF", "CRLF.LF-CRLF", "LF..LF"],
)
def test_smuggling_bare_lf_dot(fake_end: bytes) -> None:
    # A bare-LF "end of data" followed by a second, forged transaction: everything up
    # to the real CRLF.CRLF is one message, refused because it holds bare LFs.
    data = TRANSACTION + b"Subject: hi\r\n\r\nbody" + fake_end + SMUGGLED + b".\r\nQUIT\r\n"
    out = session(data)
    events = [e for e, _ in out]
    assert events[:4] == [
        Hello("EHLO", "c"),
        MailFrom("a@example.com"),
        RcptTo("b@example.org"),
        Data(),
    ]
    assert isinstance(events[4], MessageRejected)
    assert out[4][1] == f"554 5.6.0 {BARE_CR_LF}\r\n".encode()
    assert events[5:] == [Quit(), ConnectionClosed()]
    assert not any(isinstance(e, MessageBody) for e in events)
    assert sum(isinstance(e, MailFrom) for e in events) == 1


@pytest.mark.parametrize(
    "fake_end",
    [b"\r.\r\n", b"\r\n.\r", b"\r.\r", b"\r\n.\r\r\n"],
    ids=["CR.CRLF", "CRLF.CR", "CR.CR", "CRLF.CRCRLF"],
)
def test_smuggling_bare_cr_dot(fake_end: bytes) -> None:
    data = TRANSACTION + b"body" + fake_end + SMUGGLED + b".\r\nQUIT\r\n"
    events = events_of(make_server(), data)
    assert len(_rejections(events)) == 1
    assert _rejections(events)[0].reply.text == BARE_CR_LF
    assert sum(isinstance(e, MailFrom) for e in events) == 1
    assert events[-2:] == [Quit(), ConnectionClosed()]


def test_smuggling_bare_lf_in_body_without_fake_end() -> None:
    # Even a harmless bare LF is refused: the content is never accepted as sent.
    events = events_of(make_server(), TRANSACTION + b"line one\nline two\r\n.\r\n")
    assert [type(e) for e in events][-1] is MessageRejected


def test_smuggling_fake_end_split_across_packets() -> None:
    conn = make_server()
    events = events_of(conn, TRANSACTION + b"body\r")
    for piece in (b"\n", b".", b"\n", SMUGGLED, b"\r\n", b".", b"\r", b"\n"):
        events += events_of(conn, piece)
    assert len(_rejections(events)) == 1
    assert sum(isinstance(e, MailFrom) for e in events) == 1
    assert conn.state is State.READY


def test_smuggling_pipelined_commands_after_data_are_content() -> None:
    # Commands sent in the same packet as DATA, before 354, become content once
    # 354 is sent (RFC 2920 §3.1: DATA is the last command of a group).
    events = events_of(make_server(), TRANSACTION + b"RSET\r\n.\r\n")
    assert events[-1] == MessageBody(b"RSET\r\n")


# --- STARTTLS command injection (RFC 3207 §4.2, CVE-2011-0411) ----------------------


def test_starttls_command_injection_discarded() -> None:
    conn = make_server()
    out = feed(conn, b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@example.com>\r\nRSET\r\n")
    assert [e for e, _ in out] == [Hello("EHLO", "c"), StartTLS()]
    assert out[1][1] == b"220 2.0.0 Ready to start TLS\r\n"
    assert conn.next_event() is NEED_DATA
    assert conn.buffered_bytes == 0
    assert conn.tls_active
    assert conn.state is State.CONNECTED
    assert not conn.greeted
    # What arrives after the handshake is read fresh: a new EHLO is needed.
    out = feed(conn, b"MAIL FROM:<a@example.com>\r\nEHLO c\r\n")
    assert isinstance(out[0][0], CommandRejected)
    assert out[0][1] == b"503 5.5.1 Send HELO/EHLO first\r\n"
    assert out[1][0] == Hello("EHLO", "c")


def test_starttls_command_injection_in_later_packet_discarded() -> None:
    conn = make_server()
    feed(conn, b"EHLO c\r\n")
    conn.receive_data(b"STARTTLS\r\n")
    event = conn.next_event()
    assert event == StartTLS()
    # The injected command arrives before the server answers: still plaintext.
    conn.receive_data(b"RCPT TO:<x@example.org>\r\n")
    assert conn.send(default_reply(conn, event)).startswith(b"220 ")
    assert conn.next_event() is NEED_DATA


def test_starttls_undoes_authentication() -> None:
    conn = make_server()
    feed(conn, b"EHLO c\r\nAUTH PLAIN AHVAcA==\r\n")
    assert conn.authenticated
    conn.tls_active = False
    feed(conn, b"EHLO c\r\nSTARTTLS\r\n")
    assert not conn.authenticated


# --- overlong input -----------------------------------------------------------------


def test_line_too_long() -> None:
    conn = make_server()
    out = feed(conn, b"NOOP " + b"x" * 5000 + b"\r\nNOOP\r\n")
    assert isinstance(out[0][0], CommandRejected)
    assert out[0][1] == b"500 5.5.2 Line too long (RFC 5321 section 4.5.3.1.4)\r\n"
    assert out[0][0].line == b"NOOP " + b"x" * 75
    assert len(out) == 2
    assert out[1][1] == b"250 2.0.0 OK\r\n"


def test_line_too_long_is_not_buffered() -> None:
    # A hostile client streaming one endless line costs no memory.
    conn = make_server()
    events = events_of(conn, b"MAIL FROM:<")
    for _ in range(1000):
        events += events_of(conn, b"a" * 10000)
        assert conn.buffered_bytes <= 4096 + 1
    assert len(events) == 1 and isinstance(events[0], CommandRejected)
    events += events_of(conn, b"aaa\r\nNOOP\r\n")
    assert len(events) == 2
    assert events[1] != events[0]


def test_line_at_limit_accepted() -> None:
    limits = ServerLimits(max_command_line=512)
    line = b"NOOP " + b"x" * (512 - 7) + b"\r\n"
    assert len(line) == 512
    out = session(line + b"NOOP " + b"x" * (512 - 6) + b"\r\n", limits=limits)
    assert out[0][1] == b"250 2.0.0 OK\r\n"
    assert out[1][1].startswith(b"500 5.5.2 Line too long")


def test_auth_line_may_be_longer() -> None:
    # RFC 4954 §4: AUTH lines up to 12288 octets, whatever the command limit.
    initial = b"A" * 8000
    limits = ServerLimits(max_command_line=512)
    out = session(b"EHLO c\r\nAUTH PLAIN " + initial + b"\r\n", limits=limits)
    assert out[1][0] == Auth("PLAIN", bytes(6000))
    out = session(b"EHLO c\r\nAUTH PLAIN " + b"A" * 12300 + b"\r\n", limits=limits)
    assert out[1][1].startswith(b"500 5.5.2 Line too long")


# --- binary junk --------------------------------------------------------------------


@pytest.mark.parametrize(
    "junk",
    [
        b"HELO \x00x\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on port 25
        b"NOOP\rx\r\n",
        b"EHLO \xff\xfe\r\n",
        b"\x7f\r\n",
    ],
    ids=["NUL", "tls-client-hello", "bare-CR", "invalid-utf8", "DEL"],
)
def test_binary_junk(junk: bytes) -> None:
    conn = make_server()
    out = feed(conn, junk)
    assert len(out) == 1
    assert isinstance(out[0][0], CommandRejected)
    assert out[0][1] == b"500 5.5.2 Syntax error: binary junk or invalid UTF-8\r\n"
    # The rest of the junk line is skipped; the next line is a command again.
    out = feed(conn, b"\r\nNOOP\r\n")
    assert out[-1][1] == b"250 2.0.0 OK\r\n"


def test_binary_junk_detected_before_line_end() -> None:
    # Junk is refused as soon as it is seen, not after buffering up to a LF.
    conn = make_server()
    out = feed(conn, b"\x16\x03\x01")
    assert len(out) == 1 and isinstance(out[0][0], CommandRejected)
    assert conn.buffered_bytes == 0


def test_http_request_on_smtp_port() -> None:
    out = session(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert [r for _, r in out] == [
        b"500 5.5.1 Command unrecognized: GET\r\n",
        b"500 5.5.1 Command unrecognized: HOST:\r\n",
        b"500 5.5.2 Syntax error: empty command\r\n",
    ]


# --- oversize content ---------------------------------------------------------------


def test_oversize_message() -> None:
    limits = ServerLimits(max_message_size=10_000)
    conn = make_server(limits=limits)
    events = events_of(conn, TRANSACTION)
    for _ in range(100):
        events += events_of(conn, b"x" * 998 + b"\r\n")
        assert conn.buffered_bytes < 8
    events += events_of(conn, b".\r\nNOOP\r\n")
    rejected = events[-2]
    assert isinstance(rejected, MessageRejected)
    assert (rejected.reply.code, rejected.reply.enhanced) == (552, "5.3.4")
    assert conn.state is State.READY
    assert conn.recipient_count == 0


def test_oversize_declared_with_size_parameter() -> None:
    out = session(
        b"EHLO c\r\nMAIL FROM:<a@b.example> SIZE=2000\r\n",
        limits=ServerLimits(max_message_size=1000),
    )
    assert out[1][1] == b"552 5.3.4 Message size exceeds fixed limit of 1000 octets\r\n"


def test_message_at_size_limit_accepted() -> None:
    body = b"x" * 98 + b"\r\n"
    out = session(TRANSACTION + body * 10 + b".\r\n", limits=ServerLimits(max_message_size=1000))
    assert out[-1][0] == MessageBody(body * 10)


def test_too_long_data_line() -> None:
    out = session(TRANSACTION + b"a" * 999 + b"\r\n.\r\n")
    assert isinstance(out[-1][0], MessageRejected)
    assert out[-1][1] == (
        b"554 5.6.0 Line too long in message content (RFC 5321 section 4.5.3.1.6)\r\n"
    )


def test_data_line_of_1000_octets_accepted() -> None:
    line = b"a" * 998 + b"\r\n"
    out = session(TRANSACTION + line + b".\r\n")
    assert out[-1][0] == MessageBody(line)


def test_too_long_data_line_not_buffered() -> None:
    conn = make_server()
    events_of(conn, TRANSACTION)
    for _ in range(100):
        events_of(conn, b"y" * 10_000)
        assert conn.buffered_bytes < 8
    events = events_of(conn, b"\r\n.\r\n")
    assert isinstance(events[-1], MessageRejected)


def test_dot_stuffed_line_counts_without_the_dot() -> None:
    # RFC 5321 §4.5.3.1.6: the limit does not count the dot added for transparency.
    line = b"." + b"a" * 997 + b"\r\n"
    out = session(TRANSACTION + b"." + line + b".\r\n")
    assert out[-1][0] == MessageBody(line)


def test_early_talker_is_visible_before_greeting() -> None:
    conn = make_server(greet=False)
    conn.receive_data(b"EHLO spammer\r\n")
    assert conn.buffered_bytes == len(b"EHLO spammer\r\n")
    assert conn.next_event() is PAUSED
    assert conn.send(GREETING).startswith(b"220 ")
    assert conn.next_event() == Hello("EHLO", "spammer")


def test_core_replies_are_ascii() -> None:
    # RFC 5321 §4.2: reply text is printable US-ASCII; a strict client must not choke.
    data = (
        b"EHLO c\r\nNOOP "
        + b"x" * 5000
        + b"\r\nAUTH PLAIN !\r\n"
        + TRANSACTION
        + b"a\nb\r\n.\r\n"
        + b"MAIL FROM:<a@b.example>\r\nRCPT TO:<b@c.example>\r\n"
        b"BDAT 1\r\nxDATA\r\n" + b"RSET\r\nMAIL FROM:<" + b"a" * 300 + b"@b.example>\r\n"
    )
    for _, wire in session(data):
        assert wire.isascii(), wire


# --- bare LF read as CRLF for trusted clients (Postfix's "normalize") ---------------


def _normalizing() -> ServerConnection:
    conn = make_server()
    conn.normalize_bare_lf = True
    return conn


@pytest.mark.parametrize(
    "fake_end",
    [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r\n.\n\r\n", b"\n..\n"],
    ids=["LF.LF", "CRLF.LF", "LF.CRLF", "CRLF.LF-CRLF", "LF..LF"],
)
def test_normalizing_never_ends_data_early(fake_end: bytes) -> None:
    # A bare LF taken as CRLF must not make a fake end real: the forged transaction
    # stays content of the one message, whole or split into single octets.
    data = TRANSACTION + b"Subject: hi\r\n\r\nbody" + fake_end + SMUGGLED + b".\r\nQUIT\r\n"
    whole = events_of(_normalizing(), data)
    conn = _normalizing()
    split: list[object] = []
    for i in range(len(data)):
        split += events_of(conn, data[i : i + 1])
    for events in (whole, split):
        bodies = [e for e in events if isinstance(e, MessageBody)]
        assert len(bodies) == 1
        assert b"MAIL FROM:<admin@example.com>\r\n" in bodies[0].content
        assert b"\n" not in bodies[0].content.replace(b"\r\n", b"")
        assert sum(isinstance(e, MailFrom) for e in events) == 1
        assert events[-2:] == [Quit(), ConnectionClosed()]


def test_normalizing_reads_lf_lines_as_crlf_and_unstuffs_them() -> None:
    # smtplib sends bytes as given, with dots doubled at the start of every LF line.
    events = events_of(_normalizing(), TRANSACTION + b"a\n..b\nc\r\n.\r\n")
    assert events[-1] == MessageBody(b"a\r\n.b\r\nc\r\n")


@pytest.mark.parametrize("fake_end", [b"\r.\r\n", b"\r\n.\r", b"\r.\r"])
def test_normalizing_still_refuses_bare_cr(fake_end: bytes) -> None:
    events = events_of(_normalizing(), TRANSACTION + b"body" + fake_end + SMUGGLED + b".\r\n")
    assert len(_rejections(events)) == 1
    assert _rejections(events)[0].reply.text == BARE_CR_LF
