"""The response encoder (server role) and the response parser (client role)."""

from __future__ import annotations

import datetime

import pytest
from tests.proto.imap.imap_script import responses

from posthouse.proto.imap import (
    Atom,
    Continuation,
    Literal,
    LocalProtocolError,
    RemoteProtocolError,
    ResponseCode,
    ResponseParser,
    Tagged,
    Untagged,
)
from posthouse.proto.imap import response as r


@pytest.mark.parametrize(
    ("response", "wire"),
    [
        (Tagged("a1", "OK", "LOGIN completed"), b"a1 OK LOGIN completed\r\n"),
        (
            Tagged("a1", "OK", "done", r.capability_code(["IMAP4rev2", "IMAP4rev1"])),
            b"a1 OK [CAPABILITY IMAP4rev2 IMAP4rev1] done\r\n",
        ),
        (Tagged("a", "OK", "ok", r.uidnext(4392)), b"a OK [UIDNEXT 4392] ok\r\n"),
        (
            Tagged("a", "OK", "ok", r.appenduid(38505, [3955])),
            b"a OK [APPENDUID 38505 3955] ok\r\n",
        ),
        (
            Tagged("a", "OK", "ok", r.copyuid(38505, [304, 319, 320], [3956, 3957, 3958])),
            b"a OK [COPYUID 38505 304,319:320 3956:3958] ok\r\n",
        ),
        (Tagged("a", "NO", "big", r.TOOBIG), b"a NO [TOOBIG] big\r\n"),
        (Tagged("a", "NO", "exists", r.ALREADYEXISTS), b"a NO [ALREADYEXISTS] exists\r\n"),
        (Tagged("a", "NO", "no such", r.NONEXISTENT), b"a NO [NONEXISTENT] no such\r\n"),
        (r.exists(23), b"* 23 EXISTS\r\n"),
        (r.expunge(3), b"* 3 EXPUNGE\r\n"),
        (r.vanished([1, 2, 3, 9], earlier=True), b"* VANISHED (EARLIER) 1:3,9\r\n"),
        (r.flags_response([r"\Seen", r"\Deleted"]), b"* FLAGS (\\Seen \\Deleted)\r\n"),
        (
            r.list_response([r"\HasNoChildren", r"\Sent"], "/", "Gesendete Objekte"),
            b'* LIST (\\HasNoChildren \\Sent) "/" "Gesendete Objekte"\r\n',
        ),
        (r.list_response([r"\Noselect"], None, ""), b'* LIST (\\Noselect) NIL ""\r\n'),
        (r.list_response([], "/", "NIL"), b'* LIST () "/" "NIL"\r\n'),
        (r.search_response([2, 3, 6], modseq=917), b"* SEARCH 2 3 6 (MODSEQ 917)\r\n"),
        (r.enabled(["UTF8=ACCEPT"]), b"* ENABLED UTF8=ACCEPT\r\n"),
        (Continuation("Ready"), b"+ Ready\r\n"),
        (Continuation.challenge(b""), b"+ \r\n"),
        (Untagged("BYE", text="Logging out"), b"* BYE Logging out\r\n"),
        (
            r.id_response([("name", "posthouse"), ("version", None)]),
            b'* ID ("name" "posthouse" "version" NIL)\r\n',
        ),
    ],
)
def test_encode_and_parse_back(response: Tagged | Untagged | Continuation, wire: bytes) -> None:
    assert response.to_bytes() == wire
    (parsed,) = responses(wire)
    assert parsed.to_bytes() == wire


def test_string_forms() -> None:
    assert r.encode_value("plain") == b'"plain"'
    assert r.encode_value('say "hi" \\') == b'"say \\"hi\\" \\\\"'
    assert r.encode_value("two\r\nlines") == b"{10}\r\ntwo\r\nlines"
    assert r.encode_value("Grüße") == b"{7}\r\nGr\xc3\xbc\xc3\x9fe"
    assert r.encode_value(None) == b"NIL"
    assert r.encode_value([1, [Atom("X"), b""]]) == b'(1 (X ""))'
    assert r.encode_value(Literal(b"\x00", binary=True)) == b"~{1}\r\n\x00"
    assert r.encode_astring(b"INBOX") == b"INBOX"
    assert r.encode_astring(b"with space") == b'"with space"'
    assert r.mailbox("Entwürfe") == Atom("Entw&APw-rfe")
    assert r.mailbox("Entwürfe", utf8=True) == b"Entw\xc3\xbcrfe"


