"""`posthouse domain|user|alias`, end to end against a real instance directory and the
SQLite store, checked by logging in through the Authenticator and resolving through
the Directory afterwards."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner, Result

pytest.importorskip("posthouse.store.sqlite.backend")

from posthouse.accounts.authenticate import Authenticator, AuthReason, AuthResult
from posthouse.accounts.directory import Directory, Outcome
from posthouse.accounts.throttle import LoginThrottle
from posthouse.cli import main
from posthouse.config import load_config
from posthouse.store import open_store
from posthouse.store.base import Store

T = TypeVar("T")
ALICE = "alice@example.test"
ALICE_PW = "alice-Secret-42"


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    directory = tmp_path / "instance"
    directory.mkdir()
    (directory / "posthouse.toml").write_text(
        'domain = "example.test"\nhostname = "mail.example.test"\n'
    )
    return directory


class Admin:
    """Runs `posthouse …` against one instance, with --dir on the subcommand."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, ok: bool = True) -> Result:
        result = self.runner.invoke(main, [*args, "--dir", str(self.directory)], input=input)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def fails(self, *args: str, input: str | None = None) -> str:
        result = self(*args, input=input, ok=False)
        assert result.exit_code == 1
        assert "Traceback" not in result.output
        return result.output

    def with_store(self, work: Callable[[Store], Awaitable[T]]) -> T:
        async def go() -> T:
            config = load_config(self.directory)
            store = await open_store(config.database_path, config.blob_dir)
            try:
                return await work(store)
            finally:
                await store.close()

        return asyncio.run(go())

    def login(self, username: str, password: str, protocol: str = "imap") -> AuthResult:
        async def work(store: Store) -> AuthResult:
            auth = Authenticator(store, LoginThrottle())
            return await auth.authenticate(
                username, password, protocol=protocol, remote_ip="127.0.0.1"
            )

        return self.with_store(work)


@pytest.fixture
def admin(instance: Path) -> Admin:
    admin = Admin(instance)
    admin("domain", "add", "example.test")
    return admin


def test_domain_add_list_del(admin: Admin) -> None:
    assert "already exists" in admin.fails("domain", "add", "EXAMPLE.test")
    result = admin("domain", "add", "Bücher.example")
    assert "xn--bcher-kva.example" in result.output
    domains = admin.json("domain", "list")
    assert [d["name"] for d in domains] == ["example.test", "xn--bcher-kva.example"]
    assert domains[0]["users"] == 0 and domains[0]["created"]
    table = admin("domain", "list").output
    assert "example.test" in table and "xn--bcher-kva.example" in table
    admin("domain", "del", "bücher.example")
    assert [d["name"] for d in admin.json("domain", "list")] == ["example.test"]
    assert "no such domain" in admin.fails("domain", "del", "bücher.example").lower()
    assert "invalid domain" in admin.fails("domain", "add", "bad_domain!")


def test_user_add_with_password_stdin(admin: Admin) -> None:
    result = admin(
        "user",
        "add",
        "Alice@Example.TEST",
        "--password-stdin",
        "--name",
        "Alice Liddell",
        "--admin",
        "--quota",
        "1G",
        input=ALICE_PW + "\n",
    )
    assert "Created user alice@example.test" in result.output
    assert ALICE_PW not in result.output
    [alice] = admin.json("user", "list")
    assert alice == {
        "address": ALICE,
        "display_name": "Alice Liddell",
        "enabled": True,
        "is_admin": True,
        "protocols": ["smtp", "pop3", "imap", "web"],
        "quota_bytes": 1 << 30,
        "created": alice["created"],
    }
    assert admin.login("ALICE@example.test", ALICE_PW).ok
    assert not admin.login(ALICE, "wrong").ok


def test_user_add_generates_a_password_shown_once(admin: Admin) -> None:
    result = admin("user", "add", "bob@example.test")
    match = re.search(r"Password: (\S+)", result.output)
    assert match, result.output
    assert admin.login("bob@example.test", match.group(1)).ok
    assert match.group(1) not in admin("user", "list").output
    data = admin.json("user", "add", "carol@example.test")
    assert admin.login("carol@example.test", data["password"]).ok


def test_user_add_errors(admin: Admin) -> None:
    admin("user", "add", ALICE, "--password-stdin", input=ALICE_PW)
    assert "already exists" in admin.fails("user", "add", "ALICE@example.test")
    out = admin.fails("user", "add", "dave@nowhere.test")
    assert "domain nowhere.test does not exist" in out
    assert "too short" in admin.fails(
        "user", "add", "e@example.test", "--password-stdin", input="x\n"
    )
    assert "empty password" in admin.fails(
        "user", "add", "e@example.test", "--password-stdin", input="\n"
    )
    assert "invalid" in admin.fails("user", "add", "not..valid@example.test")
    assert admin("user", "add", "x@example.test", "--quota", "lots", ok=False).exit_code == 2
    admin("alias", "add", "info@example.test", ALICE)
    assert "is an alias" in admin.fails("user", "add", "info@example.test")
    assert [u["address"] for u in admin.json("user", "list")] == [ALICE]


