"""TLS record and handshake dissector, with key-log decryption (sans-IO).

`TLSObserver` takes both directions of a connection and reports `TLSEvent`s; with a
`KeyLog` (NSS key log format) it decrypts TLS 1.3 and TLS 1.0-1.2 sessions (AEAD, CBC,
RC4) so the application data inside can be dissected in turn::

    observer = TLSObserver(KeyLog.load("keys.log"))
    for event in observer.feed(True, client_bytes):   # then server bytes, and so on,
        ...                                           # in capture order
    observer.gap(False, missing=1460)                 # bytes lost in one direction
    events = observer.finish()                        # at the end of the connection
    observer.version, observer.cipher_suite.description, observer.decrypting

`ApplicationData.plaintext` is set, in order, when a record was decrypted.
"""

from __future__ import annotations

from posthouse.proto.tls.events import (
    Alert,
    ApplicationData,
    Certificate,
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
from posthouse.proto.tls.keylog import KeyLog
from posthouse.proto.tls.observer import TLSObserver
from posthouse.proto.tls.registries import Code
from posthouse.proto.tls.suites import Suite, suite
from posthouse.proto.tls.weaknesses import suite_weaknesses, version_weakness

__all__ = [
    "Alert",
    "ApplicationData",
    "Certificate",
    "CertificateInfo",
    "ChangeCipherSpec",
    "ClientHello",
    "Code",
    "EncryptedExtensions",
    "EncryptedRecord",
    "Finished",
    "HandshakeEncrypted",
    "HandshakeMessage",
    "Heartbeat",
    "KeyLog",
    "KeyUpdate",
    "Problem",
    "ServerHello",
    "ServerKeyExchange",
    "Suite",
    "TLSEvent",
    "TLSObserver",
    "suite",
    "suite_weaknesses",
    "version_weakness",
]
