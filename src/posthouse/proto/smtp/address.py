"""SMTP paths and ESMTP parameters: the arguments of MAIL FROM and RCPT TO.

RFC 5321 §4.1.2 gives the grammar (Path, Mailbox, Local-part, Domain, address
literals, esmtp-param), RFC 6531 §3.3 widens it to UTF-8 for SMTPUTF8, RFC 3461 §4
defines the xtext encoding of the DSN parameters ORCPT and ENVID.

Errors are `SMTPError`s carrying the reply to send. A path is either a reverse-path
(MAIL FROM, `allow_null=True`) or a forward-path (RCPT TO, `allow_null=False`); the two
differ in what they accept (`<>` only for the first, `<postmaster>` only for the second)
and in the enhanced status code of a syntax error (RFC 3463: X.1.7 bad sender's
address syntax, X.1.3 bad destination address syntax).
"""

from __future__ import annotations

import ipaddress
import re

from posthouse.proto.smtp.reply import SMTPError

# RFC 5321 §4.1.2 atext (from RFC 5322 §3.2.3), widened by RFC 6531 §3.3 to any
# UTF8-non-ascii; whether non-ASCII is allowed at all is checked separately (_ascii_gate).
_NON_ASCII = "\u0080-\U0010ffff"
_ATEXT = rf"A-Za-z0-9!#$%&'*+/=?^_`{{|}}~\-{_NON_ASCII}"
_DOT_STRING = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
# RFC 5321 §4.1.2: qtextSMTP = %d32-33 / %d35-91 / %d93-126, quoted-pairSMTP = "\" %d32-126
_QUOTED_STRING = rf'"(?:[\x20\x21\x23-\x5b\x5d-\x7e{_NON_ASCII}]|\\[\x20-\x7e])*"'
_LOCAL_PART = re.compile(rf"(?:{_DOT_STRING}|{_QUOTED_STRING})")
# RFC 5321 §4.1.2: sub-domain = Let-dig [Ldh-str]; RFC 6531 §3.3 adds U-labels.
_LETDIG = rf"A-Za-z0-9{_NON_ASCII}"
_SUB_DOMAIN = rf"[{_LETDIG}](?:[{_LETDIG}\-]*[{_LETDIG}])?"
_DOMAIN = re.compile(rf"{_SUB_DOMAIN}(?:\.{_SUB_DOMAIN})*")
# RFC 5321 §4.1.3: General-address-literal = Standardized-tag ":" 1*dcontent
_GENERAL_LITERAL = re.compile(r"[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+")

# RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
# esmtp-value = 1*(%d33-60 / %d62-126), plus UTF8-non-ascii (RFC 6531 §3.3).
_ESMTP_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_ESMTP_VALUE = re.compile(rf"[\x21-\x3c\x3e-\x7e{_NON_ASCII}]+")

# RFC 3461 §4: xtext = *( xchar / hexchar ); xchar is "!".."~" except "+" and "=",
# hexchar is "+" and two upper-case hex digits.
_XTEXT = re.compile(r"(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*")
_HEXCHAR = re.compile(r"\+([0-9A-F]{2})")

MAX_PATH_OCTETS = 256  # RFC 5321 §4.5.3.1.3, including the angle brackets
MAX_DOMAIN_OCTETS = 255  # RFC 5321 §4.5.3.1.2
MAX_LABEL_OCTETS = 63  # RFC 1035 §2.3.4


def _syntax_error(allow_null: bool, text: str) -> SMTPError:
    if allow_null:
        return SMTPError.of(501, "5.1.7", f"Bad sender address syntax: {text}")
    return SMTPError.of(501, "5.1.3", f"Bad recipient address syntax: {text}")


def _ascii_gate(address: str, utf8_allowed: bool) -> None:
    # RFC 6531 §3.5: a non-ASCII address without the SMTPUTF8 parameter is refused
    # with 553 and, with enhanced status codes, X.6.7 (registered by RFC 6531 §4).
    if not utf8_allowed and not address.isascii():
        raise SMTPError.of(553, "5.6.7", "Non-ASCII address requires SMTPUTF8 (RFC 6531)")


def split_path_params(text: str, *, allow_null: bool) -> tuple[str, str]:
    """Split the text after "FROM:" / "TO:" into the path and the parameters.

    The path is either `<...>` (a `>` inside a quoted local part does not end it)
    or, for people typing by hand, a bare mailbox up to the first space. Leading and
    trailing spaces are tolerated (`MAIL FROM: <a@b>`).
    """
    text = text.strip(" \t")
    if not text:
        raise _syntax_error(allow_null, "missing address")
    bracketed = text.startswith("<")
    in_quote = False
    escaped = False
    end = len(text)
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif in_quote and ch == "\\":
            escaped = True
        elif ch == '"':
            in_quote = not in_quote
        elif in_quote:
            continue
        elif bracketed and ch == ">":
            end = i + 1
            break
        elif not bracketed and ch in " \t":
            end = i
            break
    else:
        if bracketed:
            raise _syntax_error(allow_null, "missing '>'")
    rest = text[end:]
    if rest and rest[0] not in " \t":
        raise _syntax_error(allow_null, "missing space before parameters")
    return text[:end], rest.strip(" \t")


