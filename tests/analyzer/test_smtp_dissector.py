"""SMTP dissection from scripted segments: pipelining, DATA and BDAT bodies, AUTH with
base64 decoded, STARTTLS hand-over, junk and gaps."""

from __future__ import annotations

import base64

from tests.analyzer.conversation import dissect, verbs

GREETING = ("S", b"220 mx.example ESMTP\r\n")
EHLO = ("C", b"EHLO client.example\r\n")
EHLO_REPLY = ("S", b"250-mx.example\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n")


def test_pipelined_commands_are_matched_to_their_replies_in_order() -> None:
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            (
                "C",
                b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\n"
                b"DATA\r\n",
            ),
            ("S", b"250 2.1.0 OK\r\n250 2.1.5 OK\r\n550 5.1.1 No such user\r\n354 Go ahead\r\n"),
            ("C", b"Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n"),
            ("S", b"250 2.0.0 queued\r\n"),
            ("C", b"QUIT\r\n"),
            ("S", b"221 bye\r\n"),
        ]
    )
    assert verbs(s) == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]
    codes = [line.code for line in s.lines if line.code]
    assert codes == [220, 250, 250, 250, 250, 250, 250, 550, 354, 250, 221]
    rejected = next(line for line in s.lines if line.code == 550)
    assert rejected.enhanced == "5.1.1" and "bad destination mailbox" in rejected.note
    (msg,) = s.messages
    assert msg.raw == b"Subject: hi\r\n\r\n.dot\r\nbody\r\n"  # RFC 5321 §4.5.2 unstuffed
    assert msg.mail_from == "a@x.example" and msg.rcpt_to == ["b@y.example", "c@y.example"]
    assert s.auth_offered_in_clear and s.starttls_offered


def test_data_rejected_returns_to_commands() -> None:
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", b"DATA\r\n"),
            ("S", b"503 5.5.1 No recipients\r\n"),
            ("C", b"RSET\r\n"),
            ("S", b"250 OK\r\n"),
        ]
    )
    assert verbs(s) == ["EHLO", "DATA", "RSET"]
    assert s.messages == []


def test_bdat_chunks_form_one_message() -> None:
    body = b"Subject: chunks\r\n\r\nline one\r\n.\r\nnot the end\r\n"
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n"),
            ("S", b"250 OK\r\n250 OK\r\n"),
            ("C", b"BDAT 20\r\n" + body[:20]),
            ("S", b"250 20 octets\r\n"),
            ("C", b"BDAT " + str(len(body) - 20).encode() + b" LAST\r\n" + body[20:]),
            ("S", b"250 queued\r\n"),
            ("C", b"QUIT\r\n"),
        ]
    )
    assert verbs(s) == ["EHLO", "MAIL", "RCPT", "BDAT", "BDAT", "QUIT"]
    (msg,) = s.messages
    assert msg.source == "BDAT" and msg.raw == body  # BDAT is not dot-stuffed (RFC 3030)


def test_auth_login_challenges_and_answers_are_decoded() -> None:
    user, password = base64.b64encode(b"alice"), base64.b64encode(b"s3cret")
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", b"AUTH LOGIN\r\n"),
            ("S", b"334 VXNlcm5hbWU6\r\n"),
            ("C", user + b"\r\n"),
            ("S", b"334 UGFzc3dvcmQ6\r\n"),
            ("C", password + b"\r\n"),
            ("S", b"235 2.7.0 Authentication successful\r\n"),
            ("C", b"QUIT\r\n"),
        ]
    )
    challenge = next(line for line in s.lines if line.code == 334)
    assert challenge.decoded == "Username:" and '"Username:"' in challenge.note
    (cred,) = s.credentials
    assert (cred.mechanism, cred.username, cred.password, cred.success) == (
        "LOGIN",
        "alice",
        "s3cret",
        True,
    )
    assert not cred.encrypted
    assert verbs(s) == ["EHLO", "AUTH", "QUIT"]


def test_auth_plain_initial_response_and_failure() -> None:
    blob = base64.b64encode(b"\0bob\0wrong").decode()
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", f"AUTH PLAIN {blob}\r\n".encode()),
            ("S", b"535 5.7.8 Authentication credentials invalid\r\n"),
        ]
    )
    (cred,) = s.credentials
    assert (cred.username, cred.password, cred.success) == ("bob", "wrong", False)


def test_auth_cancelled_with_star() -> None:
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", b"AUTH LOGIN\r\n"),
            ("S", b"334 VXNlcm5hbWU6\r\n"),
            ("C", b"*\r\n"),
            ("S", b"501 cancelled\r\n"),
            ("C", b"QUIT\r\n"),
        ]
    )
    assert verbs(s) == ["EHLO", "AUTH", "QUIT"]
    assert s.credentials == []


