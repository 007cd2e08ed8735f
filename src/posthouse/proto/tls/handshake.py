"""Handshake messages: reassembly across records and parsing of the hellos, Certificate,
ServerKeyExchange and the TLS 1.3 messages (RFC 5246 §7.4, RFC 8446 §4).

Parsers raise `DecodeError` on malformed input; the observer turns it into a Problem.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from posthouse.proto.tls import registries as reg
from posthouse.proto.tls.certificates import describe_certificate
from posthouse.proto.tls.events import (
    Certificate,
    CertificateInfo,
    ClientHello,
    EncryptedExtensions,
    ServerHello,
    ServerKeyExchange,
)
from posthouse.proto.tls.suites import SSL2_KINDS, Suite, suite

# RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with this random.
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
# RFC 8446 §4.1.3: downgrade sentinels in the last 8 bytes of ServerHello.random.
_DOWNGRADE = {b"DOWNGRD\x01": "TLS 1.2", b"DOWNGRD\x00": "TLS 1.1 or below"}
MAX_MESSAGE = 1 << 20  # larger handshake messages are treated as damage


class DecodeError(ValueError):
    pass


class Reader:
    """Bounds-checked reading of TLS presentation-language fields (RFC 8446 §3)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n > self.remaining():
            raise DecodeError(f"needs {n} bytes, {self.remaining()} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def vector(self, length_bytes: int) -> bytes:
        return self.take(self.uint(length_bytes))

    def sub(self, length_bytes: int) -> Reader:
        return Reader(self.vector(length_bytes))

    def uint16_list(self, length_bytes: int) -> list[int]:
        body = self.vector(length_bytes)
        if len(body) % 2:
            raise DecodeError("odd length for a list of 16-bit values")
        return [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body), 2)]


@dataclass(frozen=True, slots=True)
class Message:
    msg_type: int
    body: bytes
    offset: int  # stream offset of the record where the message began


