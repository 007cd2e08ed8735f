"""Hypothesis: no input makes the MIME functions raise, and their values always
encode (no NUL, no negative numbers, strings only where strings belong)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from posthouse.mime.addresses import parse_address_list
from posthouse.mime.bodystructure import body_structure, structure_of
from posthouse.mime.envelope import envelope
from posthouse.mime.sections import (
    UnknownTransferEncoding,
    binary_in,
    binary_size_in,
    section,
    section_in,
)
from posthouse.mime.tree import Part, parse
from posthouse.proto.imap.events import Section, SectionText
from posthouse.proto.imap.response import encode_value
from tests.mime.imaptext import crlf
from tests.mime.test_binary import MESSAGE as BINARY_MESSAGE
from tests.mime.test_bodystructure import DOVECOT_MIXED
from tests.mime.test_sections import MESSAGE as SECTIONS_MESSAGE

SEEDS = [BINARY_MESSAGE, SECTIONS_MESSAGE, crlf(DOVECOT_MIXED), DOVECOT_MIXED.encode()]
PATHS = [(), (1,), (2,), (1, 1), (2, 1), (2, 2), (3, 1), (2, 1, 1), (5,)]
TEXTS = [None, *SectionText]

# Pieces that steer random input into the interesting branches.
TOKENS = [
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"--b",
    b"--b--",
    b"--",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"<",
    b">",
    b"@",
    b'"',
    b"(",
    b")",
    b"\\",
    b"=",
    b"\x00",
    b"\xff",
    b"Content-Type: ",
    b"multipart/mixed; boundary=b",
    b"message/rfc822",
    b"multipart/digest; boundary=b",
    b"Content-Transfer-Encoding: base64",
    b"From: ",
    b"To: g: a@b, c@d;",
    b"Subject: ",
    b"text/plain; charset=",
    b"Content-Disposition: attachment; filename=",
    b"=?utf-8?q?x?=",
]
messages = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=20)), max_size=60).map(
    b"".join
)


def _mutate(seed: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(seed)
    for position, length, insert in edits:
        at = position % (len(data) + 1)
        data[at : at + length] = insert
    return bytes(data)


mutations = st.builds(
    _mutate,
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 40),
            st.one_of(st.sampled_from(TOKENS), st.binary(max_size=8)),
        ),
        min_size=1,
        max_size=8,
    ),
)


def _exercise(raw: bytes) -> None:
    encode_value(envelope(raw))
    encode_value(body_structure(raw, extensible=True))
    tree = parse(raw)
    encode_value(structure_of(tree, extensible=False))
    _walk(tree, 0)
    for path in PATHS:
        for text in TEXTS:
            if text is SectionText.MIME and not path:
                continue
            fields = (
                ("SUBJECT", "FROM")
                if text
                in (
                    SectionText.HEADER_FIELDS,
                    SectionText.HEADER_FIELDS_NOT,
                )
                else ()
            )
            spec = Section(part=path, text=text, fields=fields)
            assert section(raw, spec) == section_in(tree, spec)
        try:
            assert len(binary_in(tree, path)) == binary_size_in(tree, path)
        except UnknownTransferEncoding:
            pass


def _walk(part: Part, depth: int) -> None:
    assert part.start <= part.body_start <= part.end <= len(part.raw)
    assert depth <= 202
    for child in part.children or ():
        assert part.body_start <= child.start and child.end <= part.end
        _walk(child, depth + 1)
    if part.message is not None:
        _walk(part.message, depth + 1)


@settings(max_examples=300, deadline=None)
@given(messages)
def test_random_messages_never_raise(raw: bytes) -> None:
    _exercise(raw)


@settings(max_examples=300, deadline=None)
@given(mutations)
def test_mutated_messages_never_raise(raw: bytes) -> None:
    _exercise(raw)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=6)), max_size=30))
def test_address_lists_never_raise(pieces: list[bytes]) -> None:
    value = b"".join(pieces)
    for address in parse_address_list(value):
        assert len(address) == 4
    encode_value(envelope(b"From: " + value.replace(b"\n", b" ") + b"\r\n\r\n"))


HOSTILE = [
    b"To: " + b"a " * 100_000,
    b'To: "' + b'\\"' * 100_000,
    b"To: " + b"(" * 100_000,
    b"To: " + b'<<<@@@,,,;;;:::"((' * 10_000,
    b'Content-Type: text/plain; a="' + b'\\"' * 100_000 + b'"',
    b"Content-Type: text/plain" + b"; a=(c)b" * 20_000,
    b"Content-Language: " + b"en, " * 50_000,
    b"Subject: a\r\n" + b" b\r\n" * 50_000,
]


def test_hostile_headers_complete() -> None:
    # Runs of quoted-pairs, words or comments this long once cost quadratic time;
    # the suite's timeout is the guard, nothing here is timed.
    for header in HOSTILE:
        raw = header + b"\r\n\r\nbody\r\n"
        encode_value(envelope(raw))
        encode_value(body_structure(raw, extensible=True))
