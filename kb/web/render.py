"""What pages show that is not plain text: a curated body as safe HTML, a diff as rows, charts as SVG data.

Pure functions. The Markdown itself is rendered by ``kb.markdown`` (the one renderer, shared with
community posts) under its ``CURATED`` policy; what is web-specific stays here: the page already
shows the title, so a first heading that only repeats it is dropped. Imports nothing from kb but
``kb.markdown`` and nothing from the web framework.
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.markdown import CURATED, to_html


def document_html(markdown: str, title: str | None = None) -> str:
    """Sanitised HTML of a curated document's Markdown body. Headings shift down one level (the page has the
    h1); a first heading that only repeats ``title`` is dropped."""
    lines = markdown.lstrip().splitlines()
    if title and lines and lines[0].lstrip("#").strip().casefold() == title.strip().casefold() and lines[0].startswith("#"):
        markdown = "\n".join(lines[1:])
    return to_html(markdown, CURATED)


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

