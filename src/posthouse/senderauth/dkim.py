"""DKIM (RFC 6376): sign outbound mail, verify inbound signatures, make keys.

Signing and the cryptography are dkimpy's.  Its key lookups are synchronous, so
verification fetches each signature's key record through our async `Resolver` first and
hands dkimpy a lookup function answering from what was fetched: dkimpy never touches the
network and every DNS question goes through the same resolver as SPF and DMARC.
Ed25519 (RFC 8463) needs PyNaCl, dkimpy's `ed25519` extra.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.util import InvalidTagValueList, parse_tag_value

from posthouse.resolver import NXDomain, Resolver, ResolverError, TempFail

log = logging.getLogger(__name__)

KEY_KINDS = ("rsa", "ed25519")
RSA_BITS = 2048  # RFC 8301 §3.2: at least 1024, 2048 recommended for signers
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


# -- signing -------------------------------------------------------------------------------


def _header_names(raw: bytes) -> set[str]:
    names = set()
    for line in raw.split(b"\n"):
        if line in (b"", b"\r"):
            break
        if line[:1] in (b" ", b"\t"):
            continue
        name, colon, _ = line.partition(b":")
        if colon:
            names.add(name.strip().decode("ascii", "replace").lower())
    return names


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
    key = _load_private(private_pem)
    present = _header_names(raw)
    include = [h for h in headers if h in present]
    if "from" not in include:
        raise ValueError("a message without From cannot be signed (RFC 6376 §5.4)")
    include.append("from")  # oversign From
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = b"rsa-sha256"
        keydata = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    else:
        algorithm = b"ed25519-sha256"
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        keydata = base64.b64encode(seed)  # dkimpy reads the base64 seed
    signer = dkim.DKIM(raw, logger=log, signature_algorithm=algorithm)
    try:
        header: bytes = signer.sign(
            selector.encode("ascii"),
            domain.encode("ascii"),
            keydata,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[h.encode("ascii") for h in include],
        )
    except dkim.DKIMException as e:
        raise DKIMKeyError(f"signing failed: {e}") from None
    return header


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
        verifier = await _call(big, dkim.DKIM, raw, logger=log, minkey=1024)
        headers: list[tuple[bytes, bytes]] = verifier.headers
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


def _prepare(verifier: Any, value: bytes, idx: int) -> DKIMResult | tuple[dict[str, str], Any]:
    """The signature's tags, checked by dkimpy (no DNS, no hashing)."""
    tags = _signature_tags(value)
    if tags is None:
        return DKIMResult("neutral", reason="malformed DKIM-Signature")
    base = {
        "domain": _text(tags, b"d").lower(),
        "selector": _text(tags, b"s"),
        "algorithm": _text(tags, b"a").lower(),
        "identity": _text(tags, b"i"),
        "signature": "".join(_text(tags, b"b").split())[:8],
    }
    try:
        prep = verifier.verify_headerprep(idx)
    except dkim.DKIMException as e:
        # RFC 8601 §2.7.1: a signature with syntax errors is "neutral"
        return DKIMResult("neutral", reason=str(e), **base)
    except Exception as e:
        return DKIMResult("neutral", reason=f"malformed DKIM-Signature: {e!r}", **base)
    if not prep:
        return DKIMResult("neutral", reason="no signature", **base)
    return base, prep


def _finish(
    verifier: Any, base: dict[str, str], prep: Any, idx: int, name: str, record: bytes
) -> DKIMResult:
    """Check the key record, then the body hash and the signature (RFC 6376 §6.1.3)."""
    sig, include_headers, sigheaders = prep
    try:
        dkim.evaluate_pk(name.encode("ascii", "replace"), record)
    except dkim.DKIMException as e:
        return DKIMResult("permerror", reason=f"key record: {e}", **base)
    except Exception as e:
        return DKIMResult("permerror", reason=f"key record: {e!r}", **base)

    def dnsfunc(_name: bytes, timeout: float = 5) -> bytes:
        return record  # the one record fetched through our resolver

    try:
        ok = verifier.verify_sig(sig, include_headers, sigheaders[idx], dnsfunc)
    except dkim.ValidationError as e:
        return DKIMResult("fail", reason=str(e), **base)  # e.g. body hash mismatch
    except dkim.DKIMException as e:
        return DKIMResult("permerror", reason=str(e), **base)  # e.g. key too small
    except Exception as e:
        return DKIMResult("permerror", reason=f"verification error: {e!r}", **base)
    if ok:
        return DKIMResult("pass", **base)
    return DKIMResult("fail", reason="signature did not verify", **base)
