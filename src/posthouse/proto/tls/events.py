"""What the TLS observer reports: one frozen dataclass per record or handshake message.

Every event carries `from_client` and `offset`, the position in that direction's byte
stream of the record that carried it (for a handshake message split over several
records, the record where it starts), so a caller can map it back to a packet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from posthouse.proto.tls.registries import Code
from posthouse.proto.tls.suites import Suite


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """One certificate of a chain; `error` is set when it could not be parsed."""

    der: bytes
    subject: str | None = None
    issuer: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    subject_alt_names: tuple[str, ...] = ()
    serial_number: str | None = None  # hex
    public_key: str | None = None  # e.g. "RSA 2048", "EC secp256r1", "Ed25519"
    signature_algorithm: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ClientHello:
    from_client: bool
    offset: int
    legacy_version: Code
    random: bytes
    session_id: bytes
    cipher_suites: tuple[Suite, ...]
    compression_methods: tuple[int, ...] = ()
    extensions: tuple[Code, ...] = ()  # in the order sent
    supported_versions: tuple[Code, ...] = ()
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    supported_groups: tuple[Code, ...] = ()
    signature_algorithms: tuple[Code, ...] = ()
    key_share_groups: tuple[Code, ...] = ()
    psk_offered: bool = False
    early_data: bool = False
    sslv2_format: bool = False  # an SSL 2.0-format hello (RFC 5246 §E.2)

    @property
    def highest_version(self) -> Code:
        """The best version offered: supported_versions when present (RFC 8446 §4.2.1)."""
        offered = [v for v in self.supported_versions if v.known]
        if offered:
            # drafts of TLS 1.3 (0x7Fnn) rank above TLS 1.2 and below the final 0x0304
            return max(
                offered,
                key=lambda v: 0x0303 + v.value / 0x10000 if v.value >> 8 == 0x7F else v.value,
            )
        return self.legacy_version


@dataclass(frozen=True, slots=True)
class ServerHello:
    from_client: bool
    offset: int
    legacy_version: Code
    version: Code  # negotiated: supported_versions when present, else legacy_version
    random: bytes
    session_id: bytes
    cipher_suite: Suite
    compression_method: int = 0
    extensions: tuple[Code, ...] = ()
    selected_group: Code | None = None  # key_share (TLS 1.3)
    hello_retry_request: bool = False  # RFC 8446 §4.1.3 special random
    alpn: str | None = None
    downgrade_sentinel: str | None = None  # "TLS 1.2" / "TLS 1.1 or below" (RFC 8446 §4.1.3)
    sslv2_format: bool = False


@dataclass(frozen=True, slots=True)
class EncryptedExtensions:
    """TLS 1.3 extensions sent under handshake keys (visible when decrypting)."""

    from_client: bool
    offset: int
    extensions: tuple[Code, ...] = ()
    alpn: str | None = None
    early_data: bool = False


@dataclass(frozen=True, slots=True)
class Certificate:
    from_client: bool
    offset: int
    certificates: tuple[CertificateInfo, ...]
    decrypted: bool = False  # seen only thanks to the key log (TLS 1.3)


@dataclass(frozen=True, slots=True)
class ServerKeyExchange:
    from_client: bool
    offset: int
    key_exchange: str  # "ECDHE", "DHE", or the suite's key exchange when not parsed
    named_curve: Code | None = None
    dh_prime_bits: int | None = None
    signature_algorithm: Code | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    from_client: bool
    offset: int
    verify_data: bytes
    decrypted: bool = False


@dataclass(frozen=True, slots=True)
class KeyUpdate:
    """TLS 1.3 post-handshake key update (RFC 8446 §4.6.3)."""

    from_client: bool
    offset: int
    update_requested: bool


@dataclass(frozen=True, slots=True)
class HandshakeMessage:
    """Any other handshake message: ServerHelloDone, ClientKeyExchange, NewSessionTicket..."""

    from_client: bool
    offset: int
    msg_type: Code
    length: int
    decrypted: bool = False


@dataclass(frozen=True, slots=True)
class ChangeCipherSpec:
    from_client: bool
    offset: int


@dataclass(frozen=True, slots=True)
class Alert:
    from_client: bool
    offset: int
    level: Code | None  # None when the alert is encrypted and could not be read
    description: Code | None
    encrypted: bool = False
    decrypted: bool = False


@dataclass(frozen=True, slots=True)
class HandshakeEncrypted:
    """An encrypted handshake record that could not be decrypted: in TLS 1.0-1.2 a
    handshake record after ChangeCipherSpec (normally Finished); in TLS 1.3, inferred from
    its place, the server's records before the client's first protected record and that
    first client record (RFC 8446 §2: the encrypted part of the handshake)."""

    from_client: bool
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class EncryptedRecord:
    """A protected record of an unexpected content type, which could not be decrypted."""

    from_client: bool
    offset: int
    length: int
    content_type: Code  # the outer type, application_data in TLS 1.3


@dataclass(frozen=True, slots=True)
class ApplicationData:
    """Application data; without keys in TLS 1.3, a protected record after the handshake
    (by its place: it may also hold a NewSessionTicket or KeyUpdate)."""

    from_client: bool
    offset: int
    length: int  # bytes on the wire (record payload)
    plaintext: bytes | None = None  # set when decrypted


@dataclass(frozen=True, slots=True)
class Heartbeat:
    from_client: bool
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class Problem:
    """Malformed or unexpected input; the observer carries on or stops cleanly."""

    from_client: bool
    offset: int
    message: str


TLSEvent = (
    ClientHello
    | ServerHello
    | EncryptedExtensions
    | Certificate
    | ServerKeyExchange
    | Finished
    | KeyUpdate
    | HandshakeMessage
    | ChangeCipherSpec
    | Alert
    | HandshakeEncrypted
    | EncryptedRecord
    | ApplicationData
    | Heartbeat
    | Problem
)
