"""IANA TLS registries: versions, content types, handshake types, extensions, named groups,
signature schemes and alerts, with GREASE values recognised (RFC 8701).

Every lookup returns a `Code` (number and name) and never fails: an unassigned value is
named "unknown (0x....)" and a GREASE value "GREASE (0x....)".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    """A registry value: the number on the wire and its name."""

    value: int
    name: str

    @property
    def grease(self) -> bool:
        return self.name.startswith("GREASE")

    @property
    def known(self) -> bool:
        return not self.name.startswith(("unknown", "GREASE"))

    def __str__(self) -> str:
        return self.name


def is_grease16(value: int) -> bool:
    """RFC 8701 §2: 0x0A0A, 0x1A1A, ... 0xFAFA for suites, versions, extensions, groups."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def is_grease_psk_mode(value: int) -> bool:
    """RFC 8701 §2: PSK key exchange modes 0x0B, 0x2A, 0x49, ... (0x1F * n + 0x0B)."""
    return value >= 0x0B and (value - 0x0B) % 0x1F == 0


def _lookup(table: dict[int, str], value: int, grease: bool = True, width: int = 4) -> Code:
    name = table.get(value)
    if name is not None:
        return Code(value, name)
    if grease and width == 4 and is_grease16(value):
        return Code(value, f"GREASE (0x{value:04x})")
    return Code(value, f"unknown (0x{value:0{width}x})")


# --- protocol versions (RFC 8446 §4.2.1, RFC 6101, RFC 6347) --------------------------

VERSIONS: dict[int, str] = {
    0x0002: "SSL 2.0",
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
    0xFEFF: "DTLS 1.0",
    0xFEFD: "DTLS 1.2",
    0xFEFC: "DTLS 1.3",
}

TLS_1_2 = 0x0303
TLS_1_3 = 0x0304


def version(value: int) -> Code:
    if value >> 8 == 0x7F:  # drafts of TLS 1.3 announced themselves as 0x7Fnn
        return Code(value, f"TLS 1.3 (draft {value & 0xFF})")
    return _lookup(VERSIONS, value)


def is_tls13(value: int) -> bool:
    return value == TLS_1_3 or value >> 8 == 0x7F


# --- record content types (RFC 8446 §5.1, RFC 6520, RFC 9146, RFC 9147) ---------------

CHANGE_CIPHER_SPEC = 20
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23
HEARTBEAT = 24

CONTENT_TYPES: dict[int, str] = {
    20: "change_cipher_spec",
    21: "alert",
    22: "handshake",
    23: "application_data",
    24: "heartbeat",
    25: "tls12_cid",
    26: "ack",
}


def content_type(value: int) -> Code:
    return _lookup(CONTENT_TYPES, value, grease=False, width=2)


# --- handshake types (RFC 8446 §4, RFC 5246 §7.4, RFC 8879, RFC 6066) -----------------

CLIENT_HELLO = 1
SERVER_HELLO = 2
NEW_SESSION_TICKET = 4
END_OF_EARLY_DATA = 5
ENCRYPTED_EXTENSIONS = 8
CERTIFICATE = 11
SERVER_KEY_EXCHANGE = 12
CERTIFICATE_REQUEST = 13
SERVER_HELLO_DONE = 14
CERTIFICATE_VERIFY = 15
CLIENT_KEY_EXCHANGE = 16
FINISHED = 20
KEY_UPDATE = 24
COMPRESSED_CERTIFICATE = 25

HANDSHAKE_TYPES: dict[int, str] = {
    0: "hello_request",
    1: "client_hello",
    2: "server_hello",
    3: "hello_verify_request",
    4: "new_session_ticket",
    5: "end_of_early_data",
    6: "hello_retry_request",
    8: "encrypted_extensions",
    9: "request_connection_id",
    10: "new_connection_id",
    11: "certificate",
    12: "server_key_exchange",
    13: "certificate_request",
    14: "server_hello_done",
    15: "certificate_verify",
    16: "client_key_exchange",
    17: "client_certificate_request",
    20: "finished",
    21: "certificate_url",
    22: "certificate_status",
    23: "supplemental_data",
    24: "key_update",
    25: "compressed_certificate",
    26: "ekt_key",
    254: "message_hash",
}


