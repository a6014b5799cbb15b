"""What pages show that is not plain text: curated Markdown as safe HTML, a diff as rows, charts as SVG data.

Pure functions. Curated bodies are Markdown written by contributors or converted from .docx: raw
HTML is off in the parser and the output is cleaned by nh3 with an allow-list (no scripts, no
styles, no images, links only to http(s) and mailto), the same stance as community text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

DOCUMENT_TAGS = {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h1", "h2", "h3",
                 "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td"}
DOCUMENT_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _markdown():  # noqa: ANN202
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").disable("image")


def document_html(markdown: str, title: str | None = None) -> str:
    """Sanitised HTML of a curated document's Markdown body. Headings shift down one level (the page has the
    h1); a first heading that only repeats ``title`` is dropped."""
    import nh3

    lines = markdown.lstrip().splitlines()
    if title and lines and lines[0].lstrip("#").strip().casefold() == title.strip().casefold() and lines[0].startswith("#"):
        markdown = "\n".join(lines[1:])
    html = _markdown().render(markdown)
    for level in range(5, 0, -1):
        html = html.replace(f"<h{level}>", f"<h{level + 1}>").replace(f"</h{level}>", f"</h{level + 1}>")
    return nh3.clean(html, tags=DOCUMENT_TAGS, attributes=DOCUMENT_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener nofollow", strip_comments=True)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "del", "hunk", "file", "same"
    text: str


def diff_lines(unified: str) -> list[DiffLine]:
    """Classify the lines of a unified diff for display (the template escapes the text)."""
    lines = []
    for line in unified.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append(DiffLine(kind, line))
    return lines


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    height: float  # 0..100, share of the chart's tallest bar
    note: str = ""


def bars(points: list[tuple[str, float]], note: str = "") -> list[Bar]:
    """Bars scaled to the largest value (an all-zero series stays flat)."""
    top = max((value for _, value in points), default=0) or 1
    return [Bar(label, value, round(100 * value / top, 2), note) for label, value in points]

