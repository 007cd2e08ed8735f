"""Conformance: `read_messages_framed` says, with each message, whether it can go into a
dot-terminated body (POP3 RETR, SMTP DATA) as it is; the store notes it at accept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthouse.proto.pop3.dotstuff import TERMINATOR, encode_message_parts
from posthouse.store.base import LocalDelivery, Store, User
from posthouse.store.dotsafe import dot_safe
from tests.store.samples import message

UNSAFE = {
    "leading dot on a body line": b"Subject: x\r\n\r\nline\r\n.hidden\r\n",
    "dot as the very first octet": b".Subject: x\r\n\r\nbody\r\n",
    "bare LF": b"Subject: x\r\n\r\nline\nline\r\n",
    "no line end at the end": b"Subject: x\r\n\r\nbody",
    "bare CR before the end": b"Subject: x\r\n\r\nbody\r",
}


@pytest.mark.parametrize("raw", UNSAFE.values(), ids=list(UNSAFE))
def test_unsafe_octets(raw: bytes) -> None:
    assert not dot_safe(raw)


@pytest.mark.parametrize("raw", [b"", message(1), message(2, size=300_000), b"a\rb\r\n"])
def test_safe_octets(raw: bytes) -> None:
    # b"a\rb\r\n": a bare CR inside a line is content, not a line end (RFC 1939 §3).
    assert dot_safe(raw)


@given(st.lists(st.sampled_from([b"a", b".", b"\r", b"\n", b"\r\n", b"\r\n.", b"x\xff"])))
def test_safe_means_sent_unchanged(pieces: list[bytes]) -> None:
    """The one rule: safe octets are exactly those the POP3 encoder leaves alone."""
    raw = b"".join(pieces)
    assert dot_safe(raw) == (encode_message_parts(raw) == (raw, TERMINATOR))


async def test_framed_read_carries_the_noted_answer(store: Store, user: User) -> None:
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    safe = await store.accept(message(1), [LocalDelivery(inbox.id)])
    big = await store.accept(message(2, size=200_000), [LocalDelivery(inbox.id)])  # a file
    dotted = await store.accept(UNSAFE["leading dot on a body line"], [LocalDelivery(inbox.id)])
    bare = await store.accept(UNSAFE["bare LF"], [LocalDelivery(inbox.id)])
    ids = [safe.blob_id, big.blob_id, dotted.blob_id, bare.blob_id, "0" * 32]
    found = await store.read_messages_framed(ids)
    plain = await store.read_messages(ids)
    assert {blob_id: raw for blob_id, (raw, _) in found.items()} == plain
    assert {blob_id: ok for blob_id, (_, ok) in found.items()} == {
        safe.blob_id: True,
        big.blob_id: True,
        dotted.blob_id: False,
        bare.blob_id: False,
    }