def test_date_time() -> None:
    tz = datetime.timezone(-datetime.timedelta(hours=7))
    moment = datetime.datetime(1996, 7, 17, 2, 44, 25, tzinfo=tz)
    assert r.date_time(moment) == "17-Jul-1996 02:44:25 -0700"


def test_fetch_response_with_a_literal() -> None:
    response = r.fetch_response(
        12, [("UID", 7), ("FLAGS", r.flags([r"\Seen"])), ("BODY[]", Literal(b"Hi\r\n"))]
    )
    wire = b"* 12 FETCH (UID 7 FLAGS (\\Seen) BODY[] {4}\r\nHi\r\n)\r\n"
    assert response.to_bytes() == wire
    (parsed,) = responses([wire[:30], wire[30:]])
    assert parsed == Untagged(
        "FETCH",
        ((Atom("UID"), 7, Atom("FLAGS"), (Atom(r"\Seen"),), Atom("BODY[]"), b"Hi\r\n"),),
        12,
    )


@pytest.mark.parametrize(
    "bad",
    [
        Tagged("a", "OK", "two\r\nlines"),
        Tagged("a", "MAYBE", "x"),
        Untagged("OK", (1,)),
        Untagged("EXISTS", code=r.TOOBIG),
        Continuation("x\n"),
        Untagged("X", (-1,)),
        Untagged("X", (True,)),
        Untagged("X", ("nul\x00",)),
        Tagged("a", "OK", "x", ResponseCode("BAD NAME")),
        Tagged("a", "OK", "x", ResponseCode("X", ("a]b",))),
    ],
)
def test_encoder_refuses_what_would_break_the_stream(bad: Tagged | Untagged | Continuation) -> None:
    with pytest.raises(LocalProtocolError):
        bad.to_bytes()


def test_parser_reads_real_server_lines() -> None:
    wire = (
        b"* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE AUTH=PLAIN] Dovecot ready.\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] Flags permitted.\r\n"
        b"* OK [HIGHESTMODSEQ 715194045007]\r\n"
        b"* OK [UNSEEN 12] Message 12 is first unseen\r\n"
        b"* OK [ALERT] System shutdown in 10 minutes\r\n"
        b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {4}\r\nS:\r\n UID 3)\r\n"
        b"* 2 FETCH (BINARY[1] ~{2}\r\n\x00\x01)\r\n"
        b"+\r\n"
        b"a NO [X-WEIRD some text here] odd\r\n"
    )
    parsed = responses(wire)
    assert len(parsed) == 9
    assert parsed[0] == Untagged(
        "OK",
        code=ResponseCode(
            "CAPABILITY",
            tuple(
                Atom(c)
                for c in ["IMAP4rev1", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE", "AUTH=PLAIN"]
            ),
        ),
        text="Dovecot ready.",
    )
    assert parsed[2] == Untagged("OK", code=ResponseCode("HIGHESTMODSEQ", (715194045007,)))
    assert parsed[6] == Untagged("FETCH", ((Atom("BINARY[1]"), b"\x00\x01"),), 2)
    assert parsed[7] == Continuation("")
    assert parsed[8] == Tagged(
        "a", "NO", "odd", ResponseCode("X-WEIRD", (Atom("some"), Atom("text"), Atom("here")))
    )


@pytest.mark.parametrize(
    "junk",
    [
        b"\r\n",
        b"garbage\r\n",
        b"a MAYBE\r\n",
        b"* 1 OK x\r\n",
        b"* (\r\n",
        b"* LIST (\\Noselect\r\n",
        b"a OK [UNTERMINATED\r\n",
        b'* X "open\r\n',
        b"* X " + b"(" * 1000 + b"\r\n",
        bytes(range(256)) + b"\r\n",
        b"* X {3}bad\r\n",
    ],
)
def test_junk_raises_remote_protocol_error(junk: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        responses(junk)


def test_closed_mid_response() -> None:
    parser = ResponseParser()
    parser.receive_data(b"* 1 FETCH (BODY[] {10}\r\nabc")
    parser.receive_data(b"")
    with pytest.raises(RemoteProtocolError):
        parser.next_response()