class HandshakeBuffer:
    """Joins handshake fragments across records (RFC 8446 §5.1, RFC 5246 §6.2.1)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._offset = 0

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def clear(self) -> None:
        self._buf.clear()

    def feed(self, fragment: bytes, record_offset: int) -> list[Message]:
        if not self._buf:
            self._offset = record_offset
        self._buf += fragment
        out: list[Message] = []
        while len(self._buf) >= 4:
            length = int.from_bytes(self._buf[1:4], "big")
            if length > MAX_MESSAGE:
                self._buf.clear()
                raise DecodeError(f"handshake message of {length} bytes")
            if len(self._buf) < 4 + length:
                break
            out.append(Message(self._buf[0], bytes(self._buf[4 : 4 + length]), self._offset))
            del self._buf[: 4 + length]
            self._offset = record_offset
        return out


# --- extensions -------------------------------------------------------------------------


def _extensions(r: Reader) -> list[tuple[int, bytes]]:
    if r.remaining() == 0:
        return []  # RFC 5246 §7.4.1.2: the extensions block may be absent
    block = r.sub(2)
    out: list[tuple[int, bytes]] = []
    while block.remaining():
        ext_type = block.uint(2)
        out.append((ext_type, block.vector(2)))
    return out


def _server_name(data: bytes) -> str | None:
    # RFC 6066 §3: ServerNameList; host_name(0) is the only defined type.
    r = Reader(data).sub(2)
    while r.remaining():
        name_type = r.uint(1)
        name = r.vector(2)
        if name_type == 0:
            return name.decode("ascii", "backslashreplace")
    return None


def _alpn(data: bytes) -> list[str]:
    # RFC 7301 §3.1: ProtocolNameList
    r = Reader(data).sub(2)
    names: list[str] = []
    while r.remaining():
        names.append(r.vector(1).decode("ascii", "backslashreplace"))
    return names


def _key_share_groups(data: bytes) -> list[int]:
    # RFC 8446 §4.2.8: KeyShareClientHello is a list of (group, key_exchange)
    r = Reader(data).sub(2)
    groups: list[int] = []
    while r.remaining():
        groups.append(r.uint(2))
        r.vector(2)
    return groups


# --- ClientHello ------------------------------------------------------------------------


def parse_client_hello(body: bytes, offset: int) -> ClientHello:
    """RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2."""
    r = Reader(body)
    legacy_version = r.uint(2)
    random = r.take(32)
    session_id = r.vector(1)
    suites = tuple(suite(c) for c in r.uint16_list(2))
    compression = tuple(r.vector(1))
    exts = _extensions(r)
    fields: dict[str, object] = {}
    for ext_type, data in exts:
        try:
            _client_extension(ext_type, data, fields)
        except DecodeError as exc:
            raise DecodeError(f"{reg.extension(ext_type).name} extension: {exc}") from None
    return ClientHello(
        from_client=True,
        offset=offset,
        legacy_version=reg.version(legacy_version),
        random=random,
        session_id=session_id,
        cipher_suites=suites,
        compression_methods=compression,
        extensions=tuple(reg.extension(t) for t, _ in exts),
        **fields,  # type: ignore[arg-type]
    )


def _client_extension(ext_type: int, data: bytes, fields: dict[str, object]) -> None:
    if ext_type == reg.EXT_SERVER_NAME and data:
        fields["sni"] = _server_name(data)
    elif ext_type == reg.EXT_ALPN:
        fields["alpn"] = tuple(_alpn(data))
    elif ext_type == reg.EXT_SUPPORTED_GROUPS:
        fields["supported_groups"] = tuple(reg.group(g) for g in Reader(data).uint16_list(2))
    elif ext_type == reg.EXT_SIGNATURE_ALGORITHMS:
        schemes = Reader(data).uint16_list(2)
        fields["signature_algorithms"] = tuple(reg.signature_scheme(s) for s in schemes)
    elif ext_type == reg.EXT_SUPPORTED_VERSIONS:
        versions = Reader(data).uint16_list(1)
        fields["supported_versions"] = tuple(reg.version(v) for v in versions)
    elif ext_type == reg.EXT_KEY_SHARE:
        fields["key_share_groups"] = tuple(reg.group(g) for g in _key_share_groups(data))
    elif ext_type == reg.EXT_PRE_SHARED_KEY:
        fields["psk_offered"] = True
    elif ext_type == reg.EXT_EARLY_DATA:
        fields["early_data"] = True


def parse_sslv2_client_hello(fragment: bytes, offset: int) -> ClientHello:
    """An SSL 2.0-format CLIENT-HELLO (RFC 6101 §E.2.1, RFC 5246 §E.2)."""
    r = Reader(fragment)
    r.uint(1)  # msg_type
    legacy_version = r.uint(2)
    spec_len, sid_len, challenge_len = r.uint(2), r.uint(2), r.uint(2)
    if spec_len % 3:
        raise DecodeError("SSL 2.0 cipher spec list not a multiple of 3")
    specs = r.take(spec_len)
    session_id = r.take(sid_len)
    challenge = r.take(challenge_len)
    suites: list[Suite] = []
    for i in range(0, len(specs), 3):
        kind = int.from_bytes(specs[i : i + 3], "big")
        if kind >> 16 == 0:
            suites.append(suite(kind & 0xFFFF))
        else:
            name = SSL2_KINDS.get(kind, f"SSL2 unknown (0x{kind:06x})")
            suites.append(Suite(kind, name, "RSA", "RSA", name, "MD5"))
    # RFC 5246 §E.2: the challenge is right-aligned in the 32-byte ClientHello.random.
    random = challenge[-32:].rjust(32, b"\x00")
    return ClientHello(
        from_client=True,
        offset=offset,
        legacy_version=reg.version(legacy_version),
        random=random,
        session_id=session_id,
        cipher_suites=tuple(suites),
        sslv2_format=True,
    )


def parse_sslv2_server_hello(fragment: bytes, offset: int) -> ServerHello:
    """An SSL 2.0 SERVER-HELLO (draft-hickman-netscape-ssl-00, "Server Only Protocol
    Messages"): the certificate and the cipher kinds the server accepts."""
    r = Reader(fragment)
    r.uint(1)  # msg_type
    r.uint(1)  # session_id_hit
    r.uint(1)  # certificate_type
    ver = r.uint(2)
    cert_len, specs_len, conn_id_len = r.uint(2), r.uint(2), r.uint(2)
    r.take(cert_len)
    specs = r.take(specs_len)
    r.take(conn_id_len)
    kinds = [int.from_bytes(specs[i : i + 3], "big") for i in range(0, len(specs) - 2, 3)]
    if kinds:
        name = SSL2_KINDS.get(kinds[0], f"SSL2 unknown (0x{kinds[0]:06x})")
        chosen = Suite(kinds[0], name, "RSA", "RSA", name, "MD5")
    else:
        chosen = suite(0)
    return ServerHello(
        from_client=False,
        offset=offset,
        legacy_version=reg.version(ver),
        version=reg.version(ver),
        random=b"",
        session_id=b"",
        cipher_suite=chosen,
        sslv2_format=True,
    )


# --- ServerHello ------------------------------------------------------------------------


def parse_server_hello(body: bytes, offset: int) -> ServerHello:
    """RFC 8446 §4.1.3 / RFC 5246 §7.4.1.3."""
    r = Reader(body)
    legacy_version = r.uint(2)
    random = r.take(32)
    session_id = r.vector(1)
    chosen = suite(r.uint(2))
    compression = r.uint(1)
    exts = _extensions(r)
    hrr = random == HRR_RANDOM
    negotiated = legacy_version
    selected_group: int | None = None
    alpn: str | None = None
    for ext_type, data in exts:
        er = Reader(data)
        if ext_type == reg.EXT_SUPPORTED_VERSIONS and len(data) == 2:
            negotiated = er.uint(2)
        elif ext_type == reg.EXT_KEY_SHARE and len(data) >= 2:
            selected_group = er.uint(2)  # HRR: selected_group; else KeyShareEntry.group
        elif ext_type == reg.EXT_ALPN:
            names = _alpn(data)
            alpn = names[0] if names else None
    return ServerHello(
        from_client=False,
        offset=offset,
        legacy_version=reg.version(legacy_version),
        version=reg.version(negotiated),
        random=random,
        session_id=session_id,
        cipher_suite=chosen,
        compression_method=compression,
        extensions=tuple(reg.extension(t) for t, _ in exts),
        selected_group=reg.group(selected_group) if selected_group is not None else None,
        hello_retry_request=hrr,
        alpn=alpn,
        downgrade_sentinel=None if hrr else _DOWNGRADE.get(random[24:]),
    )


def parse_encrypted_extensions(body: bytes, offset: int, from_client: bool) -> EncryptedExtensions:
    """RFC 8446 §4.3.1."""
    exts = _extensions(Reader(body))
    alpn: str | None = None
    for ext_type, data in exts:
        if ext_type == reg.EXT_ALPN:
            names = _alpn(data)
            alpn = names[0] if names else None
    return EncryptedExtensions(
        from_client=from_client,
        offset=offset,
        extensions=tuple(reg.extension(t) for t, _ in exts),
        alpn=alpn,
        early_data=any(t == reg.EXT_EARLY_DATA for t, _ in exts),
    )


# --- Certificate ------------------------------------------------------------------------


def parse_certificate(
    body: bytes, offset: int, from_client: bool, tls13: bool, decrypted: bool
) -> Certificate:
    """RFC 5246 §7.4.2: a list of DER certificates; RFC 8446 §4.4.2 adds a request context
    before it and extensions after each certificate."""
    r = Reader(body)
    if tls13:
        r.vector(1)  # certificate_request_context
    chain = r.sub(3)
    certs: list[CertificateInfo] = []
    while chain.remaining():
        der = chain.vector(3)
        certs.append(describe_certificate(der))
        if tls13:
            chain.vector(2)  # per-certificate extensions
    return Certificate(from_client, offset, tuple(certs), decrypted)


def decompress_certificate(body: bytes) -> bytes | None:
    """RFC 8879 §4: CompressedCertificate. Returns the Certificate body when the algorithm
    is zlib (1); brotli (2) and zstd (3) are not in the standard library."""
    r = Reader(body)
    algorithm = r.uint(2)
    length = r.uint(3)
    data = r.vector(3)
    if algorithm != 1:
        return None
    if length > MAX_MESSAGE:
        raise DecodeError(f"compressed certificate claims {length} bytes")
    try:
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, length + 1)
    except zlib.error as exc:
        raise DecodeError(f"zlib: {exc}") from None
    if len(out) != length:
        raise DecodeError("compressed certificate has the wrong length")  # RFC 8879 §4
    return out