def parse_path(text: str, *, allow_null: bool, utf8_allowed: bool) -> str:
    """Parse a reverse-path (`allow_null=True`) or forward-path into an address.

    Returns the mailbox as given (local part and domain keep their case; a quoted
    local part keeps its quotes), "" for the null path `<>` and "postmaster" for the
    bare `<postmaster>` of a forward-path. A source route is dropped.
    """
    raw = text.strip(" \t")
    # RFC 5321 §4.5.3.1.3: the maximum length of a path is 256 octets.
    if len(raw.encode("utf-8")) > MAX_PATH_OCTETS:
        raise _syntax_error(allow_null, "path too long (RFC 5321 section 4.5.3.1.3)")
    if raw.startswith("<"):
        if not raw.endswith(">"):
            raise _syntax_error(allow_null, raw)
        inner = raw[1:-1].strip(" \t")
    else:
        # Not RFC 5321, but what people type by hand: MAIL FROM:a@b
        inner = raw
    if inner == "":
        if allow_null and raw.startswith("<"):
            # RFC 5321 §4.5.5: the null reverse-path, used by bounces.
            return ""
        raise _syntax_error(allow_null, raw or "missing address")
    if not allow_null and inner.lower() == "postmaster":
        # RFC 5321 §4.5.1: <Postmaster> without a domain must be accepted (any case).
        return "postmaster"
    if inner.startswith("@"):
        inner = _strip_source_route(inner, allow_null)
    _ascii_gate(inner, utf8_allowed)
    _check_mailbox(inner, allow_null)
    return inner


def _strip_source_route(inner: str, allow_null: bool) -> str:
    # RFC 5321 §4.1.1.3 and Appendix C: A-d-l = At-domain *( "," At-domain ) ":"
    # must be accepted, and the relay hosts ignored.
    route, colon, mailbox = inner.partition(":")
    if not colon:
        raise _syntax_error(allow_null, inner)
    for hop in route.split(","):
        hop = hop.strip(" \t")
        if not hop.startswith("@") or not _valid_domain(hop[1:]):
            raise _syntax_error(allow_null, inner)
    return mailbox


def _check_mailbox(mailbox: str, allow_null: bool) -> None:
    # RFC 5321 §4.1.2: Mailbox = Local-part "@" ( Domain / address-literal )
    match = _LOCAL_PART.match(mailbox)
    if match is None or mailbox[match.end() : match.end() + 1] != "@":
        raise _syntax_error(allow_null, mailbox)
    # RFC 5321 §4.5.3.1.1 limits local parts to 64 octets, but §4.5.3.1 asks to
    # impose no limits where possible, and real local parts do exceed it.
    domain = mailbox[match.end() + 1 :]
    if domain.startswith("["):
        if not _valid_address_literal(domain):
            raise _syntax_error(allow_null, mailbox)
    elif not _valid_domain(domain):
        raise _syntax_error(allow_null, mailbox)


def _valid_domain(domain: str) -> bool:
    if _DOMAIN.fullmatch(domain) is None:
        return False
    if len(domain.encode("utf-8")) > MAX_DOMAIN_OCTETS:
        return False
    return all(len(label) <= MAX_LABEL_OCTETS for label in domain.split(".") if label.isascii())


def _valid_address_literal(literal: str) -> bool:
    # RFC 5321 §4.1.3: address-literal = "[" ( IPv4-address-literal /
    # IPv6-address-literal / General-address-literal ) "]"
    if not literal.endswith("]"):
        return False
    body = literal[1:-1]
    if body[:5].lower() == "ipv6:":
        try:
            ipaddress.IPv6Address(body[5:])
        except ValueError:
            return False
        return True
    try:
        ipaddress.IPv4Address(body)
    except ValueError:
        return _GENERAL_LITERAL.fullmatch(body) is not None and body.isascii()
    return True


def parse_params(text: str) -> dict[str, str | None]:
    """Parse `KEY=VALUE` / `KEY` parameters (RFC 5321 §4.1.2 Mail-parameters).

    Keys are upper-cased (keywords are case-insensitive), values are kept as given.
    Syntax errors and repeated keywords raise SMTPError 501 5.5.4.
    """
    params: dict[str, str | None] = {}
    for token in text.split():
        key, eq, value = token.partition("=")
        if _ESMTP_KEYWORD.fullmatch(key) is None:
            raise SMTPError.of(501, "5.5.4", f"Bad parameter syntax: {token}")
        if eq and _ESMTP_VALUE.fullmatch(value) is None:
            raise SMTPError.of(501, "5.5.4", f"Bad parameter value: {token}")
        upper = key.upper()
        if upper in params:
            raise SMTPError.of(501, "5.5.4", f"Duplicate parameter: {upper}")
        params[upper] = value if eq else None
    return params


def is_xtext(text: str) -> bool:
    """Whether `text` is valid xtext (RFC 3461 §4)."""
    return _XTEXT.fullmatch(text) is not None


def decode_xtext(text: str) -> str:
    """Decode xtext (RFC 3461 §4): "+HH" is the octet 0xHH; octets are UTF-8."""
    if not is_xtext(text):
        raise SMTPError.of(501, "5.5.4", "Bad xtext encoding (RFC 3461 section 4)")
    raw = _HEXCHAR.sub(lambda m: chr(int(m.group(1), 16)), text)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise SMTPError.of(501, "5.5.4", "Bad xtext encoding: not UTF-8") from None


def encode_xtext(text: str) -> str:
    """Encode as xtext (RFC 3461 §4): "+", "=", controls, space and non-ASCII
    octets (UTF-8) become "+HH"."""
    out = []
    for octet in text.encode("utf-8"):
        if 0x21 <= octet <= 0x7E and octet not in (0x2B, 0x3D):
            out.append(chr(octet))
        else:
            out.append(f"+{octet:02X}")
    return "".join(out)
