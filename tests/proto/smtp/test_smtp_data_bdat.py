"""Message content: DATA framing (RFC 5321 §4.1.1.4, §4.5.2) and BDAT (RFC 3030)."""

from __future__ import annotations

import pytest
from smtp_pair import default_reply, events_of, feed, make_server, session

from posthouse.proto.smtp.ehlo import ServerFeatures
from posthouse.proto.smtp.events import (
    BdatChunk,
    CommandRejected,
    Data,
    MessageBody,
    MessageRejected,
    Noop,
    Rset,
    ServerEvent,
)
from posthouse.proto.smtp.reply import Reply
from posthouse.proto.smtp.server import ServerConnection, ServerLimits, State

ENVELOPE = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\n"


def body_of(content: bytes) -> object:
    return events_of(make_server(), ENVELOPE + b"DATA\r\n" + content)[-1]


# --- DATA ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "content"),
    [
        (b".\r\n", b""),  # the empty message
        (b"\r\n.\r\n", b"\r\n"),
        (b"a\r\n.\r\n", b"a\r\n"),
        (b"..\r\n.\r\n", b".\r\n"),  # RFC 5321 §4.5.2: the added dot is removed
        (b"...x\r\n.\r\n", b"..x\r\n"),
        (b"a\r\n..b\r\n..\r\n.\r\n", b"a\r\n.b\r\n.\r\n"),
        (b".x\r\n.\r\n", b"x\r\n"),  # a dot an unstuffing client forgot: removed too
        (b"a.\r\nb\r\n.\r\n", b"a.\r\nb\r\n"),
        (b"\xff\x00\x80\r\n.\r\n", b"\xff\x00\x80\r\n"),  # octets pass through
    ],
)
def test_data_framing(wire: bytes, content: bytes) -> None:
    assert body_of(wire) == MessageBody(content)


def test_data_end_split_everywhere() -> None:
    wire = b"line\r\n..dot\r\n.\r\n"
    for cut in range(len(wire) + 1):
        conn = make_server()
        events = events_of(conn, ENVELOPE + b"DATA\r\n" + wire[:cut])
        if wire[cut:]:
            events += events_of(conn, wire[cut:])
        assert events[-1] == MessageBody(b"line\r\n.dot\r\n"), cut


def test_data_byte_by_byte() -> None:
    conn = make_server()
    events = events_of(conn, ENVELOPE + b"DATA\r\n")
    for octet in b".\r\n":
        events += events_of(conn, bytes([octet]))
    assert events[-1] == MessageBody(b"")


def test_commands_after_data_in_same_packet() -> None:
    events = body_of(b"x\r\n.\r\nNOOP\r\n")
    assert events == Noop()


def test_data_large_message() -> None:
    line = b"0123456789" * 7 + b"\r\n"
    content = line * 20_000  # 1.4 MB
    assert body_of(content + b".\r\n") == MessageBody(content)


def test_data_unlimited_line_length() -> None:
    conn = make_server(limits=ServerLimits(max_text_line=0))
    content = b"x" * 5000 + b"\r\n"
    assert events_of(conn, ENVELOPE + b"DATA\r\n" + content + b".\r\n")[-1] == MessageBody(content)


def test_data_rejected_then_new_transaction() -> None:
    conn = make_server()
    events = events_of(conn, ENVELOPE + b"DATA\r\nbad\nline\r\n.\r\n" + ENVELOPE[8:])
    assert isinstance(events[4], MessageRejected)
    assert conn.state is State.RCPT


# --- BDAT ---------------------------------------------------------------------------


def test_bdat_single_chunk() -> None:
    conn = make_server()
    chunk = b"Hello\r\n.\r\nx"
    out = feed(conn, ENVELOPE + f"BDAT {len(chunk)} LAST\r\n".encode() + chunk + b"NOOP\r\n")
    assert out[3] == (BdatChunk(chunk, last=True), b"250 2.0.0 OK\r\n")
    assert out[4][0] == Noop()
    assert conn.state is State.READY


def test_bdat_chunks_pipelined() -> None:
    conn = make_server()
    events = events_of(conn, ENVELOPE + b"BDAT 5\r\nHelloBDAT 7\r\n, worldBDAT 0 LAST\r\nNOOP\r\n")
    assert events[3:] == [
        BdatChunk(b"Hello", last=False),
        BdatChunk(b", world", last=False),
        BdatChunk(b"", last=True),
        Noop(),
    ]
    assert conn.state is State.READY


def test_bdat_zero_last() -> None:
    assert events_of(make_server(), ENVELOPE + b"BDAT 0 LAST\r\n")[-1] == BdatChunk(b"", True)


def test_bdat_octets_are_binary() -> None:
    chunk = bytes(range(256)) + b"\r\n.\r\nQUIT\r\n\n.\n"
    wire = ENVELOPE + f"BDAT {len(chunk)} last\r\n".encode() + chunk
    assert events_of(make_server(), wire)[-1] == BdatChunk(chunk, True)


def test_bdat_octets_across_packets() -> None:
    conn = make_server()
    events = events_of(conn, ENVELOPE + b"BDAT 10 LAST\r\n0123")
    assert len(events) == 3
    events += events_of(conn, b"456")
    events += events_of(conn, b"789NOOP\r\n")
    assert events[3:] == [BdatChunk(b"0123456789", True), Noop()]


