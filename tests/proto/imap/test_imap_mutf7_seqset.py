"""Modified UTF-7 (RFC 3501 §5.1.3) and sequence sets (RFC 9051 §9, RFC 5182)."""

from __future__ import annotations

import pytest

from posthouse.proto.imap import ParseError, SequenceSet, mutf7


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("INBOX", "INBOX"),
        ("A&B", "A&-B"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 §5.1.3
        ("Ärger & Ö", "&AMQ-rger &- &ANY-"),
        ("😀", "&2D3eAA-"),
        ("tab\there", "tab&AAk-here"),
    ],
)
def test_round_trip(name: str, wire: str) -> None:
    assert mutf7.encode(name) == wire
    assert mutf7.decode(wire) == name


@pytest.mark.parametrize(
    "wire",
    [
        "&",  # unterminated
        "&Jjo",  # unterminated
        "&Jjo!-",  # bad base64
        "&AGE-",  # encodes printable ASCII "a"
        "&AMQ-&ANY-",  # two adjacent runs: the canonical form is one
        "&AMQ",
        "&2D0-",  # lone high surrogate
        "&AM-",  # truncated UTF-16
        "&AMR-",  # non-zero padding bits
        "caf\xe9",  # raw 8-bit
        "a\x01b",  # control character
        "&U/BTFw-",  # "/" instead of ","
        "&U,BTFw=-",  # padding
    ],
)
def test_invalid_is_rejected(wire: str) -> None:
    with pytest.raises(ParseError):
        mutf7.decode(wire)


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        ("1", ((1, 1),)),
        ("1:3,5", ((1, 3), (5, 5))),
        ("*", ((None, None),)),
        ("5:*", ((5, None),)),
        ("4:2", ((4, 2),)),
        ("4294967295", ((4294967295, 4294967295),)),
    ],
)
def test_sequence_set_parse(text: str, ranges: tuple[tuple[int | None, int | None], ...]) -> None:
    seqset = SequenceSet.parse(text)
    assert seqset.ranges == ranges
    assert str(seqset) == text


@pytest.mark.parametrize("text", ["", "0", "1,", ",1", "1::2", "a", "1:0", "4294967296", "$,1"])
def test_sequence_set_invalid(text: str) -> None:
    with pytest.raises(ParseError):
        SequenceSet.parse(text)


def test_saved_search_result() -> None:
    assert SequenceSet.parse("$") == SequenceSet(saved=True)
    assert str(SequenceSet(saved=True)) == "$"


def test_compression() -> None:
    assert str(SequenceSet.from_numbers([5, 1, 2, 3, 3])) == "1:3,5"
    assert str(SequenceSet.from_numbers([7])) == "7"
    assert str(SequenceSet.from_numbers([1, 3, 5, 6])) == "1,3,5:6"


def test_resolving_star_and_reversed_ranges() -> None:
    seqset = SequenceSet.parse("4:2,7:*,3")
    assert seqset.intervals(9) == [(2, 4), (7, 9)]
    assert list(SequenceSet.parse("2:*").numbers(3)) == [2, 3]
    # RFC 9051 §6.4.9: "*" is the largest number in use even when below the start.
    assert list(SequenceSet.parse("10:*").numbers(8)) == [8, 9, 10]
    assert (3, 9) in seqset
    assert (5, 9) not in seqset
