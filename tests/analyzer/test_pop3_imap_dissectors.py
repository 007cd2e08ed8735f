"""POP3 and IMAP dissection from scripted segments: logins of every kind, multi-line
responses, literals, FETCH bodies, STLS/STARTTLS and SOCKS5 in front."""

from __future__ import annotations

import base64

from tests.analyzer.conversation import dissect, verbs

MESSAGE = b"From: a@x.example\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\n.hidden dot\r\nbody\r\n"

# A literal holding lines that look like tagged responses (README quirk 2).
LITERAL = MESSAGE + b"a3 OK fake\r\n) junk\r\n"


def test_pop3_user_pass_list_retr() -> None:
    stuffed = MESSAGE.replace(b"\r\n.", b"\r\n..")
    s = dissect(
        [
            ("S", b"+OK POP3 ready <1.2@mx>\r\n"),
            ("C", b"CAPA\r\n"),
            ("S", b"+OK\r\nUSER\r\nSASL PLAIN\r\nSTLS\r\n.\r\n"),
            ("C", b"USER bob\r\n"),
            ("S", b"+OK\r\n"),
            ("C", b"PASS hunter2\r\n"),
            ("S", b"+OK logged in\r\n"),
            ("C", b"LIST\r\n"),
            ("S", b"+OK 1 message\r\n1 120\r\n"),
            ("S", b".\r\n"),
            ("C", b"RETR 1\r\n"),
            ("S", b"+OK 120 octets\r\n" + stuffed[:30]),
            ("S", stuffed[30:] + b".\r\n"),
            ("C", b"QUIT\r\n"),
            ("S", b"+OK bye\r\n"),
        ],
        server_port=110,
    )
    assert s.protocol == "POP3"
    assert verbs(s) == ["CAPA", "USER", "PASS", "LIST", "RETR", "QUIT"]
    (cred,) = s.credentials
    assert (cred.mechanism, cred.username, cred.password, cred.success) == (
        "USER/PASS",
        "bob",
        "hunter2",
        True,
    )
    (msg,) = s.messages
    assert msg.source == "RETR" and msg.raw == MESSAGE
    assert s.auth_mechanisms_offered == ["PLAIN"] and s.starttls_offered
    listing = [line.text for line in s.lines if line.kind == "data" and line.sender == "S"]
    assert "1 120" in listing


def test_pop3_auth_plain_which_tshark_misses() -> None:
    s = dissect(
        [
            ("S", b"+OK ready\r\n"),
            ("C", b"AUTH PLAIN\r\n"),
            ("S", b"+ \r\n"),
            ("C", base64.b64encode(b"\0carol\0pw") + b"\r\n"),
            ("S", b"-ERR [AUTH] invalid\r\n"),
            ("C", b"QUIT\r\n"),
        ],
        server_port=110,
    )
    (cred,) = s.credentials
    assert (cred.mechanism, cred.username, cred.password, cred.success) == (
        "PLAIN",
        "carol",
        "pw",
        False,
    )
    assert verbs(s) == ["AUTH", "QUIT"]
    refusal = next(line for line in s.lines if line.status == "-ERR")
    assert refusal.enhanced == "AUTH"