def test_bdat_state_between_chunks() -> None:
    conn = make_server()
    feed(conn, ENVELOPE + b"BDAT 3\r\nabc")
    assert conn.state is State.BDAT
    assert conn.in_transaction


def test_bdat_without_transaction_consumes_octets() -> None:
    # RFC 3030 §2: the octets are read even when BDAT is refused, never as commands.
    out = session(b"EHLO c\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n")
    assert out[1][1] == b"503 5.5.1 Need MAIL command first\r\n"
    assert out[2][0] == Noop()


def test_bdat_without_recipients_consumes_octets() -> None:
    out = session(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nBDAT 6\r\nRSET\r\nNOOP\r\n")
    assert out[2][1] == b"503 5.5.1 Need RCPT command first\r\n"
    assert out[3][0] == Noop()


def test_bdat_over_limit() -> None:
    conn = make_server(limits=ServerLimits(max_message_size=100))
    out = feed(
        conn,
        ENVELOPE
        + (b"BDAT 60\r\n" + b"a" * 60)
        + (b"BDAT 60\r\n" + b"b" * 60)
        + (b"BDAT 10\r\n" + b"c" * 10)
        + (b"BDAT 5 LAST\r\n" + b"d" * 5)
        + b"NOOP\r\n",
    )
    assert out[3][0] == BdatChunk(b"a" * 60, False)
    assert isinstance(out[4][0], CommandRejected)
    too_big = b"552 5.3.4 Message size exceeds fixed limit of 100 octets\r\n"
    assert out[4][1] == too_big
    assert isinstance(out[5][0], CommandRejected)  # small, but the message is lost
    assert out[5][1] == too_big
    assert isinstance(out[6][0], MessageRejected)
    assert out[6][1] == too_big
    assert out[7][0] == Noop()
    assert conn.state is State.READY


def test_bdat_over_limit_single_chunk_not_buffered() -> None:
    conn = make_server(limits=ServerLimits(max_message_size=1000))
    events = events_of(conn, ENVELOPE + b"BDAT 1000000 LAST\r\n")
    for _ in range(100):
        events += events_of(conn, b"z" * 10_000)
        assert conn.buffered_bytes == 0
    assert isinstance(events[-1], MessageRejected)


def test_bdat_refused_chunk_ends_transaction() -> None:
    # RFC 3030 §2: after a 4xx/5xx to a chunk, the transaction is over and chunks
    # already in the pipeline are read and refused.
    conn = make_server()

    def policy(conn: ServerConnection, event: ServerEvent) -> Reply:
        if isinstance(event, BdatChunk):
            return Reply.of(451, "4.3.0", "Disk trouble")
        return default_reply(conn, event)

    out = feed(conn, ENVELOPE + b"BDAT 3\r\nabcBDAT 3 LAST\r\ndefNOOP\r\n", policy)
    assert out[3][0] == BdatChunk(b"abc", False)
    assert out[4][1] == b"503 5.5.1 Need MAIL command first\r\n"
    assert out[5][0] == Noop()


def test_data_after_bdat() -> None:
    out = session(ENVELOPE + b"BDAT 3\r\nabcDATA\r\n")
    assert out[4][1] == b"503 5.5.1 DATA not allowed after BDAT (RFC 3030 section 2)\r\n"


def test_rcpt_after_bdat() -> None:
    out = session(ENVELOPE + b"BDAT 3\r\nabcRCPT TO:<z@y.example>\r\n")
    assert out[4][1].startswith(b"503 5.5.1 ")


def test_rset_after_bdat() -> None:
    conn = make_server()
    events = events_of(conn, ENVELOPE + b"BDAT 3\r\nabcRSET\r\n")
    assert events[-1] == Rset()
    assert conn.state is State.READY


@pytest.mark.parametrize("args", [b"", b"x", b"-1", b"10 FIRST", b"1" * 21, b"10 LAST x"])
def test_bdat_syntax(args: bytes) -> None:
    out = session(ENVELOPE + b"BDAT " + args + b"\r\nNOOP\r\n")
    assert out[3][1] == b"501 5.5.4 Syntax: BDAT size [LAST]\r\n"
    assert out[4][0] == Noop()


def test_bdat_not_offered() -> None:
    out = session(ENVELOPE + b"BDAT 4 LAST\r\n", ServerFeatures(chunking=False))
    assert out[3][1] == b"502 5.5.1 BDAT not offered\r\n"


def test_bdat_then_data_in_next_transaction() -> None:
    events = events_of(
        make_server(),
        ENVELOPE + b"BDAT 2 LAST\r\nhi" + ENVELOPE[8:] + b"DATA\r\nyo\r\n.\r\n",
    )
    assert events[3] == BdatChunk(b"hi", True)
    assert events[-2:] == [Data(), MessageBody(b"yo\r\n")]


def test_in_data() -> None:
    # The session keeps message content out of its transcript with this.
    conn = make_server()
    feed(conn, ENVELOPE + b"DATA\r\nSubject: x\r\n")
    assert conn.in_data
    feed(conn, b".\r\n" + ENVELOPE[8:] + b"BDAT 10\r\n01234")
    assert conn.in_data  # inside the chunk's octets
    feed(conn, b"56789")
    assert not conn.in_data
    assert conn.state is State.BDAT
