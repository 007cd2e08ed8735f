"""Watching a SASL exchange (RFC 4422) from the outside: which secrets it exposes.

Shared by SMTP AUTH, POP3 AUTH and IMAP AUTHENTICATE. The protocol dissector does the
base64 framing and passes the decoded challenges and responses here.
"""

from __future__ import annotations

import struct

from posthouse.analyzer.dissector import shown, split_plain
from posthouse.analyzer.model import Credential
from posthouse.proto.sasl import Credentials, PlainMechanism, SASLError


class SaslExchange:
    def __init__(self, protocol: str, mechanism: str, frame: int) -> None:
        self.protocol = protocol
        self.mechanism = mechanism.upper()
        self.frame = frame
        self.responses = 0
        self.last_challenge = b""
        self.credential: Credential | None = None
        self.raw: list[str] = []

    def expects_response(self) -> bool:
        """Whether, without seeing the server, one more client response is due."""
        if self.mechanism == "LOGIN":
            return self.credential is None or self.credential.password is None
        if self.mechanism in ("PLAIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER", "ANONYMOUS"):
            return self.credential is None
        return self.mechanism in ("NTLM", "GSSAPI", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256")

    def challenge(self, data: bytes) -> str:
        self.last_challenge = data
        if self.mechanism == "NTLM" and data.startswith(b"NTLMSSP\0"):
            return "NTLM challenge (server nonce)"
        return f'"{shown(data)}"'

    def response(self, data: bytes | None, raw: str, frame: int) -> str:
        """A client response (None: not base64); returns a note for the transcript."""
        self.raw.append(raw)
        self.responses += 1
        if data is None:
            return "not base64"
        m = self.mechanism
        if m == "PLAIN":
            # The server mechanism of proto.sasl decides, as a server would; a message
            # it refuses (not UTF-8, empty fields) is still split and shown.
            refused = ""
            try:
                got = PlainMechanism().step(data)
                assert isinstance(got, Credentials)
                authzid, user, password = got.authzid, got.username, got.password
            except SASLError as exc:
                parts = split_plain(data)
                if parts is None:
                    return f'"{shown(data)}" (not a PLAIN message: {exc})'
                authzid, user, password = parts
                refused = f" (a strict server refuses it: {exc})"
            self._set(user, password, frame)
            extra = f", acting as {authzid}" if authzid else ""
            return f"user {user!r}, password {password!r}{extra} (RFC 4616){refused}"
        if m == "LOGIN":
            text = data.decode("utf-8", "backslashreplace")
            asked = self.last_challenge.lower()
            if self.credential is None and not asked.startswith(b"password"):
                self._set(text, None, frame)
                return f"user name {text!r}"
            if self.credential is None:
                self._set(None, text, frame)
            else:
                self.credential.password = text
            return f"password {text!r}"
        if m == "CRAM-MD5":
            user, _, digest = data.decode("utf-8", "backslashreplace").rpartition(" ")
            self._set(user, None, frame)
            return f"user {user!r}, HMAC-MD5 digest {digest} (RFC 2195; open to offline guessing)"
        if m in ("XOAUTH2", "OAUTHBEARER"):
            user, token = _oauth(data)
            self._set(user, token, frame)
            return f"user {user!r}, bearer token {token!r}"
        if m == "NTLM" and data.startswith(b"NTLMSSP\0"):
            kind = data[8:12]
            if kind == b"\x03\0\0\0":
                domain, user, host = _ntlm_authenticate(data)
                name = f"{domain}\\{user}" if domain else user
                self._set(name, None, frame)
                return (
                    f"NTLM authenticate: user {name!r} on {host!r} (response hashes, no password)"
                )
            return "NTLM negotiate" if kind == b"\x01\0\0\0" else "NTLM message"
        return f'"{shown(data)}"'

    def initial(self, data: bytes | None, raw: str, frame: int) -> str:
        return self.response(data, raw, frame)

    def result(self, success: bool) -> None:
        if self.credential is not None:
            self.credential.success = success

    def _set(self, user: str | None, password: str | None, frame: int) -> None:
        if self.credential is None:
            self.credential = Credential(
                self.protocol, self.mechanism, user, password, frame, False, None, self.raw
            )
        else:
            if user is not None:
                self.credential.username = user
            if password is not None:
                self.credential.password = password


def _oauth(data: bytes) -> tuple[str, str]:
    """XOAUTH2: "user=" u ^A "auth=Bearer " token ^A ^A; OAUTHBEARER (RFC 7628 §3.1)."""
    user = token = ""
    for part in data.split(b"\x01"):
        text = part.decode("utf-8", "backslashreplace")
        if text.startswith("user="):
            user = text[5:]
        elif text.startswith("n,") and "a=" in text:
            user = text.split("a=", 1)[1].rstrip(",")
        elif text.lower().startswith("auth="):
            token = text[5:]
    return user, token


def _ntlm_authenticate(data: bytes) -> tuple[str, str, str]:
    """[MS-NLMP] §2.2.1.3: domain, user and workstation fields of an AUTHENTICATE."""

    def field(at: int, unicode: bool) -> str:
        if len(data) < at + 8:
            return ""
        length, _, offset = struct.unpack_from("<HHI", data, at)
        raw = data[offset : offset + length]
        return raw.decode("utf-16-le" if unicode else "latin-1", "replace")

    flags = struct.unpack_from("<I", data, 60)[0] if len(data) >= 64 else 1
    unicode = bool(flags & 1)
    return field(28, unicode), field(36, unicode), field(44, unicode)
