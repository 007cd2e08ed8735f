"""Everything the pages need ships in the package: no CDN, no web font, no remote URL."""

from __future__ import annotations

import re
from pathlib import Path

import posthouse.web
from tests.web.conftest import Site

WEB = Path(posthouse.web.__file__).parent
# URLs that are names, not fetches: XML namespaces and the SVG namespace.
ALLOWED = ("http://www.w3.org/", "http://schemas.microsoft.com/")


def test_no_remote_urls_in_templates_or_static_files() -> None:
    files = [*WEB.glob("templates/*.html"), *WEB.glob("static/*")]
    assert files
    for path in files:
        for url in re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"')]*", path.read_text()):
            assert url.startswith(ALLOWED), (path.name, url)


def test_static_files_are_served(site: Site) -> None:
    for name, kind in (("app.js", "javascript"), ("app.css", "text/css"), ("icon.svg", "svg")):
        response = site.client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert response.headers["cache-control"].startswith("public")
