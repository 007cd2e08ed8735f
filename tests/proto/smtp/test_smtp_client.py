"""The SMTP client core: reply parsing, command serialisation, EHLO keywords."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthouse.proto.smtp.client import ClientConnection, parse_reply_line
from posthouse.proto.smtp.ehlo import ServerFeatures, ehlo_lines, ehlo_reply, parse_ehlo
from posthouse.proto.smtp.events import (
    NEED_DATA,
    Auth,
    BdatChunk,
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
    StartTLS,
    Vrfy,
)
from posthouse.proto.smtp.reply import LocalProtocolError, RemoteProtocolError, Reply


def replies(data: bytes) -> list[object]:
    client = ClientConnection()
    client.receive_data(data)
    out: list[object] = []
    while (event := client.next_event()) is not NEED_DATA:
        out.append(event)
        if isinstance(event, ConnectionClosed):
            break
    return out


# --- reply parsing --------------------------------------------------------------------


def test_single_line_reply() -> None:
    assert replies(b"220 mx.example.org ESMTP\r\n") == [Reply(220, None, ("mx.example.org ESMTP",))]


def test_multiline_reply() -> None:
    data = b"250-mx.example.org Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"
    assert replies(data) == [Reply(250, None, ("mx.example.org Hello", "PIPELINING", "SIZE 1000"))]


def test_enhanced_code_extracted() -> None:
    # RFC 2034 §4 / RFC 3463
    assert replies(b"250 2.1.0 Sender OK\r\n") == [Reply(250, "2.1.0", ("Sender OK",))]
    assert replies(b"550-5.1.1 No such\r\n550 5.1.1 user\r\n") == [
        Reply(550, "5.1.1", ("No such", "user"))
    ]
    assert replies(b"421 4.4.2\r\n") == [Reply(421, "4.4.2", ("",))]


def test_enhanced_code_class_must_match() -> None:
    assert replies(b"250 5.0.0 odd\r\n") == [Reply(250, None, ("5.0.0 odd",))]
    assert replies(b"250 2.0.0x\r\n") == [Reply(250, None, ("2.0.0x",))]
    assert replies(b"354 Start mail input\r\n") == [Reply(354, None, ("Start mail input",))]


def test_reply_code_only() -> None:
    # RFC 5321 §4.2: the text is optional.
    assert replies(b"250\r\n") == [Reply(250, None, ("",))]
    assert replies(b"334 \r\n") == [Reply(334, None, ("",))]


def test_reply_with_bare_lf() -> None:
    assert replies(b"250-a\n250 b\n") == [Reply(250, None, ("a", "b"))]


def test_reply_utf8_text() -> None:
    assert replies("250 2.0.0 Grüße\r\n".encode()) == [Reply(250, "2.0.0", ("Grüße",))]


def test_reply_split_everywhere() -> None:
    data = b"250-mx Hello\r\n250-8BITMIME\r\n250 2.0.0 OK\r\n"
    for cut in range(1, len(data)):
        client = ClientConnection()
        client.receive_data(data[:cut])
        first = client.next_event()
        client.receive_data(data[cut:])
        second = client.next_event()
        got = second if first is NEED_DATA else first
        assert got == Reply(250, None, ("mx Hello", "8BITMIME", "2.0.0 OK")), cut


@pytest.mark.parametrize(
    "line",
    [
        b"hello\r\n",
        b"25 ok\r\n",
        b"2500 ok\r\n",
        b"250x\r\n",
        b"150 ok\r\n",
        b"260 ok\r\n",
        b"\r\n",
    ],
)
def test_malformed_reply_line(line: bytes) -> None:
    client = ClientConnection()
    client.receive_data(line + b"250 OK\r\n")
    with pytest.raises(RemoteProtocolError):
        client.next_event()
    # The bad line was consumed: parsing resumes at the next one.
    assert client.next_event() == Reply(250, None, ("OK",))


def test_reply_code_changes_mid_reply() -> None:
    client = ClientConnection()
    client.receive_data(b"250-a\r\n550 b\r\n")
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_reply_line_too_long() -> None:
    client = ClientConnection(max_reply_line=512)
    client.receive_data(b"250 " + b"x" * 600)
    with pytest.raises(RemoteProtocolError):
        client.next_event()
    client.receive_data(b"x" * 600 + b"\r\n221 bye\r\n")
    assert client.next_event() == Reply(221, None, ("bye",))


def test_endless_multiline_reply() -> None:
    client = ClientConnection()
    client.receive_data(b"250-x\r\n" * 1000 + b"250 x\r\n")
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_close_mid_reply() -> None:
    client = ClientConnection()
    client.receive_data(b"250-a\r\n250 b")
    client.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        client.next_event()
    assert isinstance(client.next_event(), ConnectionClosed)


def test_close() -> None:
    assert replies(b"221 bye\r\n") == [Reply(221, None, ("bye",))]
    client = ClientConnection()
    client.receive_data(b"")
    assert isinstance(client.next_event(), ConnectionClosed)
    with pytest.raises(LocalProtocolError):
        client.receive_data(b"x")


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_arbitrary_bytes_never_crash(chunks: list[bytes]) -> None:
    # The analyzer feeds whatever a capture holds.
    client = ClientConnection(max_reply_line=128)
    for chunk in [*(c for c in chunks if c), b""]:
        client.receive_data(chunk)
        for _ in range(1000):
            try:
                event = client.next_event()
            except RemoteProtocolError:
                continue
            if event is NEED_DATA or isinstance(event, ConnectionClosed):
                break
            assert isinstance(event, Reply)


def test_parse_reply_line() -> None:
    assert parse_reply_line(b"250-x") == (250, False, "x")
    assert parse_reply_line(b"250 x") == (250, True, "x")
    with pytest.raises(RemoteProtocolError):
        parse_reply_line(b"2x0 x")


# --- STARTTLS response injection ----------------------------------------------------


def test_starttls_response_injection_discarded() -> None:
    client = ClientConnection()
    client.receive_data(b"220 mx\r\n")
    client.next_event()
    client.send(Hello("EHLO", "c"))
    client.send(StartTLS())
    client.receive_data(b"250 mx\r\n220 2.0.0 Go ahead\r\n250 injected\r\n")
    assert client.next_event() == Reply(250, None, ("mx",))
    assert client.next_event() == Reply(220, "2.0.0", ("Go ahead",))
    assert client.next_event() is NEED_DATA
    client.receive_data(b"250 injected later\r\n")
    assert client.next_event() is NEED_DATA
    client.start_tls_done()
    client.send(Hello("EHLO", "c"))
    client.receive_data(b"250 mx over TLS\r\n")
    assert client.next_event() == Reply(250, None, ("mx over TLS",))


def test_starttls_refused_keeps_reading() -> None:
    client = ClientConnection()
    client.receive_data(b"220 mx\r\n")
    client.next_event()
    client.send(StartTLS())
    client.receive_data(b"454 4.7.0 No TLS\r\n250 next\r\n")
    assert client.next_event() == Reply(454, "4.7.0", ("No TLS",))
    assert client.next_event() == Reply(250, None, ("next",))


# --- serialisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "wire"),
    [
        (Hello("EHLO", "client.example"), b"EHLO client.example\r\n"),
        (Hello("HELO", "[192.0.2.1]"), b"HELO [192.0.2.1]\r\n"),
        (MailFrom("a@b.example"), b"MAIL FROM:<a@b.example>\r\n"),
        (MailFrom(""), b"MAIL FROM:<>\r\n"),
        (
            MailFrom("a@b.example", {"SIZE": "100", "SMTPUTF8": None, "BODY": "8BITMIME"}),
            b"MAIL FROM:<a@b.example> SIZE=100 SMTPUTF8 BODY=8BITMIME\r\n",
        ),
        (
            RcptTo("x@y.example", {"NOTIFY": "FAILURE"}),
            b"RCPT TO:<x@y.example> NOTIFY=FAILURE\r\n",
        ),
        (RcptTo("пример@пример.рф"), "RCPT TO:<пример@пример.рф>\r\n".encode()),
        (Data(), b"DATA\r\n"),
        (Rset(), b"RSET\r\n"),
        (Noop(), b"NOOP\r\n"),
        (Noop("x"), b"NOOP x\r\n"),
        (Vrfy("alice"), b"VRFY alice\r\n"),
        (Expn("staff"), b"EXPN staff\r\n"),
        (Help(), b"HELP\r\n"),
        (Help("MAIL"), b"HELP MAIL\r\n"),
        (Quit(), b"QUIT\r\n"),
        (StartTLS(), b"STARTTLS\r\n"),
        (Auth("LOGIN", None), b"AUTH LOGIN\r\n"),
        (Auth("PLAIN", b""), b"AUTH PLAIN =\r\n"),  # RFC 4954 §4
        (Auth("PLAIN", b"\x00u\x00p"), b"AUTH PLAIN AHUAcA==\r\n"),
    ],
)
def test_send(command: object, wire: bytes) -> None:
    assert ClientConnection().send(command) == wire  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "command",
    [
        Hello("EHLO", "x\r\nMAIL FROM:<evil@example.com>"),
        MailFrom("a@b\r\nRCPT TO:<x@y>"),
        RcptTo("x@y.example", {"NOTIFY": "FAILURE\r\nDATA"}),
        MailFrom("a@b.example", {"BAD KEY": None}),
        MailFrom("a@b.example", {"SIZE": ""}),
        Vrfy("a\nb"),
        Noop("\x00"),
        Hello("HOLA", "x"),
        Auth("PL AIN", None),
    ],
)
def test_send_refuses_injection(command: object) -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection().send(command)  # type: ignore[arg-type]


def test_send_refuses_non_commands() -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection().send(MessageBody(b"x"))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        ClientConnection().send(BdatChunk(b"x", True))  # type: ignore[arg-type]


def test_send_auth_response_and_abort() -> None:
    client = ClientConnection()
    assert client.send_auth_response(b"alice") == b"YWxpY2U=\r\n"
    assert client.send_auth_response(b"") == b"\r\n"
    assert client.send_auth_abort() == b"*\r\n"


@pytest.mark.parametrize(
    ("content", "wire"),
    [
        (b"", b".\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b"a", b"a\r\n.\r\n"),  # the last line gets its CRLF
        (b".\r\n", b"..\r\n.\r\n"),  # RFC 5321 §4.5.2
        (b"a\r\n.b\r\n..\r\n", b"a\r\n..b\r\n...\r\n.\r\n"),
        (b"a\nb\rc\r\n", b"a\r\nb\r\nc\r\n.\r\n"),  # no bare CR or LF on the wire
        (b"x\n.\n", b"x\r\n..\r\n.\r\n"),  # smuggling attempt neutralised
    ],
)
def test_send_message(content: bytes, wire: bytes) -> None:
    assert ClientConnection().send_message(content) == wire


def test_send_bdat() -> None:
    client = ClientConnection()
    assert client.send_bdat(b"\r\n.\r\n", last=False) == b"BDAT 5\r\n\r\n.\r\n"
    assert client.send_bdat(b"", last=True) == b"BDAT 0 LAST\r\n"


# --- EHLO -------------------------------------------------------------------------------


def test_ehlo_lines() -> None:
    features = ServerFeatures(starttls=True, auth_mechanisms=("PLAIN", "LOGIN"))
    lines = ehlo_lines("mx.example.org", "Hello c.example", features, max_message_size=1000)
    assert lines == [
        "mx.example.org Hello c.example",
        "PIPELINING",
        "SIZE 1000",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
        "STARTTLS",
        "AUTH PLAIN LOGIN",
        "HELP",
    ]


def test_ehlo_lines_minimal() -> None:
    features = ServerFeatures(
        pipelining=False,
        size=True,
        eightbitmime=False,
        smtputf8=False,
        enhancedstatuscodes=False,
        chunking=False,
        dsn=False,
        help=False,
    )
    assert ehlo_lines("mx", "", features) == ["mx", "SIZE"]


def test_ehlo_round_trip() -> None:
    features = ServerFeatures(auth_mechanisms=("PLAIN",))
    reply = ehlo_reply("mx", "Hello c", features, max_message_size=5000)
    wire = reply.to_bytes()
    assert wire.startswith(b"250-mx Hello c\r\n250-PIPELINING\r\n")
    client = ClientConnection()
    client.receive_data(wire)
    parsed = client.next_event()
    assert isinstance(parsed, Reply)
    assert parse_ehlo(parsed) == {
        "PIPELINING": "",
        "SIZE": "5000",
        "8BITMIME": "",
        "SMTPUTF8": "",
        "ENHANCEDSTATUSCODES": "",
        "CHUNKING": "",
        "DSN": "",
        "AUTH": "PLAIN",
        "HELP": "",
    }


def test_parse_ehlo_real_world() -> None:
    reply = Reply(
        250,
        None,
        ("smtp.example.com at your service", "size 35882577", "AUTH=LOGIN PLAIN", "starttls"),
    )
    assert parse_ehlo(reply) == {"SIZE": "35882577", "AUTH": "LOGIN PLAIN", "STARTTLS": ""}
    both = Reply(250, None, ("mx", "AUTH PLAIN", "AUTH=LOGIN"))
    assert parse_ehlo(both) == {"AUTH": "PLAIN"}
    assert parse_ehlo(Reply(250, None, ("mx",))) == {}