# --- ServerKeyExchange ------------------------------------------------------------------


def parse_server_key_exchange(
    body: bytes, offset: int, chosen: Suite | None, version: int
) -> ServerKeyExchange:
    """RFC 8422 §5.4 (ECDHE: curve_type 3 = named_curve) and RFC 5246 §7.4.3 (DHE)."""
    kx = chosen.key_exchange if chosen else ""
    r = Reader(body)
    if chosen and chosen.authentication == "PSK":
        r.vector(2)  # RFC 4279 §2: psk_identity_hint comes first
    if kx.startswith("ECDH") or (not kx and body[:1] == b"\x03"):
        curve_type = r.uint(1)
        if curve_type != 3:
            return ServerKeyExchange(False, offset, "ECDHE")
        curve = reg.group(r.uint(2))
        r.vector(1)  # public point
        return ServerKeyExchange(False, offset, "ECDHE", curve, None, _sig(r, version))
    if kx.startswith("DH"):
        p = r.vector(2)
        r.vector(2)  # g
        r.vector(2)  # Ys
        bits = int.from_bytes(p, "big").bit_length()
        return ServerKeyExchange(False, offset, "DHE", None, bits, _sig(r, version))
    return ServerKeyExchange(False, offset, kx or "unknown")


def _sig(r: Reader, version: int) -> reg.Code | None:
    # RFC 5246 §7.4.3: TLS 1.2 names the signature algorithm; older versions do not.
    if version >= reg.TLS_1_2 and r.remaining() >= 2:
        return reg.signature_scheme(r.uint(2))
    return None