def handshake_type(value: int) -> Code:
    return _lookup(HANDSHAKE_TYPES, value, grease=False, width=2)


# --- extensions (IANA "TLS ExtensionType Values", RFC 8446 §4.2) ----------------------

EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_ENCRYPT_THEN_MAC = 22
EXT_PRE_SHARED_KEY = 41
EXT_EARLY_DATA = 42
EXT_SUPPORTED_VERSIONS = 43
EXT_KEY_SHARE = 51

EXTENSIONS: dict[int, str] = {
    0: "server_name",
    1: "max_fragment_length",
    2: "client_certificate_url",
    3: "trusted_ca_keys",
    4: "truncated_hmac",
    5: "status_request",
    6: "user_mapping",
    7: "client_authz",
    8: "server_authz",
    9: "cert_type",
    10: "supported_groups",
    11: "ec_point_formats",
    12: "srp",
    13: "signature_algorithms",
    14: "use_srtp",
    15: "heartbeat",
    16: "application_layer_protocol_negotiation",
    17: "status_request_v2",
    18: "signed_certificate_timestamp",
    19: "client_certificate_type",
    20: "server_certificate_type",
    21: "padding",
    22: "encrypt_then_mac",
    23: "extended_master_secret",
    24: "token_binding",
    25: "cached_info",
    26: "tls_lts",
    27: "compress_certificate",
    28: "record_size_limit",
    29: "pwd_protect",
    30: "pwd_clear",
    31: "password_salt",
    32: "ticket_pinning",
    33: "tls_cert_with_extern_psk",
    34: "delegated_credential",
    35: "session_ticket",
    36: "TLMSP",
    37: "TLMSP_proxying",
    38: "TLMSP_delegate",
    39: "supported_ekt_ciphers",
    41: "pre_shared_key",
    42: "early_data",
    43: "supported_versions",
    44: "cookie",
    45: "psk_key_exchange_modes",
    47: "certificate_authorities",
    48: "oid_filters",
    49: "post_handshake_auth",
    50: "signature_algorithms_cert",
    51: "key_share",
    52: "transparency_info",
    53: "connection_id (deprecated)",
    54: "connection_id",
    55: "external_id_hash",
    56: "external_session_id",
    57: "quic_transport_parameters",
    58: "ticket_request",
    59: "dnssec_chain",
    60: "sequence_number_encryption_algorithms",
    61: "rrc",
    0x3374: "next_protocol_negotiation (unregistered)",
    0x4469: "application_settings (unregistered)",
    0x44CD: "application_settings (unregistered)",
    0xFD00: "ech_outer_extensions",
    0xFE0D: "encrypted_client_hello",
    0xFF01: "renegotiation_info",
}


def extension(value: int) -> Code:
    return _lookup(EXTENSIONS, value)


# --- named groups (RFC 8422 §5.1.1, RFC 7919, RFC 8446 §4.2.7, IANA) ------------------

GROUPS: dict[int, str] = {
    1: "sect163k1",
    2: "sect163r1",
    3: "sect163r2",
    4: "sect193r1",
    5: "sect193r2",
    6: "sect233k1",
    7: "sect233r1",
    8: "sect239k1",
    9: "sect283k1",
    10: "sect283r1",
    11: "sect409k1",
    12: "sect409r1",
    13: "sect571k1",
    14: "sect571r1",
    15: "secp160k1",
    16: "secp160r1",
    17: "secp160r2",
    18: "secp192k1",
    19: "secp192r1",
    20: "secp224k1",
    21: "secp224r1",
    22: "secp256k1",
    23: "secp256r1",
    24: "secp384r1",
    25: "secp521r1",
    26: "brainpoolP256r1",
    27: "brainpoolP384r1",
    28: "brainpoolP512r1",
    29: "x25519",
    30: "x448",
    31: "brainpoolP256r1tls13",
    32: "brainpoolP384r1tls13",
    33: "brainpoolP512r1tls13",
    34: "GC256A",
    35: "GC256B",
    36: "GC256C",
    37: "GC256D",
    38: "GC512A",
    39: "GC512B",
    40: "GC512C",
    41: "curveSM2",
    256: "ffdhe2048",
    257: "ffdhe3072",
    258: "ffdhe4096",
    259: "ffdhe6144",
    260: "ffdhe8192",
    512: "MLKEM512",
    513: "MLKEM768",
    514: "MLKEM1024",
    0x11EB: "SecP256r1MLKEM768",
    0x11EC: "X25519MLKEM768",
    0x11ED: "SecP384r1MLKEM1024",
    0x6399: "X25519Kyber768Draft00",
    0x639A: "SecP256r1Kyber768Draft00",
    0xFF01: "arbitrary_explicit_prime_curves",
    0xFF02: "arbitrary_explicit_char2_curves",
}


