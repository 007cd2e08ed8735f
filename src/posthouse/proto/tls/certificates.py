"""X.509 certificates from a Certificate message, summarised with `cryptography`.

A certificate that does not parse gives an entry with `error` set, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from posthouse.proto.tls.events import CertificateInfo

T = TypeVar("T")


def describe_certificate(der: bytes) -> CertificateInfo:
    try:
        cert = x509.load_der_x509_certificate(der)
    except Exception as exc:
        return CertificateInfo(der=der, error=f"not a parsable X.509 certificate: {exc}")
    errors: list[str] = []

    def attempt(what: str, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except Exception as exc:  # the rust parser is lazy: any field may fail alone
            errors.append(f"{what}: {exc}")
            return None

    subject = attempt("subject", lambda: cert.subject.rfc4514_string())
    issuer = attempt("issuer", lambda: cert.issuer.rfc4514_string())
    not_before = attempt("not_before", lambda: cert.not_valid_before_utc)
    not_after = attempt("not_after", lambda: cert.not_valid_after_utc)
    serial = attempt("serial", lambda: format(cert.serial_number, "x"))
    sans = attempt("subjectAltName", lambda: _sans(cert)) or ()
    key = attempt("public key", lambda: _key(cert))
    sig = attempt("signature algorithm", lambda: _signature(cert))
    return CertificateInfo(
        der=der,
        subject=subject,
        issuer=issuer,
        not_before=not_before,
        not_after=not_after,
        subject_alt_names=sans,
        serial_number=serial,
        public_key=key,
        signature_algorithm=sig,
        error="; ".join(errors) or None,
    )


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names: list[str] = []
    for name in ext.value:
        if isinstance(name, x509.DNSName | x509.RFC822Name | x509.UniformResourceIdentifier):
            names.append(name.value)
        elif isinstance(name, x509.IPAddress):
            names.append(str(name.value))
        else:
            names.append(str(name.value))
    return tuple(names)


def _key(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def _signature(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string
