"""POP3 typed by hand: the classic lab session, the SASL forms real clients use, and
hostile or clumsy input (wrong state, bad numbers, long lines, junk, idle, too many
errors).  Raw sockets, line by line, as telnet sends them."""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.server import MailServer, add_user, stored_messages

PASSWORD = "lab-Secret-42"
IDLE = 2
MAX_ERRORS = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    srv = MailServer.create(
        tmp_path_factory.mktemp("pop3lab"),
        pop3={"idle_timeout": IDLE, "max_errors": MAX_ERRORS},
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def user(server: MailServer) -> str:
    address = f"lab{uuid.uuid4().hex[:8]}@example.test"
    add_user(server.dir, address, PASSWORD)
    return address


def deliver(server: MailServer, rcpt: str, subject: str, body: str = "Hi.\r\n") -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
        s.sendmail("lab@example.org", [rcpt], f"Subject: {subject}\r\n\r\n{body}")


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


class RawPOP3:
    """A socket that speaks POP3 the way a person in telnet does."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> str:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; unread: {self.buf!r}")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        assert raw.endswith(b"\r"), "every response line ends in CRLF (RFC 1939 §3)"
        return raw[:-1].decode("utf-8", "surrogateescape")

    def cmd(self, text: str) -> str:
        self.send(text.encode() + b"\r\n")
        return self.line()

    def body(self) -> list[str]:
        """The rest of a multi-line response, dot-unstuffed, without the final '.'."""
        lines = []
        while (text := self.line()) != ".":
            lines.append(text[1:] if text.startswith(".") else text)
        return lines

    def closed(self, wait: float = 10.0) -> bool:
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except TimeoutError:
            return False
        except OSError:
            return True

    def starttls(self) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawPOP3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def login(t: RawPOP3, address: str) -> str:
    assert t.line().startswith("+OK ")
    assert t.cmd(f"USER {address}") == "+OK Send PASS"
    reply = t.cmd(f"PASS {PASSWORD}")
    assert reply.startswith(f"+OK {address} has "), reply
    return reply


def still_serving(server: MailServer, address: str) -> None:
    """The server still answers a fresh session after whatever the test did."""
    with RawPOP3(server.ports["pop3"]) as t:
        deadline = time.monotonic() + 10
        assert t.line().startswith("+OK ")
        while True:
            assert t.cmd(f"USER {address}") == "+OK Send PASS"
            reply = t.cmd(f"PASS {PASSWORD}")
            if not reply.startswith("-ERR [IN-USE]") or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # the previous session is still letting go of the lock
        assert reply.startswith("+OK "), reply
        assert t.cmd("QUIT").startswith("+OK ")


# --- the lab session ---------------------------------------------------------------


def test_classic_lab_session(server: MailServer, user: str) -> None:
    deliver(server, user, "first", "Hello from the lab.\r\n")
    deliver(server, user, "second", ".starts with a dot\r\n")
    stored = stored_messages(server.dir, user)
    sizes = [len(raw) for raw in stored]
    with RawPOP3(server.ports["pop3"]) as t:
        assert t.line() == "+OK mail.example.test POP3 posthouse ready"
        assert t.cmd(f"USER {user}") == "+OK Send PASS"
        assert t.cmd(f"PASS {PASSWORD}") == f"+OK {user} has 2 messages ({sum(sizes)} octets)"
        # RFC 1939 §5: STAT is exactly "+OK count octets".
        assert t.cmd("STAT") == f"+OK 2 {sum(sizes)}"
        assert t.cmd("UIDL") == "+OK Unique-ID listing follows"
        uids = t.body()
        assert [u.split()[0] for u in uids] == ["1", "2"]
        validity = {u.split()[1].split(".")[0] for u in uids}
        assert len(validity) == 1 and all(u.split()[1].count(".") == 1 for u in uids)
        assert t.cmd("LIST") == f"+OK 2 messages ({sum(sizes)} octets)"
        assert t.body() == [f"1 {sizes[0]}", f"2 {sizes[1]}"]
        assert t.cmd("RETR 2") == f"+OK {sizes[1]} octets"
        lines = t.body()
        assert "\r\n".join(lines).encode() + b"\r\n" == stored[1]
        assert lines[-1] == ".starts with a dot"
        assert t.cmd("QUIT") == (
            "+OK mail.example.test POP3 server signing off (0 messages deleted, 2 left)"
        )
        assert t.closed()


def test_lower_case_commands_and_pipelining(server: MailServer, user: str) -> None:
    deliver(server, user, "pipelined")
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        # RFC 2449 §6.6: many commands in one segment, answered in order.
        t.send(f"user {user}\r\npass {PASSWORD}\r\nstat\r\nlist 1\r\nuidl 1\r\nnoop\r\n".encode())
        assert t.line() == "+OK Send PASS"
        assert t.line().startswith("+OK ")
        assert t.line().startswith("+OK 1 ")
        assert t.line().startswith("+OK 1 ")
        assert t.line().startswith("+OK 1 ")
        assert t.line() == "+OK"
        assert t.cmd("quit").startswith("+OK ")


# --- SASL (RFC 5034) ---------------------------------------------------------------


def test_auth_plain_continuation_form_like_curl(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        assert t.cmd("AUTH PLAIN") == "+ "
        assert t.cmd(b64(f"\0{user}\0{PASSWORD}")).startswith(f"+OK {user} has 0 messages")
        assert t.cmd("STAT") == "+OK 0 0"
        assert t.cmd("QUIT").startswith("+OK ")


def test_auth_plain_initial_response(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        initial = b64(f"{user}\0{user}\0{PASSWORD}")  # authzid = authcid is fine
        assert t.cmd(f"AUTH PLAIN {initial}").startswith("+OK ")
        assert t.cmd("QUIT").startswith("+OK ")


def test_auth_login(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        assert t.cmd("AUTH LOGIN") == "+ VXNlcm5hbWU6"  # "Username:"
        assert t.cmd(b64(user)) == "+ UGFzc3dvcmQ6"  # "Password:"
        assert t.cmd(b64(PASSWORD)).startswith("+OK ")
        assert t.cmd("QUIT").startswith("+OK ")


def test_auth_list_abort_unknown_and_other_identity(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        assert t.cmd("AUTH") == "+OK SASL mechanisms follow"
        assert t.body() == ["PLAIN", "LOGIN"]
        assert (
            t.cmd("AUTH CRAM-MD5") == "-ERR Unsupported SASL mechanism CRAM-MD5: use PLAIN or LOGIN"
        )
        assert t.cmd("AUTH PLAIN") == "+ "
        assert t.cmd("*") == "-ERR Authentication cancelled"
        other = b64(f"admin@example.test\0{user}\0{PASSWORD}")
        assert t.cmd(f"AUTH PLAIN {other}") == "-ERR [AUTH] Authorization identity not permitted"
        assert t.cmd("AUTH PLAIN") == "+ "
        assert t.cmd("not base64!") == "-ERR Invalid base64 in SASL response"
        good = b64(f"\0{user}\0{PASSWORD}")
        assert t.cmd(f"AUTH PLAIN {good}").startswith("+OK ")
        assert t.cmd("QUIT").startswith("+OK ")


def test_apop_refused_with_reason(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        reply = t.cmd(f"APOP {user} {'0' * 32}")
        assert reply.startswith("-ERR APOP is not supported: passwords are stored as argon2id")
        assert t.cmd(f"USER {user}") == "+OK Send PASS"


# --- STLS --------------------------------------------------------------------------


def test_stls_discards_pipelined_plaintext(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        # RFC 2595 §4 / RFC 3207 §4.2: what came after STLS in the clear is not executed.
        t.send(f"STLS\r\nUSER {user}\r\n".encode())
        assert t.line() == "+OK Begin TLS negotiation"
        t.starttls()
        assert t.cmd(f"PASS {PASSWORD}") == "-ERR PASS must follow a successful USER"
        caps = (t.cmd("CAPA"), t.body())
        assert "STLS" not in caps[1] and "USER" in caps[1]
        assert t.cmd("STLS") == "-ERR TLS is already active"
        assert t.cmd(f"USER {user}") == "+OK Send PASS"
        assert t.cmd(f"PASS {PASSWORD}").startswith("+OK ")


def test_user_before_stls_must_be_repeated(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        assert t.cmd(f"USER {user}") == "+OK Send PASS"
        assert t.cmd("STLS") == "+OK Begin TLS negotiation"
        t.starttls()
        assert t.cmd(f"PASS {PASSWORD}") == "-ERR Send USER again after STLS"
        assert t.cmd(f"USER {user}") == "+OK Send PASS"
        assert t.cmd(f"PASS {PASSWORD}").startswith("+OK ")


# --- bad input: each answered with -ERR and a reason; the session goes on ------------


def test_commands_in_the_wrong_state(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        assert t.cmd("STAT") == (
            "-ERR Not logged in: STAT is valid only after USER/PASS, APOP or AUTH"
        )
        assert t.cmd("PASS secret") == "-ERR PASS must follow a successful USER"
        login_reply = t.cmd(f"USER {user}"), t.cmd(f"PASS {PASSWORD}")
        assert login_reply[1].startswith("+OK ")
        assert t.cmd("USER someone") == "-ERR Already logged in: USER is valid only before login"
        assert t.cmd("NOOP") == "+OK"
        assert t.cmd("QUIT").startswith("+OK ")


def test_message_numbers_out_of_range_or_deleted(server: MailServer, user: str) -> None:
    deliver(server, user, "numbers")
    with RawPOP3(server.ports["pop3"]) as t:
        login(t, user)
        assert t.cmd("RETR 3") == "-ERR no such message, only 1 message in maildrop"
        assert t.cmd("LIST 0") == "-ERR Invalid message number: messages are numbered from 1"
        assert t.cmd("TOP x 1") == "-ERR Invalid message number: expected a decimal number"
        assert t.cmd("QUIT").startswith("+OK ")
    with RawPOP3(server.ports["pop3"]) as t:  # a new session: the error count restarts
        login(t, user)
        assert t.cmd("DELE 1") == "+OK message 1 deleted"
        assert t.cmd("DELE 1") == "-ERR message 1 already deleted"
        assert t.cmd("TOP 1 0") == "-ERR message 1 already deleted"
        assert t.cmd("UIDL 1") == "-ERR message 1 already deleted"
        assert t.cmd("RSET").startswith("+OK maildrop has 1 message")
        assert t.cmd("LIST 1").startswith("+OK 1 ")
        assert t.cmd("QUIT").startswith("+OK ")


def test_over_long_command_line(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        # RFC 2449 §4: commands are at most 255 octets.
        assert t.cmd("NOOP " + "a" * 300) == "-ERR Command line too long"
        t.send(b"USER " + b"b" * 200_000 + b"\r\n")
        assert t.line() == "-ERR Command line too long"
        assert t.cmd(f"USER {user}") == "+OK Send PASS"
        assert t.cmd(f"PASS {PASSWORD}").startswith("+OK ")
    still_serving(server, user)


def test_binary_junk(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        # Every byte value; the LF inside splits it into two junk lines.
        t.send(bytes(range(256)) + b"\r\n")
        assert t.line() == "-ERR Command contains control characters"
        assert t.line() == "-ERR Command contains control characters"
        assert t.cmd("NOOP\xff") == "-ERR Unknown command"  # "NOOPÿ", valid UTF-8
        t.send(b"USER \xff\xfe\r\n")
        assert t.line() == "-ERR Command is not valid UTF-8"
        assert t.cmd(f"USER {user}") == "+OK Send PASS"
    still_serving(server, user)


def test_too_many_errors_closes(server: MailServer, user: str) -> None:
    with RawPOP3(server.ports["pop3"]) as t:
        t.line()
        for _ in range(MAX_ERRORS - 1):
            assert t.cmd("BOGUS") == "-ERR Unknown command"
        assert t.cmd("BOGUS") == "-ERR Unknown command - too many errors, closing connection"
        assert t.closed()
    still_serving(server, user)


def test_idle_timeout_closes_and_deletes_nothing(server: MailServer, user: str) -> None:
    deliver(server, user, "idle")
    with RawPOP3(server.ports["pop3"]) as t:
        login(t, user)
        assert t.cmd("DELE 1") == "+OK message 1 deleted"
        started = time.monotonic()
        # RFC 1939 §3: the autologout timer does not enter UPDATE.
        assert t.line() == f"-ERR Idle for {IDLE} seconds, closing connection; nothing was deleted"
        assert IDLE - 0.5 < time.monotonic() - started < IDLE + 8
        assert t.closed()
    assert len(stored_messages(server.dir, user)) == 1
    still_serving(server, user)
