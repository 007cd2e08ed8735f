"""Whatever the bytes, the sender checks give a result and a well-formed header."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthouse.resolver import StaticResolver
from posthouse.senderauth.authres import MethodResult, format_header, parse_value
from posthouse.senderauth.results import check_message
from posthouse.senderauth.spf import check_host

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKENS = st.sampled_from(
    ["v=spf1", " ", "a", "mx", "ptr", "ip4:", "ip6:", "1.2.3.4", "/24", "//64", "include:",
     "redirect=", "exp=", "%{", "}", "ir", "d", "-all", "~", "?", "+", ":", ".", "x.test",
     "%%", "%_", "exists:", "=", "::1", "%{l1r-}"]
)  # fmt: skip


@FAST
@given(st.lists(TOKENS, max_size=12).map("".join))
def test_spf_any_record_gives_a_result(record: str) -> None:
    resolver = StaticResolver(
        {"x.test": {"TXT": [record], "A": ["1.2.3.4"], "MX": [(1, "x.test")]}}
    )
    result = asyncio.run(check_host(resolver, "1.2.3.4", "x.test", "a@x.test"))
    assert result.result in (
        "none",
        "neutral",
        "pass",
        "fail",
        "softfail",
        "temperror",
        "permerror",
    )


@FAST
@given(st.text(max_size=300))
def test_authentication_results_parser_never_raises(value: str) -> None:
    parse_value(value)


@FAST
@given(
    st.text(max_size=40),
    st.text(max_size=40),
    st.text(max_size=60),
    st.text(max_size=60),
)
def test_header_is_always_one_clean_field(
    authserv: str, result: str, comment: str, value: str
) -> None:
    header = format_header(
        authserv,
        [MethodResult("spf", result, comment=comment, properties=(("smtp.mailfrom", value),))],
    )
    text = header.decode("ascii")
    assert text.endswith("\r\n")
    lines = text[:-2].split("\r\n")
    assert all(line.startswith("\t") for line in lines[1:])
    assert all(" " <= ch <= "~" or ch == "\t" for line in lines for ch in line)
    assert len(parse_value(text.split(":", 1)[1]).results) <= 1


@FAST
@given(st.binary(max_size=600))
def test_check_message_takes_any_bytes(raw: bytes) -> None:
    resolver = StaticResolver({"alpha.test": {"TXT": ["v=spf1 -all"]}})
    verdict = asyncio.run(
        check_message(
            resolver,
            client_ip="192.0.2.1",
            helo="h",
            mail_from="a@alpha.test",
            raw=b"From: a@alpha.test\r\nDKIM-Signature: v=1; d=alpha.test\r\n" + raw,
            authserv_id="mx.test",
        )
    )
    assert verdict.header.startswith(b"Authentication-Results: mx.test;")
