from __future__ import annotations

import base64

import pytest

from posthouse.resolver import StaticResolver
from posthouse.senderauth.dkim import (
    DKIMKeyError,
    generate_key,
    key_kind,
    public_record,
    sign,
    sign_message,
    verify,
)

MESSAGE = (
    b"From: Alice <alice@alpha.test>\r\n"
    b"To: bob@beta.test\r\n"
    b"Subject: hello\r\n"
    b"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <1@alpha.test>\r\n"
    b"\r\n"
    b"Hello Bob.\r\n"
)


@pytest.fixture(scope="module", params=["rsa", "ed25519"])
def key(request: pytest.FixtureRequest) -> tuple[str, bytes, str]:
    if request.param == "ed25519":
        pytest.importorskip("nacl", reason="Ed25519 DKIM needs PyNaCl (dkimpy[ed25519])")
    pem, txt = generate_key(request.param)
    return request.param, pem, txt


def _resolver(txt: str | bytes) -> StaticResolver:
    return StaticResolver({"s1._domainkey.alpha.test": {"TXT": [txt]}})


async def test_round_trip(key: tuple[str, bytes, str]) -> None:
    kind, pem, txt = key
    assert key_kind(pem) == kind
    assert public_record(pem) == txt
    signed = sign_message(MESSAGE, domain="alpha.test", selector="s1", private_pem=pem)
    assert signed.startswith(b"DKIM-Signature: ")
    [result] = await verify(_resolver(txt), signed)
    assert result.result == "pass", result
    assert (result.domain, result.selector) == ("alpha.test", "s1")
    assert result.algorithm == ("rsa-sha256" if kind == "rsa" else "ed25519-sha256")
    assert len(result.signature) == 8


async def test_relaxed_survives_whitespace_and_case(key: tuple[str, bytes, str]) -> None:
    _, pem, txt = key
    signed = sign_message(MESSAGE, domain="alpha.test", selector="s1", private_pem=pem)
    mangled = signed.replace(b"Subject: hello", b"subject:   hello ").replace(
        b"Hello Bob.", b"Hello   Bob. "
    )
    [result] = await verify(_resolver(txt), mangled)
    assert result.result == "pass", result


async def test_tampered_body_and_header_fail(key: tuple[str, bytes, str]) -> None:
    _, pem, txt = key
    signed = sign_message(MESSAGE, domain="alpha.test", selector="s1", private_pem=pem)
    for tampered in (
        signed.replace(b"Hello Bob.", b"Hello Eve."),
        signed.replace(b"Subject: hello", b"Subject: urgent"),
        signed.replace(b"From: Alice", b"From: Mallory"),
        # a second From above the signed one (oversigning makes this fail)
        signed.replace(b"From: Alice", b"From: x@evil.test\r\nFrom: Alice"),
    ):
        [result] = await verify(_resolver(txt), tampered)
        assert result.result == "fail", result


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (None, "permerror"),  # no key at all
        ("v=DKIM1; k=rsa; p=", "permerror"),  # revoked
        ("v=DKIM1; k=rsa; p=!!!notbase64", "permerror"),
        ("v=DKIM1; k=rsa; p=" + base64.b64encode(b"garbage").decode(), "permerror"),
        ("v=DKIM1; k=dsa; p=AAAA", "permerror"),
        ("v=DKIM2; k=rsa; p=AAAA", "permerror"),
        ("this is not a key record", "permerror"),
        (b"\xff\xfe\x00binary", "permerror"),
        ("TEMPFAIL", "temperror"),
    ],
)
async def test_broken_key_records(record: str | bytes | None, expected: str) -> None:
    pem, _ = generate_key("rsa")
    signed = sign_message(MESSAGE, domain="alpha.test", selector="s1", private_pem=pem)
    if record is None:
        resolver = StaticResolver({})
    elif record == "TEMPFAIL":
        resolver = StaticResolver(tempfail=["s1._domainkey.alpha.test"])
    else:
        resolver = _resolver(record)
    [result] = await verify(resolver, signed)
    assert result.result == expected, result


async def test_wrong_key_fails() -> None:
    pem, _ = generate_key("rsa")
    _, other_txt = generate_key("rsa")
    signed = sign_message(MESSAGE, domain="alpha.test", selector="s1", private_pem=pem)
    [result] = await verify(_resolver(other_txt), signed)
    assert result.result == "fail"


@pytest.mark.parametrize(
    "header",
    [
        b"DKIM-Signature: garbage\r\n",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=alpha.test\r\n",
        b"DKIM-Signature: v=1; a=md5; b=AAAA; bh=AAAA; d=alpha.test; h=from; s=s1\r\n",
        b"DKIM-Signature: v=1; v=1; ==;;\r\n",
        b"DKIM-Signature: \xff\xfe\r\n",
        b"DKIM-Signature:\r\n",
    ],
)
async def test_malformed_signatures_give_a_result(header: bytes) -> None:
    [result] = await verify(_resolver("v=DKIM1; p="), header + MESSAGE)
    assert result.result in ("neutral", "permerror"), result


async def test_no_signature_and_garbage_message() -> None:
    assert await verify(StaticResolver({}), MESSAGE) == []
    for raw in (b"", b"\r\n\r\n", b"not a message", b"\x00\xff" * 100):
        results = await verify(StaticResolver({}), raw)
        assert all(r.result in ("neutral", "permerror") for r in results)


async def test_several_signatures() -> None:
    pem1, txt1 = generate_key("rsa")
    pem2, _ = generate_key("rsa")
    once = sign_message(MESSAGE, domain="alpha.test", selector="s1", private_pem=pem1)
    twice = sign_message(once, domain="other.test", selector="s2", private_pem=pem2)
    results = await verify(_resolver(txt1), twice)
    assert [(r.domain, r.result) for r in results] == [
        ("other.test", "permerror"),
        ("alpha.test", "pass"),
    ]


def test_bad_private_key_and_no_from() -> None:
    with pytest.raises(DKIMKeyError):
        sign(MESSAGE, domain="alpha.test", selector="s1", private_pem=b"nonsense")
    pem, _ = generate_key("rsa")
    with pytest.raises(ValueError):
        sign(b"Subject: x\r\n\r\nbody\r\n", domain="alpha.test", selector="s1", private_pem=pem)
    with pytest.raises(ValueError):
        generate_key("dsa")


async def test_large_message_verified_off_the_loop(key: tuple[str, bytes, str]) -> None:
    _, pem, txt = key
    big = MESSAGE + b"x" * 100 + b"\r\n" + (b"line of text\r\n" * 30000)
    signed = sign_message(big, domain="alpha.test", selector="s1", private_pem=pem)
    [result] = await verify(_resolver(txt), signed)
    assert result.result == "pass"
    [result] = await verify(_resolver(txt), signed.replace(b"line of text", b"line of TEXT", 1))
    assert result.result == "fail"