def test_pop3_apop_is_a_digest() -> None:
    s = dissect(
        [
            ("S", b"+OK ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
            ("C", b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
            ("S", b"+OK maildrop\r\n"),
        ],
        server_port=110,
    )
    (cred,) = s.credentials
    assert (cred.mechanism, cred.username, cred.password, cred.success) == (
        "APOP",
        "mrose",
        None,
        True,
    )


def test_pop3_stls_hands_over_to_tls() -> None:
    s = dissect(
        [
            ("S", b"+OK ready\r\n"),
            ("C", b"STLS\r\n"),
            ("S", b"+OK begin TLS\r\n"),
            ("C", bytes([22, 3, 1, 0, 1, 1])),
        ],
        server_port=110,
    )
    assert s.tls is not None and s.tls.how == "STLS"


def test_imap_login_literal_and_fetch_body() -> None:
    s = dissect(
        [
            ("S", b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n"),
            ("C", b"a1 LOGIN {5}\r\n"),
            ("S", b"+ go on\r\n"),
            ("C", b'alice "pa\\"ss"\r\n'),
            ("S", b"a1 OK logged in\r\n"),
            ("C", b"a2 SELECT INBOX\r\n"),
            ("S", b"* 1 EXISTS\r\na2 OK [READ-WRITE] done\r\n"),
            ("C", b"a3 UID FETCH 1 (BODY.PEEK[])\r\n"),
            (
                "S",
                b"* 1 FETCH (UID 7 BODY[] {" + str(len(LITERAL)).encode() + b"}\r\n" + LITERAL[:20],
            ),
            ("S", LITERAL[20:] + b")\r\n"),
            ("S", b"a3 OK FETCH done\r\n"),
            ("C", b"a4 LOGOUT\r\n"),
            ("S", b"* BYE\r\na4 OK bye\r\n"),
        ],
        server_port=143,
    )
    assert s.protocol == "IMAP"
    assert verbs(s) == ["LOGIN", "SELECT", "UID FETCH", "LOGOUT"]
    (cred,) = s.credentials
    assert (cred.username, cred.password, cred.success) == ("alice", 'pa"ss', True)
    (msg,) = s.messages
    assert msg.source == "FETCH" and msg.raw == LITERAL
    statuses = [(line.tag, line.status) for line in s.lines if line.sender == "S" and line.status]
    assert ("a3", "OK") in statuses and statuses.count(("a3", "OK")) == 1
    assert s.auth_mechanisms_offered == ["PLAIN"] and s.auth_offered_in_clear


def test_imap_authenticate_plain() -> None:
    s = dissect(
        [
            ("S", b"* OK ready\r\n"),
            ("C", b"A01 AUTHENTICATE PLAIN\r\n"),
            ("S", b"+ \r\n"),
            ("C", base64.b64encode(b"\0dave\0pw9") + b"\r\n"),
            ("S", b"A01 OK done\r\n"),
            ("C", b"A02 LOGOUT\r\n"),
        ],
        server_port=143,
    )
    (cred,) = s.credentials
    assert (cred.mechanism, cred.username, cred.password, cred.success) == (
        "PLAIN",
        "dave",
        "pw9",
        True,
    )
    assert verbs(s) == ["AUTHENTICATE", "LOGOUT"]


def test_imap_starttls() -> None:
    s = dissect(
        [
            ("S", b"* OK ready\r\n"),
            ("C", b"t STARTTLS\r\n"),
            ("S", b"t OK begin\r\n"),
            ("C", bytes([22, 3, 1, 0, 1, 1])),
        ],
        server_port=143,
    )
    assert s.tls is not None and s.tls.how == "STARTTLS"


def test_socks5_then_smtp() -> None:
    s = dissect(
        [
            ("C", b"\x05\x01\x02"),
            ("S", b"\x05\x02"),
            ("C", b"\x01\x03bob\x02pw"),
            ("S", b"\x01\x00"),
            ("C", b"\x05\x01\x00\x01\x0a\x00\x00\x03\x00\x19"),
            ("S", b"\x05\x00\x00\x01\x0a\x00\x00\x01\x04\x38"),
            ("S", b"220 mx ESMTP\r\n"),
            ("C", b"EHLO me\r\n"),
        ],
        server_port=1080,
    )
    assert s.protocol == "SMTP" and s.tunnel == "SOCKS5 to 10.0.0.3:25"
    assert verbs(s) == ["EHLO"]
    (cred,) = s.credentials
    assert (cred.protocol, cred.username, cred.password, cred.success) == (
        "SOCKS5",
        "bob",
        "pw",
        True,
    )


def test_https_request_lines_inside_decrypted_tls_are_shown() -> None:
    from posthouse.analyzer.http import HttpDissector
    from posthouse.analyzer.model import Session

    session = Session(0, "c:1", "s:443", "HTTPS", "port", 0, 0, 1, 0, 0, 0)
    http = HttpDissector(session, encrypted=True)
    http.feed("C", b"GET /webmail/inbox HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 5, 1)
    http.feed("C", b"POST /login HTTP/1.1\r\n\r\n", 6, 2)
    http.feed("S", b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", 7, 3)
    shown = [(line.verb, line.argument, line.code) for line in session.lines]
    assert shown == [("GET", "/webmail/inbox", None), ("POST", "/login", None), (None, None, 302)]


def test_imap_core_parsers_observe_and_note_what_they_refuse() -> None:
    s = dissect(
        [
            ("S", b"* OK ready\r\n"),
            ("C", b"a1 LOGIN alice secret\r\n"),
            ("S", b"a1 OK done\r\n"),
            ("C", b"a2 FETCH 1:* (BODY[]\r\n"),  # unbalanced parenthesis
            ("S", b"a2 BAD syntax\r\n"),
            ("C", b"a3 NOOP\r\n"),
            ("S", b"a3 OK\r\n"),
        ],
        server_port=143,
    )
    notes = {line.text: line.note for line in s.lines}
    assert "a strict server answers BAD" in notes["a2 FETCH 1:* (BODY[]"]
    assert "strict" not in notes["a1 LOGIN alice secret"]
    assert "strict" not in notes["a3 NOOP"]
