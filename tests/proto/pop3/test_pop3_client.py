"""The client core: parsing +OK / -ERR / "+ " lines and multi-line bodies, pipelining,
and raising RemoteProtocolError (nothing else) on a misbehaving server."""

from __future__ import annotations

import pytest
from tests.proto.pop3.pop3_app import client_events

from posthouse.proto.pop3 import (
    MAX_AUTH_LINE,
    NEED_DATA,
    Auth,
    AuthAbort,
    AuthResponse,
    Capa,
    ConnectionClosed,
    Continuation,
    Dele,
    Err,
    List,
    LocalProtocolError,
    MultiLine,
    Noop,
    Ok,
    Pass,
    Pop3Client,
    Quit,
    RemoteProtocolError,
    ResponseKind,
    Retr,
    Stat,
    State,
    Stls,
    Top,
    Uidl,
    User,
    Utf8,
    apop_digest,
    apop_timestamp,
    parse_scan_listing,
    parse_stat,
    parse_uid_listing,
)


def _ready() -> Pop3Client:
    client = Pop3Client()
    assert client_events(client, [b"+OK POP3 ready\r\n"]) == [Ok("POP3 ready")]
    assert client.state is State.AUTHORIZATION
    return client


def _logged_in() -> Pop3Client:
    client = _ready()
    client.send(User("alice"))
    client.send(Pass("alicepw"))
    assert client_events(client, [b"+OK\r\n+OK 2 messages\r\n"]) == [Ok(), Ok("2 messages")]
    assert client.state is State.TRANSACTION
    return client


def test_greeting_refused() -> None:
    client = Pop3Client()
    events = client_events(client, [b"-ERR [SYS/TEMP] busy\r\n"])
    assert events == [Err("busy", code="SYS/TEMP")]
    assert client.state is State.CLOSED


