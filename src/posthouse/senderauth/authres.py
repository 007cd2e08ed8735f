"""The Authentication-Results header field (RFC 8601): written on receipt, read back
for display.  Writing never lets a value from the message break the grammar or the
header (no CR, LF or control characters; quoted where not a token); reading never
raises and keeps what it understood."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from posthouse.mime.headerblock import fields, unfold
from posthouse.mime.headers import split_message

FIELD_NAME = "Authentication-Results"
MAX_COMMENT = 120

# RFC 2045 §5.1 token: printable ASCII except SPACE and tspecials; RFC 8601 §2.2 pvalue
# also allows [local-part "@"] domain-name unquoted.
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+")
_PVALUE = re.compile(r"(?:[A-Za-z0-9!#$%&'*+\-.^_`{|}~]*@)?[A-Za-z0-9\-._]+")
_KEYWORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-_]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class MethodResult:
    """One resinfo (RFC 8601 §2.2): method=result, reason, properties, and a comment."""

    method: str
    result: str
    reason: str = ""
    properties: tuple[tuple[str, str], ...] = ()  # ("smtp.mailfrom", "a@b.example"), ...
    comment: str = ""

    def get(self, name: str) -> str:
        """The value of a property such as "header.from", or ""."""
        for key, value in self.properties:
            if key.lower() == name.lower():
                return value
        return ""


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str
    results: tuple[MethodResult, ...] = ()

    def get(self, method: str) -> list[MethodResult]:
        return [r for r in self.results if r.method.lower() == method.lower()]


# -- writing -------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """Printable ASCII only: what cannot travel in a header is replaced by '?'."""
    if text.isascii() and text.isprintable():  # ASCII isprintable(): " " to "~"
        return text
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)


def quote_value(text: str, *, pvalue: bool = False) -> str:
    """A token as it is, anything else as a quoted-string (RFC 5322 §3.2.4)."""
    text = _printable(text)
    if text and (_PVALUE if pvalue else _TOKEN).fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_COMMENT_SPECIAL = re.compile(r"([()\\])")


def comment_text(text: str) -> str:
    text = _printable(text)[:MAX_COMMENT]
    return "(" + _COMMENT_SPECIAL.sub(r"\\\1", text) + ")"


def format_resinfo(r: MethodResult) -> str:
    method = r.method if _KEYWORD.fullmatch(r.method) else "x-invalid"
    result = r.result if _KEYWORD.fullmatch(r.result) else "neutral"
    parts = [f"{method}={result}"]
    if r.comment:
        parts.append(comment_text(r.comment))
    if r.reason:
        parts.append(f"reason={quote_value(r.reason)}")
    for key, value in r.properties:
        ptype, _, prop = key.partition(".")
        if _KEYWORD.fullmatch(ptype) and _KEYWORD.fullmatch(prop):
            parts.append(f"{ptype}.{prop}={quote_value(value, pvalue=True)}")
    return " ".join(parts)


def format_value(authserv_id: str, results: Iterable[MethodResult]) -> str:
    """The field value, folded one result per line (RFC 8601 §2.2)."""
    resinfos = [format_resinfo(r) for r in results]
    head = quote_value(authserv_id, pvalue=True)
    if not resinfos:
        return f"{head}; none"  # RFC 8601 §2.2 no-result
    return head + ";\r\n\t" + ";\r\n\t".join(resinfos)


def format_header(authserv_id: str, results: Iterable[MethodResult]) -> bytes:
    """The whole header field, ending in CRLF, ready to prepend to a message."""
    return f"{FIELD_NAME}: {format_value(authserv_id, results)}\r\n".encode("ascii")


# -- reading -------------------------------------------------------------------------------

_SPECIALS = ";="


def _tokens(value: str) -> list[tuple[str, str]]:
    """(kind, text): kind is "word", "quoted", "comment", ";" or "=".  A "/" stays in
    its word: base64 values (header.b) hold it, and a method-version is split off later."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == "(":
            depth, j, buf = 1, i + 1, []
            while j < n and depth:
                c = value[j]
                if c == "\\" and j + 1 < n:
                    buf.append(value[j + 1])
                    j += 2
                    continue
                if c == "(":
                    depth += 1
                elif c == ")":
                    depth -= 1
                    if not depth:
                        break
                buf.append(c)
                j += 1
            out.append(("comment", "".join(buf).strip()))
            i = j + 1
        elif ch == '"':
            j, buf = i + 1, []
            while j < n and value[j] != '"':
                if value[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(value[j])
                j += 1
            out.append(("quoted", "".join(buf)))
            i = j + 1
        elif ch in _SPECIALS:
            out.append((ch, ch))
            i += 1
        else:
            j = i
            while j < n and value[j] not in ' \t\r\n();="':
                j += 1
            if j == i:  # a stray ")": skip it, and always make progress
                i += 1
                continue
            out.append(("word", value[i:j]))
            i = j
    return out


def _resinfo(tokens: list[tuple[str, str]]) -> MethodResult | None:
    comments = [t for k, t in tokens if k == "comment"]
    toks = [(k, t) for k, t in tokens if k != "comment"]
    if len(toks) < 3 or toks[0][0] != "word":
        return None
    method = toks[0][1].split("/", 1)[0]  # RFC 8601 §2.2: method [ "/" method-version ]
    i = 1
    if i + 1 >= len(toks) or toks[i][0] != "=" or toks[i + 1][0] != "word":
        return None
    result = toks[i + 1][1]
    i += 2
    reason = ""
    props: list[tuple[str, str]] = []
    while i + 2 < len(toks) and toks[i][0] == "word" and toks[i + 1][0] == "=":
        key, (kind, value) = toks[i][1], toks[i + 2]
        if kind not in ("word", "quoted"):
            break
        if key.lower() == "reason":
            reason = value
        elif "." in key:
            props.append((key.lower(), value))
        i += 3
    return MethodResult(method.lower(), result.lower(), reason, tuple(props), "; ".join(comments))


def parse_value(value: str) -> AuthenticationResults:
    """RFC 8601 §2.2, leniently: unknown or broken resinfos are skipped."""
    tokens = _tokens(value)
    segments: list[list[tuple[str, str]]] = [[]]
    for tok in tokens:
        if tok[0] == ";":
            segments.append([])
        else:
            segments[-1].append(tok)
    head = [t for k, t in segments[0] if k in ("word", "quoted")]
    authserv_id = head[0] if head else ""
    results = []
    for seg in segments[1:]:
        words = [t for k, t in seg if k != "comment"]
        if words == ["none"]:
            continue
        r = _resinfo(seg)
        if r is not None:
            results.append(r)
    return AuthenticationResults(authserv_id, tuple(results))


def find_in_message(raw: bytes) -> list[AuthenticationResults]:
    """Every Authentication-Results field of a message, top (newest) first."""
    header, _ = split_message(raw)
    out = []
    for name, value in fields(header):
        if name == b"authentication-results":
            out.append(parse_value(unfold(value).decode("utf-8", "replace")))
    return out


_FIELD_LINES = re.compile(rb"^([!-9;-~]+)[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*\n?", re.MULTILINE)


def remove_ours(raw: bytes, authserv_id: str) -> bytes:
    """RFC 8601 §5: an MTA removes fields bearing its own authserv-id that arrived with
    the message, so nobody can forge our verdict."""
    header, body = split_message(raw)
    ours = authserv_id.lower()
    kept = []
    pos = 0
    for m in _FIELD_LINES.finditer(header):
        kept.append(header[pos : m.start()])
        pos = m.end()
        if m.group(1).lower() == b"authentication-results":
            value = m.group(0).split(b":", 1)[1]
            parsed = parse_value(unfold(value).decode("utf-8", "replace"))
            if parsed.authserv_id.lower() == ours:
                continue
        kept.append(m.group(0))
    kept.append(header[pos:])
    return b"".join(kept) + body