def test_starttls_hands_the_rest_to_tls() -> None:
    hello = bytes([22, 3, 1, 0, 4]) + b"\x01\x00\x00\x00"
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", b"STARTTLS\r\n"),
            ("S", b"220 2.0.0 Ready\r\n"),
            ("C", hello),
        ]
    )
    assert verbs(s) == ["EHLO", "STARTTLS"]
    assert s.tls is not None and s.tls.how == "STARTTLS"
    assert not any(
        line.sender == "C" and line.kind == "command" and line.encrypted for line in s.lines
    )


def test_starttls_refused_stays_in_the_clear() -> None:
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", b"STARTTLS\r\n"),
            ("S", b"454 TLS not available\r\n"),
            ("C", b"QUIT\r\n"),
        ]
    )
    assert s.tls is None and verbs(s) == ["EHLO", "STARTTLS", "QUIT"]


def test_smtp_on_an_unknown_port_is_recognised_by_its_greeting() -> None:
    s = dissect([GREETING, EHLO, EHLO_REPLY], server_port=12345)
    assert s.protocol == "SMTP" and s.protocol_reason == "greeting"


def test_port_override() -> None:
    s = dissect([("C", b"hello\r\n")], server_port=7000, overrides={7000: ("SMTP", False)})
    assert s.protocol == "SMTP" and s.protocol_reason == "--port 7000"


def test_gap_in_the_body_is_marked_and_dissection_resumes() -> None:
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y>\r\nDATA\r\n"),
            ("S", b"250 OK\r\n250 OK\r\n354 go\r\n"),
            ("C", b"Subject: x\r\n\r\npart"),
            ("C", 500),
            ("C", b"QUIT\r\n"),
        ]
    )
    assert any(line.kind == "gap" and "500 bytes" in line.text for line in s.lines)
    assert s.gaps == 1
    assert verbs(s)[-1] == "QUIT"


def test_junk_and_unterminated_lines_never_raise() -> None:
    s = dissect(
        [
            GREETING,
            ("C", b"\x00\xff\xfe garbage\r\n"),
            ("S", b"500 what\r\n"),
            ("S", b"not a reply\r\n"),
            ("C", b"EHLO half"),
        ]
    )
    assert any("\\xff" in line.text for line in s.lines)
    assert s.lines[-1].text == "EHLO half" and "incomplete" in s.lines[-1].note


def test_header_from_differing_from_mail_from_is_a_finding() -> None:
    from posthouse.analyzer.findings import session_findings
    from posthouse.analyzer.messages import summarize

    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", b"MAIL FROM:<bulk@spam.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n"),
            ("S", b"250 OK\r\n250 OK\r\n354 go\r\n"),
            ("C", b"From: Bank <security@bank.example>\r\nSubject: urgent\r\n\r\nhi\r\n.\r\n"),
        ]
    )
    summarize(s.messages[0])
    kinds = [f.kind for f in session_findings(s)]
    assert "sender-mismatch" in kinds and "no-tls" in kinds and "auth-before-starttls" in kinds


def test_end_of_data_split_across_segments_anywhere() -> None:
    body = b"Subject: s\r\n\r\nline\r\n..x\r\n"
    wire = body.replace(b"\r\n..", b"\r\n...", 0) + b".\r\nQUIT\r\n"
    for cut in range(len(wire)):
        for cut2 in range(cut, len(wire), 3):
            s = dissect(
                [
                    GREETING,
                    ("C", b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
                    ("S", b"250 OK\r\n250 OK\r\n354 go\r\n"),
                    ("C", wire[:cut]),
                    ("C", wire[cut:cut2]),
                    ("C", wire[cut2:]),
                ]
            )
            (msg,) = s.messages
            assert msg.raw == b"Subject: s\r\n\r\nline\r\n.x\r\n", (cut, cut2)
            assert verbs(s)[-1] == "QUIT"


def test_envelope_addresses_are_read_with_the_core_grammar() -> None:
    s = dissect(
        [
            GREETING,
            EHLO,
            EHLO_REPLY,
            ("C", b"MAIL FROM:<a b@c>\r\nRCPT TO bob\r\nRCPT TO:<ok@d.example>\r\n"),
            ("S", b"501 bad\r\n503 no\r\n503 no\r\n"),
        ]
    )
    notes = {line.text: line.note for line in s.lines if line.sender == "C"}
    assert "a strict server answers 501" in notes["MAIL FROM:<a b@c>"]
    assert "a strict server answers 501" in notes["RCPT TO bob"]
    assert "strict" not in notes["RCPT TO:<ok@d.example>"]
