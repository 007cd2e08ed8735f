"""The SMTP server core, command by command: bytes in, events and reply bytes out."""

from __future__ import annotations

import pytest
from smtp_pair import (
    FEATURES,
    GREETING,
    OK,
    default_reply,
    drain,
    events_of,
    feed,
    make_server,
    session,
)

from posthouse.proto.smtp.ehlo import ServerFeatures
from posthouse.proto.smtp.events import (
    NEED_DATA,
    PAUSED,
    CommandRejected,
    ConnectionClosed,
    Data,
    Expn,
    Hello,
    Help,
    MailFrom,
    MessageBody,
    Noop,
    Quit,
    RcptTo,
    Rset,
    ServerEvent,
    StartTLS,
    Vrfy,
)
from posthouse.proto.smtp.reply import LocalProtocolError, Reply
from posthouse.proto.smtp.server import ServerConnection, ServerLimits, State


def replies(data: bytes, features: ServerFeatures = FEATURES) -> list[bytes]:
    return [wire for _, wire in session(data, features)]


def rejected(data: bytes, features: ServerFeatures = FEATURES) -> bytes:
    """The reply to the last command in `data`, which the core itself must refuse."""
    out = session(data, features)
    assert isinstance(out[-1][0], CommandRejected), out[-1]
    return out[-1][1]


# --- greeting and connection ----------------------------------------------------


def test_greeting_is_the_first_send() -> None:
    conn = ServerConnection(FEATURES)
    assert conn.state is State.GREETING
    assert conn.next_event() is PAUSED
    assert conn.send(GREETING) == b"220 mx.example.org ESMTP posthouse\r\n"
    assert conn.state is State.CONNECTED
    assert conn.next_event() is NEED_DATA


def test_greeting_must_be_220_421_or_554() -> None:
    with pytest.raises(LocalProtocolError):
        ServerConnection(FEATURES).send(OK)


def test_greeting_554_accepts_only_quit() -> None:
    # RFC 5321 §3.1: after a 554 greeting, 503 to everything but QUIT.
    conn = ServerConnection(FEATURES)
    conn.send(Reply.of(554, "5.3.2", "No SMTP service here"))
    assert conn.state is State.REFUSED
    out = feed(conn, b"EHLO c\r\nNOOP\r\nQUIT\r\n")
    assert [wire for _, wire in out[:2]] == [
        b"503 5.5.1 Service refused, only QUIT is accepted\r\n"
    ] * 2
    assert out[2][0] == Quit()
    assert conn.state is State.CLOSED


def test_greeting_421_closes() -> None:
    conn = ServerConnection(FEATURES)
    conn.send(Reply.of(421, "4.3.2", "Too busy"))
    assert conn.state is State.CLOSED
    assert isinstance(conn.next_event(), ConnectionClosed)


def test_unsolicited_421_closes() -> None:
    conn = make_server()
    feed(conn, b"EHLO c\r\n")
    assert conn.send(Reply.of(421, "4.4.2", "Timeout")) == b"421 4.4.2 Timeout\r\n"
    assert conn.state is State.CLOSED
    conn.receive_data(b"NOOP\r\n")
    assert isinstance(conn.next_event(), ConnectionClosed)


def test_421_as_reply_closes() -> None:
    conn = make_server()
    conn.receive_data(b"EHLO c\r\nNOOP\r\n")
    assert conn.next_event() == Hello("EHLO", "c")
    conn.send(Reply.of(421, "4.3.0", "Shutting down"))
    assert conn.state is State.CLOSED


def test_reply_without_pending_event_is_a_local_error() -> None:
    conn = make_server()
    with pytest.raises(LocalProtocolError):
        conn.send(OK)


def test_next_event_paused_until_reply() -> None:
    conn = make_server()
    conn.receive_data(b"NOOP\r\nNOOP\r\n")
    assert conn.next_event() == Noop()
    assert conn.next_event() is PAUSED
    conn.send(OK)
    assert conn.next_event() == Noop()


