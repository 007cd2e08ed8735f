"""Whatever a capture holds, dissection never raises: random segments, random cuts of
real protocol text, gaps, on every mail port and on ports that say nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from posthouse.analyzer.findings import session_findings
from posthouse.analyzer.messages import summarize
from posthouse.analyzer.report_json import session_dict
from tests.analyzer.conversation import dissect

PIECES = [
    b"220 mx ESMTP\r\n", b"EHLO x\r\n", b"250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n",
    b"AUTH LOGIN\r\n", b"334 VXNlcm5hbWU6\r\n", b"YWxpY2U=\r\n", b"MAIL FROM:<a@b>\r\n",
    b"RCPT TO:<c@d>\r\n", b"DATA\r\n", b"354 go\r\n", b"Subject: =?utf-8?q?x?=\r\n\r\n",
    b".\r\n", b"BDAT 5 LAST\r\n", b"STARTTLS\r\n", b"220 ready\r\n", b"\x16\x03\x01\x00\x05",
    b"+OK\r\n", b"USER u\r\n", b"PASS p\r\n", b"RETR 1\r\n", b"+ \r\n", b"-ERR no\r\n",
    b"* OK ready\r\n", b"a1 LOGIN u {3}\r\n", b"pwd\r\n", b"a1 OK\r\n",
    b"* 1 FETCH (BODY[] {4}\r\n", b"a2 AUTHENTICATE PLAIN\r\n", b"\x05\x01\x00", b"\x05\x00",
    b"\r\n", b"\n", b".", b"{",
]  # fmt: skip

segment = st.one_of(
    st.binary(max_size=40),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map(b"".join),
)
step = st.tuples(st.sampled_from(["C", "S"]), st.one_of(segment, st.integers(1, 5000)))


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(step, max_size=25),
    port=st.sampled_from([25, 110, 143, 465, 993, 1080, 443, 4242]),
)
def test_dissection_never_raises(steps: list, port: int) -> None:  # type: ignore[type-arg]
    session = dissect(steps, server_port=port)
    for msg in session.messages:
        summarize(msg)
    session_findings(session)
    session_dict(session)