def group(value: int) -> Code:
    return _lookup(GROUPS, value)


# --- signature schemes (RFC 8446 §4.2.3; TLS 1.2 pairs from RFC 5246 §7.4.1.4.1) ------

SIGNATURE_SCHEMES: dict[int, str] = {
    0x0201: "rsa_pkcs1_sha1",
    0x0203: "ecdsa_sha1",
    0x0401: "rsa_pkcs1_sha256",
    0x0403: "ecdsa_secp256r1_sha256",
    0x0420: "rsa_pkcs1_sha256_legacy",
    0x0501: "rsa_pkcs1_sha384",
    0x0503: "ecdsa_secp384r1_sha384",
    0x0520: "rsa_pkcs1_sha384_legacy",
    0x0601: "rsa_pkcs1_sha512",
    0x0603: "ecdsa_secp521r1_sha512",
    0x0620: "rsa_pkcs1_sha512_legacy",
    0x0704: "eccsi_sha256",
    0x0705: "iso_ibs1",
    0x0706: "iso_ibs2",
    0x0707: "iso_chinese_ibs",
    0x0708: "sm2sig_sm3",
    0x0709: "gostr34102012_256a",
    0x070A: "gostr34102012_256b",
    0x070B: "gostr34102012_256c",
    0x070C: "gostr34102012_256d",
    0x070D: "gostr34102012_512a",
    0x070E: "gostr34102012_512b",
    0x070F: "gostr34102012_512c",
    0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384",
    0x0806: "rsa_pss_rsae_sha512",
    0x0807: "ed25519",
    0x0808: "ed448",
    0x0809: "rsa_pss_pss_sha256",
    0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512",
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
    0x0904: "mldsa44",
    0x0905: "mldsa65",
    0x0906: "mldsa87",
}

# RFC 5246 §7.4.1.4.1: SignatureAndHashAlgorithm is (hash, signature).
_HASHES = {1: "md5", 2: "sha1", 3: "sha224", 4: "sha256", 5: "sha384", 6: "sha512"}
_SIGNATURES = {1: "rsa", 2: "dsa", 3: "ecdsa"}


def signature_scheme(value: int) -> Code:
    name = SIGNATURE_SCHEMES.get(value)
    if name is not None:
        return Code(value, name)
    hash_name, sig_name = _HASHES.get(value >> 8), _SIGNATURES.get(value & 0xFF)
    if hash_name and sig_name:
        return Code(value, f"{sig_name}_{hash_name}")
    return _lookup({}, value)


# --- alerts (RFC 8446 §6, RFC 5246 §7.2, IANA) -----------------------------------------

ALERT_LEVELS: dict[int, str] = {1: "warning", 2: "fatal"}

ALERT_DESCRIPTIONS: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    52: "too_many_cids_requested",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    111: "certificate_unobtainable",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value",
    115: "unknown_psk_identity",
    116: "certificate_required",
    117: "general_error",
    120: "no_application_protocol",
    121: "ech_required",
}


def alert_level(value: int) -> Code:
    return _lookup(ALERT_LEVELS, value, grease=False, width=2)


def alert_description(value: int) -> Code:
    return _lookup(ALERT_DESCRIPTIONS, value, grease=False, width=2)
