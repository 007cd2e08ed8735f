"""The fast DKIM paths give dkimpy's answers: the same parse and canonical bodies, the
same signature fields byte for byte, and the same verification result (and reason) for
intact, tampered and odd signatures."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from dkim.canonicalization import Relaxed, Simple
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthouse.resolver import StaticResolver
from posthouse.senderauth import dkim as ours
from posthouse.senderauth.canonical import canonical_body, canonical_headers, parse
from posthouse.senderauth.dkim import DKIMResult, generate_key, sign, verify

MESSAGE = (
    b"Received: from x by y; Thu, 26 Nov 2026 12:00:00 +0000\r\n"
    b"From: Alice <alice@alpha.test>\r\n"
    b"To: bob@beta.test,\r\n\tcarol@beta.test\r\n"
    b"Subject:  hello   there \r\n"
    b"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <1@alpha.test>\r\n"
    b"\r\n"
    b"Hello Bob.\r\n"
    b"\r\n"
    b"A second paragraph.\r\n"
)

# Messages built from the characters that matter to parsing and canonicalization.
pieces = st.sampled_from(
    [b"a", b"B", b" ", b"  ", b"\t", b"\r", b"\n", b"\r\n", b":", b"X-H: v", b"From ", b"\xff"]
)
messages = st.lists(pieces, max_size=40).map(b"".join)


def _dkimpy_parse(raw: bytes) -> Any:
    try:
        return dkim.rfc822_parse(raw)
    except Exception as e:
        return repr(e)


def _our_parse(raw: bytes) -> Any:
    try:
        return parse(raw)
    except Exception as e:
        return repr(e)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(head=messages, body=messages)
def test_parse_is_dkimpy_parse(head: bytes, body: bytes) -> None:
    for raw in (head, head + b"\r\n\r\n" + body, head + b"\n\n" + body, b"\r\n" + body):
        assert _our_parse(raw) == _dkimpy_parse(raw)


@settings(max_examples=600)
@given(body=messages)
def test_canonical_bodies_are_dkimpy_bodies(body: bytes) -> None:
    _, body = dkim.rfc822_parse(b"A: b\r\n\r\n" + body)
    assert canonical_body(body, b"relaxed") == Relaxed.canonicalize_body(body)
    assert canonical_body(body, b"simple") == Simple.canonicalize_body(body)


@settings(max_examples=600)
@given(head=messages)
def test_canonical_headers_are_dkimpy_headers(head: bytes) -> None:
    try:
        headers, _ = dkim.rfc822_parse(head + b"\r\n\r\n")
    except Exception:
        return
    for algorithm in (Relaxed, Simple):
        expected = [tuple(h) for h in algorithm.canonicalize_headers(headers)]
        got = [tuple(h) for h in canonical_headers(headers, algorithm.name)]
        assert got == expected


# What surrounds and fills a b= tag: tag separators, folding, base64, other tags.
tag_pieces = st.sampled_from(
    [
        b"b",
        b"=",
        b";",
        b" ",
        b"\t",
        b"\r\n",
        b"\n",
        b"\r",
        b"\r\n ",
        b"a",
        b"Z9+/",
        b"bh=",
        b"b=",
        b" b =",
        b";b=",
        b"\x0b",
        b"-",
        b"h=from",
    ]
)


@settings(max_examples=2000)
@given(value=st.lists(tag_pieces, max_size=30).map(b"".join))
def test_empty_b_tag_is_dkimpy_empty_b_tag(value: bytes) -> None:
    assert ours._BTAG.sub(b"\\1", value) == dkim.RE_BTAG.sub(b"\\1", value)


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[bytes, str]]:
    return {kind: generate_key(kind) for kind in ("rsa", "ed25519")}


def _dkimpy_sign(raw: bytes, pem: bytes, kind: str) -> bytes:
    """What dkimpy alone makes of the same request."""
    present = {n.lower() for n, _ in dkim.DKIM(raw).headers}
    include = [h.encode() for h in ours.SIGNED_HEADERS if h.encode() in present] + [b"from"]
    if kind == "rsa":
        keydata, algorithm = pem, b"rsa-sha256"
    else:
        key = serialization.load_pem_private_key(pem, None)
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        keydata, algorithm = base64.b64encode(seed), b"ed25519-sha256"
    signer = dkim.DKIM(raw, signature_algorithm=algorithm)
    field: bytes = signer.sign(
        b"s1",
        b"alpha.test",
        keydata,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=include,
    )
    return field


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize(
    "raw",
    [
        MESSAGE,
        MESSAGE.replace(b"\r\n", b"\n"),
        MESSAGE + b"\r\n\r\n\r\n",
        MESSAGE.replace(b"Hello Bob.", b"Hello \t Bob.  "),
        b"From: a@alpha.test\r\n\r\n",
        b"From: a@alpha.test\r\nFrom: b@alpha.test\r\n\r\nx",
    ],
)
def test_signature_is_dkimpy_signature(
    kind: str, raw: bytes, keys: dict[str, tuple[bytes, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pem, _ = keys[kind]
    monkeypatch.setattr("time.time", lambda: 1_790_000_000.0)
    assert sign(raw, domain="alpha.test", selector="s1", private_pem=pem) == _dkimpy_sign(
        raw, pem, kind
    )


def _dkimpy_verify(record: bytes, raw: bytes) -> list[DKIMResult]:
    """The verification as it was, every step dkimpy's."""
    try:
        verifier = dkim.DKIM(raw, minkey=1024)
    except Exception as e:
        return [DKIMResult("permerror", reason=f"unparsable message: {e}")]
    results = []
    values = [v for n, v in verifier.headers if n.lower() == b"dkim-signature"]
    for idx, value in enumerate(values[: ours.MAX_SIGNATURES]):
        prepared = ours._prepare(verifier, value, idx)
        if isinstance(prepared, DKIMResult):
            results.append(prepared)
            continue
        base, (sig, include, sigheaders) = prepared
        try:
            dkim.evaluate_pk(b"name", record)
        except dkim.DKIMException as e:
            results.append(DKIMResult("permerror", reason=f"key record: {e}", **base))
            continue
        except Exception as e:
            results.append(DKIMResult("permerror", reason=f"key record: {e!r}", **base))
            continue
        try:
            ok = verifier.verify_sig(sig, include, sigheaders[idx], lambda *_a, **_k: record)
        except dkim.ValidationError as e:
            results.append(DKIMResult("fail", reason=str(e), **base))
            continue
        except dkim.DKIMException as e:
            results.append(DKIMResult("permerror", reason=str(e), **base))
            continue
        except Exception as e:
            reason = f"verification error: {e!r}"
            results.append(DKIMResult("permerror", reason=reason, **base))
            continue
        if ok:
            results.append(DKIMResult("pass", **base))
        else:
            results.append(DKIMResult("fail", reason="signature did not verify", **base))
    return results


