"""The EHLO reply: what a server advertises and what a client learns from it.

RFC 5321 §4.1.1.1: ehlo-ok-rsp is the server's domain and a greeting on the first
line, then one line per extension: an ehlo-keyword and its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from posthouse.proto.smtp.reply import Reply


@dataclass(frozen=True, kw_only=True)
class ServerFeatures:
    """The extensions a server offers now. The server core validates commands and
    parameters against them; the session swaps them as the connection changes (AUTH
    is typically offered only once TLS is up, STARTTLS no longer once it is)."""

    starttls: bool = False
    auth_mechanisms: tuple[str, ...] = ()  # upper-case; empty: AUTH not offered now
    pipelining: bool = True  # RFC 2920
    size: bool = True  # RFC 1870
    eightbitmime: bool = True  # RFC 6152
    smtputf8: bool = True  # RFC 6531
    enhancedstatuscodes: bool = True  # RFC 2034
    chunking: bool = True  # RFC 3030
    dsn: bool = True  # RFC 3461
    help: bool = True  # RFC 5321 §4.1.1.8


def ehlo_lines(
    hostname: str, greeting_name: str, features: ServerFeatures, *, max_message_size: int = 0
) -> list[str]:
    """The text lines of a 250 reply to EHLO, greeting first.

    The first line is `hostname`, then `greeting_name`, the free text RFC 5321
    §4.1.1.1 calls ehlo-greet (say "Hello client.example [192.0.2.1]"; "" for none).
    `max_message_size` is the SIZE parameter (RFC 1870 §4); 0 advertises SIZE
    without a number: no fixed limit.
    """
    lines = [f"{hostname} {greeting_name}".rstrip(" ")]
    if features.pipelining:
        lines.append("PIPELINING")
    if features.size:
        lines.append(f"SIZE {max_message_size}" if max_message_size > 0 else "SIZE")
    if features.eightbitmime:
        lines.append("8BITMIME")
    if features.smtputf8:
        lines.append("SMTPUTF8")
    if features.enhancedstatuscodes:
        lines.append("ENHANCEDSTATUSCODES")
    if features.chunking:
        lines.append("CHUNKING")
    if features.dsn:
        lines.append("DSN")
    if features.starttls:
        lines.append("STARTTLS")
    if features.auth_mechanisms:
        lines.append("AUTH " + " ".join(features.auth_mechanisms))
    if features.help:
        lines.append("HELP")
    return lines


def ehlo_reply(
    hostname: str, greeting_name: str, features: ServerFeatures, *, max_message_size: int = 0
) -> Reply:
    """The whole 250 reply to EHLO. No enhanced status code: the keyword lines must
    start with the keyword (RFC 5321 §4.1.1.1)."""
    lines = ehlo_lines(hostname, greeting_name, features, max_message_size=max_message_size)
    return Reply(250, None, tuple(lines))


def parse_ehlo(reply: Reply) -> dict[str, str]:
    """The extensions a server's EHLO reply advertises: upper-case keyword ->
    parameters as one string ("" when none). The first line is the greeting."""
    extensions: dict[str, str] = {}
    legacy_auth = None
    for line in reply.lines[1:]:
        keyword, _, params = line.strip().partition(" ")
        keyword = keyword.upper()
        if not keyword:
            continue
        if keyword.startswith("AUTH="):
            # Pre-RFC 4954 servers advertise "AUTH=LOGIN PLAIN"; read it as AUTH
            # unless the standard keyword is there as well.
            legacy_auth = " ".join((keyword[5:] + " " + params.strip()).split())
            continue
        extensions[keyword] = " ".join(params.split())
    if legacy_auth is not None and "AUTH" not in extensions:
        extensions["AUTH"] = legacy_auth
    return extensions