def test_greeting_apop_timestamp() -> None:
    client = Pop3Client()
    (greeting,) = client_events(
        client, [b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"]
    )
    assert isinstance(greeting, Ok)
    timestamp = apop_timestamp(greeting.text)
    assert timestamp == "<1896.697170952@dbc.mtview.ca.us>"
    # RFC 1939 §7's worked example.
    assert apop_digest(timestamp, "tanstaaf") == "c4c9334bac560ecc979e58001b3e22fb"
    assert apop_timestamp("POP3 ready") is None


@pytest.mark.parametrize(
    ("line", "response"),
    [
        (b"+OK\r\n", Ok()),
        (b"+OK \r\n", Ok()),
        (b"+ok lower case\r\n", Ok("lower case")),
        (b"-ERR\r\n", Err()),
        (b"-ERR [IN-USE] locked\r\n", Err("locked", code="IN-USE")),
        (b"-ERR [SYS/PERM]\r\n", Err("", code="SYS/PERM")),
        (b"-ERR [not a code] x\r\n", Err("[not a code] x")),
        (b"-ERR [unclosed\r\n", Err("[unclosed")),
        (b"+OK 2 320\n", Ok("2 320")),
        (b"+OK \xd5\xe2\xca\xc7\r\n", Ok(b"\xd5\xe2\xca\xc7".decode("utf-8", "surrogateescape"))),
    ],
)
def test_single_line_responses(line: bytes, response: Ok | Err) -> None:
    client = _logged_in()
    client.send(Stat())
    assert client_events(client, [line]) == [response]


def test_eight_bit_text_round_trips_through_server_render() -> None:
    # The analyzer hands what the client core parsed to a server core: same octets.
    client = _ready()
    client.send(Noop())
    (event,) = client_events(client, [b"+OK \xd5\xe2\r\n"])
    assert isinstance(event, Ok)
    assert event.to_bytes() == b"+OK \xd5\xe2\r\n"


def test_listing_responses() -> None:
    client = _logged_in()
    client.send(List())
    client.send(Uidl())
    client.send(Capa())
    events = client_events(
        client,
        [
            b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n",
            b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n",
            b"+OK Capability list follows\r\nTOP\r\nUSER\r\n..odd\r\n.\r\n",
        ],
    )
    assert events == [
        MultiLine(Ok("2 messages (320 octets)"), lines=("1 120", "2 200")),
        MultiLine(Ok(), lines=("1 whqtswO00WBw418f9t5JxYwZ", "2 QhdPYR:00WBw1Ph7x7")),
        MultiLine(Ok("Capability list follows"), lines=("TOP", "USER", ".odd")),
    ]
    listing, uids = events[0], events[1]
    assert isinstance(listing, MultiLine) and isinstance(uids, MultiLine)
    assert parse_scan_listing(listing.lines[1]) == (2, 200)
    assert parse_uid_listing(uids.lines[0]) == (1, "whqtswO00WBw418f9t5JxYwZ")


def test_empty_listing() -> None:
    client = _logged_in()
    client.send(List())
    assert client_events(client, [b"+OK 0 messages\r\n.\r\n"]) == [
        MultiLine(Ok("0 messages"), lines=())
    ]


def test_retr_unstuffs_and_keeps_crlf() -> None:
    client = _logged_in()
    client.send(Retr(1))
    events = client_events(
        client, [b"+OK 40 octets\r\nSubject: x\r\n\r\n..dot\r\n...two\r\n..\r\nend\r\n.\r\n"]
    )
    assert events == [
        MultiLine(Ok("40 octets"), data=b"Subject: x\r\n\r\n.dot\r\n..two\r\n.\r\nend\r\n")
    ]


def test_retr_empty_body() -> None:
    client = _logged_in()
    client.send(Retr(1))
    client.send(Top(1, 0))
    events = client_events(client, [b"+OK\r\n.\r\n+OK\r\n.\n"])
    assert events == [MultiLine(Ok(), data=b""), MultiLine(Ok(), data=b"")]


def test_retr_body_byte_by_byte() -> None:
    client = _logged_in()
    client.send(Retr(1))
    wire = b"+OK\r\n.a\r\n..\r\n\r\n.x\r\n.\r\n"
    events: list[object] = []
    for i in range(len(wire)):
        events += client_events(client, [wire[i : i + 1]])
    assert events == [MultiLine(Ok(), data=b"a\r\n.\r\n\r\nx\r\n")]


def test_retr_from_bare_lf_server() -> None:
    client = _logged_in()
    client.send(Retr(1))
    events = client_events(client, [b"+OK\nSubject: x\n\nbody\n..dot\n.\n"])
    assert events == [MultiLine(Ok(), data=b"Subject: x\r\n\r\nbody\r\n.dot\r\n")]


def test_retr_error_is_single_line() -> None:
    client = _logged_in()
    client.send(Retr(9))
    client.send(Stat())
    events = client_events(client, [b"-ERR no such message\r\n+OK 2 320\r\n"])
    assert events == [Err("no such message"), Ok("2 320")]


def test_pipelined_responses_in_order() -> None:
    # fetchmail's sequence (INTEROP.md): STAT, UIDL, LIST n, TOP n 99999999, DELE, QUIT.
    client = _logged_in()
    for command in (Stat(), Uidl(), List(1), Top(1, 99999999), Dele(1), Quit()):
        client.send(command)
    assert client.pending == (Stat(), Uidl(), List(1), Top(1, 99999999), Dele(1), Quit())
    wire = b"+OK 1 5\r\n+OK\r\n1 u1\r\n.\r\n+OK 1 5\r\n+OK\r\nab\r\n.\r\n+OK deleted\r\n+OK bye\r\n"
    events = client_events(client, [wire, b""])
    assert events == [
        Ok("1 5"),
        MultiLine(Ok(), lines=("1 u1",)),
        Ok("1 5"),
        MultiLine(Ok(), data=b"ab\r\n"),
        Ok("deleted"),
        Ok("bye"),
        ConnectionClosed(),
    ]
    assert client.state is State.CLOSED
    assert parse_stat("1 5") == (1, 5)


def test_quit_after_login_enters_update() -> None:
    client = _logged_in()
    client.send(Quit())
    assert client_events(client, [b"+OK bye\r\n"]) == [Ok("bye")]
    assert client.state is State.UPDATE


def test_auth_plain_continuation() -> None:
    client = _ready()
    client.send(Auth("PLAIN"))
    assert client_events(client, [b"+ \r\n"]) == [Continuation(b"")]
    assert client.in_auth
    assert client.send(AuthResponse(b"\x00alice\x00alicepw")) == b"AGFsaWNlAGFsaWNlcHc=\r\n"
    assert client_events(client, [b"+OK logged in\r\n"]) == [Ok("logged in")]
    assert client.state is State.TRANSACTION


def test_auth_login_challenges_and_abort() -> None:
    client = _ready()
    client.send(Auth("LOGIN"))
    assert client_events(client, [b"+ VXNlcm5hbWU6\r\n"]) == [Continuation(b"Username:")]
    assert client.send(AuthAbort()) == b"*\r\n"
    assert client_events(client, [b"-ERR aborted\r\n"]) == [Err("aborted")]
    assert client.state is State.AUTHORIZATION
    assert not client.in_auth


def test_auth_continuation_without_space_tolerated() -> None:
    client = _ready()
    client.send(Auth("PLAIN"))
    assert client_events(client, [b"+\r\n"]) == [Continuation(b"")]


def test_auth_response_needs_a_challenge() -> None:
    client = _ready()
    with pytest.raises(LocalProtocolError):
        client.send(AuthResponse(b"x"))
    client.send(Auth("PLAIN"))
    with pytest.raises(LocalProtocolError):
        client.send(AuthAbort())


def test_utf8_mode() -> None:
    client = _ready()
    client.send(Utf8())
    client_events(client, [b"+OK UTF8 enabled\r\n"])
    assert client.utf8_active


@pytest.mark.parametrize(
    "command",
    [
        Retr(0),
        Dele(-1),
        Top(1, -1),
        List(0),
        User(""),
        User("a\r\nDELE 1"),
        User(" padded"),
        Pass("x\ny"),
        Auth("pl@in"),
        Auth("PLAIN", b"x" * 200),  # RFC 5034 §4: AUTH line over 255 octets
    ],
)
def test_client_refuses_bad_commands(command: object) -> None:
    with pytest.raises(LocalProtocolError):
        _ready().send(command)  # type: ignore[arg-type]


def test_observer_limits_for_long_auth() -> None:
    client = Pop3Client(max_command_line=MAX_AUTH_LINE)
    assert client.send(Auth("XOAUTH2", b"x" * 2000)).startswith(b"AUTH XOAUTH2 eHh4")


def test_observer_expect_for_rejected_line() -> None:
    client = _ready()
    client.expect(ResponseKind.SINGLE)
    assert client_events(client, [b"-ERR Unknown command\r\n"]) == [Err("Unknown command")]
    assert client.state is State.AUTHORIZATION


# --- a misbehaving server: RemoteProtocolError, nothing else -------------------------


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 400 Bad Request\r\n",
        b"220 smtp.example.test ESMTP\r\n",
        b"+ challenge\r\n",  # not answering AUTH
        b"\x00+OK\r\n",
        b"+OK with\x00nul\r\n",
        b"+OK bare\rcr\r\n",
        b"x" * 9000,
    ],
)
def test_junk_raises_remote_protocol_error(wire: bytes) -> None:
    client = _logged_in()
    client.send(Stat())
    client.receive_data(wire)
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_bad_challenge_base64() -> None:
    client = _ready()
    client.send(Auth("PLAIN"))
    client.receive_data(b"+ not base64!\r\n")
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_unsolicited_data() -> None:
    client = _logged_in()
    client.receive_data(b"+OK surprise\r\n")
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_close_inside_multiline() -> None:
    client = _logged_in()
    client.send(Retr(1))
    client.receive_data(b"+OK\r\npartial body\r\n")
    assert client.next_event() is NEED_DATA
    client.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_close_at_line_boundary_is_connection_closed() -> None:
    client = _logged_in()
    client.send(Stat())
    assert client_events(client, [b""]) == [ConnectionClosed()]
    assert client.state is State.CLOSED


