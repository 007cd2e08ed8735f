"""Replays of whole sessions, server octets compared exactly.

The first is what a networking lab types into `telnet server 110` (lower-case verbs,
as students do); the second is RFC 1939 §10's example with APOP; the third checks the
same lab session typed through `nc`, which ends lines with a bare LF.
"""

from __future__ import annotations

from tests.proto.pop3.pop3_app import Maildrop, drive

from posthouse.proto.pop3 import (
    Apop,
    ConnectionClosed,
    Dele,
    List,
    MultiLine,
    Ok,
    Pass,
    Pop3Server,
    Quit,
    Response,
    Retr,
    Stat,
    State,
    Uidl,
    User,
)

MESSAGE_1 = (
    b"From: bob@example.test\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: lab\r\n"
    b"\r\n"
    b"Hello Alice.\r\n"
    b".hidden dot line\r\n"
)  # 96 octets
MESSAGE_2 = b"Subject: two\r\n\r\nSecond.\r\n"  # 25 octets

LAB_CLIENT = [
    b"user alice\r\n",
    b"pass alicepw\r\n",
    b"stat\r\n",
    b"uidl\r\n",
    b"list\r\n",
    b"retr 1\r\n",
    b"quit\r\n",
]

LAB_SERVER = (
    b"+OK POP3 ready\r\n"
    b"+OK\r\n"
    b"+OK 2 messages\r\n"
    b"+OK 2 121\r\n"
    b"+OK\r\n"
    b"1 uid-1\r\n"
    b"2 uid-2\r\n"
    b".\r\n"
    b"+OK 2 messages (121 octets)\r\n"
    b"1 96\r\n"
    b"2 25\r\n"
    b".\r\n"
    b"+OK 96 octets\r\n"
    b"From: bob@example.test\r\n"
    b"To: alice@example.test\r\n"
    b"Subject: lab\r\n"
    b"\r\n"
    b"Hello Alice.\r\n"
    b"..hidden dot line\r\n"
    b".\r\n"
    b"+OK bye\r\n"
)


def _lab(client_lines: list[bytes]) -> tuple[list[object], bytes, Pop3Server]:
    server = Pop3Server()
    greeting = server.send(Ok("POP3 ready"))
    maildrop = Maildrop(messages=[MESSAGE_1, MESSAGE_2])
    events, out = drive(server, [*client_lines, b""], maildrop.respond)
    return events, greeting + out, server


def test_lab_session_telnet_exact_bytes() -> None:
    events, wire, server = _lab(LAB_CLIENT)
    assert events == [
        User("alice"),
        Pass("alicepw"),
        Stat(),
        Uidl(),
        List(),
        Retr(1),
        Quit(),
        ConnectionClosed(),
    ]
    assert wire == LAB_SERVER
    assert server.state is State.UPDATE


def test_lab_session_with_bare_lf_from_netcat() -> None:
    events, wire, _ = _lab([line.replace(b"\r\n", b"\n") for line in LAB_CLIENT])
    assert wire == LAB_SERVER
    assert events[0] == User("alice")


def test_lab_session_in_one_segment() -> None:
    # A pipelining client (RFC 2449 §6.6) sends everything at once: same answers.
    events, wire, _ = _lab([b"".join(LAB_CLIENT)])
    assert wire == LAB_SERVER
    assert len(events) == 8


def test_rfc1939_section10_example_session() -> None:
    # RFC 1939 §10, with a server that does support APOP (the analyzer may meet one).
    server = Pop3Server()
    wire = server.send(Ok("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"))
    messages = {1: b"x" * 118 + b"\r\n", 2: b"y" * 198 + b"\r\n"}
    deleted: set[int] = set()

    def respond(server: Pop3Server, event: object) -> Response:
        match event:
            case Apop(name="mrose", digest="c4c9334bac560ecc979e58001b3e22fb"):
                return Ok("mrose's maildrop has 2 messages (320 octets)")
            case Stat():
                return Ok("2 320")
            case List(message=None):
                return MultiLine(Ok("2 messages (320 octets)"), lines=("1 120", "2 200"))
            case Retr(message=n):
                return MultiLine(Ok(f"{len(messages[n])} octets"), data=messages[n])
            case Dele(message=n):
                deleted.add(n)
                return Ok(f"message {n} deleted")
            case Quit():
                return Ok("dewey POP3 server signing off (maildrop empty)")
        raise AssertionError(event)

    client = (
        b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"
        b"STAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nRETR 2\r\nDELE 2\r\nQUIT\r\n"
    )
    _, out = drive(server, [client], respond)
    wire += out
    assert wire == (
        b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"
        b"+OK mrose's maildrop has 2 messages (320 octets)\r\n"
        b"+OK 2 320\r\n"
        b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"
        b"+OK 120 octets\r\n" + b"x" * 118 + b"\r\n.\r\n"
        b"+OK message 1 deleted\r\n"
        b"+OK 200 octets\r\n" + b"y" * 198 + b"\r\n.\r\n"
        b"+OK message 2 deleted\r\n"
        b"+OK dewey POP3 server signing off (maildrop empty)\r\n"
    )
    assert server.state is State.UPDATE
    assert server.user == "mrose"
    assert deleted == {1, 2}
