"""Mail addresses as the directory sees them: split, validated, normalised for lookup.

Lookup form: local part lower-cased (RFC 5321 §2.4 lets a server treat local parts
case-insensitively, and every provider does), domain lower-cased and in IDNA A-label
form (RFC 5890), so `Bob@Bücher.example` and `bob@xn--bcher-kva.example` are one
mailbox.  Plus-addressing (`user+tag@dom`) is a convention, not an RFC; it is applied
by the directory, not here.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import NamedTuple

try:  # IDNA 2008 + UTS 46 mapping, what browsers and modern mail software use
    import idna as _idna
except ImportError:  # pragma: no cover - the stdlib codec implements IDNA 2003 only
    _idna = None  # type: ignore[assignment]

PLUS = "+"
MAX_LOCALPART_OCTETS = 64  # RFC 5321 §4.5.3.1.1
MAX_DOMAIN_OCTETS = 253  # RFC 1035 §2.3.4 (255 on the wire, minus length octets)
MAX_LABEL_OCTETS = 63  # RFC 1035 §2.3.4

# RFC 5322 §3.2.3 atext, plus RFC 6531 §3.3 UTF8-non-ascii
_ATOM = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff]+"
_DOT_ATOM = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# RFC 5322 §3.2.4 qtext / quoted-pair content: printable ASCII (and UTF-8), no controls
_QUOTED_CONTENT = re.compile(r'(?:[^"\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])*')


class AddressError(ValueError):
    """Not a syntactically valid mail address (or domain)."""


class Address(NamedTuple):
    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"


def split_address(address: str) -> tuple[str, str]:
    """Split at the last "@" (a quoted local part may contain "@"); no normalisation."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"not an address: {address!r}")
    return local, domain


def normalize_domain(domain: str) -> str:
    """Lower-case A-label form of a domain, or an address literal `[192.0.2.1]`."""
    name = domain.strip()
    if name.startswith("[") and name.endswith("]"):
        return _normalize_literal(name)
    if name.endswith("."):  # a fully qualified spelling names the same domain
        name = name[:-1]
    if not name:
        raise AddressError("empty domain")
    name = name.lower() if name.isascii() else _to_a_label(name)
    if len(name) > MAX_DOMAIN_OCTETS:
        raise AddressError(f"domain too long: {name[:40]}…")
    labels = name.split(".")
    for label in labels:
        if len(label) > MAX_LABEL_OCTETS or not _LDH_LABEL.fullmatch(label):
            raise AddressError(f"invalid domain: {domain!r}")
    if labels[-1].isdigit():  # RFC 3696 §2: a top-level domain is never all-numeric
        raise AddressError(f"invalid domain: {domain!r}")
    return name


def _to_a_label(name: str) -> str:
    try:
        if _idna is not None:
            return _idna.encode(name, uts46=True, transitional=False).decode("ascii")
        return name.encode("idna").decode("ascii")  # pragma: no cover
    except (UnicodeError, ValueError) as e:  # idna.IDNAError is a UnicodeError
        raise AddressError(f"invalid internationalised domain {name!r}: {e}") from None


def _normalize_literal(literal: str) -> str:
    """RFC 5321 §4.1.3 address literals: [IPv4] or [IPv6:...]."""
    inner = literal[1:-1]
    try:
        if inner[:5].lower() == "ipv6:":
            return f"[IPv6:{ipaddress.IPv6Address(inner[5:]).compressed}]"
        return f"[{ipaddress.IPv4Address(inner)}]"
    except ValueError:
        raise AddressError(f"invalid address literal: {literal!r}") from None


def is_dot_atom(local: str) -> bool:
    return _DOT_ATOM.fullmatch(local) is not None


def normalize_localpart(local: str) -> str:
    """Lookup form of a local part.

    A quoted local part that is also a valid dot-atom is the same mailbox unquoted
    (RFC 5321 §4.1.2: `"bob"@x` is `bob@x`); any other quoted one keeps its quotes in a
    canonical form, so it can be compared but never matches a user (users are dot-atoms).
    """
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        body = local[1:-1]
        if not _QUOTED_CONTENT.fullmatch(body):
            raise AddressError(f"invalid quoted local part: {local!r}")
        unquoted = re.sub(r"\\(.)", r"\1", body)
        if is_dot_atom(unquoted):
            local = unquoted
        else:
            requoted = unquoted.replace("\\", "\\\\").replace('"', '\\"')
            return _check_length(f'"{requoted.lower()}"')
    elif not is_dot_atom(local):
        raise AddressError(f"invalid local part: {local!r}")
    if not local.isascii():
        # RFC 6532 §3.1: UTF-8 text should be NFC; compare in one form
        local = unicodedata.normalize("NFC", local)
    return _check_length(local.lower())


def _check_length(local: str) -> str:
    if len(local.encode("utf-8")) > MAX_LOCALPART_OCTETS:
        raise AddressError(f"local part longer than {MAX_LOCALPART_OCTETS} octets")
    return local


def parse_address(address: str) -> Address:
    """Validate and normalise; raises AddressError."""
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    if any(c in text for c in "\r\n\x00"):
        raise AddressError("address contains a control character")
    local, domain = split_address(text)
    return Address(normalize_localpart(local), normalize_domain(domain))


def normalize_address(address: str) -> str:
    """`Bob@Example.TEST` -> `bob@example.test`; raises AddressError."""
    return str(parse_address(address))


def normalize_mailbox(address: str) -> str:
    """Normalise an address we create a user or alias for: a plain dot-atom local part
    on a domain name (no quoting, no address literal)."""
    parsed = parse_address(address)
    if not is_dot_atom(parsed.local):
        raise AddressError(f"local part must be a plain dot-atom: {address!r}")
    if parsed.domain.startswith("["):
        raise AddressError(f"an address literal cannot be a local domain: {address!r}")
    return str(parsed)


def is_catch_all(source: str) -> bool:
    return source.startswith("@")


def normalize_alias_source(source: str) -> str:
    """`@Example.test` (catch-all) -> `@example.test`; else like normalize_mailbox."""
    text = source.strip()
    if is_catch_all(text):
        domain = normalize_domain(text[1:])
        if domain.startswith("["):
            raise AddressError(f"an address literal cannot be a local domain: {source!r}")
        return "@" + domain
    return normalize_mailbox(text)


def strip_plus(address: str) -> str | None:
    """`user+tag@dom` -> `user@dom` (up to the first "+"); None when there is no tag."""
    local, domain = split_address(address)
    base, plus, _tag = local.partition(PLUS)
    if not plus or not base or local.startswith('"'):
        return None
    return f"{base}@{domain}"


def domain_of(address: str) -> str:
    """The domain part of an already normalised address or catch-all source."""
    return address.rpartition("@")[2]