def test_354_answers_only_data() -> None:
    conn = make_server()
    conn.receive_data(b"NOOP\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(Reply.of(354, None, "go"))
    assert conn.send(OK) == b"250 2.0.0 OK\r\n"  # still pending, still answerable


def test_reply_text_with_newline_refused() -> None:
    conn = make_server()
    conn.receive_data(b"NOOP\r\n")
    conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send(Reply.of(250, "2.0.0", "OK\r\n250 injected"))


def test_multiline_reply_encoding() -> None:
    conn = make_server()
    conn.receive_data(b"HELP\r\n")
    conn.next_event()
    assert conn.send(Reply.of(214, "2.0.0", "Commands:", "HELO EHLO")) == (
        b"214-2.0.0 Commands:\r\n214 2.0.0 HELO EHLO\r\n"
    )


def test_enhanced_codes_off_when_not_offered() -> None:
    features = ServerFeatures(enhancedstatuscodes=False)
    assert replies(b"NOOP\r\n", features) == [b"250 OK\r\n"]


def test_peer_close_after_buffered_commands() -> None:
    conn = make_server()
    conn.receive_data(b"NOOP\r\nQUIT\r\n")
    conn.receive_data(b"")
    events = [event for event, _ in drain(conn)]
    assert events == [Noop(), Quit(), ConnectionClosed()]


def test_peer_close_mid_line() -> None:
    conn = make_server()
    conn.receive_data(b"NOO")
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), ConnectionClosed)
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"P\r\n")


# --- HELO / EHLO ---------------------------------------------------------------


def test_ehlo() -> None:
    conn = make_server()
    out = feed(conn, b"EHLO client.example.net\r\n")
    assert out[0][0] == Hello("EHLO", "client.example.net")
    assert out[0][1].startswith(b"250-mx.example.org Hello client.example.net\r\n")
    assert b"250-SIZE 52428800\r\n" in out[0][1]
    assert conn.greeted and conn.hello == Hello("EHLO", "client.example.net")
    assert conn.state is State.READY


def test_helo_recorded() -> None:
    conn = make_server()
    feed(conn, b"HELO [192.0.2.1]\r\n")
    assert conn.hello == Hello("HELO", "[192.0.2.1]")


@pytest.mark.parametrize("verb", [b"HELO", b"EHLO", b"ehlo", b"HELO   "])
def test_hello_needs_argument(verb: bytes) -> None:
    # RFC 5321 §4.1.1.1: the domain (or address literal) is required.
    assert rejected(verb + b"\r\n").startswith(b"501 5.5.4 Syntax: ")


def test_hello_refused_keeps_state() -> None:
    conn = make_server()

    def refuse(conn: ServerConnection, event: ServerEvent) -> Reply:
        return Reply.of(550, "5.7.1", "Go away")

    feed(conn, b"EHLO c\r\n", refuse)
    assert not conn.greeted


def test_ehlo_resets_transaction() -> None:
    # RFC 5321 §4.1.4: EHLO in the middle of a transaction acts as RSET.
    conn = make_server()
    feed(conn, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nEHLO c\r\n")
    assert conn.state is State.READY and conn.mail_from is None
    assert events_of(conn, b"MAIL FROM:<a@b.example>\r\n") == [MailFrom("a@b.example")]


# --- MAIL -------------------------------------------------------------------------


def test_mail() -> None:
    conn = make_server()
    out = feed(conn, b"EHLO c\r\nMAIL FROM:<Alice@Example.COM> SIZE=100 BODY=8BITMIME\r\n")
    assert out[1][0] == MailFrom("Alice@Example.COM", {"SIZE": "100", "BODY": "8BITMIME"})
    assert conn.state is State.MAIL
    assert conn.in_transaction
    assert conn.mail_from == out[1][0]


def test_mail_null_reverse_path() -> None:
    assert events_of(make_server(), b"EHLO c\r\nMAIL FROM:<>\r\n")[1] == MailFrom("")


def test_mail_before_hello() -> None:
    assert rejected(b"MAIL FROM:<a@b.example>\r\n") == b"503 5.5.1 Send HELO/EHLO first\r\n"


def test_mail_nested() -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\n"
    assert rejected(data) == b"503 5.5.1 Nested MAIL command\r\n"


def test_mail_refused_allows_another() -> None:
    conn = make_server()

    def policy(conn: ServerConnection, event: ServerEvent) -> Reply:
        if isinstance(event, MailFrom) and event.address == "spam@example.com":
            return Reply.of(550, "5.7.1", "No")
        return default_reply(conn, event)

    out = feed(
        conn, b"EHLO c\r\nMAIL FROM:<spam@example.com>\r\nMAIL FROM:<a@b.example>\r\n", policy
    )
    assert [wire[:3] for _, wire in out] == [b"250", b"550", b"250"]


@pytest.mark.parametrize(
    "line",
    [b"MAIL <a@b.example>", b"MAIL FROM", b"MAIL FROM:", b"MAIL TO:<a@b.example>", b"MAIL"],
)
def test_mail_syntax(line: bytes) -> None:
    assert rejected(b"EHLO c\r\n" + line + b"\r\n").startswith(b"501 ")


def test_mail_bad_address() -> None:
    assert rejected(b"EHLO c\r\nMAIL FROM:<a@@b>\r\n").startswith(b"501 5.1.7 ")


def test_mail_unknown_parameter() -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b.example> XFOO=1\r\n"
    assert rejected(data) == b"555 5.5.4 Unsupported parameter: XFOO\r\n"


def test_mail_parameter_of_feature_not_offered() -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b.example> RET=FULL\r\n"
    assert rejected(data, ServerFeatures(dsn=False)).startswith(b"555 5.5.4")
    data = b"EHLO c\r\nMAIL FROM:<a@b.example> SMTPUTF8\r\n"
    assert rejected(data, ServerFeatures(smtputf8=False)).startswith(b"555 5.5.4")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (b"SIZE=abc", b"501"),
        (b"SIZE", b"501"),
        (b"BODY=BINARYMIME", b"555"),
        (b"BODY=9BIT", b"501"),
        (b"SMTPUTF8=yes", b"501"),
        (b"RET=ALL", b"501"),
        (b"ENVID=" + b"x" * 101, b"501"),
        (b"ENVID=a+2", b"501"),
        (b"AUTH=a+zz", b"501"),
        (b"SIZE=1 SIZE=1", b"501"),
        (b"=x", b"501"),
    ],
)
def test_mail_parameter_values(params: bytes, code: bytes) -> None:
    assert rejected(b"EHLO c\r\nMAIL FROM:<a@b.example> " + params + b"\r\n")[:3] == code


