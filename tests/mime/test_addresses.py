"""The address-list reader behind ENVELOPE: RFC 5322 §3.4 forms, the obsolete forms
of §4.4, and the garbage real mail carries (Dovecot's fill-ins for missing parts)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posthouse.mime.addresses import GROUP_END, _Reader, parse_address_list

CASES = [
    (b"user@example.org", [(None, None, b"user", b"example.org")]),
    (
        b"  Joe Q. Public <john.q.public@example.com>",
        [(b"Joe Q. Public", None, b"john.q.public", b"example.com")],
    ),
    (
        b'"Giant; \\"Big\\" Box" <sysservices@example.net>',
        [(b'Giant; "Big" Box', None, b"sysservices", b"example.net")],
    ),
    (
        b"Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
        [
            (b"Mary Smith", None, b"mary", b"x.test"),
            (None, None, b"jdoe", b"example.org"),
            (b"Who?", None, b"one", b"y.test"),
        ],
    ),
    (
        b'<boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>',
        [
            (None, None, b"boss", b"nil.test"),
            (b'Giant; "Big" Box', None, b"sysservices", b"example.net"),
        ],
    ),
    # RFC 5322 Appendix A.1.3: a group, then an empty group
    (
        b"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
        [
            (None, None, b"A Group", None),
            (b"Ed Jones", None, b"c", b"a.test"),
            (None, None, b"joe", b"where.test"),
            (b"John", None, b"jdoe", b"one.test"),
            GROUP_END,
        ],
    ),
    (b"Undisclosed recipients:;", [(None, None, b"Undisclosed recipients", None), GROUP_END]),
    # RFC 5322 Appendix A.5: comments and white space everywhere
    (
        b"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
        [(b"Pete", None, b"pete", b"silly.test")],
    ),
    (
        b"(Empty list)(start)Hidden recips :(nobody(that I know))  ;",
        [(None, None, b"Hidden recips", None), GROUP_END],
    ),
    # RFC 5322 §4.4 obsolete: route, empty list elements, dotted phrase
    (b"<@a.test,@b.test:joe@c.test>", [(None, b"@a.test,@b.test", b"joe", b"c.test")]),
    (b",, a@b.test ,, c@d.test,", [(None, None, b"a", b"b.test"), (None, None, b"c", b"d.test")]),
    (b'"quoted local"@example.org', [(None, None, b"quoted local", b"example.org")]),
    (b"joe@[192.0.2.1]", [(None, None, b"joe", b"[192.0.2.1]")]),
    (b"=?utf-8?q?J=C3=B6rg?= <j@x.test>", [(b"=?utf-8?q?J=C3=B6rg?=", None, b"j", b"x.test")]),
    (b'"" <a@b.test>', [(None, None, b"a", b"b.test")]),
    # garbage degrades (Dovecot's MISSING_* and SYNTAX_ERROR fill-ins)
    (b"undisclosed-recipients", [(None, None, b"undisclosed-recipients", b"MISSING_DOMAIN")]),
    (b"@example.org", [(None, None, b"MISSING_MAILBOX", b"example.org")]),
    (b"Name <broken@example.org", [(b"Name", None, b"broken", b"SYNTAX_ERROR")]),
    (b"<>", [(None, None, b"MISSING_MAILBOX", b"MISSING_DOMAIN")]),
    # Dovecot 2.3: a display name without an address keeps the name
    (b"foo bar@baz.test", [(b"foo bar", None, b"MISSING_MAILBOX", b"MISSING_DOMAIN")]),
    (
        b"Undisclosed recipients, a@b.test",
        [
            (b"Undisclosed recipients", None, b"MISSING_MAILBOX", b"MISSING_DOMAIN"),
            (None, None, b"a", b"b.test"),
        ],
    ),
    (
        b"a@x.test <b@y.test>, c@z.test",
        [(None, None, b"a", b"x.test"), (None, None, b"c", b"z.test")],
    ),
    (b"", []),
    (b"   ", []),
    (b"(only a comment)", []),
]


@pytest.mark.parametrize(("value", "addresses"), CASES)
def test_address_list(value: bytes, addresses: list[object]) -> None:
    assert parse_address_list(value) == addresses


@pytest.mark.parametrize(
    "value",
    [
        b"<",
        b">",
        b'"',
        b"(",
        b"\\",
        b":",
        b";",
        b"a:b:c;;",
        b"<<<>>>",
        b'"unterminated <a@b>',
        b"(unterminated <a@b>",
        b"a@",
        b"@",
        b"<@",
        b"<@a",
        b"<@a,",
        b"g: <a@b",
        b"\xff\xfe@\x00",
    ],
)
def test_garbage_never_raises(value: bytes) -> None:
    for name, adl, mailbox, host in parse_address_list(value):
        for item in (name, adl, mailbox, host):
            assert item is None or isinstance(item, bytes)


_PIECES = [b"a", b"Bob", b" ", b"@", b"x.test", b"<", b">", b",", b".", b"\t", b"\xc3\xa9", b"-"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25))
def test_quick_paths_agree_with_the_reader(pieces: list[bytes]) -> None:
    value = b"".join(pieces)
    assert parse_address_list(value) == _Reader(value).address_list()
