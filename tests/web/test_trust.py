"""Trust banners: forged senders, display-name tricks, Authentication-Results origin."""

from __future__ import annotations

from posthouse.mime.display import parse
from posthouse.web.trust import aligned, assess, organizational_domain

HOST = "mail.example.test"


def check(raw: bytes, meta: dict | None = None) -> list[str]:  # type: ignore[type-arg]
    smtp = {"remote_ip": "192.0.2.1", "helo": "h", "tls": None, "authenticated": None}
    smtp.update((meta or {}).get("smtp", {}))
    trust = assess(parse(raw), {"smtp": smtp}, hostname=HOST, local_domains={"example.test"})
    return trust.warnings


def test_aligned_mail_is_quiet() -> None:
    raw = b"From: Bank <news@bank.example>\r\nSubject: x\r\n\r\nbody\r\n"
    assert check(raw, {"smtp": {"sender": "bounce@mail.bank.example"}}) == []


def test_unaligned_envelope_without_signature() -> None:
    raw = b"From: Bank <news@bank.example>\r\nSubject: x\r\n\r\nbody\r\n"
    warnings = check(raw, {"smtp": {"sender": "x@cheap-host.example"}})
    assert any("not the domain that sent it" in w for w in warnings)


def test_aligned_dkim_clears_it() -> None:
    raw = (
        b"Authentication-Results: mail.example.test; dkim=pass header.d=bank.example\r\n"
        b"From: Bank <news@bank.example>\r\nSubject: x\r\n\r\nbody\r\n"
    )
    assert check(raw, {"smtp": {"sender": "x@esp.example"}}) == []


def test_forged_results_from_elsewhere_are_ignored() -> None:
    raw = (
        b"Authentication-Results: evil.example; dkim=pass header.d=bank.example; dmarc=pass\r\n"
        b"From: Bank <news@bank.example>\r\nSubject: x\r\n\r\nbody\r\n"
    )
    assert check(raw, {"smtp": {"sender": "x@evil.example"}})


def test_dmarc_fail_and_own_domain_spoof_and_display_name() -> None:
    raw = (
        b"Authentication-Results: mail.example.test; dmarc=fail header.from=bank.example\r\n"
        b"From: Bank <news@bank.example>\r\n\r\nx\r\n"
    )
    assert any("DMARC failed" in w for w in check(raw, {"smtp": {"sender": "a@bank.example"}}))
    own = b"From: Boss <ceo@example.test>\r\n\r\nx\r\n"
    assert any("a domain of this server" in w for w in check(own))
    tricked = b'From: "support@paypal.example" <x@evil.example>\r\n\r\nx\r\n'
    warnings = check(tricked, {"smtp": {"sender": "x@evil.example"}})
    assert any("name shows the address" in w for w in warnings)


def test_our_own_users_are_trusted() -> None:
    raw = b"From: Alice <alice@example.test>\r\n\r\nx\r\n"
    trust = assess(parse(raw), {"web": {"authenticated": "alice@example.test"}},
                   hostname=HOST, local_domains={"example.test"})
    assert trust.warnings == []


def test_organizational_domain() -> None:
    assert organizational_domain("a.b.bank.example") == "bank.example"
    assert organizational_domain("mail.bank.co.uk") == "bank.co.uk"
    assert aligned("mail.bank.example", "bank.example")
    assert not aligned("bank.example.evil.example", "bank.example")


def test_the_servers_own_verdict_is_shown() -> None:
    raw = b"From: Bank <news@bank.example>\r\n\r\nx\r\n"
    meta = {
        "smtp": {"remote_ip": "192.0.2.1", "sender": "x@other.example", "authenticated": None},
        "auth": {"forged": True, "forged_reason": "DMARC policy of bank.example: reject"},
    }
    trust = assess(parse(raw), meta, hostname=HOST, local_domains=set())
    assert trust.warnings == [
        "The server's sender checks failed for this From: DMARC policy of bank.example: reject."
    ]
    meta["auth"] = {"forged": False}
    assert assess(parse(raw), meta, hostname=HOST, local_domains=set()).warnings == []
