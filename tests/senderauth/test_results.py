from __future__ import annotations

import json

import pytest

from posthouse.resolver import StaticResolver
from posthouse.senderauth.dkim import generate_key, sign_message
from posthouse.senderauth.results import (
    MethodResult,
    check_message,
    find_in_message,
    format_header,
    from_domains,
    parse_value,
    remove_ours,
)

KEY, TXT = generate_key("rsa")


def message(from_line: bytes = b"From: Alice <alice@alpha.test>", body: bytes = b"Hi.") -> bytes:
    return (
        from_line + b"\r\nTo: bob@beta.test\r\nSubject: hello\r\n"
        b"Message-ID: <1@alpha.test>\r\n\r\n" + body + b"\r\n"
    )


@pytest.fixture
def resolver() -> StaticResolver:
    return StaticResolver(
        {
            "alpha.test": {"TXT": ["v=spf1 ip4:127.0.0.2 -all"]},
            "s1._domainkey.alpha.test": {"TXT": [TXT]},
            "_dmarc.alpha.test": {"TXT": ["v=DMARC1; p=reject"]},
            "quiet.test": {"TXT": ["v=spf1 ip4:127.0.0.9 -all"]},
            "_dmarc.quiet.test": {"TXT": ["v=DMARC1; p=quarantine"]},
            "nopolicy.test": {"TXT": ["v=spf1 ip4:127.0.0.7 -all"]},
        }
    )


async def check(resolver: StaticResolver, raw: bytes, ip: str, mail_from: str):  # type: ignore[no-untyped-def]
    return await check_message(
        resolver, client_ip=ip, helo="mx.example", mail_from=mail_from, raw=raw,
        authserv_id="mx.beta.test",
    )  # fmt: skip


async def test_genuine_message_passes_everything(resolver: StaticResolver) -> None:
    raw = sign_message(message(), domain="alpha.test", selector="s1", private_pem=KEY)
    v = await check(resolver, raw, "127.0.0.2", "alice@alpha.test")
    assert (v.spf.result, [d.result for d in v.dkim], v.dmarc.result) == ("pass", ["pass"], "pass")
    assert (v.disposition, v.forged, v.from_domain) == ("accept", False, "alpha.test")
    text = v.header.decode()
    assert text.startswith("Authentication-Results: mx.beta.test;\r\n\t")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert "spf=pass" in text and "smtp.mailfrom=alice@alpha.test" in text
    assert "dkim=pass" in text and "header.d=alpha.test" in text and "header.s=s1" in text
    assert "dmarc=pass (p=reject dis=accept) header.from=alpha.test" in text
    json.dumps(v.to_json())
    parsed = parse_value(text.split(":", 1)[1])
    assert parsed.authserv_id == "mx.beta.test"
    assert [(r.method, r.result) for r in parsed.results] == [
        ("spf", "pass"),
        ("dkim", "pass"),
        ("dmarc", "pass"),
    ]
    assert parsed.get("dmarc")[0].get("header.from") == "alpha.test"


async def test_spoofed_from_is_rejected_per_policy(resolver: StaticResolver) -> None:
    # "From: Ilon Mask <mask@alpha.test>" from some other server, with its own envelope
    raw = message(b"From: Ilon Mask <mask@alpha.test>")
    v = await check(resolver, raw, "192.0.2.66", "spammer@evil.test")
    assert (v.spf.result, v.dmarc.result, v.disposition, v.forged) == (
        "none",
        "fail",
        "reject",
        True,
    )
    assert "dkim=none" in v.header.decode()


async def test_quarantine_policy(resolver: StaticResolver) -> None:
    v = await check(resolver, message(b"From: q@quiet.test"), "192.0.2.1", "q@quiet.test")
    assert (v.spf.result, v.dmarc.result, v.disposition, v.forged) == (
        "fail",
        "fail",
        "quarantine",
        True,
    )


async def test_no_dmarc_record_still_flags_unaligned_from(resolver: StaticResolver) -> None:
    v = await check(resolver, message(b"From: n@nopolicy.test"), "127.0.0.7", "n@nopolicy.test")
    assert (v.dmarc.result, v.disposition, v.forged) == ("none", "accept", False)
    v = await check(resolver, message(b"From: n@nopolicy.test"), "127.0.0.7", "x@elsewhere.test")
    assert (v.dmarc.result, v.disposition, v.forged) == ("none", "accept", True)


@pytest.mark.parametrize(
    ("from_line", "reason"),
    [
        (b"Subject-only: x", "no From"),
        (b"From: undisclosed", "no usable From"),
        (b"From: a@alpha.test, b@evil.test", "several domains"),
        (b"From: a@alpha.test\r\nFrom: b@evil.test", "several domains"),
    ],
)
async def test_forged_from_shapes(resolver: StaticResolver, from_line: bytes, reason: str) -> None:
    raw = sign_message(message(), domain="alpha.test", selector="s1", private_pem=KEY)
    raw = raw.replace(b"From: Alice <alice@alpha.test>", from_line)
    v = await check(resolver, raw, "127.0.0.2", "alice@alpha.test")
    assert v.forged, v
    assert v.dmarc.result != "pass"