@pytest.mark.parametrize(
    "params",
    [
        b"BODY=7bit",
        b"body=8bitmime",
        b"SMTPUTF8",
        b"RET=HDRS ENVID=QQ+2B1",
        b"AUTH=<>",
        b"AUTH=alice+40example.org",
        b"SIZE=0",
    ],
)
def test_mail_parameters_accepted(params: bytes) -> None:
    out = session(b"EHLO c\r\nMAIL FROM:<a@b.example> " + params + b"\r\n")
    assert isinstance(out[1][0], MailFrom), out[1]


def test_mail_parameter_keys_upper_case_values_as_given() -> None:
    event = events_of(make_server(), b"EHLO c\r\nMAIL FROM:<a@b.example> body=8bitmime\r\n")[1]
    assert event == MailFrom("a@b.example", {"BODY": "8bitmime"})


def test_mail_non_ascii_needs_smtputf8() -> None:
    # RFC 6531 §3.5: 553 5.6.7 for a non-ASCII address without SMTPUTF8.
    data = "EHLO c\r\nMAIL FROM:<δοκιμή@παράδειγμα.ελ>\r\n".encode()
    assert rejected(data).startswith(b"553 5.6.7 ")
    data = "EHLO c\r\nMAIL FROM:<δοκιμή@παράδειγμα.ελ> SMTPUTF8\r\n".encode()
    assert events_of(make_server(), data)[1] == MailFrom("δοκιμή@παράδειγμα.ελ", {"SMTPUTF8": None})


def test_mail_auth_parameter_after_authentication() -> None:
    # RFC 4954 §5: AUTH= stays valid once AUTH is no longer advertised.
    conn = make_server()
    feed(conn, b"EHLO c\r\nAUTH PLAIN AHVAcA==\r\n")
    conn.features = ServerFeatures()
    assert isinstance(events_of(conn, b"MAIL FROM:<a@b.example> AUTH=<>\r\n")[0], MailFrom)


# --- RCPT -------------------------------------------------------------------------


def test_rcpt() -> None:
    conn = make_server()
    data = (
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nRCPT TO:<z@y.example>\r\n"
    )
    events = events_of(conn, data)
    assert events[2:] == [RcptTo("x@y.example"), RcptTo("z@y.example")]
    assert conn.recipient_count == 2
    assert conn.state is State.RCPT


