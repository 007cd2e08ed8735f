"""Paths and parameters of MAIL and RCPT (RFC 5321 §4.1.2, RFC 6531, RFC 3461)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthouse.proto.smtp.address import (
    decode_xtext,
    encode_xtext,
    is_xtext,
    parse_params,
    parse_path,
    split_path_params,
)
from posthouse.proto.smtp.reply import SMTPError


def sender(text: str, utf8: bool = False) -> str:
    return parse_path(text, allow_null=True, utf8_allowed=utf8)


def recipient(text: str, utf8: bool = False) -> str:
    return parse_path(text, allow_null=False, utf8_allowed=utf8)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("<alice@example.com>", "alice@example.com"),
        ("<Alice.Smith@Example.COM>", "Alice.Smith@Example.COM"),  # case kept
        ("<a+tag@sub.example.co.uk>", "a+tag@sub.example.co.uk"),
        ("<!#$%&'*+-/=?^_`{|}~@example.com>", "!#$%&'*+-/=?^_`{|}~@example.com"),
        ('<"john doe"@example.com>', '"john doe"@example.com'),
        ('<"a\\"b@c>"@example.com>', '"a\\"b@c>"@example.com'),
        ('<""@example.com>', '""@example.com'),
        ("<user@[192.0.2.1]>", "user@[192.0.2.1]"),
        ("<user@[IPv6:2001:db8::1]>", "user@[IPv6:2001:db8::1]"),
        ("<user@[ipv6:::1]>", "user@[ipv6:::1]"),
        ("<user@[x-tag:abc]>", "user@[x-tag:abc]"),
        ("<user@localhost>", "user@localhost"),
        ("<user@123.example>", "user@123.example"),
        ("<user@xn--bcher-kva.example>", "user@xn--bcher-kva.example"),
        # RFC 5321 §4.1.1.3: source routes are accepted and ignored.
        ("<@relay.example:user@example.com>", "user@example.com"),
        ("<@a.example,@b.example:user@example.com>", "user@example.com"),
        # forgiving: no brackets, spaces inside brackets
        ("user@example.com", "user@example.com"),
        ("< user@example.com >", "user@example.com"),
    ],
)
def test_valid_paths(text: str, address: str) -> None:
    assert sender(text) == address
    assert recipient(text) == address


@pytest.mark.parametrize(
    "text",
    [
        "<>x",
        "<user>",
        "<@example.com>",
        "<user@>",
        "<user@@example.com>",
        "<.user@example.com>",
        "<user.@example.com>",
        "<us..er@example.com>",
        "<user@example..com>",
        "<user@-example.com>",
        "<user@example-.com>",
        "<user@example.com.>",
        "<user@exa_mple.com>",
        "<user@[300.1.1.1]>",
        "<user@[IPv6:2001:db8::g]>",
        "<user@[1.2.3.4>",
        "<user name@example.com>",
        '<"unterminated@example.com>',
        "<user@example.com",
        "<a@b@c.example>",
        "<@relay.example,user@example.com>",
        "<@bad_relay:user@example.com>",
        "<user@" + "a" * 64 + ".example>",  # label over 63 octets (RFC 1035)
        "<" + "u" * 200 + "@" + "d" * 60 + ".example>",  # path over 256 octets
        "<user\x01@example.com>",
        "",
    ],
)
def test_invalid_paths(text: str) -> None:
    with pytest.raises(SMTPError) as sender_error:
        sender(text)
    assert sender_error.value.reply.code == 501
    assert sender_error.value.reply.enhanced == "5.1.7"  # RFC 3463: bad sender syntax
    with pytest.raises(SMTPError) as recipient_error:
        recipient(text)
    assert recipient_error.value.reply.enhanced == "5.1.3"  # bad destination syntax


def test_null_path_only_for_sender() -> None:
    assert sender("<>") == ""
    assert sender("< >") == ""
    with pytest.raises(SMTPError):
        recipient("<>")


def test_postmaster_only_for_recipient() -> None:
    # RFC 5321 §4.5.1
    assert recipient("<Postmaster>") == "postmaster"
    assert recipient("POSTMASTER") == "postmaster"
    assert recipient("<postmaster@example.com>") == "postmaster@example.com"
    with pytest.raises(SMTPError):
        sender("<postmaster>")


def test_local_part_over_64_octets_accepted() -> None:
    # RFC 5321 §4.5.3.1: impose no limits where possible; real local parts exceed 64.
    local = "a" * 80
    assert sender(f"<{local}@example.com>") == f"{local}@example.com"


@pytest.mark.parametrize(
    "text",
    ["<δοκιμή@παράδειγμα.ελ>", "<用户@例子.广告>", "<user@bücher.example>", '<"ü"@x.example>'],
)
def test_utf8_addresses(text: str) -> None:
    assert sender(text, utf8=True) == text[1:-1]
    with pytest.raises(SMTPError) as error:
        sender(text)
    # RFC 6531 §3.5
    assert (error.value.reply.code, error.value.reply.enhanced) == (553, "5.6.7")


@pytest.mark.parametrize(
    ("text", "path", "rest"),
    [
        ("<a@b.example>", "<a@b.example>", ""),
        ("<a@b.example> SIZE=10", "<a@b.example>", "SIZE=10"),
        ("  <a@b.example>   SIZE=10  BODY=8BITMIME ", "<a@b.example>", "SIZE=10  BODY=8BITMIME"),
        ('<"x>y"@b.example> SMTPUTF8', '<"x>y"@b.example>', "SMTPUTF8"),
        ("a@b.example SIZE=1", "a@b.example", "SIZE=1"),
        ('"a b"@c.example', '"a b"@c.example', ""),
        ("<>", "<>", ""),
    ],
)
def test_split_path_params(text: str, path: str, rest: str) -> None:
    assert split_path_params(text, allow_null=True) == (path, rest)


@pytest.mark.parametrize("text", ["", "   ", "<a@b.example", "<a@b.example>SIZE=1"])
def test_split_path_params_errors(text: str) -> None:
    with pytest.raises(SMTPError):
        split_path_params(text, allow_null=False)


def test_parse_params() -> None:
    assert parse_params("size=100 SMTPUTF8  body=8BITMIME") == {
        "SIZE": "100",
        "SMTPUTF8": None,
        "BODY": "8BITMIME",
    }
    assert parse_params("") == {}
    assert parse_params("X-FOO=ü") == {"X-FOO": "ü"}


@pytest.mark.parametrize("text", ["=1", "-X=1", "X=", "X=a=b", "X_Y=1", "A=1 a=2", "X=\x01"])
def test_parse_params_errors(text: str) -> None:
    with pytest.raises(SMTPError) as error:
        parse_params(text)
    assert (error.value.reply.code, error.value.reply.enhanced) == (501, "5.5.4")


def test_xtext() -> None:
    # RFC 3461 §4
    assert decode_xtext("rfc822+3Buser+40example.com") == "rfc822;user@example.com"
    assert encode_xtext("a+b=c d") == "a+2Bb+3Dc+20d"
    assert encode_xtext("ü") == "+C3+BC"
    assert decode_xtext("+C3+BC") == "ü"
    assert is_xtext("abc+2B")
    assert not is_xtext("a+2b")  # hex digits are upper case
    assert not is_xtext("a=b")
    assert not is_xtext("a b")
    for bad in ("a+", "a+G0", "a=b", "+FF"):
        with pytest.raises(SMTPError):
            decode_xtext(bad)


@given(st.text())
def test_xtext_round_trip(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates are not text that can be sent
        return
    encoded = encode_xtext(text)
    assert is_xtext(encoded)
    assert decode_xtext(encoded) == text


@given(st.text(max_size=300))
def test_parse_path_never_crashes(text: str) -> None:
    for allow_null in (True, False):
        for utf8 in (True, False):
            try:
                result = parse_path(text, allow_null=allow_null, utf8_allowed=utf8)
            except SMTPError:
                continue
            assert isinstance(result, str)
            assert "\r" not in result and "\n" not in result
