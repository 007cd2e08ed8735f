"""The IANA tables: suites spelled out, names for every registry, GREASE (RFC 8701)."""

from __future__ import annotations

import pytest

from posthouse.proto.tls import registries as reg
from posthouse.proto.tls.suites import NAMES, NEGOTIATED_SEPARATELY, suite
from posthouse.proto.tls.weaknesses import suite_weaknesses, version_weakness


@pytest.mark.parametrize(
    ("code", "name", "parts"),
    [
        (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE / RSA / AES-128-GCM / SHA-256"),
        (
            0xC02C,
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "ECDHE / ECDSA / AES-256-GCM / SHA-384",
        ),
        (0x0005, "TLS_RSA_WITH_RC4_128_SHA", "RSA / RSA / RC4-128 / SHA-1"),
        (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "RSA / RSA / 3DES-EDE-CBC / SHA-1"),
        (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "DHE / RSA / AES-256-CBC / SHA-1"),
        (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", "DH / anonymous / AES-128-CBC / SHA-1"),
        (
            0xCCA8,
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "ECDHE / RSA / ChaCha20-Poly1305 / SHA-256",
        ),
        (0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", "ECDHE / ECDSA / AES-128-CCM-8 / SHA-256"),
        (0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", "PSK / PSK / AES-128-GCM / SHA-256"),
        (
            0xC05D,
            "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384",
            "ECDHE / ECDSA / ARIA-256-GCM / SHA-384",
        ),
        (
            0xC077,
            "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
            "ECDHE / RSA / CAMELLIA-256-CBC / SHA-384",
        ),
        (0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", "DHE (export) / RSA / DES40-CBC / SHA-1"),
        (0x0000, "TLS_NULL_WITH_NULL_NULL", "NULL / NULL / NULL / NULL"),
    ],
)
def test_suites_spelled_out(code: int, name: str, parts: str) -> None:
    s = suite(code)
    assert s.name == name and s.description == parts and s.known and not s.tls13


@pytest.mark.parametrize(
    ("code", "cipher", "hash_name"),
    [
        (0x1301, "AES-128-GCM", "SHA-256"),
        (0x1302, "AES-256-GCM", "SHA-384"),
        (0x1303, "ChaCha20-Poly1305", "SHA-256"),
        (0x1304, "AES-128-CCM", "SHA-256"),
        (0x1305, "AES-128-CCM-8", "SHA-256"),
    ],
)
def test_tls13_suites_negotiate_key_exchange_separately(
    code: int, cipher: str, hash_name: str
) -> None:
    s = suite(code)
    assert s.tls13 and s.aead
    assert s.key_exchange == s.authentication == NEGOTIATED_SEPARATELY == "(negotiated separately)"
    assert (s.cipher, s.hash) == (cipher, hash_name)


def test_every_registered_suite_decomposes() -> None:
    assert len(NAMES) > 340
    assert len(set(NAMES.values())) == len(NAMES)
    for code in NAMES:
        s = suite(code)
        assert s.name.startswith("TLS_")
        if not s.signalling:
            assert s.key_exchange and s.authentication and s.cipher and s.hash, s


def test_signalling_grease_and_unknown_suites() -> None:
    assert suite(0x00FF).signalling and suite(0x5600).name == "TLS_FALLBACK_SCSV"
    greased = [suite(v) for v in range(0x0A0A, 0x10000, 0x1010)]
    assert len(greased) == 16 and all(s.grease and not s.known for s in greased)
    assert suite(0xFAFA).description == "GREASE (0xfafa)"
    assert suite(0x0A1A).name == "unknown (0x0a1a)"


def test_grease_rfc8701() -> None:
    values = [v for v in range(0x10000) if reg.is_grease16(v)]
    assert values == [0x0A0A + 0x1010 * i for i in range(16)]
    modes = [v for v in range(256) if reg.is_grease_psk_mode(v)]
    assert modes == [0x0B, 0x2A, 0x49, 0x68, 0x87, 0xA6, 0xC5, 0xE4]
    for lookup in (reg.version, reg.extension, reg.group, reg.signature_scheme):
        assert lookup(0x2A2A).grease


def test_versions() -> None:
    names = {v: reg.version(v).name for v in (0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304)}
    assert list(names.values()) == [
        "SSL 2.0",
        "SSL 3.0",
        "TLS 1.0",
        "TLS 1.1",
        "TLS 1.2",
        "TLS 1.3",
    ]
    assert reg.version(0x7F17).name == "TLS 1.3 (draft 23)" and reg.is_tls13(0x7F17)
    assert reg.version(0x0305).name == "unknown (0x0305)"


def test_other_registries() -> None:
    assert reg.extension(0).name == "server_name"
    assert reg.extension(0xFF01).name == "renegotiation_info"
    assert reg.extension(0xFE0D).name == "encrypted_client_hello"
    assert reg.group(29).name == "x25519" and reg.group(0x11EC).name == "X25519MLKEM768"
    assert reg.group(256).name == "ffdhe2048"
    assert reg.signature_scheme(0x0807).name == "ed25519"
    assert reg.signature_scheme(0x0101).name == "rsa_md5"  # TLS 1.2 (hash, signature) pair
    assert reg.alert_level(2).name == "fatal"
    assert reg.alert_description(40).name == "handshake_failure"
    assert reg.alert_description(200).name == "unknown (0xc8)"
    assert reg.content_type(23).name == "application_data"
    assert reg.handshake_type(4).name == "new_session_ticket"
    assert str(reg.group(23)) == "secp256r1"


def test_weaknesses() -> None:
    assert version_weakness(0x0300) == "SSL 3.0 is prohibited (RFC 7568)"
    assert version_weakness(0x0301) and version_weakness(0x0302)
    assert version_weakness(0x0303) is None and version_weakness(0x0304) is None
    assert suite_weaknesses(suite(0xC02F)) == ()
    assert suite_weaknesses(suite(0x1301)) == ()
    rc4 = suite_weaknesses(suite(0x0005))
    assert "RC4 is prohibited (RFC 7465)" in rc4
    assert any("forward secrecy" in w for w in rc4)
    assert any("3DES" in w for w in suite_weaknesses(suite(0xC012)))
    assert any("anonymous" in w for w in suite_weaknesses(suite(0x0034)))
    assert any("export" in w for w in suite_weaknesses(suite(0x0014)))
    assert any("CBC" in w for w in suite_weaknesses(suite(0xC013)))
    assert any("NULL" in w for w in suite_weaknesses(suite(0x0002)))
    assert suite_weaknesses(suite(0x0A0A)) == ()
