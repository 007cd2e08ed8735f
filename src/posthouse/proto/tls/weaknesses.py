"""What is weak about a negotiated version or cipher suite, with the RFC that says so.

Used for the analyzer's findings ("weak TLS versions or suites"); each entry is one short
sentence a student can look up.
"""

from __future__ import annotations

from posthouse.proto.tls.suites import Suite


def version_weakness(value: int) -> str | None:
    if value == 0x0002:
        return "SSL 2.0 is prohibited (RFC 6176)"
    if value == 0x0300:
        return "SSL 3.0 is prohibited (RFC 7568)"
    if value in (0x0301, 0x0302):
        return "TLS 1.0 and 1.1 are deprecated (RFC 8996)"
    return None


def suite_weaknesses(chosen: Suite) -> tuple[str, ...]:
    if not chosen.known or chosen.signalling or chosen.tls13:
        return ()
    found: list[str] = []
    cipher, kx = chosen.cipher, chosen.key_exchange
    if cipher.startswith("NULL"):
        found.append("no encryption at all (NULL cipher)")
    if cipher.startswith("RC4"):
        found.append("RC4 is prohibited (RFC 7465)")
    if cipher.startswith(("DES", "DES40", "RC2", "IDEA")) or "EXPORT" in chosen.name:
        found.append("export-grade or single-DES encryption, breakable today (RFC 9325 §4.1)")
    if cipher.startswith("3DES"):
        found.append("3DES has 64-bit blocks and 112-bit security (RFC 9325 §4.1, SWEET32)")
    if chosen.authentication == "anonymous":
        found.append("anonymous key exchange: no server authentication (RFC 9325 §4.1)")
    if kx in ("RSA", "DH", "ECDH", "PSK") or kx.startswith(("RSA ", "DH ")):
        found.append("no forward secrecy: static key exchange (RFC 9325 §4.1)")
    if cipher.endswith("CBC") and not found:
        found.append("CBC mode with MAC-then-encrypt is not recommended (RFC 9325 §4.2)")
    if chosen.hash == "MD5":
        found.append("MD5 MAC (RFC 9325 §4.1)")
    return tuple(found)
