"""TLSObserver: both directions of one TLS connection in, events out (sans-IO).

Feed each direction's bytes in order, in any split, both directions in capture order;
`gap()` says bytes were lost; `finish()` at the end reports what was still waiting.
With a key log, records are decrypted: TLS 1.3 with the handshake and application
traffic secrets (RFC 8446 §7), TLS 1.0-1.2 AEAD, CBC and RC4 suites with the master
secret (RFC 5246 §6.3). Malformed input yields `Problem` events, never an exception.
"""

from __future__ import annotations

from posthouse.proto.tls import keylog as kl
from posthouse.proto.tls import registries as reg
from posthouse.proto.tls.decrypt import (
    DecryptError,
    RecordProtection,
    Tls13Protection,
    tls12_protections,
    unsupported_reason,
)
from posthouse.proto.tls.events import (
    Alert,
    ApplicationData,
    CertificateInfo,
    ChangeCipherSpec,
    ClientHello,
    EncryptedExtensions,
    EncryptedRecord,
    Finished,
    HandshakeEncrypted,
    HandshakeMessage,
    Heartbeat,
    KeyUpdate,
    Problem,
    ServerHello,
    ServerKeyExchange,
    TLSEvent,
)
from posthouse.proto.tls.handshake import (
    DecodeError,
    HandshakeBuffer,
    Message,
    decompress_certificate,
    parse_certificate,
    parse_client_hello,
    parse_encrypted_extensions,
    parse_server_hello,
    parse_server_key_exchange,
    parse_sslv2_client_hello,
    parse_sslv2_server_hello,
)
from posthouse.proto.tls.keylog import KeyLog
from posthouse.proto.tls.records import Lost, Record, RecordReader
from posthouse.proto.tls.suites import Suite

_HOLD_RECORDS = 64  # records kept while waiting for the other direction's hello
_HOLD_BYTES = 1 << 20
_SEQ_SEARCH = 256  # after a gap, how many lost records to try skipping


class _Side:
    """The state of one direction."""

    def __init__(self, from_client: bool) -> None:
        self.from_client = from_client
        self.records = RecordReader()
        self.handshake = HandshakeBuffer()
        self.ccs = False  # TLS ≤ 1.2: ChangeCipherSpec seen, records now protected
        self.protection: RecordProtection | None = None
        self.candidates: list[RecordProtection] = []  # TLS 1.3: the next keys, in order
        self.armed = False  # keys were looked up for this direction
        self.after_gap = False
        self.failures = 0
        self.successes = 0
        self.held: list[Record] = []
        self.held_bytes = 0
        self.hold_given_up = False  # the other hello never came: stop waiting for it
        self.notes: list[TLSEvent] = []  # problems to report with the next events
        self.stopped = False  # SSL 2.0 session: nothing more to dissect
        self.rekey = False  # TLS ≤ 1.2 renegotiation: new keys from the next CCS
        self.sent_protected = False  # TLS 1.3: a protected record after the ServerHello


