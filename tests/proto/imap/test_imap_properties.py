"""Properties (Hypothesis): parse(encode(x)) == x for strings, lists, sequence sets
and mailbox names; split-anywhere feeding yields the same commands; junk never
escapes as anything but BadCommand (server) or RemoteProtocolError (client)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from tests.proto.imap.imap_script import commands, responses

from posthouse.proto.imap import (
    BadCommand,
    CommandParser,
    ConnectionClosed,
    LiteralPending,
    Login,
    RemoteProtocolError,
    ResponseParser,
    Select,
    SequenceSet,
    Untagged,
    mutf7,
)
from posthouse.proto.imap import response as r

_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.upper() != "INBOX"
)


@given(_names)
def test_mutf7_round_trip(name: str) -> None:
    assert mutf7.decode(mutf7.encode(name)) == name


@given(_names, st.booleans())
def test_mailbox_name_round_trip_through_select(name: str, utf8: bool) -> None:
    wire = r.encode_value(r.mailbox(name, utf8=utf8))
    events = commands(b"a SELECT " + wire + b"\r\n", CommandParser(utf8=utf8))
    assert events[-1] == Select("a", name)


@given(st.binary(min_size=0, max_size=200).filter(lambda b: b"\x00" not in b))
def test_string_round_trip_through_login(secret: bytes) -> None:
    text = secret.decode("utf-8", "replace").replace("\x00", "")
    events = commands(b"a LOGIN u " + r.encode_value(text) + b"\r\n")
    assert events[-1] == Login("a", "u", text)


_values = st.recursive(
    st.none()
    | st.integers(min_value=0, max_value=2**63)
    | st.binary(max_size=50).filter(lambda b: b"\x00" not in b),
    lambda children: st.lists(children, max_size=5).map(tuple),
    max_leaves=20,
)


@given(st.lists(_values, max_size=6).map(tuple))
def test_values_round_trip_through_the_response_parser(data: tuple[r.Value, ...]) -> None:
    (parsed,) = responses(Untagged("X", data).to_bytes())
    assert parsed == Untagged("X", data)


@given(st.lists(st.integers(min_value=1, max_value=2**32 - 1), min_size=1, max_size=50))
def test_sequence_sets(numbers: list[int]) -> None:
    seqset = SequenceSet.from_numbers(numbers)
    assert SequenceSet.parse(str(seqset)) == seqset
    assert list(seqset.numbers(max(numbers))) == sorted(set(numbers))


_SCRIPT = (
    b'a LOGIN {3+}\r\nbob "pw"\r\nb SELECT INBOX\r\n'
    b"c UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n"
    b"d SEARCH OR FROM x (SINCE 1-Jan-2024 NOT SEEN)\r\n"
    b"e APPEND INBOX (\\Seen) {4}\r\nabcd\r\nf STORE 1 +FLAGS (\\Deleted)\r\ng BOGUS\r\n"
)


@given(st.lists(st.integers(min_value=0, max_value=len(_SCRIPT)), max_size=8))
def test_split_anywhere_yields_the_same_commands(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(_SCRIPT)]
    chunks = [_SCRIPT[a:b] for a, b in itertools.pairwise(points) if b > a]
    whole = [e for e in commands(_SCRIPT) if not isinstance(e, LiteralPending)]
    split = [e for e in commands(chunks) if not isinstance(e, LiteralPending)]
    assert split == whole
    assert len(whole) == 7


@given(st.binary(max_size=300))
def test_junk_commands_never_crash(junk: bytes) -> None:
    events = commands(junk + b"\r\nz NOOP\r\n", CommandParser(max_line=100, max_literal=50))
    assert events  # the NOOP or refusals, never an exception
    for event in events[:-1]:
        assert isinstance(event, BadCommand | LiteralPending) or hasattr(event, "tag")


@given(st.binary(max_size=300))
def test_junk_responses_raise_only_remote_protocol_error(junk: bytes) -> None:
    parser = ResponseParser(max_line=200, max_literal=100)
    parser.receive_data(junk + b"\r\n")
    parser.receive_data(b"")
    try:
        for _ in range(len(junk) + 2):
            if isinstance(parser.next_response(), ConnectionClosed):
                break
    except RemoteProtocolError:
        pass