# RFC 8301 §3.2 has verifiers refuse RSA keys below 1024 bits; cryptography will not
# make one, so here is a 768-bit key.
SMALL_RSA = b"""-----BEGIN RSA PRIVATE KEY-----
MIIBywIBAAJhALeRc4JpIUINaAMFO/I5zAXK5tbQcN+LuRfjrfAKC2m77sEfKZyy
A1BaXWrbtZWZZULbJLb07fuMncEnphuOWnUXF+GAEcw40xfjOxgmP1aHSe2UkQ0F
2jh+5njLTiL6UwIDAQABAmBlhY7BgA0Br9JnYTyvESHxzi5ufWb/axHZ0XR//b4k
Iui/a9GitJy6ks95art5WhTCjhYKZKR+KBm0YdCVSAG0hBakwugOoEKVc/MVAmhj
XkwESF4ne8T5ZRFA4qhrEXkCMQDw9ax8utt0A/Jk0YNTz8bg7azmLgSnJiaQ2w50
Nm3bqPjqQo7/i1+gx25hobNlRmUCMQDDBrYPniRzJU62GqTjTN5faMzu3U6+GwyZ
27VwDFfVsb71kqyVdOjzl6qtI8oX9lcCMQDpDRQpBykdynt0m1cjhsBZ6Ebj0fpa
GAIQ9G3EZKhYXdNx77IS4yA4hurxrs2t1CkCMAEMKC4tS0TTDnkr63bNEuSwS2l9
Bs8+lfK9m1vetRoQulXXU9X5qsakKeaEKrG2QQIxALtGs0qOJjkYy3UazRb+q2Ul
nosuL7hJKDRvR7GWUCJukYXPnSfyBlKiMjJhY7Cjeg==
-----END RSA PRIVATE KEY-----
"""


