"""A message as a reader sees it: its text, its HTML made safe, its attachments.

HTML from a message is hostile until cleaned: nh3 (ammonia) keeps a fixed set of
tags and attributes, drops scripts, event handlers, forms, frames, `<style>`,
`<meta>`, `<base>` and every URL that is not http(s)/mailto.  Images are the one
thing a reader may want from the network: remote ones are removed (and counted)
unless the user asked for them; `cid:` images (RFC 2392) are replaced by `data:`
URLs built here from the message's own image parts, so the sandboxed frame that
shows the HTML needs no cookie and makes no request.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

import nh3

# Raster types a browser decodes without running anything (no SVG: it can script).
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_INLINE_IMAGES_BYTES = 8 * 1024 * 1024
MAX_HTML_CHARS = 2 * 1024 * 1024  # a giant message is cut, not rendered whole

_TAGS = (nh3.ALLOWED_TAGS - {"map", "area"}) | {"font", "center"}
_LAYOUT = {"align", "valign", "width", "height", "bgcolor", "border", "style", "dir"}
_ATTRIBUTES: dict[str, set[str]] = {t: set(a) for t, a in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("table", "td", "th", "tr", "tbody", "thead", "tfoot", "img", "div", "p", "span"):
    _ATTRIBUTES.setdefault(_tag, set()).update(_LAYOUT)
_ATTRIBUTES["table"].update({"cellpadding", "cellspacing"})
_ATTRIBUTES["font"] = {"color", "face", "size"}
_ATTRIBUTES["*"] = {"style", "title", "lang", "dir"}
# CSS properties that cannot carry a URL or move content over the page.
_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "text-align", "text-decoration", "text-indent", "text-transform",
    "line-height", "letter-spacing", "white-space", "vertical-align", "width", "height",
    "max-width", "min-width", "margin", "margin-top", "margin-bottom", "margin-left",
    "margin-right", "padding", "padding-top", "padding-bottom", "padding-left",
    "padding-right", "border", "border-top", "border-bottom", "border-left", "border-right",
    "border-color", "border-style", "border-width", "border-collapse", "border-spacing",
    "border-radius", "display", "table-layout", "direction",
}  # fmt: skip
_URL_SCHEMES = {"http", "https", "mailto", "cid"}
_CID = re.compile(r"^cid:", re.IGNORECASE)
_FILENAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\"]')


@dataclass(frozen=True, slots=True)
class Attachment:
    index: int  # position in msg.walk(), stable for a given message
    filename: str
    content_type: str
    size: int
    content_id: str  # without the angle brackets, "" when none
    inline: bool


@dataclass
class Rendered:
    text: str | None  # plain text to show (escaped by the template) when no HTML
    html: str | None  # sanitised HTML for the sandboxed frame
    remote_images: int  # remote images left out (or kept, when allowed)
    attachments: list[Attachment] = field(default_factory=list)


def parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def safe_filename(name: str | None, fallback: str) -> str:
    """A file name fit for Content-Disposition: no path, no control characters."""
    cleaned = _FILENAME_UNSAFE.sub("_", (name or "").strip()).strip(". ")
    return cleaned[:200] or fallback


def _content_id(part: Message) -> str:
    value = str(part.get("content-id", "") or "").strip()
    return value[1:-1] if value.startswith("<") and value.endswith(">") else value


def _decoded(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except Exception:
        return _decoded(part).decode("utf-8", "replace")
    if isinstance(content, bytes):
        return content.decode("utf-8", "replace")
    return content if isinstance(content, str) else ""


def walk_parts(msg: EmailMessage) -> list[tuple[int, Message]]:
    return list(enumerate(msg.walk()))


def attachments(msg: EmailMessage) -> list[Attachment]:
    """Every leaf part that is not the message's own text: files and inline images."""
    found: list[Attachment] = []
    for index, part in walk_parts(msg):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        if (
            disposition != "attachment"
            and ctype in ("text/plain", "text/html")
            and not part.get_filename()
        ):
            continue  # a body part
        ext = ctype.split("/", 1)[1] if "/" in ctype else "bin"
        found.append(
            Attachment(
                index=index,
                filename=safe_filename(part.get_filename(), f"part-{index}.{ext}"),
                content_type=ctype,
                size=len(_decoded(part)),
                content_id=_content_id(part),
                inline=disposition == "inline" or (disposition is None and bool(_content_id(part))),
            )
        )
    return found


def part_bytes(msg: EmailMessage, index: int) -> tuple[Message, bytes] | None:
    for i, part in walk_parts(msg):
        if i == index and not part.is_multipart():
            return part, _decoded(part)
    return None


def _body_parts(msg: EmailMessage) -> tuple[Message | None, Message | None]:
    """The best text/plain and text/html parts (RFC 2046 §5.1.4: in
    multipart/alternative the last part the reader understands is preferred)."""
    plain = html = None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = part
        elif ctype == "text/html" and html is None:
            html = part
    return plain, html


def _cid_images(msg: EmailMessage) -> dict[str, str]:
    images: dict[str, str] = {}
    budget = MAX_INLINE_IMAGES_BYTES
    for part in msg.walk():
        cid = _content_id(part)
        if not cid or part.get_content_type() not in INLINE_IMAGE_TYPES:
            continue
        data = _decoded(part)
        budget -= len(data)
        if budget < 0:
            break
        encoded = base64.b64encode(data).decode("ascii")
        images[cid.lower()] = f"data:{part.get_content_type()};base64,{encoded}"
    return images


def sanitize_html(
    html: str, *, cid_images: dict[str, str] | None = None, allow_remote: bool = False
) -> tuple[str, int]:
    """(safe HTML, number of remote images) for display in a sandboxed frame."""
    remote = 0
    cids = cid_images or {}

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        nonlocal remote
        if tag == "img" and attr == "src":
            if _CID.match(value):
                return cids.get(value[4:].strip("<>").lower())
            if value.lower().startswith(("http://", "https://")):
                remote += 1
                return value if allow_remote else None
            return None
        if attr == "href" and _CID.match(value):
            return None
        return value

    cleaned = nh3.clean(
        html[:MAX_HTML_CHARS],
        tags=_TAGS,
        clean_content_tags={"script", "style", "title", "head", "template", "noscript"},
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes=_URL_SCHEMES,
        url_relative="deny",
        filter_style_properties=_STYLE_PROPERTIES,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return cleaned, remote


def render(raw: bytes, *, allow_remote_images: bool = False) -> Rendered:
    msg = parse(raw)
    plain, html = _body_parts(msg)
    found = attachments(msg)
    if html is not None:
        cleaned, remote = sanitize_html(
            _text(html), cid_images=_cid_images(msg), allow_remote=allow_remote_images
        )
        return Rendered(
            text=_text(plain) if plain is not None else None,
            html=cleaned,
            remote_images=remote,
            attachments=found,
        )
    return Rendered(
        text=_text(plain) if plain is not None else "",
        html=None,
        remote_images=0,
        attachments=found,
    )


def header_text(msg: EmailMessage, name: str) -> str:
    """A header's decoded value on one line, or ""."""
    try:
        value: Any = msg.get(name)
    except Exception:
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def quote_text(text: str) -> str:
    """Text quoted for a reply: "> " before every line (RFC 3676 §4.5 style)."""
    return "\n".join("> " + line if line else ">" for line in text.splitlines()) + "\n"
