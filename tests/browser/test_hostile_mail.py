"""Malicious HTML mail, delivered over SMTP and opened in Chromium: no script runs
(no dialog, no console message), no request leaves for another host, and the page
stays usable."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer, screenshot, sign_in
from tests.web.hostile import CORPUS, message


@pytest.mark.parametrize(("name", "html"), CORPUS, ids=[n for n, _ in CORPUS])
def test_hostile_message_is_harmless(page: Any, live: LiveServer, name: str, html: str) -> None:
    raw = message(name, html)
    live.deliver("hostile@attacker.invalid", ["alice@example.test"], raw)
    dialogs: list[str] = []
    console: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    sign_in(page, live, "alice@example.test")
    page.fill("#q", f"hostile {name}")
    page.press("#q", "Enter")
    page.click(f"a.open:has-text(\"hostile {name}\")")
    frame_element = page.wait_for_selector("#body-frame")
    frame = frame_element.content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    page.wait_for_timeout(300)  # time for anything that would fire on load
    if name in ("script-tag", "css-tricks", "tracking-pixel"):
        screenshot(page, f"hostile-{name}")
    assert dialogs == []
    assert console == []
    requests = page.context.requests
    outside = [u for u in requests if not u.startswith((live.url, "data:", "about:"))]
    assert outside == []
    # Still usable: the toolbar works and leads back to the list.
    page.click("#back")
    page.wait_for_selector("#list-form")
