"""`posthouse dkim generate|list` and `posthouse dns` against an instance directory; the
records printed are the ones that make a signed message verify."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from posthouse.cli import main
from posthouse.config import load_config
from posthouse.resolver import StaticResolver
from posthouse.senderauth.dkim import sign_message, verify
from posthouse.senderauth.publish import records, static_table
from posthouse.senderauth.spf import check_spf


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    directory = tmp_path / "instance"
    directory.mkdir()
    (directory / "posthouse.toml").write_text(
        'domain = "alpha.test"\nhostname = "mx.alpha.test"\n'
        "[listeners.smtp]\nport = 2525\n[listeners.submission]\nport = 2587\n"
        "[listeners.imaps]\nport = 2993\n[listeners.https]\nport = 8443\n"
    )
    return directory


def run(directory: Path, *args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(main, [*args, "--dir", str(directory)])
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_generate_stores_private_keys(instance: Path) -> None:
    out = run(instance, "dkim", "generate", "Alpha.Test", "--selector", "s1").output
    assert "s1._domainkey.alpha.test. IN TXT" in out
    path = instance / "dkim" / "alpha.test" / "s1.pem"
    assert path.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    run(instance, "dkim", "generate", "alpha.test", "--kind", "ed25519", "--selector", "e1")
    assert (instance / "dkim" / "alpha.test" / "e1.pem").exists()
    rows = json.loads(run(instance, "dkim", "list", "--json").output)
    assert [(r["selector"], r["kind"]) for r in rows] == [("s1", "rsa"), ("e1", "ed25519")]


def test_generate_refuses_bad_names_and_overwrites(instance: Path) -> None:
    run(instance, "dkim", "generate", "alpha.test", "--selector", "s1")
    assert (
        "exists"
        in run(instance, "dkim", "generate", "alpha.test", "--selector", "s1", ok=False).output
    )
    run(instance, "dkim", "generate", "../etc", ok=False)
    run(instance, "dkim", "generate", "alpha.test", "--selector", "a/b", ok=False)
    run(instance, "dkim", "generate", "alpha.test", "--kind", "dsa", ok=False)


def test_default_selector(instance: Path) -> None:
    run(instance, "dkim", "generate", "alpha.test", "--kind", "ed25519")
    [row] = json.loads(run(instance, "dkim", "list", "alpha.test", "--json").output)
    assert row["selector"].startswith("ed25519") and len(row["selector"]) == len("ed25519202611")


def test_dns_prints_every_record(instance: Path) -> None:
    out = run(instance, "dns", "alpha.test").output
    assert "no DKIM key for alpha.test" in out
    run(instance, "dkim", "generate", "alpha.test", "--selector", "s1")
    out = run(
        instance, "dns", "alpha.test", "--ip", "192.0.2.25", "--dmarc-policy", "reject"
    ).output
    lines = out.splitlines()

    def has(prefix: str) -> str:
        found = [line for line in lines if line.startswith(prefix)]
        assert found, (prefix, out)
        return found[0]

    assert "10 mx.alpha.test." in has("alpha.test. IN MX")
    assert "192.0.2.25" in has("mx.alpha.test. IN A")
    assert '"v=spf1 mx -all"' in has("alpha.test. IN TXT")
    dkim = has("s1._domainkey.alpha.test. IN TXT")
    assert dkim.count('"') >= 4  # a 2048-bit key needs two character-strings
    assert "p=reject" in has("_dmarc.alpha.test. IN TXT")
    assert "0 1 2587 mx.alpha.test." in has("_submission._tcp.alpha.test. IN SRV")
    assert "0 1 2993 mx.alpha.test." in has("_imaps._tcp.alpha.test. IN SRV")
    assert "0 0 0 ." in has("_pop3._tcp.alpha.test. IN SRV")
    assert "mx.alpha.test." in has("autoconfig.alpha.test. IN CNAME")
    assert "mx.alpha.test." in has("autodiscover.alpha.test. IN CNAME")
    rows = json.loads(run(instance, "dns", "alpha.test", "--json").output)
    assert {r["type"] for r in rows} == {"MX", "TXT", "SRV", "CNAME"}


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
async def test_published_records_verify_signed_mail(instance: Path, kind: str) -> None:
    if kind == "ed25519":
        pytest.importorskip("nacl", reason="Ed25519 DKIM needs PyNaCl (dkimpy[ed25519])")
    run(instance, "dkim", "generate", "alpha.test", "--kind", kind, "--selector", "e1")
    config = load_config(instance)
    table = static_table(records(config, "alpha.test", addresses=("127.0.0.2",)))
    resolver = StaticResolver(table)
    pem = (instance / "dkim" / "alpha.test" / "e1.pem").read_bytes()
    raw = sign_message(
        b"From: a@alpha.test\r\nSubject: x\r\n\r\nhi\r\n",
        domain="alpha.test",
        selector="e1",
        private_pem=pem,
    )
    assert [r.result for r in await verify(resolver, raw)] == ["pass"]
    spf = await check_spf(resolver, ip="127.0.0.2", mail_from="a@alpha.test", helo="x")
    assert spf.result == "pass"