def test_rcpt_refused_not_counted() -> None:
    conn = make_server()

    def policy(conn: ServerConnection, event: ServerEvent) -> Reply:
        if isinstance(event, RcptTo):
            return Reply.of(550, "5.1.1", "No such user")
        return default_reply(conn, event)

    feed(conn, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\n", policy)
    assert conn.recipient_count == 0
    assert conn.state is State.MAIL


def test_rcpt_before_mail() -> None:
    assert rejected(b"EHLO c\r\nRCPT TO:<x@y.example>\r\n") == (
        b"503 5.5.1 Need MAIL command first\r\n"
    )


def test_rcpt_postmaster() -> None:
    # RFC 5321 §4.5.1: <Postmaster> without domain, any case.
    data = b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<PostMaster>\r\n"
    assert events_of(make_server(), data)[2] == RcptTo("postmaster")


def test_rcpt_null_path_refused() -> None:
    data = b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<>\r\n"
    assert rejected(data).startswith(b"501 5.1.3 ")


def test_rcpt_dsn_parameters() -> None:
    data = (
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n"
        b"RCPT TO:<x@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40y.example\r\n"
    )
    assert events_of(make_server(), data)[2] == RcptTo(
        "x@y.example", {"NOTIFY": "SUCCESS,FAILURE", "ORCPT": "rfc822;x+40y.example"}
    )


@pytest.mark.parametrize(
    "params",
    [
        b"NOTIFY=NEVER,SUCCESS",
        b"NOTIFY=SOMETIMES",
        b"NOTIFY=DELAY,DELAY",
        b"ORCPT=x@y",
        b"ORCPT=rfc822;",
        b"ORCPT=rfc822;a+zz",
    ],
)
def test_rcpt_bad_dsn_parameters(params: bytes) -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example> " + params + b"\r\n"
    assert rejected(data).startswith(b"501 5.5.4 ")


def test_rcpt_mail_parameter_refused() -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example> SIZE=10\r\n"
    assert rejected(data) == b"555 5.5.4 Unsupported parameter: SIZE\r\n"


def test_rcpt_non_ascii_follows_mail_smtputf8() -> None:
    plain = "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<пример@пример.рф>\r\n".encode()
    assert rejected(plain).startswith(b"553 5.6.7 ")
    utf8 = "EHLO c\r\nMAIL FROM:<a@b.example> SMTPUTF8\r\nRCPT TO:<пример@пример.рф>\r\n"
    assert events_of(make_server(), utf8.encode())[2] == RcptTo("пример@пример.рф")


# --- DATA ---------------------------------------------------------------------------


def test_data() -> None:
    conn = make_server()
    out = feed(
        conn,
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n"
        b"Subject: test\r\n\r\nHello\r\n.\r\n",
    )
    assert out[3] == (Data(), b"354 End data with <CR><LF>.<CR><LF>\r\n")
    assert out[4][0] == MessageBody(b"Subject: test\r\n\r\nHello\r\n")
    assert conn.state is State.READY
    assert conn.mail_from is None and conn.recipient_count == 0


def test_data_without_recipients() -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nDATA\r\n"
    assert rejected(data) == b"503 5.5.1 Need RCPT command first\r\n"


def test_data_without_mail() -> None:
    assert rejected(b"EHLO c\r\nDATA\r\n") == b"503 5.5.1 Need MAIL command first\r\n"


def test_data_with_argument() -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA now\r\n"
    assert rejected(data) == b"501 5.5.4 Syntax: DATA\r\n"


def test_data_refused_keeps_transaction() -> None:
    conn = make_server()

    def policy(conn: ServerConnection, event: ServerEvent) -> Reply:
        if isinstance(event, Data):
            return Reply.of(451, "4.3.0", "Try later")
        return default_reply(conn, event)

    out = feed(
        conn,
        b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\nRSET\r\n",
        policy,
    )
    # Without 354, what follows DATA is a command again.
    assert out[-1][0] == Rset()


# --- RSET, NOOP, VRFY, EXPN, HELP, QUIT -----------------------------------------------


def test_rset() -> None:
    conn = make_server()
    feed(conn, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nRSET\r\n")
    assert conn.state is State.READY
    assert conn.recipient_count == 0
    assert conn.greeted


def test_rset_before_hello() -> None:
    conn = make_server()
    assert events_of(conn, b"RSET\r\n") == [Rset()]
    assert conn.state is State.CONNECTED


def test_rset_with_argument() -> None:
    assert rejected(b"RSET all\r\n") == b"501 5.5.4 Syntax: RSET\r\n"


def test_noop() -> None:
    assert events_of(make_server(), b"NOOP\r\nNOOP hello there\r\n") == [
        Noop(),
        Noop("hello there"),
    ]


def test_vrfy_expn() -> None:
    assert events_of(make_server(), b"VRFY alice\r\nEXPN staff\r\n") == [
        Vrfy("alice"),
        Expn("staff"),
    ]
    assert rejected(b"VRFY\r\n") == b"501 5.5.4 Syntax: VRFY address\r\n"
    assert rejected(b"EXPN\r\n") == b"501 5.5.4 Syntax: EXPN list\r\n"


def test_help() -> None:
    assert events_of(make_server(), b"HELP\r\nHELP mail\r\n") == [Help(), Help("mail")]
    assert rejected(b"HELP\r\n", ServerFeatures(help=False)) == b"502 5.5.1 HELP not offered\r\n"


def test_quit() -> None:
    conn = make_server()
    out = feed(conn, b"QUIT\r\nNOOP\r\n")
    assert out[0] == (Quit(), b"221 2.0.0 Bye\r\n")
    assert isinstance(out[1][0], ConnectionClosed)
    assert conn.state is State.CLOSED
    conn.receive_data(b"NOOP\r\n")  # ignored
    assert conn.buffered_bytes == 0
    with pytest.raises(LocalProtocolError):
        conn.send(OK)


def test_quit_anytime() -> None:
    conn = make_server()
    out = feed(conn, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nQUIT now\r\n")
    assert out[2][0] == Quit()


def test_unknown_command() -> None:
    assert rejected(b"XYZZY\r\n") == b"500 5.5.1 Command unrecognized: XYZZY\r\n"


def test_not_implemented_command() -> None:
    assert rejected(b"TURN\r\n") == b"502 5.5.1 TURN not implemented\r\n"


def test_empty_line() -> None:
    assert rejected(b"\r\n") == b"500 5.5.2 Syntax error: empty command\r\n"


def test_rejections_change_nothing() -> None:
    conn = make_server()
    feed(conn, b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bad@@x>\r\n")
    assert conn.state is State.MAIL


# --- telnet and nc users --------------------------------------------------------------


def test_telnet_style_lowercase_session() -> None:
    conn = make_server()
    data = (
        b"helo my-laptop\n"
        b"mail from:alice@example.com\n"
        b"rcpt to: <bob@example.org>\n"
        b"data\r\n"
        b"Subject: hi\r\n\r\nhello bob\r\n.\r\n"
        b"quit\n"
    )
    events = events_of(conn, data)
    assert events == [
        Hello("HELO", "my-laptop"),
        MailFrom("alice@example.com"),
        RcptTo("bob@example.org"),
        Data(),
        MessageBody(b"Subject: hi\r\n\r\nhello bob\r\n"),
        Quit(),
        ConnectionClosed(),
    ]


@pytest.mark.parametrize(
    "line",
    [
        b"MAIL FROM: <a@b.example>",
        b"MAIL FROM:  <a@b.example>  ",
        b"mail from:<a@b.example>",
        b"MaIl FrOm:a@b.example",
        b"MAIL  FROM:<a@b.example>",
        b"MAIL FROM :<a@b.example>",
        b"  MAIL FROM:<a@b.example>",
        b"MAIL\tFROM:<a@b.example>",
    ],
)
def test_forgiving_mail_syntax(line: bytes) -> None:
    assert events_of(make_server(), b"EHLO c\r\n" + line + b"\n")[1] == MailFrom("a@b.example")


def test_tls_active_from_start_for_implicit_tls() -> None:
    conn = make_server(tls_active=True)
    out = feed(conn, b"EHLO c\r\nSTARTTLS\r\n")
    assert out[1][1] == b"503 5.5.1 TLS already active\r\n"
    assert conn.tls_active


# --- STARTTLS -------------------------------------------------------------------------


def test_starttls_not_offered() -> None:
    data = b"EHLO c\r\nSTARTTLS\r\n"
    assert rejected(data, ServerFeatures()) == b"503 5.5.1 STARTTLS not offered\r\n"


def test_starttls_with_argument() -> None:
    assert rejected(b"EHLO c\r\nSTARTTLS now\r\n") == b"501 5.5.4 Syntax: STARTTLS\r\n"


def test_starttls_in_transaction() -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nSTARTTLS\r\n"
    assert rejected(data).startswith(b"503 5.5.1 ")


def test_starttls_twice() -> None:
    conn = make_server()
    feed(conn, b"EHLO c\r\nSTARTTLS\r\n")
    assert feed(conn, b"EHLO c\r\nSTARTTLS\r\n")[1][1] == b"503 5.5.1 TLS already active\r\n"


def test_starttls_refused_changes_nothing() -> None:
    conn = make_server()

    def policy(conn: ServerConnection, event: ServerEvent) -> Reply:
        if isinstance(event, StartTLS):
            return Reply.of(454, "4.7.0", "TLS not available")
        return default_reply(conn, event)

    out = feed(conn, b"EHLO c\r\nSTARTTLS\r\nNOOP\r\n", policy)
    assert out[-1][0] == Noop()
    assert not conn.tls_active and conn.greeted


def test_limits_validated() -> None:
    with pytest.raises(ValueError):
        ServerLimits(max_command_line=100)
    with pytest.raises(ValueError):
        ServerLimits(max_text_line=80)
