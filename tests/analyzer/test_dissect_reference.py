"""Every capture in ../shared/captures, dissected and checked against tshark.

Per capture: the analysis raises nothing and every stream tshark followed is a session;
every command, reply code, POP3 indicator, IMAP tag and status tshark decoded is in our
transcript in the same order (tshark's quirks corrected, README there); every user name
in tshark's credentials tap is one of our credentials, and the ones it misses are found;
every message tshark exports is one of ours byte for byte, or is explained by a quirk.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from posthouse.analyzer.analysis import analyze_file
from posthouse.analyzer.model import Report
from tests.analyzer.reference import CAPTURES, capture_files, parse_follow, reference_dir
from tests.analyzer.tshark_compare import (
    check_commands,
    check_imf,
    session_for,
    tshark_credentials,
)

FILES = capture_files()
pytestmark = pytest.mark.skipif(
    not FILES, reason=f"the shared capture corpus is absent ({CAPTURES})"
)

# Credentials tshark's tap misses (README quirk 5), found here: capture -> (protocol,
# mechanism, user, password).
MISSED_BY_TSHARK = {
    "arkime/tests/pcap/ntlm_synthetic.pcap": {
        ("SMTP", "NTLM", "SMTPDOM\\jack", None),
        ("IMAP", "NTLM", "IMAPDOM\\kate", None),
        ("POP3", "NTLM", "POP3DOM\\liam", None),
    },
    "suricata-verify/tests/pop3-auth-01/input.pcap": {
        ("POP3", "XOAUTH2", "joe.speedboat", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    },
    "suricata-verify/tests/smtp-bug-5989/input.pcap": {("SMTP", "LOGIN", "galunt", "V1v1tr0n")},
    # The client answered the server's "Username:" with QUIT; the server decodes that
    # as base64 and asks for the password, and so does the analyzer.
    "suricata-verify/tests/smtp-long-command/input.pcap": {("SMTP", "LOGIN", "AB\x13", None)},
}


def _rel(p: Path) -> str:
    return str(p.relative_to(CAPTURES))


@cache
def _report(capture: Path) -> Report:
    return analyze_file(capture)


@pytest.mark.parametrize("capture", FILES, ids=[_rel(p) for p in FILES])
def test_every_followed_stream_is_a_session(capture: Path) -> None:
    report = _report(capture)
    for stream in parse_follow(reference_dir(capture) / "follow.txt"):
        if not stream.chunks:
            continue  # tshark lists a stream without payload; there is nothing to dissect
        session = session_for(report, stream)
        assert session is not None, stream.index
        assert session.protocol in ("SMTP", "POP3", "IMAP", "HTTP", "HTTPS", "SOCKS", "unknown"), (
            stream.index,
            session.protocol,
        )


@pytest.mark.parametrize("capture", FILES, ids=[_rel(p) for p in FILES])
def test_commands_and_replies_match_tshark(capture: Path) -> None:
    result = check_commands(capture, _rel(capture), _report(capture))
    assert not result.unmatched


@pytest.mark.parametrize("capture", FILES, ids=[_rel(p) for p in FILES])
def test_credentials_match_tshark(capture: Path) -> None:
    report = _report(capture)
    ours = [c for s in report.sessions for c in s.credentials]
    users = {(c.protocol, c.username) for c in ours}
    for _frame, protocol, user in tshark_credentials(capture):
        assert (protocol, user) in users, (protocol, user)
    tshark_users = {user for _f, _p, user in tshark_credentials(capture)}
    extra = {
        (c.protocol, c.mechanism, c.username, c.password)
        for c in ours
        if c.username not in tshark_users
    }
    assert extra == MISSED_BY_TSHARK.get(_rel(capture), set())


@pytest.mark.parametrize("capture", FILES, ids=[_rel(p) for p in FILES])
def test_messages_match_tshark_imf_export(capture: Path) -> None:
    assert not check_imf(capture, _report(capture)).unexplained


def test_corpus_counts() -> None:
    """The checks above are not vacuous: the figures across the corpus."""
    compared = sasl = cut = 0
    creds = extra = 0
    files = exact = with_commands = pieces = inconsistent = 0
    for capture in FILES:
        report = _report(capture)
        c = check_commands(capture, _rel(capture), report)
        compared, sasl, cut = compared + c.compared, sasl + c.sasl_as_command, cut + c.cut_lines
        creds += len(tshark_credentials(capture))
        extra += len(MISSED_BY_TSHARK.get(_rel(capture), ()))
        m = check_imf(capture, report)
        files, exact = files + m.files, exact + m.exact
        with_commands, pieces = with_commands + m.with_commands, pieces + m.pieces
        inconsistent += m.tshark_inconsistent
    assert compared > 1600
    assert creds == 15 and extra == 6
    assert files == 266
    # Whole messages: byte for byte; the rest are tshark's pieces and its own errors.
    assert (exact, with_commands, pieces, inconsistent) == (145, 5, 113, 3)
    assert sasl > 0 and cut > 100


def test_tls_handshakes_match_tshark() -> None:
    """The offered and chosen cipher suites of every TLS handshake tshark decoded."""
    from posthouse.proto.tls import suite

    checked = 0
    for capture in FILES:
        path = reference_dir(capture) / "tls.tsv"
        rows = [line.split("\t") for line in path.read_text().splitlines()[1:] if line]
        if not rows:
            continue
        report = _report(capture)
        follow = {s.index: s for s in parse_follow(reference_dir(capture) / "follow.txt")}
        for row in rows:
            session = session_for(report, follow[int(row[1])])
            assert session is not None
            if session.tls is None:
                # A ClientHello sent to a server that answers in plaintext (port 465).
                assert any("ClientHello record" in line.text for line in session.lines)
                continue
            names = [suite(int(v, 16)).name for v in row[6].split("|") if v]
            if row[4] == "1":
                assert session.tls.offered_suites == names
                checked += 1
            elif row[4] == "2":
                assert [session.tls.cipher_suite] == names
                checked += 1
    assert checked == 4
