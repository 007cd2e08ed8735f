"""encode_message / message_top / encode_top / unstuff (RFC 1939 §3 and §7)."""

from __future__ import annotations

import pytest

from posthouse.proto.pop3 import crlf_lines, encode_message, encode_top, message_top
from posthouse.proto.pop3.dotstuff import unstuff

MESSAGE = (
    b"From: a@example.test\r\n"
    b"Subject: dots\r\n"
    b"\r\n"
    b"line 1\r\n"
    b".line 2 starts with a dot\r\n"
    b"..line 3 with two\r\n"
    b".\r\n"
    b"line 5\r\n"
)


@pytest.mark.parametrize(
    ("raw", "wire"),
    [
        (b"", b".\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
        (b"a\r\nb\nc", b"a\r\nb\r\nc\r\n.\r\n"),
        (b".", b"..\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"x\r\n.\r\n", b"x\r\n..\r\n.\r\n"),
        (b"x\r\n..\r\n", b"x\r\n...\r\n.\r\n"),
        (b"x\n.y", b"x\r\n..y\r\n.\r\n"),
        (b"\r\n", b"\r\n.\r\n"),
        (b"\n\n", b"\r\n\r\n.\r\n"),
        (b"bare\rcr\r\n", b"bare\rcr\r\n.\r\n"),
        (b"ends in cr\r", b"ends in cr\r\r\n.\r\n"),
        ("8bit ümlaut\r\n".encode(), "8bit ümlaut\r\n.\r\n".encode()),
        (b"\xff\xfe\x00binary\r\n", b"\xff\xfe\x00binary\r\n.\r\n"),
    ],
)
def test_encode_message(raw: bytes, wire: bytes) -> None:
    assert encode_message(raw) == wire


def test_encode_message_example() -> None:
    assert encode_message(MESSAGE) == (
        b"From: a@example.test\r\n"
        b"Subject: dots\r\n"
        b"\r\n"
        b"line 1\r\n"
        b"..line 2 starts with a dot\r\n"
        b"...line 3 with two\r\n"
        b"..\r\n"
        b"line 5\r\n"
        b".\r\n"
    )


def test_encode_message_accepts_memoryview_and_bytearray() -> None:
    assert encode_message(memoryview(b".a")) == b"..a\r\n.\r\n"
    assert encode_message(bytearray(b"a")) == b"a\r\n.\r\n"


def test_unstuff_inverts_encode() -> None:
    wire = encode_message(MESSAGE)
    assert wire.endswith(b"\r\n.\r\n")
    assert unstuff(wire[: -len(b".\r\n")]) == MESSAGE


def test_unstuff_normalises_bare_lf() -> None:
    assert unstuff(b"a\n..b\n") == b"a\r\n.b\r\n"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (0, b"From: a@example.test\r\nSubject: dots\r\n\r\n"),
        (1, b"From: a@example.test\r\nSubject: dots\r\n\r\nline 1\r\n"),
        (
            2,
            b"From: a@example.test\r\nSubject: dots\r\n\r\nline 1\r\n.line 2 starts with a dot\r\n",
        ),
        (5, MESSAGE),
        (6, MESSAGE),
        (99999999, MESSAGE),  # fetchmail's TOP n 99999999
    ],
)
def test_message_top(lines: int, expected: bytes) -> None:
    assert message_top(MESSAGE, lines) == expected


def test_message_top_lf_message() -> None:
    raw = b"H: v\n\nb1\nb2\n"
    assert message_top(raw, 0) == b"H: v\n\n"
    assert message_top(raw, 1) == b"H: v\n\nb1\n"
    assert encode_top(raw, 1) == b"H: v\r\n\r\nb1\r\n.\r\n"


def test_message_top_unterminated_last_line() -> None:
    raw = b"H: v\r\n\r\nb1\r\nb2"
    assert message_top(raw, 1) == b"H: v\r\n\r\nb1\r\n"
    assert message_top(raw, 2) == raw
    assert encode_top(raw, 2) == b"H: v\r\n\r\nb1\r\nb2\r\n.\r\n"


def test_message_top_without_body_separator() -> None:
    raw = b"Subject: only a header\r\nX: y\r\n"
    assert message_top(raw, 0) == raw


def test_message_top_empty_header() -> None:
    assert message_top(b"\r\nbody\r\n", 0) == b"\r\n"
    assert message_top(b"\nbody\n", 0) == b"\n"
    assert message_top(b"", 10) == b""


def test_encode_top_stuffs_body_lines() -> None:
    assert encode_top(MESSAGE, 2).endswith(b"line 1\r\n..line 2 starts with a dot\r\n.\r\n")


def test_message_top_negative() -> None:
    with pytest.raises(ValueError):
        message_top(MESSAGE, -1)


def test_crlf_lines() -> None:
    assert crlf_lines(b"") == b""
    assert crlf_lines(b"a\nb\r\nc") == b"a\r\nb\r\nc\r\n"


def test_large_message_is_fast() -> None:
    # 20 MB with a dot line every 100 lines: bytes operations, not a Python loop.
    import time

    line = b"x" * 70 + b"\r\n"
    block = line * 99 + b".dot\r\n"
    raw = b"Subject: big\r\n\r\n" + block * 2800
    start = time.perf_counter()
    wire = encode_message(raw)
    top = encode_top(raw, 99999999)
    elapsed = time.perf_counter() - start
    assert wire == top
    assert wire.count(b"\r\n..dot\r\n") == 2800
    assert elapsed < 2.0