def test_user_list_by_domain_and_table(admin: Admin) -> None:
    admin("domain", "add", "other.test")
    admin("user", "add", ALICE, "--password-stdin", input=ALICE_PW)
    admin("user", "add", "zed@other.test", "--quota", "500M")
    assert [u["address"] for u in admin.json("user", "list", "--domain", "other.test")] == [
        "zed@other.test"
    ]
    table = admin("user", "list").output
    assert ALICE in table and "zed@other.test" in table
    assert "500 MiB" in table and "unlimited" in table
    assert "smtp pop3 imap web" in table
    assert "does not exist" in admin.fails("user", "list", "--domain", "ghost.test")


def test_passwd(admin: Admin) -> None:
    admin("user", "add", ALICE, "--password-stdin", input=ALICE_PW)
    admin("user", "passwd", ALICE, "--password-stdin", input="brand-new-pass\n")
    assert not admin.login(ALICE, ALICE_PW).ok
    assert admin.login(ALICE, "brand-new-pass").ok
    generated = admin.json("user", "passwd", ALICE)["password"]
    assert admin.login(ALICE, generated).ok
    assert "no such user" in admin.fails("user", "passwd", "ghost@example.test")


def test_enable_disable(admin: Admin) -> None:
    admin("user", "add", ALICE, "--password-stdin", input=ALICE_PW)
    assert "Disabled alice@example.test" in admin("user", "disable", ALICE).output
    assert admin.login(ALICE, ALICE_PW).reason is AuthReason.DISABLED
    assert admin.json("user", "list")[0]["enabled"] is False
    admin("user", "enable", ALICE)
    assert admin.login(ALICE, ALICE_PW).ok
    assert "no such user" in admin.fails("user", "disable", "ghost@example.test")


def test_protocol_switches(admin: Admin) -> None:
    admin("user", "add", ALICE, "--password-stdin", input=ALICE_PW)
    data = admin.json("user", "protocols", ALICE, "--disable", "imap", "--disable", "POP3")
    assert data == {"address": ALICE, "protocols": ["smtp", "web"]}
    assert admin.login(ALICE, ALICE_PW, "imap").reason is AuthReason.PROTOCOL_DISABLED
    assert admin.login(ALICE, ALICE_PW, "smtp").ok
    out = admin("user", "protocols", ALICE, "--enable", "pop3").output
    assert out.strip() == "alice@example.test: smtp pop3 web"
    assert admin.json("user", "list")[0]["protocols"] == ["smtp", "pop3", "web"]
    assert admin("user", "protocols", ALICE).output.strip() == "alice@example.test: smtp pop3 web"
    assert admin("user", "protocols", ALICE, "--enable", "ftp", ok=False).exit_code == 2
    result = admin("user", "protocols", ALICE, "--enable", "imap", "--disable", "imap", ok=False)
    assert "both enabled and disabled" in result.output


def test_user_set(admin: Admin) -> None:
    admin("user", "add", ALICE, "--password-stdin", "--quota", "1G", input=ALICE_PW)
    admin("user", "set", ALICE, "--name", "Alice", "--admin", "--quota", "unlimited")
    [alice] = admin.json("user", "list")
    assert (alice["display_name"], alice["is_admin"], alice["quota_bytes"]) == ("Alice", True, None)
    assert admin("user", "set", ALICE, ok=False).exit_code == 2


