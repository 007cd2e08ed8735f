"""SPF (RFC 7208): may this IP address send mail for this domain?

`check_host()` is the function of RFC 7208 §4; `check_spf()` picks the identity as a
receiving MTA does (the MAIL FROM domain, or the HELO name for the null sender, §2.4).
Every DNS question goes through a `Resolver`.  A record is parsed completely before any
term is evaluated, so a syntax error anywhere is a permerror (§4.6).
"""

from __future__ import annotations

import ipaddress
import re
import time
import urllib.parse
from dataclasses import dataclass, field

from posthouse.resolver import NXDomain, Resolver, ResolverError, TempFail

RESULTS = ("none", "neutral", "pass", "fail", "softfail", "temperror", "permerror")
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MAX_LOOKUPS = 10  # RFC 7208 §4.6.4: terms causing DNS queries
MAX_VOID_LOOKUPS = 2  # RFC 7208 §4.6.4: "SHOULD limit void lookups to two"
MAX_ADDRESS_LOOKUPS = 10  # RFC 7208 §4.6.4: per mx mechanism, and PTR names checked
MAX_DOMAIN = 253

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class SPFResult:
    result: str  # one of RESULTS
    domain: str = ""  # the domain whose policy was evaluated
    identity: str = "mailfrom"  # "mailfrom" or "helo" (RFC 7208 §2.3, §2.4)
    sender: str = ""
    mechanism: str = ""  # the term that matched, if one did
    explanation: str = ""  # for fail: the domain's exp= text (§6.2), else empty
    problem: str = ""  # for temperror / permerror: what went wrong


class _PermError(Exception):
    pass


class _TempError(Exception):
    pass


# -- parsing -------------------------------------------------------------------------------


# A macro-string as tokens: str for literal text, _Macro for %{...}.
@dataclass(frozen=True)
class _Macro:
    letter: str  # as written; upper case means URL-escape (RFC 7208 §7.3)
    digits: int | None
    reverse: bool
    delimiters: str


MacroString = tuple[str | _Macro, ...]

_MACRO = re.compile(r"%\{([a-zA-Z])(\d*)(r?)([.\-+,/_=]*)\}", re.IGNORECASE)
_DOMAIN_LETTERS = set("slodiphv")
_EXP_LETTERS = _DOMAIN_LETTERS | set("crt")  # RFC 7208 §7.2: c, r, t only in exp text


def _parse_macro_string(text: str, *, exp: bool = False) -> MacroString:
    """RFC 7208 §7.1: macro-string = *( macro-expand / macro-literal )."""
    letters = _EXP_LETTERS if exp else _DOMAIN_LETTERS
    out: list[str | _Macro] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            nxt = text[i + 1 : i + 2]
            if nxt == "%":
                literal.append("%")
                i += 2
                continue
            if nxt == "_":
                literal.append(" ")
                i += 2
                continue
            if nxt == "-":
                literal.append("%20")
                i += 2
                continue
            m = _MACRO.match(text, i)
            if not m or m.group(1).lower() not in letters:
                raise _PermError(f"invalid macro in {text!r}")
            digits = int(m.group(2)) if m.group(2) else None
            if digits == 0:
                raise _PermError(f"zero digits in macro {m.group(0)!r}")
            if literal:
                out.append("".join(literal))
                literal = []
            out.append(_Macro(m.group(1), digits, bool(m.group(3)), m.group(4) or "."))
            i = m.end()
            continue
        # macro-literal = %x21-24 / %x26-7E; exp text may also hold spaces
        if not ("\x21" <= ch <= "\x7e" or (exp and ch == " ")):
            raise _PermError(f"invalid character {ch!r} in {text!r}")
        literal.append(ch)
        i += 1
    if literal:
        out.append("".join(literal))
    return tuple(out)


_TOPLABEL = re.compile(r"^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+-[a-z0-9-]*[a-z0-9])$", re.I)


def _parse_domain_spec(text: str) -> MacroString:
    """RFC 7208 §7.1: domain-spec = macro-string domain-end, domain-end = ( "." toplabel
    [ "." ] ) / macro-expand."""
    spec = _parse_macro_string(text)
    if not spec:
        raise _PermError("empty domain-spec")
    last = spec[-1]
    if isinstance(last, _Macro):
        return spec
    tail = last[:-1] if last.endswith(".") else last
    if "." not in tail:
        # the dot before the top label may end a previous literal only if no macro follows
        raise _PermError(f"domain-spec {text!r} does not end in a top-level label")
    if not _TOPLABEL.match(tail.rsplit(".", 1)[1]):
        raise _PermError(f"domain-spec {text!r}: invalid top-level label")
    return spec


