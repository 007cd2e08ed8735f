"""The command sequences real clients send (INTEROP.md, "POP3"), run through a client
core and a server core back to back.  Both cores must agree on every response and on
the session state at each step."""

from __future__ import annotations

from tests.proto.pop3.pop3_app import Maildrop, Pair

from posthouse.proto.pop3 import (
    Auth,
    AuthResponse,
    Capa,
    CommandRejected,
    Continuation,
    Dele,
    List,
    MultiLine,
    Ok,
    Pass,
    Quit,
    Retr,
    Rset,
    Stat,
    State,
    Stls,
    Top,
    Uidl,
    User,
    crlf_lines,
)

MESSAGES = [
    b"Subject: one\r\n\r\nfirst\r\n.dotted\r\n",
    b"Subject: two\n\nsecond, stored with LF\n",
]


def _pair() -> Pair:
    return Pair(Maildrop(messages=list(MESSAGES)))


def _agree(pair: Pair) -> None:
    assert pair.client.state is pair.server.state
    assert pair.client.tls_active is pair.server.tls_active
    assert not any(isinstance(e, CommandRejected) for e in pair.server_events)


def test_curl_one_connection_per_operation() -> None:
    pair = _pair()
    capa, stls = pair.run(Capa(), Stls())
    capa2, auth = pair.run(Capa(), Auth("PLAIN"))
    assert isinstance(capa, MultiLine) and "STLS" in capa.lines
    assert stls == Ok("Begin TLS negotiation")
    assert isinstance(capa2, MultiLine) and "STLS" not in capa2.lines
    assert "SASL PLAIN LOGIN" in capa2.lines  # curl switches to SASL on seeing this
    assert auth == Continuation(b"")
    assert pair.run(AuthResponse(b"\x00alice\x00alicepw")) == [Ok("logged in")]
    listing, bye = pair.run(List(), Quit())
    assert listing == MultiLine(Ok("2 messages (72 octets)"), lines=("1 32", "2 40"))
    assert bye == Ok("bye")
    assert pair.server.state is State.UPDATE
    _agree(pair)


def test_neomutt_capa_stls_auth_then_top() -> None:
    pair = _pair()
    pair.run(Capa(), Stls())
    pair.run(Capa(), Auth("PLAIN"))
    pair.run(AuthResponse(b"\x00alice\x00alicepw"))
    capa, stat, uidl, listing, top1, top2, bye = pair.run(
        Capa(), Stat(), Uidl(), List(), Top(1, 0), Top(2, 0), Quit()
    )
    assert isinstance(capa, MultiLine) and "USER" not in capa.lines
    assert stat == Ok("2 72")
    assert uidl == MultiLine(Ok(), lines=("1 uid-1", "2 uid-2"))
    assert listing == MultiLine(Ok("2 messages (72 octets)"), lines=("1 32", "2 40"))
    assert top1 == MultiLine(Ok(), data=b"Subject: one\r\n\r\n")
    assert top2 == MultiLine(Ok(), data=b"Subject: two\r\n\r\n")
    assert bye == Ok("bye")
    _agree(pair)


def test_fetchmail_top_99999999_returns_whole_message() -> None:
    pair = _pair()
    pair.run(User("alice"), Pass("alicepw"))
    stat, uidl, list1, top, dele, bye = pair.run(
        Stat(), Uidl(), List(1), Top(1, 99999999), Dele(1), Quit()
    )
    assert stat == Ok("2 72")
    assert uidl == MultiLine(Ok(), lines=("1 uid-1", "2 uid-2"))
    assert list1 == Ok("1 32")
    assert top == MultiLine(Ok(), data=MESSAGES[0])
    assert dele == Ok("message 1 deleted")
    assert bye == Ok("bye")
    assert pair.maildrop.committed == [1]  # DELE takes effect at QUIT (RFC 1939 §6)
    _agree(pair)


def test_snail_list_each_top_retr_dele() -> None:
    pair = _pair()
    pair.run(User("alice"), Pass("alicepw"), Stat())
    events = pair.run(List(1), List(2), Top(1, 0), Top(2, 0), Retr(2), Dele(2), Quit())
    assert events[:2] == [Ok("1 32"), Ok("2 40")]
    assert events[4] == MultiLine(Ok("40 octets"), data=crlf_lines(MESSAGES[1]))
    assert pair.maildrop.committed == [2]
    _agree(pair)


def test_getmail_uidl_list_twice_retr_and_delete_all() -> None:
    pair = _pair()
    pair.run(User("alice"), Pass("alicepw"))
    events = pair.run(Uidl(), List(), Uidl(), List(), Retr(1), Retr(2), Dele(1), Dele(2))
    assert events[0] == events[2] and events[1] == events[3]
    assert events[4] == MultiLine(Ok("32 octets"), data=MESSAGES[0])
    assert pair.run(Stat()) == [Ok("0 0")]
    assert pair.run(Quit()) == [Ok("bye")]
    assert pair.maildrop.committed == [1, 2]
    _agree(pair)


def test_poplib_sequence_with_dele_and_rset() -> None:
    pair = _pair()
    pair.run(Capa(), Stls())
    pair.run(User("alice"), Pass("alicepw"))
    events = pair.run(Stat(), List(), Uidl(), Top(1, 0), Retr(1), Dele(1), Retr(1), Rset())
    assert events[5] == Ok("message 1 deleted")
    assert events[6].__class__.__name__ == "Err"  # deleted messages are gone until RSET
    assert events[7] == Ok()
    assert pair.run(Retr(1))[0] == MultiLine(Ok("32 octets"), data=MESSAGES[0])
    _agree(pair)
