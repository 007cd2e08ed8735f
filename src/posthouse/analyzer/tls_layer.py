"""TLS inside a session: the handshake explained through `posthouse.proto.tls`, and,
with a key log, the decrypted bytes handed to the mail-protocol dissector.

The dissector of records and handshakes lives in `proto.tls` (`TLSObserver`); this
module turns its events into transcript lines and the session's `TlsInfo`. Should that
module be missing, records are still counted so the session says TLS was used.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from posthouse.analyzer.model import CLIENT, SERVER, Line, Session, TlsInfo


def _module() -> Any:
    """`posthouse.proto.tls` when it offers the observer API, else None."""
    try:
        from posthouse.proto import tls
    except ImportError:  # pragma: no cover - depends on the TLS dissector being present
        return None
    if hasattr(tls, "TLSObserver") and hasattr(tls, "KeyLog"):
        return tls
    return None


# RFC 8446 §5.1 / RFC 5246 §6.2.1: record content types.
_CONTENT = {20: "ChangeCipherSpec", 21: "Alert", 22: "Handshake", 23: "ApplicationData"}
_VERSIONS = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}
WEAK_VERSIONS = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1")


def load_keylog(path: str | None, embedded: bytes = b"") -> Any:
    """The key log to decrypt with: a file (--keylog) and/or secrets in a pcapng."""
    if path is None and not embedded:
        return None  # and the TLS dissector is imported only when a session needs it
    tls = _module()
    if tls is None:
        return None
    keylog = tls.KeyLog.load(path) if path is not None else tls.KeyLog.parse(embedded)
    if path is not None and embedded:
        keylog.merge(tls.KeyLog.parse(embedded))
    return keylog


def available() -> bool:
    return _module() is not None


class TlsLayer:
    """Feeds one connection's bytes (after STARTTLS, or from the first byte) to a
    `TLSObserver`; `inner(sender, plaintext, frame, time)` gets decrypted data."""

    def __init__(
        self,
        session: Session,
        keylog: Any,
        inner: Callable[[str, bytes, int, int], None] | None,
        how: str,
        frame: int,
    ) -> None:
        self.session = session
        self.inner = inner
        self.info = TlsInfo(how=how, start_frame=frame)
        session.tls = self.info
        tls = _module()
        self.observer = tls.TLSObserver(keylog) if tls is not None else None
        self.fed = {CLIENT: 0, SERVER: 0}
        self.marks: dict[str, tuple[list[int], list[tuple[int, int]]]] = {
            CLIENT: ([], []),
            SERVER: ([], []),
        }
        self.records = {CLIENT: _RecordCounter(), SERVER: _RecordCounter()}

    # -- input ------------------------------------------------------------------------

    def feed(self, sender: str, data: bytes, frame: int, time_ns: int) -> None:
        if not data:
            return
        offsets, where = self.marks[sender]
        offsets.append(self.fed[sender])
        where.append((frame, time_ns))
        self.fed[sender] += len(data)
        if self.observer is None:
            for text in self.records[sender].feed(data):
                self._line(sender, frame, time_ns, text)
            return
        try:
            events = self.observer.feed(sender == CLIENT, data)
        except Exception as exc:  # the dissector must never stop the analysis
            self.info.problems.append(f"TLS dissector failed: {exc!r}")
            self.observer = None
            return
        for event in events:
            self._event(sender, event)
        self._properties()

    def gap(self, sender: str, missing: int, frame: int, time_ns: int) -> None:
        self.fed[sender] += missing
        self._line(sender, frame, time_ns, f"[{missing} bytes missing from the capture]", "gap")
        self.session.gaps += 1
        if self.observer is not None:
            try:
                self.observer.gap(sender == CLIENT, missing)
            except Exception as exc:
                self.info.problems.append(f"TLS dissector failed: {exc!r}")
                self.observer = None

    def close(self, sender: str, frame: int, time_ns: int) -> None:
        pass

    def finish(self) -> None:
        if self.observer is not None:
            try:
                events = self.observer.finish()
            except Exception as exc:
                self.info.problems.append(f"TLS dissector failed: {exc!r}")
                events = []
            for event in events:
                self._event(CLIENT if event.from_client else SERVER, event)
        self._properties()

    # -- events ---------------------------------------------------------------------------

    def _where(self, sender: str, offset: int | None) -> tuple[int, int]:
        offsets, where = self.marks[sender]
        if not where:
            return 0, 0
        if offset is None:
            return where[-1]
        i = bisect_right(offsets, offset) - 1
        return where[max(i, 0)]

    def _line(self, sender: str, frame: int, ts: int, text: str, kind: str = "tls") -> Line:
        line = Line(frame, ts, sender, text, "", kind)
        self.session.lines.append(line)
        return line

    def _event(self, sender: str, event: Any) -> None:
        name = type(event).__name__
        frame, ts = self._where(sender, getattr(event, "offset", None))
        info = self.info
        if name == "ApplicationData":
            length = int(getattr(event, "length", 0) or 0)
            info.application_bytes[sender] += length
            plaintext = getattr(event, "plaintext", None)
            if plaintext is not None:
                info.decrypted = True
                if self.inner is not None and plaintext:
                    self.inner(sender, plaintext, frame, ts)
            else:
                self._merge_opaque(sender, frame, ts, length)
            return
        text, note = describe(event)
        if name == "Alert":
            info.alerts.append(text)
        elif name == "Problem":
            info.problems.append(text)
        elif name == "Certificate":
            info.certificates.extend(_certificates(event))
        elif name == "ClientHello":
            info.offered_suites = [_name(x) for x in getattr(event, "cipher_suites", ())]
            info.offered_versions = [
                _name(x) for x in getattr(event, "supported_versions", ()) or ()
            ] or [_name(event.legacy_version)]
            info.groups = [_name(x) for x in getattr(event, "supported_groups", ()) or ()]
            if getattr(event, "sni", None):
                info.sni = event.sni
        elif name == "ServerKeyExchange" and getattr(event, "named_curve", None) is not None:
            info.curve = _name(event.named_curve)
        elif name == "ServerHello" and getattr(event, "selected_group", None) is not None:
            info.curve = _name(event.selected_group)
        line = self._line(sender, frame, ts, text)
        line.note = note

    def _merge_opaque(self, sender: str, frame: int, ts: int, length: int) -> None:
        """Encrypted application data without a key: one line per run of records."""
        lines = self.session.lines
        last = lines[-1] if lines else None
        if last is not None and last.sender == sender and last.verb == "TLS-DATA":
            total = int(last.argument or 0) + length
            last.argument = str(total)
            last.text = f"[encrypted application data, {total} bytes]"
            return
        line = self._line(sender, frame, ts, f"[encrypted application data, {length} bytes]")
        line.verb, line.argument = "TLS-DATA", str(length)
        line.note = "unreadable without the session keys (--keylog)"

    def _properties(self) -> None:
        obs = self.observer
        if obs is None:
            return
        info = self.info
        version = getattr(obs, "version", None)
        if version:
            info.version = _name(version)
        suite = getattr(obs, "cipher_suite", None)
        if suite:
            info.cipher_suite = _name(suite)
            for attr in ("key_exchange", "authentication", "cipher", "hash"):
                value = getattr(suite, attr, None)
                if value:
                    setattr(info, attr, str(value))
            if getattr(suite, "tls13", False):
                # RFC 8446 §4.2.8: the key exchange is the key_share group; the
                # authentication is the certificate's signature.
                info.key_exchange = f"ECDHE/DHE ({info.curve})" if info.curve else "(EC)DHE"
                info.authentication = "certificate signature"
        sni = getattr(obs, "sni", None)
        if sni:
            info.sni = str(sni)
        alpn = getattr(obs, "alpn", None)
        if alpn:
            info.alpn = [alpn] if isinstance(alpn, str) else [str(a) for a in alpn]
        if getattr(obs, "decrypting", False):
            info.decrypted = True


def _name(value: Any) -> str:
    for attr in ("name", "iana_name"):
        got = getattr(value, attr, None)
        if isinstance(got, str) and got:
            return got
    return str(value)


def _names(values: Any) -> list[str]:
    if not values:
        return []
    return [_name(v) for v in values]


def describe(event: Any) -> tuple[str, str]:
    """A transcript line and its explanation for one TLS event."""
    name = type(event).__name__
    get = event.__dict__.get if hasattr(event, "__dict__") else None

    def attr(*names: str) -> Any:
        for n in names:
            v = getattr(event, n, None) if get is None else get(n, getattr(event, n, None))
            if v not in (None, "", [], ()):
                return v
        return None

    if name == "ClientHello":
        sni = attr("sni", "server_name")
        suites = _names(attr("cipher_suites", "suites"))
        versions = _names(attr("supported_versions", "versions"))
        if not versions and getattr(event, "legacy_version", None) is not None:
            versions = [f"up to {_name(event.legacy_version)}"]
        alpn = attr("alpn")
        parts = ["ClientHello"]
        if sni:
            parts.append(f"SNI {sni}")
        if versions:
            parts.append("versions " + ", ".join(versions))
        if suites:
            parts.append(f"{len(suites)} cipher suites offered")
        if alpn:
            parts.append("ALPN " + ", ".join(map(str, alpn)))
        return " · ".join(parts), "client proposes versions, cipher suites and extensions"
    if name == "ServerHello":
        version = attr("version", "selected_version")
        suite = attr("cipher_suite", "suite")
        text = "ServerHello"
        if version:
            text += f" · {_name(version)}"
        if suite:
            text += f" · {_name(suite)}"
            group = attr("selected_group")
            if getattr(suite, "tls13", False):
                # RFC 8446 §4.1.3: the suite names only the AEAD and the hash.
                kx = f"key exchange {_name(group)}" if group else "key exchange by key_share"
                text += f" ({suite.cipher} / {suite.hash}; {kx})"
            else:
                pieces = [
                    str(getattr(suite, a, "") or "")
                    for a in ("key_exchange", "authentication", "cipher", "hash")
                ]
                if all(pieces):
                    text += " (" + " / ".join(pieces) + ")"
        return text, "server chooses the version and the cipher suite"
    if name == "Certificate":
        certs = _certificates(event)
        if certs:
            first = certs[0]
            return (
                f"Certificate · {first.get('subject', '?')} (issuer {first.get('issuer', '?')})",
                f"{len(certs)} certificate(s); valid {first.get('not_before', '?')} to "
                f"{first.get('not_after', '?')}",
            )
        return "Certificate", "the server's certificate chain"
    if name == "ServerKeyExchange":
        curve = attr("curve", "group", "named_curve")
        return (
            "ServerKeyExchange" + (f" · {_name(curve)}" if curve else ""),
            "server's ephemeral key-exchange parameters",
        )
    if name == "ChangeCipherSpec":
        return "ChangeCipherSpec", "from here on this side encrypts"
    if name == "Alert":
        level = attr("level")
        desc = attr("description")
        text = "Alert" + (f" {_name(level)}" if level else "") + (f" {_name(desc)}" if desc else "")
        return text, "TLS alert (RFC 8446 §6)"
    if name == "Finished":
        return "Finished", "handshake complete for this side"
    if name == "EncryptedHandshake":
        length = attr("length")
        return (
            f"[encrypted handshake message{f', {length} bytes' if length else ''}]",
            "Finished, already under the new keys (RFC 5246 §7.4.9)",
        )
    if name == "EncryptedRecord":
        length = attr("length")
        return (
            f"[encrypted record{f', {length} bytes' if length else ''}]",
            "TLS 1.3 protects the rest of the handshake and the data (RFC 8446 §5.2)",
        )
    if name == "Problem":
        return f"TLS problem: {attr('message', 'text', 'reason') or event}", ""
    if name == "HandshakeMessage":
        kind = attr("msg_type")
        return (_name(kind) if kind else "handshake message"), ""
    if name == "EncryptedExtensions":
        alpn = attr("alpn")
        return "EncryptedExtensions" + (f" · ALPN {alpn}" if alpn else ""), "TLS 1.3 extensions"
    if name == "KeyUpdate":
        return "KeyUpdate", "new traffic keys (RFC 8446 §4.6.3)"
    return name, ""


def _certificates(event: Any) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    certs = getattr(event, "certificates", None) or getattr(event, "chain", None) or []
    for cert in certs:
        entry = {}
        for key in ("subject", "issuer", "not_before", "not_after"):
            value = getattr(cert, key, None)
            if value is not None:
                entry[key] = str(value)
        out.append(entry)
    if not out:
        entry = {}
        for key in ("subject", "issuer", "not_before", "not_after"):
            value = getattr(event, key, None)
            if value is not None:
                entry[key] = str(value)
        if entry:
            out.append(entry)
    return out


class _RecordCounter:
    """Record framing only (RFC 8446 §5.1), for when no TLS dissector is present."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[str]:
        self.buf += data
        out: list[str] = []
        while len(self.buf) >= 5:
            kind = self.buf[0]
            version = int.from_bytes(self.buf[1:3], "big")
            length = int.from_bytes(self.buf[3:5], "big")
            if kind not in _CONTENT:
                out.append("[not a TLS record]")
                self.buf.clear()
                break
            if len(self.buf) < 5 + length:
                break
            out.append(
                f"TLS {_CONTENT[kind]} record, {_VERSIONS.get(version, hex(version))}, "
                f"{length} bytes"
            )
            del self.buf[: 5 + length]
        return out