@dataclass(frozen=True)
class _Term:
    qualifier: str  # result on match
    name: str  # mechanism name, lower case
    text: str  # as written, for reports
    domain: MacroString | None = None
    cidr4: int = 32
    cidr6: int = 128
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None


@dataclass(frozen=True)
class _Record:
    terms: tuple[_Term, ...]
    redirect: MacroString | None = None
    exp: MacroString | None = None


_MODIFIER = re.compile(r"([a-z][a-z0-9_.\-]*)=(.*)", re.I | re.S)
_MECHANISM = re.compile(r"([+\-~?]?)([a-z][a-z0-9]*)(.*)", re.I | re.S)
_CIDR = re.compile(r"(.*?)(?:/(0|[1-9]\d{0,2}))?(?://(0|[1-9]\d{0,2}))?", re.S)


def _split_cidr(rest: str) -> tuple[str, int, int]:
    m = _CIDR.fullmatch(rest)
    assert m  # the pattern matches any string
    head, c4, c6 = m.group(1), m.group(2), m.group(3)
    cidr4 = int(c4) if c4 is not None else 32
    cidr6 = int(c6) if c6 is not None else 128
    # RFC 7208 §5.6: ip4-cidr-length 0..32, ip6-cidr-length 0..128
    if cidr4 > 32 or cidr6 > 128:
        raise _PermError(f"invalid CIDR length in {rest!r}")
    return head, cidr4, cidr6


def parse_record(text: str) -> _Record:
    """Parse "v=spf1 ..." (RFC 7208 §4.6.1, §12); raise _PermError on any syntax error."""
    parts = text.split(" ")
    if parts[0].lower() != "v=spf1":
        raise _PermError("not an SPF record")
    terms: list[_Term] = []
    redirect: MacroString | None = None
    exp: MacroString | None = None
    for word in parts[1:]:
        if not word:
            continue  # terms are separated by one or more spaces
        if any(not "\x21" <= ch <= "\x7e" for ch in word):
            # RFC 7208 §4.6.1: only SP separates terms; no control or non-ASCII octets
            raise _PermError(f"invalid character in term {word!r}")
        mod = _MODIFIER.fullmatch(word)
        if mod:
            name, value = mod.group(1).lower(), mod.group(2)
            if name == "redirect":
                # RFC 7208 §6: redirect and exp each at most once
                if redirect is not None:
                    raise _PermError("more than one redirect modifier")
                redirect = _parse_domain_spec(value)
            elif name == "exp":
                if exp is not None:
                    raise _PermError("more than one exp modifier")
                exp = _parse_domain_spec(value)
            else:
                _parse_macro_string(value)  # unknown modifiers are ignored (§6) if well formed
            continue
        terms.append(_parse_mechanism(word))
    return _Record(tuple(terms), redirect, exp)


_RECORDS_KEPT = 256
_records: dict[str, _Record] = {}


def _parsed_record(text: str) -> _Record:
    """`parse_record`, once per distinct record text: every message from one sender
    domain evaluates the same record, and a parsed record is immutable."""
    record = _records.get(text)
    if record is None:
        record = parse_record(text)  # a record in error is parsed (and raises) each time
        if len(_records) >= _RECORDS_KEPT:
            _records.clear()
        _records[text] = record
    return record


def _parse_mechanism(word: str) -> _Term:
    m = _MECHANISM.fullmatch(word)
    if not m:
        raise _PermError(f"invalid term {word!r}")
    qualifier = QUALIFIERS[m.group(1) or "+"]
    name, rest = m.group(2).lower(), m.group(3)
    if name == "all":
        if rest:
            raise _PermError(f"invalid term {word!r}")
        return _Term(qualifier, name, word)
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            raise _PermError(f"{name} needs a domain: {word!r}")
        return _Term(qualifier, name, word, domain=_parse_domain_spec(rest[1:]))
    if name in ("a", "mx"):
        head, cidr4, cidr6 = _split_cidr(rest)
        domain = None
        if head:
            if not head.startswith(":"):
                raise _PermError(f"invalid term {word!r}")
            domain = _parse_domain_spec(head[1:])
        return _Term(qualifier, name, word, domain=domain, cidr4=cidr4, cidr6=cidr6)
    if name == "ptr":
        domain = None
        if rest:
            if not rest.startswith(":"):
                raise _PermError(f"invalid term {word!r}")
            domain = _parse_domain_spec(rest[1:])
        return _Term(qualifier, name, word, domain=domain)
    if name in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise _PermError(f"{name} needs a network: {word!r}")
        return _Term(qualifier, name, word, network=_parse_network(name, rest[1:]))
    raise _PermError(f"unknown mechanism {word!r}")


