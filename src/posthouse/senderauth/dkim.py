"""DKIM (RFC 6376): sign outbound mail, verify inbound signatures, make keys.

dkimpy parses and checks signature and key records and lays out the fields it signs;
the message is parsed and canonicalised by `canonical` (dkimpy's bytes, found faster)
and the RSA and Ed25519 operations are OpenSSL's through `cryptography` — dkimpy's RSA
is pure Python and costs more than everything else about a message.  Its key lookups
are synchronous, so verification fetches each signature's key record through our async
`Resolver` first: dkimpy never touches the network and every DNS question goes through
the same resolver as SPF and DMARC.  Ed25519 verification (RFC 8463) uses PyNaCl,
dkimpy's `ed25519` extra.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import dkim
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.util import InvalidTagValueList, parse_tag_value

from posthouse.resolver import NXDomain, Resolver, ResolverError, TempFail
from posthouse.senderauth.canonical import canonical_body, canonical_headers, parse

log = logging.getLogger(__name__)

KEY_KINDS = ("rsa", "ed25519")
RSA_BITS = 2048  # RFC 8301 §3.2: at least 1024, 2048 recommended for signers
MIN_KEY_BITS = 1024  # RFC 8301 §3.2: verifiers refuse smaller RSA keys
MAX_SIGNATURES = 5  # verified per message; more is a cost, not more assurance
THREAD_THRESHOLD = 256 * 1024  # messages larger than this are hashed off the event loop
T = TypeVar("T")

# RFC 6376 §5.4.1: the fields a signature should cover, when present.  From is signed
# once more than it occurs (§5.4.2 "oversigning") so no second From can be added.
SIGNED_HEADERS = (
    "from",
    "reply-to",
    "sender",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-language",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
)


class DKIMKeyError(ValueError):
    """A private key that cannot sign."""


@dataclass(frozen=True)
class DKIMResult:
    result: str  # RFC 8601 §2.7.1: pass, fail, neutral, temperror, permerror
    domain: str = ""  # d=
    selector: str = ""  # s=
    algorithm: str = ""  # a=
    identity: str = ""  # i=
    signature: str = ""  # the start of b=, for header.b (RFC 6008)
    reason: str = ""

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


# -- keys ----------------------------------------------------------------------------------


def generate_key(kind: str = "rsa") -> tuple[bytes, str]:
    """A new signing key: (private key PEM, the TXT value to publish at
    <selector>._domainkey.<domain>)."""
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, what dkimpy reads
            serialization.NoEncryption(),
        )
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # RFC 6376 §3.6.1: p= is the base64 of the DER SubjectPublicKeyInfo
        return pem, f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}"
    if kind == "ed25519":
        ekey = ed25519.Ed25519PrivateKey.generate()
        pem = ekey.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        raw = ekey.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        # RFC 8463 §4: p= is the base64 of the raw 32-octet public key
        return pem, f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    raise ValueError(f"key kind: one of {', '.join(KEY_KINDS)}")


def key_kind(private_pem: bytes) -> str:
    """ "rsa" or "ed25519"; DKIMKeyError for anything else."""
    key = _load_private(private_pem)
    return "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ed25519"


def public_record(private_pem: bytes) -> str:
    """The TXT value to publish for a stored private key."""
    key = _load_private(private_pem)
    if isinstance(key, rsa.RSAPrivateKey):
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}"
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"


def _load_private(pem: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise DKIMKeyError(f"unreadable private key: {e}") from None
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        return key
    raise DKIMKeyError(f"unsupported key type {type(key).__name__}")


# dkimpy's RE_BTAG (a b= tag and its value, RFC 6376 §3.5) rewritten to match the same
# spans faster: its folding white space `(?:(?:\s*\r?\n)?\s+)?` matches any run of
# white space, so `(?:FWS[a-zA-Z0-9+/=])*` takes the longest run of white space and
# base64 that ends in base64, which one character class and a step back find without
# a repetition per character (a substitution on a 2048-bit signature cost ~60 µs).
_BTAG = re.compile(rb"([;\s]b\s*=)(?:[\sa-zA-Z0-9+/=]*[a-zA-Z0-9+/=])?(?:\r?\n\Z)?")


def hash_headers(
    hasher: Any,
    algorithm: bytes,
    headers: list[Any],
    include_headers: list[bytes],
    sig_header: tuple[bytes, bytes],
) -> list[Any]:
    """`dkim.hash_headers`: the signed fields of the canonical `headers`, then the
    signature field with an empty b= and no final CRLF (RFC 6376 §3.7); returns the
    signed fields."""
    signed: list[Any] = dkim.select_headers(headers, include_headers)
    ((name, value),) = canonical_headers(
        [(sig_header[0], _BTAG.sub(b"\\1", sig_header[1]))], algorithm
    )
    for field_name, field_value in [*signed, (name, value.rstrip())]:
        hasher.update(field_name)
        hasher.update(b":")
        hasher.update(field_value)
    return signed


# -- signing -------------------------------------------------------------------------------

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
_SHOULD_NOT_SIGN = frozenset(dkim.DKIM.SHOULD_NOT)  # Received, Return-Path, ...
_PRIVATE_KEYS_KEPT = 32
_private_keys: dict[bytes, PrivateKey] = {}


def load_private_key(private_pem: bytes) -> PrivateKey:
    """The key of a PEM file, parsed once: loading an RSA key checks it, which costs
    far more than a signature."""
    key = _private_keys.get(private_pem)
    if key is None:
        key = _load_private(private_pem)
        if len(_private_keys) >= _PRIVATE_KEYS_KEPT:
            _private_keys.clear()
        _private_keys[private_pem] = key
    return key


def signature_field(
    raw: bytes,
    *,
    domain: str,
    selector: str,
    key: PrivateKey,
    headers: Iterable[str] = SIGNED_HEADERS,
    now: float | None = None,
) -> bytes:
    """The DKIM-Signature header field (ending in CRLF) to prepend to `raw`:
    relaxed/relaxed (RFC 6376 §3.4.2, §3.4.4), From signed once more than it occurs.

    The same field dkimpy's `DKIM.sign` lays out, byte for byte; the message is parsed
    and canonicalised by `canonical` and the signature made by OpenSSL."""
    message_headers, body = parse(raw)
    present = {name.lower() for name, _value in message_headers}
    include = [h.lower().encode("ascii") for h in headers]
    include = [h for h in include if h in present]
    if b"from" not in include:
        raise ValueError("a message without From cannot be signed (RFC 6376 §5.4)")
    include.append(b"from")  # RFC 6376 §8.15: an added From would break the signature
    refused = _SHOULD_NOT_SIGN.intersection(include)
    if refused:
        name = sorted(refused)[0]
        raise DKIMKeyError(f"signing failed: The {name!r} header field SHOULD NOT be signed")
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = b"rsa-sha256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = b"ed25519-sha256"  # RFC 8463
    else:
        raise DKIMKeyError(f"unsupported key type {type(key).__name__}")
    sdid = domain.encode("ascii")
    bodyhash = base64.b64encode(hashlib.sha256(canonical_body(body, b"relaxed")).digest())
    fields = [
        (b"v", b"1"),
        (b"a", algorithm),
        (b"c", b"relaxed/relaxed"),
        (b"d", sdid),
        (b"i", b"@" + sdid),
        (b"q", b"dns/txt"),
        (b"s", selector.encode("ascii")),
        (b"t", str(int(time.time() if now is None else now)).encode("ascii")),
        (b"h", b" : ".join(include)),
        (b"bh", bodyhash),
        (b"b", b"0" * 60),  # a placeholder, so b= folds onto a line of its own
    ]
    value = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=14, linesep=b"\r\n")
    value = _BTAG.sub(b"\\1", value)  # RFC 6376 §3.7: hashed with an empty b=
    hasher = dkim.HashThrough(hashlib.sha256(), False)
    relaxed = canonical_headers(message_headers, b"relaxed")
    hash_headers(hasher, b"relaxed", relaxed, include, (b"DKIM-Signature", b" " + value))
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(hasher.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    else:
        signature = key.sign(hasher.digest())  # RFC 8463 §3: Ed25519 over the SHA-256 hash
    fields[-1] = (b"b", base64.b64encode(signature))
    value = b"; ".join(b"=".join(f) for f in fields) + b"\r\n"
    return b"DKIM-Signature: " + dkim.fold(value, namelen=14, linesep=b"\r\n")


def sign(
    raw: bytes,
    *,
    domain: str,
    selector: str,
    private_pem: bytes,
    headers: Iterable[str] = SIGNED_HEADERS,
) -> bytes:
    """The DKIM-Signature header field (ending in CRLF) to prepend to `raw`;
    relaxed/relaxed canonicalization (RFC 6376 §3.4.2, §3.4.4)."""
    key = load_private_key(private_pem)
    return signature_field(raw, domain=domain, selector=selector, key=key, headers=headers)


def sign_message(raw: bytes, *, domain: str, selector: str, private_pem: bytes) -> bytes:
    """`raw` with its DKIM-Signature prepended."""
    return sign(raw, domain=domain, selector=selector, private_pem=private_pem) + raw


# -- verifying -----------------------------------------------------------------------------


def _text(tags: dict[bytes, bytes], key: bytes) -> str:
    return tags.get(key, b"").decode("ascii", "replace").strip()


def _signature_tags(value: bytes) -> dict[bytes, bytes] | None:
    try:
        tags: dict[bytes, bytes] = parse_tag_value(value)
    except (InvalidTagValueList, ValueError, IndexError):
        return None
    return tags


async def _fetch_key(resolver: Resolver, name: str) -> tuple[bytes | None, str, str]:
    """(record, result if it cannot be had, reason)."""
    try:
        records = await resolver.txt(name)
    except NXDomain:
        return None, "permerror", f"no key at {name}"
    except TempFail as e:
        return None, "temperror", f"key lookup failed: {e}"
    except ResolverError as e:
        return None, "permerror", f"key lookup: {e}"
    except Exception as e:  # a resolver fault is a temporary failure, never a crash
        return None, "temperror", f"key lookup failed: {e!r}"
    if not records:
        return None, "permerror", f"no key at {name}"
    return records[0], "", ""


async def verify(resolver: Resolver, raw: bytes) -> list[DKIMResult]:
    """One result per DKIM-Signature (at most MAX_SIGNATURES); [] when there is none.
    Parsing and hashing a large message happen in a worker thread, so one big message
    does not stall every other session on the event loop."""
    big = len(raw) > THREAD_THRESHOLD
    try:
        verifier = await _call(big, _Verifier, raw)
        headers: list[list[bytes]] = verifier.headers
    except Exception as e:
        return [DKIMResult("permerror", reason=f"unparsable message: {e}")]
    values = [v for n, v in headers if n.lower() == b"dkim-signature"][:MAX_SIGNATURES]
    results = []
    for idx, value in enumerate(values):
        prepared = _prepare(verifier, value, idx)
        if isinstance(prepared, DKIMResult):
            results.append(prepared)
            continue
        base, prep = prepared
        name = f"{base['selector']}._domainkey.{base['domain']}"
        record, failure, reason = await _fetch_key(resolver, name)
        if record is None:
            results.append(DKIMResult(failure, reason=reason, **base))
            continue
        results.append(await _call(big, _finish, verifier, base, prep, idx, name, record))
    return results


async def _call(in_thread: bool, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    if in_thread:
        return await asyncio.to_thread(fn, *args, **kwargs)
    return fn(*args, **kwargs)


class _Verifier(dkim.DKIM):  # type: ignore[misc]
    """dkimpy's verifier over a message parsed by `canonical`; each canonical body is
    computed once however many signatures ask for it."""

    def __init__(self, raw: bytes) -> None:
        super().__init__(None, logger=log, minkey=MIN_KEY_BITS)
        self.headers, self.body = parse(raw)
        self.bodies: dict[bytes, bytes] = {}

    def canonical_body(self, algorithm: bytes) -> bytes:
        body = self.bodies.get(algorithm)
        if body is None:
            body = self.bodies[algorithm] = canonical_body(self.body, algorithm)
        return body


@dataclass(frozen=True)
class _PublicKey:
    """A key record as dkimpy reads it (`dkim.evaluate_pk`), and for RSA the same key
    for OpenSSL."""

    pk: Any  # dkimpy's: a dict for RSA, a nacl VerifyKey for Ed25519, None for neither
    keysize: int | None
    ktag: bytes | None
    seqtlsrpt: bool
    rsa: rsa.RSAPublicKey | None = None
    modulus: int = 0
    modlen: int = 0  # octets


_PUBLIC_KEYS_KEPT = 256
_public_keys: dict[bytes, _PublicKey] = {}


def _public_key(name: str, record: bytes) -> _PublicKey:
    """The key of a record, parsed once per distinct record: every message of one
    sender carries the same key.  Raises as `dkim.evaluate_pk` does."""
    key = _public_keys.get(record)
    if key is not None:
        return key
    pk, keysize, ktag, seqtlsrpt = dkim.evaluate_pk(name.encode("ascii", "replace"), record)
    public = None
    modulus = modlen = 0
    if ktag == b"rsa" and isinstance(pk, dict):
        n, e = pk.get("modulus"), pk.get("publicExponent")
        if isinstance(n, int) and isinstance(e, int) and n > 0:
            modulus, modlen = n, (n.bit_length() + 7) // 8
            try:
                public = rsa.RSAPublicNumbers(e, n).public_key()
            except Exception:  # OpenSSL refuses it: dkimpy's arithmetic decides
                public = None
    key = _PublicKey(pk, keysize, ktag, bool(seqtlsrpt), public, modulus, modlen)
    if len(_public_keys) >= _PUBLIC_KEYS_KEPT:
        _public_keys.clear()
    _public_keys[record] = key
    return key


def _rsa_sha256(key: _PublicKey, digest: bytes, signature: bytes) -> bool | None:
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.2) by OpenSSL; None where its
    answer could differ from dkimpy's (a short key, a signature of another length or
    not below the modulus), which then decides."""
    if (
        key.rsa is None
        or key.keysize is None
        or key.keysize < MIN_KEY_BITS
        or len(signature) != key.modlen
        or int.from_bytes(signature, "big") >= key.modulus
    ):
        return None
    try:
        key.rsa.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    except InvalidSignature:
        return False
    except Exception:
        return None
    return True


