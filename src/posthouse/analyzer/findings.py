"""Risks visible in a capture: passwords in the clear, sessions without TLS, AUTH
offered before STARTTLS, weak TLS, and senders that do not match their envelope."""

from __future__ import annotations

import email.utils

from posthouse.analyzer.model import Finding, Session
from posthouse.analyzer.tls_layer import WEAK_VERSIONS

MAIL_PROTOCOLS = ("SMTP", "POP3", "IMAP")
# Cipher suites no one should accept today (RFC 7465 RC4, RFC 8996 old versions,
# export and NULL suites, DES/3DES, anonymous key exchange).
_WEAK_SUITE_PARTS = ("RC4", "_NULL_", "EXPORT", "_DES_", "3DES", "_anon_", "_MD5")

CLEARTEXT_WARNING = (
    "anyone on the network path (Wi-Fi, ISP, a compromised router) could read it, exactly "
    "as this capture does"
)


def session_findings(s: Session) -> list[Finding]:
    out: list[Finding] = []
    for cred in s.credentials:
        if cred.encrypted:
            continue
        outcome = {True: "accepted", False: "refused", None: "outcome not captured"}[cred.success]
        if cred.password is not None:
            text = (
                f"{cred.protocol} {cred.mechanism}: user {cred.username!r} and password "
                f"{cred.password!r} sent in the clear (login {outcome}); {CLEARTEXT_WARNING}."
            )
            out.append(Finding("high", "cleartext-credentials", text, s.index, cred.frame))
        else:
            if cred.mechanism in ("APOP", "CRAM-MD5", "NTLM", "DIGEST-MD5"):
                secret = (
                    "with a password digest or hash that can be attacked offline "
                    "(guessing the password)"
                )
            else:
                secret = "(the password itself is not in the capture)"
            text = (
                f"{cred.protocol} {cred.mechanism}: user {cred.username!r} sent in the clear "
                f"{secret}; login {outcome}."
            )
            out.append(Finding("medium", "cleartext-login", text, s.index, cred.frame))
    if s.protocol in MAIL_PROTOCOLS and s.tls is None and (s.lines or s.messages):
        out.append(
            Finding(
                "medium",
                "no-tls",
                f"{s.protocol} session {s.client} → {s.server} never used TLS: every command, "
                "reply and message went over the network in the clear.",
                s.index,
                s.first_frame,
            )
        )
    if s.auth_offered_in_clear:
        out.append(
            Finding(
                "medium",
                "auth-before-starttls",
                f"The server offered AUTH ({', '.join(s.auth_mechanisms_offered) or '?'}) before "
                "TLS was started (RFC 3207 §4.2, RFC 8314 §3.1: offer logins only over TLS).",
                s.index,
                s.first_frame,
            )
        )
    if s.tls is not None:
        version = s.tls.version or ""
        if version in WEAK_VERSIONS:
            out.append(
                Finding(
                    "medium",
                    "weak-tls",
                    f"TLS version {version} is obsolete (RFC 8996).",
                    s.index,
                    s.tls.start_frame,
                )
            )
        suite = s.tls.cipher_suite or ""
        if any(part in suite for part in _WEAK_SUITE_PARTS):
            out.append(
                Finding(
                    "medium", "weak-tls", f"Weak cipher suite {suite}.", s.index, s.tls.start_frame
                )
            )
    for msg in s.messages:
        if msg.mail_from is None or not msg.header_from:
            continue
        _, header_addr = email.utils.parseaddr(msg.header_from)
        env = msg.mail_from.lower()
        if header_addr and env and header_addr.lower() != env:
            env_domain = env.rpartition("@")[2]
            hdr_domain = header_addr.lower().rpartition("@")[2]
            severity = "low" if env_domain == hdr_domain else "medium"
            out.append(
                Finding(
                    severity,
                    "sender-mismatch",
                    f"Header From {header_addr!r} differs from the envelope MAIL FROM "
                    f"{msg.mail_from!r}: possible spoofing (DMARC aligns the two domains, "
                    "RFC 7489 §3.1).",
                    s.index,
                    msg.frame,
                )
            )
    return out
