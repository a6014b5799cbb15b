"""Markdown → safe HTML, written once for every text kb shows as HTML, and the link count of a text.

Curated document bodies (written by contributors or converted from .docx) and community posts
(comments, questions, answers) go through the same two steps: markdown-it with raw HTML off (raw
HTML is shown as text), then nh3 with an allow-list (no scripts, no styles, no images, links only
to http(s) and mailto, comments stripped). What differs between them is a ``Policy``: which tags
and attributes survive, whether tables are parsed, the links' ``rel``, how far headings shift.
Both policies are here, side by side, so the whole allow-list can be read in one place
(RELIABILITY T11).

Pure functions. Imports nothing from kb and nothing from the web framework; markdown-it and nh3
are imported on first use (``kb --help`` stays fast). import-linter lets no other kb module import
them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Mapping

URL_SCHEMES = frozenset({"http", "https", "mailto"})


@dataclass(frozen=True)
class Policy:
    """What one kind of text may become in HTML."""

    tags: frozenset[str]
    attributes: Mapping[str, frozenset[str]]
    link_rel: str
    tables: bool = False
    heading_shift: int = 0
    """Levels every heading moves down (a page that holds the h1 shifts by one); h6 stays h6."""


_INLINE = frozenset({"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr"})

COMMUNITY = Policy(
    tags=_INLINE | {"h3", "h4"},
    attributes=MappingProxyType({"a": frozenset({"href", "title"})}),
    link_rel="nofollow noopener ugc",
)
"""Comments, questions and answers: a small allow-list, no tables, no images, links marked user content."""

CURATED = Policy(
    tags=_INLINE | {"h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"},
    attributes=MappingProxyType({"a": frozenset({"href", "title"}), "th": frozenset({"align"}),
                                 "td": frozenset({"align"})}),
    link_rel="noopener nofollow",
    tables=True,
    heading_shift=1,
)
"""Curated document bodies: headings and tables; the page holds the h1, so headings shift down one."""


@lru_cache(maxsize=4)
def _parser(tables: bool) -> Any:
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")
    return parser.enable("table") if tables else parser


def to_html(markdown: str, policy: Policy) -> str:
    """Sanitised HTML of ``markdown`` under ``policy``.

    Args:
        markdown: text as its author wrote it (raw HTML in it is shown as text).
        policy: ``COMMUNITY`` or ``CURATED``.

    Returns:
        HTML holding only the policy's tags and attributes, links only to http(s) and mailto.
    """
    import nh3

    parser = _parser(policy.tables)
    tokens = parser.parse(markdown)
    if policy.heading_shift:
        for token in tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{min(6, int(token.tag[1:]) + policy.heading_shift)}"
    html = parser.renderer.render(tokens, parser.options, {})
    return nh3.clean(html, tags=set(policy.tags), attributes={tag: set(names) for tag, names in policy.attributes.items()},
                     url_schemes=set(URL_SCHEMES), link_rel=policy.link_rel, strip_comments=True)


_URL = re.compile(r"https?://|mailto:", re.IGNORECASE)
_TEXT = frozenset({"text", "code_inline", "html_inline"})


def count_links(markdown: str) -> int:
    """How many links a community text carries, each counted once.

    A Markdown link ``[a](https://…)`` or an autolink ``<https://…>`` is one link (its URL is not
    counted again: issue "one door per action", a post with two Markdown links was refused as
    four); a bare URL or ``mailto:`` is one too, although it is not rendered as a link, and so is
    one in code (spam pastes them anywhere). Parsed as ``COMMUNITY`` text.
    """
    count = 0
    for block in _parser(COMMUNITY.tables).parse(markdown):
        if block.type in ("code_block", "fence"):
            count += len(_URL.findall(block.content))
        depth, outside = 0, []
        for token in block.children or []:
            if token.type == "link_open":
                count += depth == 0
                depth += 1
            elif token.type == "link_close":
                depth -= 1
            if depth == 0 and token.type in _TEXT:
                outside.append(token.content)
            else:
                outside.append(" ")
        count += len(_URL.findall("".join(outside)))
    return count


_BREAKS = frozenset({"softbreak", "hardbreak"})


def to_plain_text(markdown: str) -> str:
    """The words of ``markdown`` as a reader sees them, without its markup: one line per block.

    Emphasis, links (their text stays), headings' hashes, list bullets, table pipes and code fences
    go; raw HTML stays as the text it is shown as. Search snippets are cut from this (issue 17: a hit
    showed ``**twice a year**``). Parsed as ``CURATED`` text (tables on).
    """
    lines: list[str] = []
    row: list[str] | None = None  # the cells of a table row, shown on one line
    for block in _parser(CURATED.tables).parse(markdown):
        if block.type == "tr_open":
            row = []
        elif block.type == "tr_close" and row is not None:
            lines.append(" · ".join(cell for cell in row if cell))
            row = None
        elif block.type in ("code_block", "fence"):
            lines.extend(line for line in block.content.splitlines() if line.strip())
        elif block.type == "inline":
            words = " ".join("".join(" " if token.type in _BREAKS else token.content
                                     for token in block.children or [] if token.type in _TEXT | _BREAKS).split())
            if row is not None:
                row.append(words)
            elif words:
                lines.append(words)
    return "\n".join(lines)


def with_visible_text(markdown: str) -> str:
    """``markdown`` itself, if it has a character a reader can see; else ValueError (a pydantic validator).

    Spaces, line breaks and invisible format characters (zero-width spaces and joiners, Unicode
    category Cf) alone are no text: a body or a comment of them was accepted, and shown as an empty
    page or post (the review of 2026-12-07).
    """
    import unicodedata

    if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in markdown):
        raise ValueError("Write some text: spaces and invisible characters alone are not")
    return markdown
