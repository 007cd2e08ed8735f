"""Autoconfiguration as Thunderbird and Outlook read it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.web.conftest import Site

AUTODISCOVER_REQUEST = b"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request><EMailAddress>alice@example.test</EMailAddress>
  <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request></Autodiscover>"""


def test_thunderbird_config(site: Site) -> None:
    for path in ("/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"):
        response = site.client.get(path, params={"emailaddress": "alice@example.test"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(response.content)
        assert root.tag == "clientConfig" and root.get("version") == "1.1"
        provider = root.find("emailProvider")
        assert provider is not None and provider.get("id") == "example.test"
        assert provider.findtext("domain") == "example.test"
        incoming = provider.findall("incomingServer")
        outgoing = provider.findall("outgoingServer")
        assert [s.get("type") for s in incoming] == ["imap", "imap", "pop3"]
        assert [s.get("type") for s in outgoing] == ["smtp"]
        first = incoming[0]
        assert first.findtext("hostname") == "mail.example.test"
        assert first.findtext("port") == "2993" and first.findtext("socketType") == "SSL"
        assert incoming[1].findtext("socketType") == "STARTTLS"
        smtp = outgoing[0]
        assert smtp.findtext("port") == "2587" and smtp.findtext("socketType") == "STARTTLS"
        for server in incoming + outgoing:
            assert server.findtext("authentication") == "password-cleartext"
            assert server.findtext("username") == "%EMAILADDRESS%"
    unknown = site.client.get("/mail/config-v1.1.xml", params={"emailaddress": "a@other.example"})
    assert unknown.status_code == 404


def test_outlook_autodiscover(site: Site) -> None:
    response = site.client.post("/autodiscover/autodiscover.xml", content=AUTODISCOVER_REQUEST,
                                headers={"content-type": "text/xml"})
    assert response.status_code == 200
    ns = {
        "a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
        "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a",
    }
    root = ET.fromstring(response.content)
    account = root.find("o:Response/o:Account", ns)
    assert account is not None
    assert account.findtext("o:AccountType", namespaces=ns) == "email"
    assert account.findtext("o:Action", namespaces=ns) == "settings"
    protocols = {p.findtext("o:Type", namespaces=ns): p for p in account.findall("o:Protocol", ns)}
    assert set(protocols) == {"IMAP", "POP3", "SMTP"}
    imap = protocols["IMAP"]
    assert imap.findtext("o:Server", namespaces=ns) == "mail.example.test"
    assert imap.findtext("o:Port", namespaces=ns) == "2993"
    assert imap.findtext("o:SSL", namespaces=ns) == "on"
    assert imap.findtext("o:LoginName", namespaces=ns) == "alice@example.test"
    assert protocols["SMTP"].findtext("o:Encryption", namespaces=ns) == "TLS"
    missing = site.client.post("/autodiscover/autodiscover.xml", content=b"<x/>")
    assert missing.status_code == 404
    hostile = site.client.post(
        "/autodiscover/autodiscover.xml",
        content=b"<EMailAddress>a&lt;b@example.test</EMailAddress>",
    )
    assert hostile.status_code == 404
    assert site.client.post("/autodiscover/autodiscover.xml",
                            content=b"x" * 20000).status_code == 413
