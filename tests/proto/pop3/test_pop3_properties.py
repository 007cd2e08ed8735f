"""Properties (Hypothesis): dot-stuffing round-trips through both cores, feeding the
input split anywhere yields the same events, and junk never escapes as anything but
RemoteProtocolError (client) or CommandRejected (server)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.proto.pop3.pop3_app import GREETING, Maildrop, b64, client_events, drive, logged_in

from posthouse.proto.pop3 import (
    NEED_DATA,
    PAUSED,
    Capa,
    CommandRejected,
    ConnectionClosed,
    Dele,
    Err,
    List,
    MultiLine,
    Noop,
    Ok,
    Pass,
    Pop3Client,
    Pop3Server,
    RemoteProtocolError,
    Response,
    ResponseKind,
    Retr,
    Rset,
    ServerEvent,
    Stat,
    Stls,
    Top,
    Uidl,
    User,
    encode_message,
    encode_top,
)
from posthouse.proto.pop3.events import Sentinel

FRAGMENTS = [
    b".",
    b"..",
    b"\r",
    b"\n",
    b"\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"a",
    b" ",
    b"\x00",
    b"\xff",
]
message_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(FRAGMENTS), max_size=60).map(b"".join),
)


def crlf_normalised(raw: bytes) -> bytes:
    """What a message looks like after POP3, written without the code under test: a
    LF not preceded by CR becomes CRLF, and an unterminated last line gets CRLF."""
    out = bytearray()
    previous = None
    for octet in raw:
        if octet == 0x0A and previous != 0x0D:
            out += b"\r\n"
        else:
            out.append(octet)
        previous = octet
    if out and not out.endswith(b"\n"):
        out += b"\r\n"
    return bytes(out)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return [piece for piece in pieces if piece]


cuts = st.lists(st.integers(min_value=0, max_value=100_000), max_size=20)


@settings(deadline=None)
@given(raw=message_bytes, cut_points=cuts)
def test_dot_stuffing_round_trip(raw: bytes, cut_points: list[int]) -> None:
    server, _ = logged_in()
    server.receive_data(b"RETR 1\r\n")
    assert server.next_event() == Retr(1)
    wire = server.send(MultiLine(Ok("x octets"), data=raw))
    assert wire == b"+OK x octets\r\n" + encode_message(raw)

    client = Pop3Client()
    client_events(client, [b"+OK\r\n"])
    client.send(Retr(1))
    events = client_events(client, split(wire, cut_points))
    assert events == [MultiLine(Ok("x octets"), data=crlf_normalised(raw))]


@given(raw=message_bytes, extra=st.integers(min_value=0, max_value=5))
def test_top_beyond_body_is_the_whole_message(raw: bytes, extra: int) -> None:
    body_lines = raw.count(b"\n") + 1
    assert encode_top(raw, body_lines + extra) == encode_message(raw)


@given(raw=message_bytes, lines=st.integers(min_value=0, max_value=20))
def test_top_is_a_prefix_of_the_message(raw: bytes, lines: int) -> None:
    top = encode_top(raw, lines)[: -len(b".\r\n")]
    assert encode_message(raw).startswith(top)


# --- the server core: split anywhere, same events -----------------------------------

LINES = [
    b"USER alice\r\n",
    b"user alice\n",
    b"PASS alicepw\r\n",
    b"PASS wrong\r\n",
    b"STAT\r\n",
    b"LIST\r\n",
    b"LIST 1\r\n",
    b"UIDL\r\n",
    b"RETR 1\r\n",
    b"TOP 1 0\r\n",
    b"DELE 1\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"CAPA\r\n",
    b"STLS\r\n",
    b"AUTH\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH LOGIN\r\n",
    b"AUTH PLAIN " + b64(b"\x00alice\x00alicepw") + b"\r\n",
    b64(b"\x00alice\x00alicepw") + b"\r\n",
    b64(b"alice") + b"\r\n",
    b"*\r\n",
    b"RETR 0\r\n",
    b"TOP 1 -1\r\n",
    b"\r\n",
    b"\x00\xff\x16\x03 junk\r\n",
    b"\xc3\xa9\r\n",
    b"NOOP " + b"x" * 300 + b"\r\n",
    b"AUTH PLAIN " + b"A" * 600 + b"\r\n",
    b"B" * 17_000 + b"\n",
    b"QUIT\r\n",
]


def _run_server(chunks: list[bytes]) -> tuple[list[object], bytes]:
    server = Pop3Server()
    greeting = server.send(GREETING)
    maildrop = Maildrop(messages=[b"Subject: a\r\n\r\n.b\r\n"])

    def respond(server: Pop3Server, event: ServerEvent) -> Response:
        if isinstance(event, Stls):
            return Err("no TLS here")
        return maildrop.respond(server, event)

    events, out = drive(server, [*chunks, b""], respond)
    return events, greeting + out


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300, deadline=None)
@given(lines=st.lists(st.sampled_from(LINES), max_size=25), cut_points=cuts)
def test_server_split_anywhere_same_events(lines: list[bytes], cut_points: list[int]) -> None:
    data = b"".join(lines)
    whole = _run_server([data])
    pieces = _run_server(split(data, cut_points))
    one_by_one = _run_server([data[i : i + 1] for i in range(min(len(data), 3000))])
    assert pieces == whole
    if len(data) <= 3000:
        assert one_by_one == whole
    assert whole[0][-1] == ConnectionClosed()


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), cut_points=cuts)
def test_server_survives_any_bytes(data: bytes, cut_points: list[int]) -> None:
    for state in ("authorization", "transaction"):
        if state == "transaction":
            server, _ = logged_in()
        else:
            server = Pop3Server()
            server.send(GREETING)
        for chunk in [*split(data, cut_points), b""]:
            server.receive_data(chunk)
            while True:
                event = server.next_event()
                if event is NEED_DATA or isinstance(event, ConnectionClosed):
                    break
                assert event is not PAUSED
                assert not isinstance(event, Sentinel)
                # Answer everything negatively: the core must take -ERR for anything.
                server.send(event.response if isinstance(event, CommandRejected) else Err("no"))
            if isinstance(event, ConnectionClosed):
                break


# --- the client core: split anywhere, same events; junk → RemoteProtocolError --------

COMMANDS = [
    Stat(),
    List(),
    List(1),
    Uidl(),
    Uidl(1),
    Retr(1),
    Top(1, 0),
    Dele(1),
    Rset(),
    Noop(),
    Capa(),
]


@settings(deadline=None)
@given(
    commands=st.lists(st.sampled_from(COMMANDS), max_size=12),
    messages=st.lists(message_bytes, min_size=1, max_size=3),
    cut_points=cuts,
)
def test_client_parses_what_the_server_sent(
    commands: list[object], messages: list[bytes], cut_points: list[int]
) -> None:
    """Pipelined commands: the responses the server core rendered come back out of the
    client core as the very same objects, however the octets are split."""
    maildrop = Maildrop(messages=messages)
    server, maildrop = logged_in(maildrop)
    sent: list[object] = []

    def respond(server: Pop3Server, event: ServerEvent) -> Response:
        response = maildrop.respond(server, event)
        sent.append(response)
        return response

    client = Pop3Client()
    client_events(client, [b"+OK\r\n"])
    client.send(User("alice"))
    client.send(Pass("alicepw"))
    client_events(client, [b"+OK\r\n+OK\r\n"])
    data = b"".join(client.send(c) for c in commands)  # type: ignore[arg-type]
    _, out = drive(server, [data], respond)
    events = client_events(client, split(out, cut_points))
    expected = [
        MultiLine(r.first, data=crlf_normalised(r.data))
        if isinstance(r, MultiLine) and r.data is not None
        else r
        for r in sent
    ]
    assert events == expected


@settings(max_examples=300, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(list(ResponseKind)), min_size=1, max_size=5),
    data=st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    b"+OK",
                    b"-ERR",
                    b"+ ",
                    b"+",
                    b".",
                    b"\r\n",
                    b"\n",
                    b"[IN-USE]",
                    b"x",
                    b"\x00",
                    b"\xff",
                    b"==",
                ]
            ),
            max_size=50,
        ).map(b"".join),
    ),
    cut_points=cuts,
)
def test_client_junk_only_raises_remote_protocol_error(
    kinds: list[ResponseKind], data: bytes, cut_points: list[int]
) -> None:
    client = Pop3Client(max_response_line=100, max_multiline=300)
    for kind in kinds:
        client.expect(kind)
    try:
        for chunk in [*split(data, cut_points), b""]:
            client.receive_data(chunk)
            while True:
                event = client.next_event()
                if event is NEED_DATA or isinstance(event, ConnectionClosed):
                    break
        # Reaching the end cleanly is fine too.
    except RemoteProtocolError:
        pass


@given(cut_points=cuts)
def test_auth_exchange_split_anywhere(cut_points: list[int]) -> None:
    wire = b"AUTH LOGIN\r\n" + b64(b"alice") + b"\r\n" + b64(b"alicepw") + b"\r\nSTAT\r\n"
    whole = _run_server([wire])
    assert _run_server(split(wire, cut_points)) == whole
    assert whole[1].endswith(b"+OK logged in\r\n+OK 1 18\r\n")


def test_crlf_normalised_reference() -> None:
    assert crlf_normalised(b"a\nb\r\nc\r") == b"a\r\nb\r\nc\r\r\n"
    assert crlf_normalised(b"") == b""
