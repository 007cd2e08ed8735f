"""However a byte stream is cut into reads, the server core makes the same events.

Cuts land anywhere: inside CRLF, inside the CRLF.CRLF terminator, inside BDAT octets,
inside overlong lines and junk. STARTTLS is left out on purpose: discarding what is
buffered when 220 is sent depends on what has arrived by then (RFC 3207 §4.2).
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from smtp_pair import drain, make_server

from posthouse.proto.smtp.server import ServerLimits

LIMITS = ServerLimits(max_command_line=512, max_message_size=3000, max_text_line=1000)

PIECES = [
    b"EHLO c\r\n",
    b"helo x\n",
    b"MAIL FROM:<a@b.example>\r\n",
    b"mail from: a@b.example SIZE=99999\r\n",
    b"MAIL FROM:<> SMTPUTF8\r\n",
    b"RCPT TO:<x@y.example>\r\n",
    b"rcpt to:<bad@@>\r\n",
    b"DATA\r\n",
    b"line\r\n",
    b"..dot\r\n",
    b".\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b".",
    b"\n.\n",
    b"\r.\r\n",
    b"BDAT 5\r\n",
    b"BDAT 0 LAST\r\n",
    b"BDAT 7 LAST\r\n",
    b"BDAT 2000\r\n",
    b"12345",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"AUTH LOGIN\r\n",
    b"AUTH PLAIN =\r\n",
    b"YWxpY2U=\r\n",
    b"*\r\n",
    b"x" * 600,
    b"y" * 1200 + b"\r\n",
    b"\x00\x16\x03",
    b"\xff\xfe",
    b"VRFY a\r\n",
    b"HELP\r\n",
]


ENVELOPE = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\n"
CONTENT_PIECES = [
    b"Subject: x\r\n",
    b"\r\n",
    b"..dot\r\n",
    b".",
    b"\n.\n",
    b"\r.\r\n",
    b"\r\n.\n",
    b"\n.\r\n",
    b"\r",
    b"\n",
    b"z" * 999,
    b"w" * 400,
    b"\x00\xff",
]

data_transactions = st.builds(
    lambda content: ENVELOPE + b"DATA\r\n" + b"".join(content) + b"\r\n.\r\n",
    st.lists(st.sampled_from(CONTENT_PIECES) | st.binary(max_size=8), max_size=12),
)


def _bdat(chunks: list[bytes]) -> bytes:
    wire = ENVELOPE
    for i, chunk in enumerate(chunks):
        last = " LAST" if i == len(chunks) - 1 else ""
        wire += f"BDAT {len(chunk)}{last}\r\n".encode() + chunk
    return wire


bdat_transactions = st.builds(
    _bdat,
    st.lists(st.binary(max_size=1200) | st.sampled_from(CONTENT_PIECES), min_size=1, max_size=5),
)
pieces_strategy = st.lists(
    st.sampled_from(PIECES) | st.binary(max_size=12) | data_transactions | bdat_transactions,
    max_size=25,
)


def run(chunks: list[bytes]) -> list[tuple[object, bytes]]:
    conn = make_server(limits=LIMITS)
    out: list[tuple[object, bytes]] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        out += drain(conn)
    conn.receive_data(b"")
    out += drain(conn)
    return out


@settings(max_examples=400, deadline=None)
@given(
    pieces=pieces_strategy,
    cuts=st.lists(st.integers(min_value=0, max_value=100_000), max_size=30),
)
def test_same_events_however_split(pieces: list[bytes], cuts: list[int]) -> None:
    stream = b"EHLO c\r\n" + b"".join(pieces)
    points = sorted({cut % (len(stream) + 1) for cut in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points) if b > a]
    assert run(chunks) == run([stream])


@settings(max_examples=50, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES) | data_transactions | bdat_transactions, max_size=8))
def test_byte_by_byte(pieces: list[bytes]) -> None:
    stream = b"EHLO c\r\n" + b"".join(pieces)
    assert run([stream[i : i + 1] for i in range(len(stream))]) == run([stream])