def test_app_passwords(admin: Admin) -> None:
    admin("user", "add", ALICE, "--password-stdin", input=ALICE_PW)
    admin("user", "protocols", ALICE, "--disable", "imap", "--disable", "smtp", "--disable", "pop3")
    result = admin(
        "user",
        "app-password",
        "add",
        ALICE,
        "Thunderbird",
        "--protocol",
        "imap",
        "--protocol",
        "smtp",
    )
    match = re.search(r"\b([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})\b", result.output)
    assert match, result.output
    code = match.group(1)
    phone = admin.json("user", "app-password", "add", ALICE, "Phone")
    assert phone["protocols"] == ["smtp", "pop3", "imap"] and re.fullmatch(
        r"[a-z]{4}( [a-z]{4}){3}", phone["code"]
    )

    login = admin.login(ALICE, code.replace(" ", ""), "imap")
    assert login.ok and login.via_app_password == "Thunderbird"
    assert admin.login(ALICE, code, "pop3").reason is AuthReason.PROTOCOL_DISABLED
    assert admin.login(ALICE, ALICE_PW, "imap").reason is AuthReason.PROTOCOL_DISABLED

    listed = {r["name"]: r for r in admin.json("user", "app-password", "list", ALICE)}
    assert set(listed) == {"Thunderbird", "Phone"}
    assert listed["Thunderbird"]["last_used"] is not None
    assert listed["Phone"]["last_used"] is None
    assert "code" not in listed["Phone"]
    table = admin("user", "app-password", "list", ALICE).output
    assert "Thunderbird" in table and code not in table

    assert "already has" in admin.fails("user", "app-password", "add", ALICE, "Phone")
    admin("user", "app-password", "revoke", ALICE, "Thunderbird")
    assert admin.login(ALICE, code, "imap").reason is AuthReason.BAD_CREDENTIALS
    revoked = {r["name"]: r for r in admin.json("user", "app-password", "list", ALICE)}
    assert revoked["Thunderbird"]["revoked"] is True
    assert "already revoked" in admin("user", "app-password", "revoke", ALICE, "Thunderbird").output
    assert "no app password" in admin.fails("user", "app-password", "revoke", ALICE, "Nope")
    assert "no such user" in admin.fails("user", "app-password", "add", "x@example.test", "A")
    # a revoked name can be used again for a new code
    admin("user", "app-password", "add", ALICE, "Thunderbird")


def test_aliases(admin: Admin) -> None:
    admin("user", "add", ALICE, "--password-stdin", input=ALICE_PW)
    admin("user", "add", "bob@example.test")
    result = admin(
        "alias",
        "add",
        "Sales@example.test",
        ALICE,
        "bob@example.test",
        "partner@remote.test",
        ALICE,
    )
    assert "Added alias sales@example.test" in result.output
    result = admin("alias", "add", "@example.test", "postmaster@example.test")
    assert "no user or alias yet for postmaster@example.test" in result.output
    admin("alias", "add", "postmaster@example.test", ALICE)

    aliases = {a["source"]: a for a in admin.json("alias", "list")}
    assert aliases["sales@example.test"]["targets"] == [
        ALICE,
        "bob@example.test",
        "partner@remote.test",
    ]
    assert "@example.test" in aliases
    assert "catch-all" in admin("alias", "list").output

    async def resolve(store: Store) -> list[Any]:
        d = Directory(store)
        return [await d.resolve(a) for a in ("sales@example.test", "whoever@example.test")]

    sales, whoever = admin.with_store(resolve)
    assert sorted(u.address for u in sales.users) == [ALICE, "bob@example.test"]
    assert sales.remote == ("partner@remote.test",)
    assert [u.address for u in whoever.users] == [ALICE]

    assert "already exists" in admin.fails("alias", "add", "sales@example.test", ALICE)
    assert "does not exist" in admin.fails("alias", "add", "x@nowhere.test", ALICE)
    assert "itself" in admin.fails("alias", "add", "loop@example.test", "loop@example.test")
    assert "is a user" in admin.fails("alias", "add", ALICE, "bob@example.test")
    assert "invalid" in admin.fails("alias", "add", "ok@example.test", "bad..target@x.test")

    admin("alias", "del", "@example.test")
    assert "no such alias" in admin.fails("alias", "del", "@example.test")

    async def unknown(store: Store) -> Outcome:
        return (await Directory(store).resolve("whoever@example.test")).outcome

    assert admin.with_store(unknown) is Outcome.UNKNOWN_RECIPIENT


def test_delete_user_and_domain(admin: Admin) -> None:
    admin("user", "add", ALICE, "--password-stdin", input=ALICE_PW)
    admin("alias", "add", "info@example.test", ALICE)
    assert "still has 1 user(s) and 1 alias(es)" in admin.fails("domain", "del", "example.test")
    result = admin("user", "del", ALICE)
    assert "Deleted user alice@example.test" in result.stdout
    assert "info@example.test" in result.stderr  # the alias now points nowhere
    assert not admin.login(ALICE, ALICE_PW).ok
    assert "no such user" in admin.fails("user", "del", ALICE)
    admin("alias", "del", "info@example.test")
    admin("domain", "del", "example.test")
    assert admin.json("domain", "list") == []


def test_directory_from_environment_and_group_option(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--dir", str(instance), "domain", "add", "example.test"])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("POSTHOUSE_DIR", str(instance))
    result = runner.invoke(main, ["domain", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [d["name"] for d in json.loads(result.stdout)] == ["example.test"]


def test_missing_instance_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["domain", "list", "--dir", str(tmp_path / "nothing")])
    assert result.exit_code == 1
    assert "no configuration" in result.output and "Traceback" not in result.output
