"""mime/display.py and mime/compose.py: safe HTML, text, attachments, building."""

from __future__ import annotations

import pytest

from posthouse.mime import display
from posthouse.mime.compose import ComposeError, Draft, Upload, build, parse_addresses
from tests.web.hostile import CORPUS, FORBIDDEN, message


@pytest.mark.parametrize(("name", "html"), CORPUS, ids=[n for n, _ in CORPUS])
def test_hostile_html_is_defused(name: str, html: str) -> None:
    rendered = display.render(message(name, html))
    assert rendered.html is not None
    lowered = rendered.html.lower()
    for bad in FORBIDDEN:
        assert bad not in lowered, bad
    assert ".invalid" not in lowered
    assert 'href="data:' not in lowered and 'src="data:image/svg' not in lowered


def test_remote_images_only_when_asked() -> None:
    raw = message("pixel", '<img src="https://img.invalid/a.png"><img src="http://img.invalid/b">')
    blocked = display.render(raw)
    assert blocked.remote_images == 2 and "img.invalid" not in (blocked.html or "")
    shown = display.render(raw, allow_remote_images=True)
    assert "https://img.invalid/a.png" in (shown.html or "")


def test_cid_images_become_data_urls_and_svg_does_not() -> None:
    raw = (
        b"From: a@x\r\nSubject: cid\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/related; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/html\r\n\r\n"
        b'<img src="cid:logo@x"><img src="cid:evil@x"><img src="cid:missing">\r\n'
        b"--B\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
        b"--B\r\nContent-Type: image/svg+xml\r\nContent-ID: <evil@x>\r\n\r\n"
        b"<svg onload='alert(1)'/>\r\n--B--\r\n"
    )
    rendered = display.render(raw)
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in (rendered.html or "")
    assert "svg" not in (rendered.html or "")
    assert [a.content_id for a in rendered.attachments] == ["logo@x", "evil@x"]


def test_plain_text_and_alternative() -> None:
    raw = (
        b"From: a@x\r\nSubject: alt\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/alternative; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nplain words\r\n"
        b"--B\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n--B--\r\n"
    )
    rendered = display.render(raw)
    assert rendered.html == "<p>html words</p>\r\n" or "html words" in (rendered.html or "")
    assert "plain words" in (rendered.text or "")
    text_only = display.render(b"From: a@x\r\nSubject: t\r\n\r\n<b>not html</b>\r\n")
    assert text_only.html is None and "<b>not html</b>" in (text_only.text or "")


def test_attachment_names_are_safe() -> None:
    cleaned = display.safe_filename('../../etc/"passwd"\r\n', "x")
    assert cleaned == "_.._etc__passwd_"
    assert not any(c in cleaned for c in '/\\"\r\n')
    assert display.safe_filename("", "part-3.pdf") == "part-3.pdf"
    assert display.safe_filename("résumé.pdf", "x") == "résumé.pdf"


def test_quote() -> None:
    assert display.quote_text("a\n\nb") == "> a\n>\n> b\n"


def test_build_refuses_injection_everywhere() -> None:
    base = {"from_addr": "alice@example.test", "to": "bob@example.test"}
    for field, value in (
        ("subject", "x\r\nBcc: e@v"),
        ("to", "b@example.test\nBcc: e@v"),
        ("from_name", "Alice\r\nBcc: e@v"),
        ("in_reply_to", "<a@b>\rBcc: e@v"),
        ("from_addr", "alice@example.test, eve@evil.example"),
    ):
        with pytest.raises(ComposeError):
            build(Draft(**{**base, field: value}), hostname="h")  # type: ignore[arg-type]
    with pytest.raises(ComposeError):
        build(Draft(**base, attachments=[Upload("a\r\nb", "text/plain", b"")]), hostname="h")
    raw, _ = build(
        Draft(**base, attachments=[Upload("x.txt", "text/plain\r\nX-Evil: 1", b"data")]),
        hostname="h",
    )
    assert b"X-Evil" not in raw


@pytest.mark.parametrize(
    "text",
    ["a@b, c@d <e@f>", "foo", "a@", "@b", "<a@b", "a@b\x00", '"x" <a@b> extra'],
)
def test_strict_address_lists(text: str) -> None:
    with pytest.raises(ComposeError):
        parse_addresses(text)


def test_address_list_ok() -> None:
    found = parse_addresses('Bob <bob@example.test>, "Doe, J" <j@x.example>, c@y.example')
    assert [a.addr_spec for a in found] == ["bob@example.test", "j@x.example", "c@y.example"]