_WHITE_SPACE = re.compile(rb"\s+")


def _verify_signature(
    verifier: _Verifier,
    sig: dict[bytes, bytes],
    include_headers: list[bytes],
    sig_header: tuple[bytes, bytes],
    key: _PublicKey,
) -> bool:
    """RFC 6376 §6.1.3: the body hash, then the signature over the header fields.

    dkimpy's `verify_sig_process` step by step, with the same outcome and the same
    exceptions for every input, except that the canonical body comes from `canonical`
    and RSA-SHA256 is checked by OpenSSL."""
    if key.seqtlsrpt:  # RFC 8460 §3: a tlsrpt key does not sign mail
        raise dkim.ValidationError("Message is not tlsrpt and Service Type is tlsrpt")
    try:
        policy = CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple"))
    except InvalidCanonicalizationPolicyError as e:
        raise dkim.MessageFormatError(f"invalid c= value: {e.args[0]!s}") from None
    hasher = dkim.HASH_ALGORITHMS[sig[b"a"]]
    if b"bh" in sig:
        body = verifier.canonical_body(policy.body_algorithm.name)
        if b"l" in sig:
            body = body[: int(sig[b"l"])]
        bodyhash = hasher(body).digest()
        try:
            expected = base64.b64decode(_WHITE_SPACE.sub(b"", sig[b"bh"]))
        except TypeError as e:
            raise dkim.MessageFormatError(str(e)) from None
        if bodyhash != expected:
            raise dkim.ValidationError(
                f"body hash mismatch (got {base64.b64encode(bodyhash)!s}, expected {sig[b'bh']!s})"
            )
    if b"from" in include_headers:
        include_headers.append(b"from")  # an added From breaks the signature
    h = dkim.HashThrough(hasher(), False)
    algorithm = policy.header_algorithm.name
    headers = canonical_headers(verifier.headers, algorithm)
    verifier.signed_headers = hash_headers(h, algorithm, headers, include_headers, sig_header)
    signature = base64.b64decode(_WHITE_SPACE.sub(b"", sig[b"b"]))
    if key.ktag == b"rsa":
        if hasher is hashlib.sha256:
            fast = _rsa_sha256(key, h.digest(), signature)
            if fast is not None:
                return fast
        try:
            ok = bool(dkim.RSASSA_PKCS1_v1_5_verify(h, signature, key.pk))
        except (TypeError, dkim.DigestTooLargeError) as e:
            raise dkim.KeyFormatError(f"digest too large for modulus: {e}") from None
        if ok and (key.keysize or 0) < verifier.minkey:
            raise dkim.KeyFormatError(f"public key too small: {key.keysize}")
        return ok
    if key.ktag == b"ed25519":
        import nacl.exceptions

        try:
            key.pk.verify(h.digest(), signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True
    raise dkim.UnknownKeyTypeError(key.ktag)


def _prepare(verifier: Any, value: bytes, idx: int) -> DKIMResult | tuple[dict[str, str], Any]:
    """The signature's tags, checked by dkimpy (no DNS, no hashing)."""
    try:
        prep = verifier.verify_headerprep(idx)
    except dkim.DKIMException as e:
        # RFC 8601 §2.7.1: a signature with syntax errors is "neutral"
        return _neutral(value, str(e))
    except Exception as e:
        return _neutral(value, f"malformed DKIM-Signature: {e!r}")
    if not prep:
        return _neutral(value, "no signature")
    return _base(prep[0]), prep  # dkimpy's own parse of `value`, checked


def _neutral(value: bytes, reason: str) -> DKIMResult:
    tags = _signature_tags(value)
    if tags is None:
        return DKIMResult("neutral", reason="malformed DKIM-Signature")
    return DKIMResult("neutral", reason=reason, **_base(tags))


def _base(tags: dict[bytes, bytes]) -> dict[str, str]:
    """What a result says of its signature, whatever the outcome."""
    return {
        "domain": _text(tags, b"d").lower(),
        "selector": _text(tags, b"s"),
        "algorithm": _text(tags, b"a").lower(),
        "identity": _text(tags, b"i"),
        "signature": "".join(_text(tags, b"b").split())[:8],
    }


def _finish(
    verifier: _Verifier, base: dict[str, str], prep: Any, idx: int, name: str, record: bytes
) -> DKIMResult:
    """Check the key record, then the body hash and the signature (RFC 6376 §6.1.3)."""
    sig, include_headers, sigheaders = prep
    try:
        key = _public_key(name, record)
    except dkim.DKIMException as e:
        return DKIMResult("permerror", reason=f"key record: {e}", **base)
    except Exception as e:
        return DKIMResult("permerror", reason=f"key record: {e!r}", **base)
    try:
        ok = _verify_signature(verifier, sig, include_headers, sigheaders[idx], key)
    except dkim.ValidationError as e:
        return DKIMResult("fail", reason=str(e), **base)  # e.g. body hash mismatch
    except dkim.DKIMException as e:
        return DKIMResult("permerror", reason=str(e), **base)  # e.g. key too small
    except Exception as e:
        return DKIMResult("permerror", reason=f"verification error: {e!r}", **base)
    if ok:
        return DKIMResult("pass", **base)
    return DKIMResult("fail", reason="signature did not verify", **base)