def _parse_network(kind: str, text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    addr, _, length = text.partition("/")
    if length and not re.fullmatch(r"0|[1-9]\d{0,2}", length):
        raise _PermError(f"invalid CIDR length in {text!r}")
    try:
        if kind == "ip4":
            ip4 = ipaddress.IPv4Address(addr)
            n = int(length) if length else 32
            if n > 32:
                raise _PermError(f"invalid CIDR length in {text!r}")
            return ipaddress.IPv4Network((ip4, n), strict=False)
        if "." in addr.rsplit(":", 1)[-1] and addr.count(":") < 2:
            raise ValueError(addr)
        ip6 = ipaddress.IPv6Address(addr)
        n = int(length) if length else 128
        if n > 128:
            raise _PermError(f"invalid CIDR length in {text!r}")
        return ipaddress.IPv6Network((ip6, n), strict=False)
    except ValueError:
        raise _PermError(f"invalid {kind} network {text!r}") from None


# -- names ---------------------------------------------------------------------------------


def valid_domain(name: str) -> bool:
    """RFC 7208 §4.3: a multi-label name, no label empty or over 63 octets."""
    name = name[:-1] if name.endswith(".") else name
    labels = name.split(".")
    if len(labels) < 2 or len(name) > MAX_DOMAIN:
        return False
    return all(0 < len(label) <= 63 for label in labels)


def _truncate(name: str) -> str:
    """RFC 7208 §7.3: drop leftmost labels until the name fits in 253 characters."""
    while len(name) > MAX_DOMAIN and "." in name:
        name = name.split(".", 1)[1]
    return name


def _domain_of(sender: str) -> tuple[str, str]:
    local, at, domain = sender.rpartition("@")
    if not at:
        return "postmaster", sender
    return local or "postmaster", domain  # RFC 7208 §4.3: no local-part -> postmaster


# -- evaluation ----------------------------------------------------------------------------


@dataclass
class _Evaluation:
    resolver: Resolver
    ip: IPAddress
    sender: str
    helo: str
    receiver: str = "unknown"
    lookups: int = 0
    voids: int = 0
    _validated: dict[str, str] = field(default_factory=dict)

    # ---- DNS with the RFC 7208 §4.6.4 limits ----

    def _count_lookup(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise _PermError(f"more than {MAX_LOOKUPS} DNS-querying terms")

    def _void(self) -> None:
        self.voids += 1
        if self.voids > MAX_VOID_LOOKUPS:
            raise _PermError(f"more than {MAX_VOID_LOOKUPS} void lookups")

    async def _addresses(self, name: str, *, void_counts: bool) -> list[IPAddress]:
        """The A or AAAA records of name (matching the client's address family)."""
        try:
            if self.ip.version == 4:
                values = await self.resolver.a(name)
            else:
                values = await self.resolver.aaaa(name)
        except NXDomain:
            values = []
        except TempFail as e:
            raise _TempError(str(e)) from None
        except ResolverError:
            values = []  # a name DNS cannot even ask for does not exist
        if not values and void_counts:
            self._void()
        out: list[IPAddress] = []
        for v in values:
            try:
                out.append(ipaddress.ip_address(v))
            except ValueError:
                continue
        return out

    # ---- macros (RFC 7208 §7) ----

    async def _macro_value(self, letter: str, domain: str) -> str:
        local, sender_domain = _domain_of(self.sender)
        match letter:
            case "s":
                return f"{local}@{sender_domain}"
            case "l":
                return local
            case "o":
                return sender_domain
            case "d":
                return domain
            case "i":
                if self.ip.version == 4:
                    return str(self.ip)
                return ".".join(self.ip.exploded.replace(":", ""))
            case "p":
                return await self._validated_name(domain)
            case "v":
                return "in-addr" if self.ip.version == 4 else "ip6"
            case "h":
                return self.helo
            case "c":
                return str(self.ip)
            case "r":
                return self.receiver
            case "t":
                return str(int(time.time()))
        raise _PermError(f"unknown macro letter {letter!r}")

    async def expand(self, spec: MacroString, domain: str) -> str:
        out: list[str] = []
        for token in spec:
            if isinstance(token, str):
                out.append(token)
                continue
            value = await self._macro_value(token.letter.lower(), domain)
            parts = re.split("[" + re.escape(token.delimiters) + "]", value)
            if token.reverse:
                parts.reverse()
            if token.digits is not None:
                parts = parts[-token.digits :]
            value = ".".join(parts)
            if token.letter.isupper():
                value = urllib.parse.quote(value, safe="-._~")  # RFC 3986 unreserved
            out.append(value)
        return "".join(out)

    async def _target(self, spec: MacroString | None, domain: str) -> str:
        if spec is None:
            return domain
        name = await self.expand(spec, domain)
        return _truncate(name[:-1] if name.endswith(".") else name)

    async def _validated_name(self, domain: str) -> str:
        """The %{p} macro (RFC 7208 §7.3): a PTR name that maps back to the address,
        preferring the domain itself, then a subdomain of it; "unknown" when none."""
        if domain in self._validated:
            return self._validated[domain]
        names = await self._validated_names()
        pick = "unknown"
        d = domain.lower()
        for candidate in names:
            if candidate == d:
                pick = candidate
                break
        else:
            for candidate in names:
                if candidate.endswith("." + d):
                    pick = candidate
                    break
            else:
                if names:
                    pick = names[0]
        self._validated[domain] = pick
        return pick

    async def _validated_names(self) -> list[str]:
        """RFC 7208 §5.5: PTR names of the client whose A/AAAA records include it; a DNS
        error on the PTR lookup means no names, on an address lookup skips that name."""
        try:
            names = await self.resolver.ptr(str(self.ip))
        except ResolverError:
            return []
        out = []
        for name in names[:MAX_ADDRESS_LOOKUPS]:
            try:
                if self.ip.version == 4:
                    addrs = await self.resolver.a(name)
                else:
                    addrs = await self.resolver.aaaa(name)
            except ResolverError:
                continue
            if any(_same_ip(a, self.ip) for a in addrs):
                out.append(name.lower().rstrip("."))
        return out

    # ---- check_host (RFC 7208 §4) ----

    async def check_host(self, domain: str) -> tuple[str, str, str]:
        """(result, matched term, explanation) for one domain's record."""
        domain = domain.rstrip(".")
        if not valid_domain(domain):
            return "none", "", ""
        record_text = await self._record(domain)  # _TempError propagates to the top
        if record_text is None:
            return "none", "", ""
        record = _parsed_record(record_text)  # _PermError propagates to the top
        for term in record.terms:
            if await self._matches(term, domain):
                explanation = ""
                if term.qualifier == "fail" and record.exp is not None:
                    explanation = await self._explain(record.exp, domain)
                return term.qualifier, term.text, explanation
        if record.redirect is not None:
            # RFC 7208 §6.1: the redirect target's result is the result; "none" -> permerror
            self._count_lookup()
            target = await self._target(record.redirect, domain)
            result, mech, explanation = await self.check_host(target)
            if result == "none":
                raise _PermError(f"redirect to {target!r}: no SPF record")
            return result, mech, explanation
        return "neutral", "", ""  # RFC 7208 §4.7: no match, no redirect

    async def _record(self, domain: str) -> str | None:
        """RFC 7208 §4.4, §4.5: the one TXT record starting with "v=spf1"."""
        try:
            txts = await self.resolver.txt(domain)
        except NXDomain:
            return None
        except ResolverError as e:
            raise _TempError(f"TXT {domain}: {e}") from None
        records = []
        for raw in txts:
            text = raw.decode("utf-8", "replace")
            if text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " "):
                records.append(text)
        if len(records) > 1:
            raise _PermError(f"{domain}: more than one SPF record")
        return records[0] if records else None

    async def _matches(self, term: _Term, domain: str) -> bool:
        name = term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            assert term.network is not None
            return self.ip.version == term.network.version and self.ip in term.network
        self._count_lookup()
        target = await self._target(term.domain, domain)
        if name == "include":
            result, _, _ = await self.check_host(target)
            # RFC 7208 §5.2: the included record's result maps onto match / no match
            if result == "pass":
                return True
            if result in ("fail", "softfail", "neutral"):
                return False
            if result == "temperror":
                raise _TempError(f"include:{target}: temperror")
            raise _PermError(f"include:{target}: {result}")
        if name == "a":
            addrs = await self._addresses(target, void_counts=True)
            return self._in_any(addrs, term)
        if name == "mx":
            return await self._mx_matches(target, term)
        if name == "ptr":
            names = await self._validated_names()
            t = target.lower()
            # RFC 7208 §5.5: a validated name equal to or ending in the target domain
            return any(n == t or n.endswith("." + t) for n in names)
        if name == "exists":
            # RFC 7208 §5.7: an A query whatever the client's address family
            try:
                found = await self.resolver.a(target)
            except NXDomain:
                found = []
            except TempFail as e:
                raise _TempError(str(e)) from None
            except ResolverError:
                found = []
            if not found:
                self._void()
            return bool(found)
        raise _PermError(f"unknown mechanism {name!r}")  # parse_record prevents this

    async def _mx_matches(self, target: str, term: _Term) -> bool:
        try:
            mxs = await self.resolver.mx(target)
        except NXDomain:
            mxs = []
        except TempFail as e:
            raise _TempError(str(e)) from None
        except ResolverError:
            mxs = []
        if not mxs:
            self._void()
            return False
        # RFC 7208 §4.6.4: no more than 10 address lookups for one mx mechanism
        if len(mxs) > MAX_ADDRESS_LOOKUPS:
            raise _PermError(f"mx:{target}: more than {MAX_ADDRESS_LOOKUPS} MX records")
        for _, exchange in sorted(mxs):
            if exchange in (".", ""):
                continue  # a null MX (RFC 7505) names no host
            addrs = await self._addresses(exchange, void_counts=False)
            if self._in_any(addrs, term):
                return True
        return False

    def _in_any(self, addrs: list[IPAddress], term: _Term) -> bool:
        prefix = term.cidr4 if self.ip.version == 4 else term.cidr6
        for addr in addrs:
            if addr.version != self.ip.version:
                continue
            net = ipaddress.ip_network((addr, prefix), strict=False)
            if self.ip in net:
                return True
        return False

    async def _explain(self, spec: MacroString, domain: str) -> str:
        """RFC 7208 §6.2: the exp= TXT record, macro-expanded; any problem -> none."""
        try:
            name = await self._target(spec, domain)
            if not valid_domain(name):
                return ""
            txts = await self.resolver.txt(name)
            if len(txts) != 1:
                return ""
            text = txts[0].decode("ascii")
            return await self.expand(_parse_macro_string(text, exp=True), domain)
        except (ResolverError, _PermError, _TempError, UnicodeDecodeError):
            return ""


def _same_ip(text: str, ip: IPAddress) -> bool:
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False


def _client_ip(ip: str) -> IPAddress:
    addr = ipaddress.ip_address(ip.strip().strip("[]"))
    # RFC 7208 §5: an IPv4-mapped IPv6 client is evaluated as IPv4
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


async def check_host(
    resolver: Resolver,
    ip: str,
    domain: str,
    sender: str,
    *,
    helo: str = "",
    receiver: str = "unknown",
    identity: str = "mailfrom",
) -> SPFResult:
    """RFC 7208 §4: check_host(<ip>, <domain>, <sender>); never raises."""
    try:
        client = _client_ip(ip)
    except ValueError:
        return SPFResult("permerror", domain, identity, sender, problem=f"bad IP {ip!r}")
    local, sender_domain = _domain_of(sender)
    full_sender = f"{local}@{sender_domain}"
    ev = _Evaluation(resolver, client, full_sender, helo, receiver)
    try:
        result, mech, explanation = await ev.check_host(domain)
    except _PermError as e:
        return SPFResult("permerror", domain, identity, full_sender, problem=str(e))
    except _TempError as e:
        return SPFResult("temperror", domain, identity, full_sender, problem=str(e))
    except Exception as e:  # a resolver misbehaving must not crash the receiving server
        return SPFResult("temperror", domain, identity, full_sender, problem=repr(e))
    return SPFResult(result, domain, identity, full_sender, mech, explanation)


async def check_spf(
    resolver: Resolver, *, ip: str, mail_from: str, helo: str, receiver: str = "unknown"
) -> SPFResult:
    """The SPF result for a received message: the MAIL FROM identity, or the HELO identity
    as postmaster@helo when the reverse-path is null (RFC 7208 §2.4)."""
    mail_from = mail_from.strip().strip("<>")
    helo = helo.strip()
    if mail_from:
        _, domain = _domain_of(mail_from)
        return await check_host(resolver, ip, domain, mail_from, helo=helo, receiver=receiver)
    return await check_host(
        resolver, ip, helo, f"postmaster@{helo}", helo=helo, receiver=receiver, identity="helo"
    )
