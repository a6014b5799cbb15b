"""Community Markdown → safe HTML: markdown-it with raw HTML off, then nh3 with a small allow-list.

No images (no tracking pixels, nothing loaded from elsewhere), links only to http(s) and mailto with
``rel="nofollow noopener ugc"``. Pure functions; RELIABILITY T11.
"""

from __future__ import annotations

import re
from functools import lru_cache

ALLOWED_TAGS = {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK = re.compile(r"https?://|mailto:|\]\(|<a\b", re.I)


@lru_cache(maxsize=1)
def _markdown():  # noqa: ANN202
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


def render(markdown: str) -> str:
    """Sanitised HTML of community Markdown (raw HTML is shown as text, then everything is cleaned)."""
    import nh3

    html = _markdown().render(markdown)
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="nofollow noopener ugc", strip_comments=True)


def count_links(markdown: str) -> int:
    return len(LINK.findall(markdown))


def render_title(title: str) -> str:
    """Titles are plain text: escape everything."""
    import html

    return html.escape(title, quote=True)
