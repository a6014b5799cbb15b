"""The snippet of a hit: plain text from the part of its best passage that matches the query best.

Pure functions, no I/O (STYLE 9). A passage is stored as its authors' Markdown; a snippet shows it
as a reader sees it (``kb.markdown.to_plain_text``: no ``**twice a year**``), cut to a window of
``SNIPPET_CHARS`` where the most distinct query terms meet, not from the passage's first word (issue
17 found introductions shown instead of the sentence that answers). Highlights are the words that
match a query term, stop words never (``kb.search.analysis``). Must not import the services.
"""

from __future__ import annotations

from kb.markdown import to_plain_text
from kb.search import analysis
from kb.search.schemas import Passage

SNIPPET_CHARS = 400
LEAD_CHARS = 60  # a window starts this far before its first match, at a word or sentence boundary


def best_window(length: int, matches: list[tuple[int, int, str]], width: int = SNIPPET_CHARS) -> tuple[int, int]:
    """(start, end) of the ``width`` characters that hold the most distinct matched terms, then the most matches.

    Candidate windows start ``LEAD_CHARS`` before each match; ties go to the earliest. A text no longer
    than ``width``, or without matches, is shown from its start.
    """
    if length <= width or not matches:
        return 0, min(length, width)
    best, best_key = (0, min(length, width)), (-1, -1)
    for first, _end, _term in matches:
        start = max(0, min(first - LEAD_CHARS, length - width))
        inside = [term for a, b, term in matches if a >= start and b <= start + width]
        key = (len(set(inside)), len(inside))
        if key > best_key:
            best, best_key = (start, start + width), key
    return best


def _boundary(text: str, start: int, end: int) -> tuple[int, int]:
    """The window moved onto word boundaries: it starts after a sentence end or a space, ends before a space."""
    if start > 0:
        sentence = max(text.rfind(". ", start, start + LEAD_CHARS), text.rfind("\n", start, start + LEAD_CHARS))
        start = sentence + 1 if sentence >= 0 else text.find(" ", start) + 1 or start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    while start < end and text[start].isspace():
        start += 1
    return start, end


def snippet(markdown: str, heading_path: list[str], query: str, language: str | None) -> Passage:
    """The plain-text snippet of a passage for ``query``, with the matching words' character ranges."""
    text = to_plain_text(markdown)
    matches = list(analysis.iter_matches(text, query, language))
    start, end = _boundary(text, *best_window(len(text), matches))
    spans = [(a - start, b - start) for a, b, _term in matches if a >= start and b <= end]
    return Passage(text=text[start:end], heading_path=heading_path, highlights=spans)