def test_runaway_multiline() -> None:
    client = Pop3Client(max_multiline=1000)
    client_events(client, [b"+OK\r\n"])
    client.send(Retr(1))
    client.receive_data(b"+OK\r\n" + b"x\r\n" * 600)
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_runaway_listing() -> None:
    client = Pop3Client(max_multiline=1000)
    client_events(client, [b"+OK\r\n"])
    client.send(Capa())
    client.receive_data(b"+OK\r\n" + b"CAP\r\n" * 600)
    with pytest.raises(RemoteProtocolError):
        client.next_event()


@pytest.mark.parametrize("text", ["", "x", "1", "a b", "1 x"])
def test_parse_helpers_reject_malformed(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_stat(text)
    with pytest.raises(RemoteProtocolError):
        parse_scan_listing(text)


def test_receive_after_close() -> None:
    client = _ready()
    client.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        client.receive_data(b"+OK\r\n")


def test_nothing_pipelined_after_stls() -> None:
    # The server discards it (RFC 2595 §4), so the client would wait forever.
    client = _ready()
    client.send(Stls())
    with pytest.raises(LocalProtocolError):
        client.send(Capa())
    client_events(client, [b"+OK Begin TLS\r\n"])
    client.send(Capa())


def test_nothing_pipelined_after_auth() -> None:
    # Until AUTH completes the server reads every line as a SASL response.
    client = _ready()
    client.send(Auth("PLAIN"))
    with pytest.raises(LocalProtocolError):
        client.send(Stat())
    client_events(client, [b"-ERR no\r\n"])
    client.send(Capa())
