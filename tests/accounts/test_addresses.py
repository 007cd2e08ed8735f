from __future__ import annotations

import pytest

from posthouse.accounts.addresses import (
    AddressError,
    normalize_address,
    normalize_alias_source,
    normalize_domain,
    normalize_mailbox,
    parse_address,
    split_address,
    strip_plus,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Bob@Example.TEST", "bob@example.test"),
        ("<alice@example.test>", "alice@example.test"),
        ("bob@Bücher.example", "bob@xn--bcher-kva.example"),
        ("bob@BÜCHER.example", "bob@xn--bcher-kva.example"),
        ("bob@example.test.", "bob@example.test"),
        ('"bob"@example.test', "bob@example.test"),
        ('"Bob.Smith"@example.test', "bob.smith@example.test"),
        ('"john smith"@example.test', '"john smith"@example.test'),
        ("Ünïcode@example.test", "ünïcode@example.test"),
        ("a+tag@example.test", "a+tag@example.test"),
        ("x@[192.0.2.1]", "x@[192.0.2.1]"),
        ("x@[IPv6:2001:DB8::1]", "x@[IPv6:2001:db8::1]"),
    ],
)
def test_normalize_address(given: str, expected: str) -> None:
    assert normalize_address(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "bob",
        "@example.test",
        "bob@",
        "a..b@example.test",
        ".a@example.test",
        "a.@example.test",
        "a b@example.test",
        "a@-example.test",
        "a@example-.test",
        "a@exa_mple.test",
        "a@example.123",
        "a@[999.1.1.1]",
        "a@" + "x" * 64 + ".test",
        "x" * 65 + "@example.test",
        "a\r\nRCPT TO:<b@c.test>@example.test",
        '"unterminated@example.test',
    ],
)
def test_invalid_addresses_are_refused(bad: str) -> None:
    with pytest.raises(AddressError):
        normalize_address(bad)


def test_nfc_normalisation_makes_composed_and_decomposed_equal() -> None:
    composed = "jos\u00e9@example.test"
    decomposed = "jose\u0301@example.test"
    assert normalize_address(composed) == normalize_address(decomposed)


def test_split_uses_the_last_at_sign() -> None:
    assert split_address('"a@b"@example.test') == ('"a@b"', "example.test")
    assert parse_address('"a@b"@example.test').domain == "example.test"


def test_normalize_domain_idna_and_case() -> None:
    assert normalize_domain("Example.TEST") == "example.test"
    assert normalize_domain("münchen.example") == "xn--mnchen-3ya.example"
    with pytest.raises(AddressError):
        normalize_domain("")


def test_mailbox_refuses_quoted_and_literal() -> None:
    assert normalize_mailbox("Bob@Example.test") == "bob@example.test"
    with pytest.raises(AddressError):
        normalize_mailbox('"john smith"@example.test')
    with pytest.raises(AddressError):
        normalize_mailbox("x@[192.0.2.1]")


def test_alias_source_catch_all() -> None:
    assert normalize_alias_source("@Example.TEST") == "@example.test"
    assert normalize_alias_source("Sales@example.test") == "sales@example.test"
    with pytest.raises(AddressError):
        normalize_alias_source("@[192.0.2.1]")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("bob+lists@example.test", "bob@example.test"),
        ("bob+a+b@example.test", "bob@example.test"),
        ("bob@example.test", None),
        ("+tag@example.test", None),
        ("bob+@example.test", "bob@example.test"),
    ],
)
def test_strip_plus(given: str, expected: str | None) -> None:
    assert strip_plus(given) == expected