def test_from_domains() -> None:
    assert from_domains(message()) == (["alpha.test"], 1)
    assert from_domains(message(b'From: "A, B" <a@Alpha.Test.>, c@alpha.test')) == (
        ["alpha.test"],
        1,
    )
    assert from_domains(message(b"From: a@[127.0.0.1]")) == (["127.0.0.1"], 1)
    assert from_domains(b"") == ([], 0)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n",
        b"no header at all",
        b"From: \xff\xfe@\xff\r\n\r\nx",
        b"From: <@>\r\nDKIM-Signature: v=1; d=\xff; s=..; b=; bh=\r\n\r\n",
        b"From: a@alpha.test\r\n" + b"X: " + b"y" * 100000 + b"\r\n\r\n",
        b"From: (((((((a@alpha.test\r\n\r\n",
        b'From: "unterminated <a@alpha.test>\r\n\r\n',
        b"From: a@alpha.test\r\nDKIM-Signature: v=1; a=rsa-sha256; d=alpha.test; s=s1; "
        b"h=from; bh=AAAA; b=AAAA\r\n\r\nbody",
    ],
)
async def test_broken_messages_give_a_verdict(resolver: StaticResolver, raw: bytes) -> None:
    v = await check(resolver, raw, "127.0.0.2", "alice@alpha.test")
    assert v.header.startswith(b"Authentication-Results: mx.beta.test;")
    assert b"\n" not in v.header.replace(b"\r\n", b"")
    json.dumps(v.to_json())


async def test_broken_dns_gives_a_verdict() -> None:
    resolver = StaticResolver(
        {
            "alpha.test": {"TXT": [b"v=spf1 \xff\x00 -all"]},
            "_dmarc.alpha.test": {"TXT": [b"v=DMARC1; p=\xff"]},
        },
        tempfail=["s1._domainkey.alpha.test"],
    )
    raw = sign_message(message(), domain="alpha.test", selector="s1", private_pem=KEY)
    v = await check(resolver, raw, "127.0.0.2", "alice@alpha.test")
    assert v.spf.result == "permerror"
    assert [d.result for d in v.dkim] == ["temperror"]
    assert v.dmarc.result in ("none", "fail")


def test_header_values_are_quoted_and_cleaned() -> None:
    header = format_header(
        "mx.beta.test",
        [
            MethodResult(
                "spf",
                "pass",
                comment="a (nested) \\ comment\r\nInjected: yes",
                properties=(("smtp.mailfrom", 'we"ird\r\nX: y@alpha.test'),),
            )
        ],
    ).decode()
    assert header.count("\r\n") == 2  # the fold and the end
    parsed = parse_value(header.split(":", 1)[1])
    [r] = parsed.results
    assert r.get("smtp.mailfrom") == 'we"ird??X: y@alpha.test'
    assert r.comment.startswith("a (nested) \\ comment")


def test_no_results_and_lenient_parsing() -> None:
    assert format_header("mx.beta.test", []) == b"Authentication-Results: mx.beta.test; none\r\n"
    assert parse_value("mx.beta.test; none").results == ()
    parsed = parse_value(
        ' example.org 1; dkim/1=pass (good) header.d="x.example" header.b=ab/c+; ;'
        ' garbage ; spf=fail reason="bad ip" smtp.mailfrom=a@b.example (c)'
    )
    assert parsed.authserv_id == "example.org"
    assert [(r.method, r.result) for r in parsed.results] == [("dkim", "pass"), ("spf", "fail")]
    assert parsed.results[0].get("header.b") == "ab/c+"
    assert parsed.results[1].reason == "bad ip"
    for junk in ("", ";;;", "(((", ")", "a) b", '"', "=;=", "a; b=; c=d e.f=", "x; spf=pass a.b"):
        parse_value(junk)


def test_remove_ours_keeps_others() -> None:
    raw = (
        b"Authentication-Results: mx.beta.test;\r\n\tspf=pass smtp.mailfrom=x@evil.test\r\n"
        b"Authentication-Results: other.example; spf=fail smtp.mailfrom=x@evil.test\r\n"
        b"Subject: x\r\n\r\nAuthentication-Results: mx.beta.test; in the body\r\n"
    )
    cleaned = remove_ours(raw, "MX.beta.test")
    assert cleaned == (
        b"Authentication-Results: other.example; spf=fail smtp.mailfrom=x@evil.test\r\n"
        b"Subject: x\r\n\r\nAuthentication-Results: mx.beta.test; in the body\r\n"
    )
    assert [a.authserv_id for a in find_in_message(cleaned)] == ["other.example"]


def test_stray_closing_parenthesis_does_not_hang() -> None:
    # found by fuzzing: a ")" outside a comment once stopped the tokenizer advancing
    parsed = parse_value("mx.example; spf=pass ) smtp.mailfrom=a@b.example")
    assert [(r.method, r.result) for r in parsed.results] == [("spf", "pass")]