def _with_b(field: bytes, signature: bytes) -> bytes:
    """The same signature field with another b= (the last tag)."""
    match = re.search(rb";\s*b=", field)
    assert match is not None
    return field[: match.end()] + base64.b64encode(signature)


def _variants(signed: bytes) -> list[bytes]:
    field_end = signed.index(b"\r\nReceived:")
    field, rest = signed[:field_end], signed[field_end:]
    match = re.search(rb";\s*b=", field)
    assert match is not None
    b_value = base64.b64decode(b"".join(field[match.end() :].split()))
    return [
        signed,
        signed.replace(b"Hello Bob.", b"Hello Eve."),
        signed.replace(b"Subject:  hello", b"Subject: goodbye"),
        signed.replace(b"Hello Bob.", b"Hello  \t Bob.   "),
        signed + b"\r\n\r\n",
        signed.replace(b"\r\n", b"\n"),
        signed.replace(b"c=relaxed/relaxed", b"c=relaxed/simple"),
        signed.replace(b"c=relaxed/relaxed", b"c=simple"),
        signed.replace(b"c=relaxed/relaxed", b"c=bogus/relaxed"),
        signed.replace(b"a=rsa-sha256", b"a=rsa-sha1").replace(b"a=ed25519", b"a=rsa-sha1"),
        signed.replace(b"; q=dns/txt", b"; l=5; q=dns/txt"),
        signed.replace(b"; q=dns/txt", b"; l=; q=dns/txt"),
        signed.replace(b"From: Alice", b"From: x@evil.test\r\nFrom: Alice"),
        _with_b(field, b_value[:-1]) + rest,
        _with_b(field, b"\x00" + b_value[1:]) + rest,
        _with_b(field, b"\xff" * len(b_value)) + rest,
        _with_b(field, b_value + b"\x00") + rest,
        field.replace(b"bh=", b"bh=AAAA") + rest,
    ]


async def _compare(record: str, signed: bytes) -> None:
    resolver = StaticResolver({"s1._domainkey.alpha.test": {"TXT": [record]}})
    for raw in _variants(signed):
        assert await verify(resolver, raw) == _dkimpy_verify(record.encode(), raw), raw[:400]


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
async def test_verification_is_dkimpy_verification(
    kind: str, keys: dict[str, tuple[bytes, str]]
) -> None:
    pem, record = keys[kind]
    signed = sign(MESSAGE, domain="alpha.test", selector="s1", private_pem=pem) + MESSAGE
    await _compare(record, signed)
    await _compare(record.replace("v=DKIM1;", "v=DKIM1; s=tlsrpt;"), signed)
    await _compare(record.replace("v=DKIM1;", "v=DKIM1; s=other;"), signed)
    _, other = generate_key(kind)
    await _compare(other, signed)


async def test_small_keys_are_judged_as_dkimpy_judges_them() -> None:
    pem, record = SMALL_RSA, ours.public_record(SMALL_RSA)
    raw = MESSAGE
    present = [n.lower() for n, _ in dkim.DKIM(raw).headers]
    include = [h.encode() for h in ours.SIGNED_HEADERS if h in present] + [b"from"]
    field = dkim.DKIM(raw).sign(
        b"s1", b"alpha.test", pem, canonicalize=(b"relaxed", b"relaxed"), include_headers=include
    )
    await _compare(record, field + raw)


def test_sha1_is_not_taken_for_sha256() -> None:
    assert dkim.HASH_ALGORITHMS[b"rsa-sha256"] is hashlib.sha256
