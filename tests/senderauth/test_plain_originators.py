"""The submission check of header From (RFC 6409 §8.1) reads a plain From without the
email package: whenever that shortcut answers, it answers what `originators` does."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from posthouse.mime.headers import HeaderError, originators
from posthouse.server.smtp import _PLAIN_FROM, plain_originators


def _text(*choices: str) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(choices), max_size=6).map("".join)


# Addresses near the plain forms, and noise around them.
local_parts = _text(
    "alice", "alice", ".", "a", "Z", "9", "_", "%", "+", "-", ".", "é", '"', "(", " ", "\\", "!"
)
domains = _text("alpha.test", "alpha.test", "alpha", "test", "9", "-", ".", "[", "]", " ", "é", "_")
display_names = _text("Al", "ice", " ", "  ", '"', ".", "'", "=?utf-8?q?x?=", ",", ":")
values = st.builds(
    lambda name, lt, local, domain, gt, noise: f"{name}{lt}{local}@{domain}{gt}{noise}",
    display_names,
    st.sampled_from(["", "<", " <", " <"]),
    local_parts,
    domains,
    st.sampled_from(["", ">", ">", "> "]),
    st.one_of(st.just(""), _text(",", " b@c", ";", "(x)", " ")),
)
names = st.sampled_from(["From", "From", "From", "from", "FROM ", "Sender", "Resent-From", "To"])


def _originators(header: bytes) -> Any:
    try:
        return originators(header)
    except HeaderError as e:
        return f"HeaderError: {e}"


def _plain(header: bytes) -> Any:
    try:
        return plain_originators(header)
    except HeaderError as e:
        return f"HeaderError: {e}"


@settings(max_examples=1500)
@given(fields=st.lists(st.tuples(names, values), min_size=1, max_size=2))
def test_shortcut_agrees_with_originators(fields: list[tuple[str, str]]) -> None:
    header = "".join(f"{name}: {value}\r\n" for name, value in fields).encode()
    fast = _plain(header)
    if fast is not None:
        assert fast == _originators(header), header


def test_common_forms_take_the_shortcut() -> None:
    for value in ("alice@alpha.test", "<alice@alpha.test>", "Alice Smith <a.b+c@alpha.test>"):
        header = f"Subject: x\r\nFrom: {value}\r\n".encode()
        assert plain_originators(header) == originators(header)
        assert plain_originators(header) is not None


def test_anything_else_is_left_to_originators() -> None:
    for header in (
        b"From: a@alpha.test\r\nSender: b@alpha.test\r\n",
        b"From: a@alpha.test, b@alpha.test\r\n",
        b'From: "Alice" <a@alpha.test>\r\n',
        b"From: =?utf-8?q?Al=C3=AEce?= <a@alpha.test>\r\n",
        b"From: a@alpha.test <b@alpha.test>\r\n",
        b"Resent-From: a@alpha.test\r\n",
    ):
        assert plain_originators(header) is None, header


@settings(max_examples=400)
@given(value=st.from_regex(_PLAIN_FROM, fullmatch=True), other=st.sampled_from(["", "To", "Cc"]))
def test_every_plain_from_agrees(value: str, other: str) -> None:
    header = f"From: {value}\r\n".encode()
    if other:
        header += f"{other}: x@y.test\r\n".encode()
    assert plain_originators(header) is not None
    assert plain_originators(header) == _originators(header), header
