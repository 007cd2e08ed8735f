"""Mail client autoconfiguration, served without sign-in at the standard places:

- Thunderbird: `/.well-known/autoconfig/mail/config-v1.1.xml` and
  `/mail/config-v1.1.xml` (the clientConfig 1.1 format of Mozilla's ISPDB);
- Outlook: `/autodiscover/autodiscover.xml` (POST of an Autodiscover request, the
  "POX" schema, answered with the outlook responseschema 2006a).

Both list the same servers as the "set up your mail client" page.  Nothing from a
request is parsed as XML: the one value needed, the address, is cut out and checked.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from posthouse.accounts.addresses import AddressError, domain_of, normalize_address
from posthouse.web.client_setup import client_servers
from posthouse.web.state import web_state

XML = "application/xml; charset=utf-8"
_EMAIL_ELEMENT = re.compile(rb"<EMailAddress>\s*([^<\s]{1,320})\s*</EMailAddress>", re.IGNORECASE)
MAX_REQUEST = 16 * 1024


async def _address_and_domain(request: Request, address: str | None) -> tuple[str, str] | None:
    """(address or "", domain) when the domain is one of ours, else None."""
    state = web_state(request)
    if address:
        try:
            normalized = normalize_address(address)
        except AddressError:
            return None
        domain = domain_of(normalized)
        if await state.store.get_domain(domain) is None:
            return None
        return normalized, domain
    return "", state.ctx.config.domain


async def thunderbird(request: Request) -> Response:
    found = await _address_and_domain(request, request.query_params.get("emailaddress"))
    if found is None:
        return Response("unknown domain", status_code=404, media_type="text/plain")
    _address, domain = found
    servers = client_servers(web_state(request).ctx.config)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<clientConfig version="1.1">',
        f'  <emailProvider id="{escape(domain)}">',
        f"    <domain>{escape(domain)}</domain>",
        f"    <displayName>{escape(domain)} mail (posthouse)</displayName>",
        f"    <displayShortName>{escape(domain)}</displayShortName>",
    ]
    for s in sorted(servers, key=lambda s: s.kind == "smtp"):
        element = "outgoingServer" if s.kind == "smtp" else "incomingServer"
        lines += [
            f'    <{element} type="{s.kind}">',
            f"      <hostname>{escape(s.hostname)}</hostname>",
            f"      <port>{s.port}</port>",
            f"      <socketType>{s.socket_type}</socketType>",
            "      <authentication>password-cleartext</authentication>",
            "      <username>%EMAILADDRESS%</username>",
            f"    </{element}>",
        ]
    lines += ["  </emailProvider>", "</clientConfig>", ""]
    return Response("\n".join(lines), media_type=XML)


async def autodiscover(request: Request) -> Response:
    body = b""
    if request.method == "POST":
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST:
                return Response("request too large", status_code=413, media_type="text/plain")
    match = _EMAIL_ELEMENT.search(body)
    address = match.group(1).decode("utf-8", "replace") if match else None
    address = address or request.query_params.get("emailaddress")
    found = await _address_and_domain(request, address)
    if found is None or not found[0]:
        return Response("unknown address", status_code=404, media_type="text/plain")
    address, _domain = found
    servers = client_servers(web_state(request).ctx.config)
    # Outlook reads the first server of each type: implicit TLS comes first.
    seen: set[str] = set()
    protocols = []
    for s in servers:
        kind = {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}[s.kind]
        if kind in seen:
            continue
        seen.add(kind)
        encryption = "SSL" if s.socket_type == "SSL" else "TLS"
        protocols.append(
            "      <Protocol>\n"
            f"        <Type>{kind}</Type>\n"
            f"        <Server>{escape(s.hostname)}</Server>\n"
            f"        <Port>{s.port}</Port>\n"
            "        <DomainRequired>off</DomainRequired>\n"
            f"        <LoginName>{escape(address)}</LoginName>\n"
            "        <SPA>off</SPA>\n"
            f"        <SSL>{'off' if s.socket_type == 'plain' else 'on'}</SSL>\n"
            f"        <Encryption>{encryption}</Encryption>\n"
            "        <AuthRequired>on</AuthRequired>\n"
            "      </Protocol>"
        )
    document = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">\n'
        '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
        'responseschema/2006a">\n'
        "    <Account>\n"
        "      <AccountType>email</AccountType>\n"
        "      <Action>settings</Action>\n" + "\n".join(protocols) + "\n"
        "    </Account>\n"
        "  </Response>\n"
        "</Autodiscover>\n"
    )
    return Response(document, media_type=XML)