class TLSObserver:
    """Dissects (and with a key log, decrypts) one TLS connection."""

    def __init__(self, keylog: KeyLog | None = None) -> None:
        self._keylog = keylog
        self._sides = {True: _Side(True), False: _Side(False)}
        self.client_hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None  # the final one, not a HelloRetryRequest
        self.hello_retry_request: ServerHello | None = None
        self.encrypted_extensions: EncryptedExtensions | None = None
        self.certificates: tuple[CertificateInfo, ...] = ()  # the server's chain, when seen
        self.server_key_exchange: ServerKeyExchange | None = None
        self._tls12_keys: tuple[RecordProtection, RecordProtection] | None = None
        self._unsupported_reported = False

    # --- properties -----------------------------------------------------------------

    @property
    def version(self) -> str | None:
        """Negotiated version, e.g. "TLS 1.3"; None before the ServerHello."""
        if self.server_hello is not None:
            return self.server_hello.version.name
        if self.hello_retry_request is not None:
            return self.hello_retry_request.version.name
        return None

    @property
    def cipher_suite(self) -> Suite | None:
        return self.server_hello.cipher_suite if self.server_hello else None

    @property
    def sni(self) -> str | None:
        return self.client_hello.sni if self.client_hello else None

    @property
    def alpn(self) -> str | None:
        """The protocol the server selected (ServerHello, or EncryptedExtensions in 1.3)."""
        if self.server_hello is not None and self.server_hello.alpn:
            return self.server_hello.alpn
        if self.encrypted_extensions is not None:
            return self.encrypted_extensions.alpn
        return None

    @property
    def decrypting(self) -> bool:
        """The key log has this session's secrets, and records decrypt with them."""
        sides = self._sides.values()
        if any(s.successes for s in sides):
            return True
        secrets = self._secrets()
        if any(s.failures for s in sides) or not secrets or self.server_hello is None:
            return False
        if self.tls13:
            return any(s.protection or s.candidates for s in sides)
        version = self.server_hello.version.value
        chosen = self.server_hello.cipher_suite
        return kl.CLIENT_RANDOM in secrets and unsupported_reason(chosen, version) is None

    @property
    def tls13(self) -> bool:
        hello = self.server_hello or self.hello_retry_request
        return hello is not None and reg.is_tls13(hello.version.value)

    # --- the three verbs ------------------------------------------------------------

    def feed(self, from_client: bool, data: bytes) -> list[TLSEvent]:
        side = self._sides[from_client]
        out: list[TLSEvent] = list(side.notes)
        side.notes.clear()
        if side.stopped or not data:
            return out
        for item in side.records.feed(data):
            if isinstance(item, Lost):
                out.append(self._lost(side, item))
            else:
                self._record(side, item, out)
        return out

    def gap(self, from_client: bool, missing: int | None = None) -> None:
        """Bytes of that direction were lost (`missing` of them, when known).

        The partial record is dropped, the reader looks for the next record header, and
        decryption continues by trying the sequence numbers of the lost records.
        """
        side = self._sides[from_client]
        at = side.records.position
        side.records.gap(missing)
        side.handshake.clear()
        side.after_gap = True
        what = f"{missing} bytes" if missing is not None else "bytes"
        side.notes.append(Problem(from_client, at, f"{what} lost; looking for the next record"))

    def finish(self) -> list[TLSEvent]:
        """End of capture: report records still held back waiting for keys."""
        out: list[TLSEvent] = []
        for side in self._sides.values():
            out.extend(side.notes)
            side.notes.clear()
            self._release(side, out, force=True)
            if side.handshake.pending:
                out.append(
                    Problem(
                        side.from_client,
                        side.records.position,
                        "stream ends inside a handshake message",
                    )
                )
            if side.records.buffered:
                out.append(
                    Problem(
                        side.from_client,
                        side.records.position - side.records.buffered,
                        f"stream ends inside a record ({side.records.buffered} bytes)",
                    )
                )
        return out

    # --- records --------------------------------------------------------------------

    def _lost(self, side: _Side, lost: Lost) -> Problem:
        side.handshake.clear()
        if lost.reason == "resynchronised":
            return Problem(
                side.from_client, lost.offset, f"resynchronised after skipping {lost.skipped} bytes"
            )
        return Problem(side.from_client, lost.offset, f"{lost.reason}; skipping to the next record")

    def _record(self, side: _Side, rec: Record, out: list[TLSEvent]) -> None:
        if rec.sslv2:
            self._sslv2(side, rec, out)
            return
        if side.held or self._should_hold(side, rec):
            side.held.append(rec)
            side.held_bytes += len(rec.fragment)
            if len(side.held) > _HOLD_RECORDS or side.held_bytes > _HOLD_BYTES:
                side.hold_given_up = True
                self._release(side, out, force=True)
            return
        self._process(side, rec, out)

    def _sslv2(self, side: _Side, rec: Record, out: list[TLSEvent]) -> None:
        try:
            if side.from_client:
                hello = parse_sslv2_client_hello(rec.fragment, rec.offset)
                self.client_hello = hello
                out.append(hello)
            else:
                server = parse_sslv2_server_hello(rec.fragment, rec.offset)
                self.server_hello = server
                out.append(server)
                for s in self._sides.values():
                    s.stopped = True
                out.append(Problem(False, rec.offset, "SSL 2.0 session: not dissected further"))
        except DecodeError as exc:
            out.append(Problem(side.from_client, rec.offset, f"SSL 2.0 hello: {exc}"))

    def _protected(self, side: _Side, rec: Record) -> bool:
        if rec.content_type == reg.CHANGE_CIPHER_SPEC:
            return False
        if self.server_hello is not None:
            if self.tls13:
                # RFC 8446 §5.2: every protected record is application_data on the wire.
                return rec.content_type == reg.APPLICATION_DATA
            return side.ccs
        return side.ccs or rec.content_type == reg.APPLICATION_DATA

    def _should_hold(self, side: _Side, rec: Record) -> bool:
        """Hold protected records whose keys depend on a hello not yet seen."""
        if not self._keylog or side.hold_given_up or not self._protected(side, rec):
            return False
        if side.from_client:
            hello = self.client_hello
            return hello is not None and self.server_hello is None and hello.random in self._keylog
        return self.server_hello is not None and self.client_hello is None

    def _release(self, side: _Side, out: list[TLSEvent], force: bool = False) -> None:
        while side.held:
            if not force and self._should_hold(side, side.held[0]):
                return
            rec = side.held.pop(0)
            side.held_bytes -= len(rec.fragment)
            self._process(side, rec, out)

    def _process(self, side: _Side, rec: Record, out: list[TLSEvent]) -> None:
        fc, off = side.from_client, rec.offset
        if rec.content_type == reg.CHANGE_CIPHER_SPEC:
            out.append(ChangeCipherSpec(fc, off))
            if not self.tls13:  # RFC 8446 §5: in TLS 1.3 it is only for middleboxes
                side.ccs = True
                if side.rekey:  # RFC 5246 §7.1: the renegotiated keys start here
                    side.rekey, side.armed, side.protection = False, False, None
            return
        content_type, payload, decrypted = rec.content_type, rec.fragment, False
        if self._protected(side, rec):
            opened = self._open(side, rec, out)
            if opened is None:
                self._opaque(side, rec, out)
            else:
                (content_type, payload), decrypted = opened, True
                self._content(side, content_type, payload, rec, decrypted, out)
            if self.server_hello is not None:
                side.sent_protected = True
            return
        self._content(side, content_type, payload, rec, decrypted, out)

    def _opaque(self, side: _Side, rec: Record, out: list[TLSEvent]) -> None:
        fc, off, n = side.from_client, rec.offset, len(rec.fragment)
        if self.tls13 and rec.content_type == reg.APPLICATION_DATA:
            # Without keys, tell handshake from data by place (RFC 8446 §2, figure 1):
            # the server's flight ends when the client answers with its Finished.
            client_answered = self._sides[True].sent_protected
            if self.server_hello is not None and not client_answered:
                out.append(HandshakeEncrypted(fc, off, n))
            else:  # also 0-RTT data, before the ServerHello (RFC 8446 §2.3)
                out.append(ApplicationData(fc, off, n))
        elif self.tls13:
            out.append(EncryptedRecord(fc, off, n, reg.content_type(rec.content_type)))
        elif rec.content_type == reg.HANDSHAKE:
            out.append(HandshakeEncrypted(fc, off, n))
        elif rec.content_type == reg.ALERT:
            out.append(Alert(fc, off, None, None, encrypted=True))
        elif rec.content_type == reg.APPLICATION_DATA:
            out.append(ApplicationData(fc, off, n))
        else:
            out.append(EncryptedRecord(fc, off, n, reg.content_type(rec.content_type)))

    def _content(
        self,
        side: _Side,
        content_type: int,
        payload: bytes,
        rec: Record,
        decrypted: bool,
        out: list[TLSEvent],
    ) -> None:
        fc, off = side.from_client, rec.offset
        if content_type == reg.HANDSHAKE:
            try:
                messages = side.handshake.feed(payload, off)
            except DecodeError as exc:
                out.append(Problem(fc, off, str(exc)))
                return
            for msg in messages:
                try:
                    self._message(side, msg, decrypted, out)
                except DecodeError as exc:
                    name = reg.handshake_type(msg.msg_type).name
                    out.append(Problem(fc, msg.offset, f"malformed {name}: {exc}"))
        elif content_type == reg.ALERT:
            # RFC 5246 §7.2: level (1) and description (1); several may share a record.
            for i in range(0, len(payload) - 1, 2):
                level, desc = reg.alert_level(payload[i]), reg.alert_description(payload[i + 1])
                out.append(Alert(fc, off, level, desc, encrypted=decrypted, decrypted=decrypted))
            if len(payload) % 2:
                out.append(Problem(fc, off, f"alert record of {len(payload)} bytes"))
        elif content_type == reg.APPLICATION_DATA:
            out.append(ApplicationData(fc, off, len(rec.fragment), payload if decrypted else None))
        elif content_type == reg.HEARTBEAT:
            out.append(Heartbeat(fc, off, len(rec.fragment)))
        else:
            name = reg.content_type(content_type).name
            out.append(Problem(fc, off, f"record of content type {name}"))

    # --- handshake messages -----------------------------------------------------------

    def _message(self, side: _Side, msg: Message, decrypted: bool, out: list[TLSEvent]) -> None:
        fc, off, body, t = side.from_client, msg.offset, msg.body, msg.msg_type
        if t == reg.CLIENT_HELLO and fc:
            hello = parse_client_hello(body, off)
            self.client_hello = hello
            out.append(hello)
            if self.tls13 and not self._sides[False].armed:
                self._arm_tls13()  # the server's direction was fed first
            self._release(self._sides[False], out)
        elif t == reg.SERVER_HELLO and not fc:
            server = parse_server_hello(body, off)
            out.append(server)
            if server.hello_retry_request:
                self.hello_retry_request = server
            else:
                if self.server_hello is not None and not self.tls13:
                    # RFC 5246 §7.4.1: a renegotiation; new keys after each side's CCS
                    self._tls12_keys = None
                    for s in self._sides.values():
                        s.rekey = True
                self.server_hello = server
                if self.tls13:
                    self._arm_tls13()
            self._release(self._sides[True], out)
        elif t == reg.CERTIFICATE:
            cert = parse_certificate(body, off, fc, self.tls13, decrypted)
            if not fc:
                self.certificates = cert.certificates
            out.append(cert)
        elif t == reg.COMPRESSED_CERTIFICATE and self.tls13:
            inner = decompress_certificate(body)
            if inner is None:
                out.append(HandshakeMessage(fc, off, reg.handshake_type(t), len(body), decrypted))
            else:
                cert = parse_certificate(inner, off, fc, True, decrypted)
                if not fc:
                    self.certificates = cert.certificates
                out.append(cert)
        elif t == reg.SERVER_KEY_EXCHANGE and not fc:
            version = self.server_hello.version.value if self.server_hello else reg.TLS_1_2
            ske = parse_server_key_exchange(body, off, self.cipher_suite, version)
            self.server_key_exchange = ske
            out.append(ske)
        elif t == reg.ENCRYPTED_EXTENSIONS:
            ee = parse_encrypted_extensions(body, off, fc)
            self.encrypted_extensions = ee
            out.append(ee)
        elif t == reg.FINISHED:
            out.append(Finished(fc, off, body, decrypted))
            if self.tls13 and decrypted and side.candidates:
                # RFC 8446 §7.1: application traffic secrets follow the Finished.
                side.protection = side.candidates.pop(0)
        elif t == reg.KEY_UPDATE and self.tls13:
            requested = body[:1] == b"\x01"  # RFC 8446 §4.6.3: update_requested(1)
            out.append(KeyUpdate(fc, off, requested))
            if isinstance(side.protection, Tls13Protection):
                side.protection = side.protection.next_generation()
        elif t == reg.END_OF_EARLY_DATA and fc:
            out.append(HandshakeMessage(fc, off, reg.handshake_type(t), len(body), decrypted))
            if side.candidates:  # RFC 8446 §4.5: handshake keys from here on
                side.protection = side.candidates.pop(0)
        else:
            out.append(HandshakeMessage(fc, off, reg.handshake_type(t), len(body), decrypted))

    # --- keys -------------------------------------------------------------------------

    def _secrets(self) -> dict[str, bytes]:
        if self._keylog is None or self.client_hello is None:
            return {}
        return self._keylog.secrets(self.client_hello.random)

    def _supported(self, chosen: Suite, side: _Side, out: list[TLSEvent] | None) -> bool:
        version = self.server_hello.version.value if self.server_hello else reg.TLS_1_2
        reason = unsupported_reason(chosen, version)
        if reason is None:
            return True
        if not self._unsupported_reported:
            self._unsupported_reported = True
            problem = Problem(side.from_client, side.records.position, reason)
            if out is None:
                side.notes.append(problem)
            else:
                out.append(problem)
        return False

    def _arm_tls13(self) -> None:
        secrets = self._secrets()
        chosen = self.cipher_suite
        if not secrets or chosen is None:
            return
        if not self._supported(chosen, self._sides[False], None):
            return
        client_labels = [kl.CLIENT_HANDSHAKE_TRAFFIC_SECRET, kl.CLIENT_TRAFFIC_SECRET_0]
        if self.client_hello is not None and self.client_hello.early_data:
            client_labels.insert(0, kl.CLIENT_EARLY_TRAFFIC_SECRET)
        server_labels = [kl.SERVER_HANDSHAKE_TRAFFIC_SECRET, kl.SERVER_TRAFFIC_SECRET_0]
        plan = ((self._sides[True], client_labels), (self._sides[False], server_labels))
        for side, labels in plan:
            keys: list[RecordProtection] = [
                Tls13Protection(chosen, secrets[label]) for label in labels if label in secrets
            ]
            side.armed = True
            side.protection = keys[0] if keys else None
            side.candidates = keys[1:]

    def _arm_tls12(self, side: _Side, out: list[TLSEvent]) -> None:
        side.armed = True
        secrets = self._secrets()
        master = secrets.get(kl.CLIENT_RANDOM)
        chosen = self.cipher_suite
        if master is None or chosen is None or self.server_hello is None:
            return
        if self.client_hello is None or not self._supported(chosen, side, out):
            return
        if self._tls12_keys is None:
            # RFC 7366 §2: encrypt-then-MAC applies when the server echoes the extension.
            etm = any(e.value == reg.EXT_ENCRYPT_THEN_MAC for e in self.server_hello.extensions)
            try:
                self._tls12_keys = tls12_protections(
                    chosen,
                    self.server_hello.version.value,
                    master,
                    self.client_hello.random,
                    self.server_hello.random,
                    etm,
                )
            except DecryptError as exc:
                out.append(Problem(side.from_client, side.records.position, str(exc)))
                return
        side.protection = self._tls12_keys[0 if side.from_client else 1]

    def _open(self, side: _Side, rec: Record, out: list[TLSEvent]) -> tuple[int, bytes] | None:
        if not self.tls13 and side.ccs and not side.armed:
            self._arm_tls12(side, out)
        if side.protection is None and side.candidates:
            side.protection = side.candidates.pop(0)
        if side.protection is None:
            return None
        args = (rec.content_type, rec.version, rec.fragment)
        try:
            result = side.protection.open(*args)
            side.successes += 1
            return result
        except DecryptError as first:
            error = first
        # TLS 1.3: a later key may already apply (rejected early data, unseen Finished).
        for i, candidate in enumerate(side.candidates):
            try:
                result = candidate.open(*args)
            except DecryptError:
                continue
            side.protection, side.candidates = candidate, side.candidates[i + 1 :]
            side.successes += 1
            return result
        if side.after_gap and self._skip_lost_records(side.protection, args):
            side.after_gap = False
            side.successes += 1
            return side.protection.open(*args)
        side.failures += 1
        if side.failures == 1:
            out.append(Problem(side.from_client, rec.offset, f"cannot decrypt record: {error}"))
        return None

    @staticmethod
    def _skip_lost_records(protection: RecordProtection, args: tuple[int, int, bytes]) -> bool:
        """After a gap: find the sequence number that opens this record (the lost records
        used the ones in between). Leaves `seq` ready to open the record again."""
        start = protection.seq
        for seq in range(start + 1, start + _SEQ_SEARCH):
            protection.seq = seq
            try:
                protection.open(*args)
            except DecryptError:
                continue
            protection.seq = seq
            return True
        protection.seq = start
        return False
