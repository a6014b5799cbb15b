"""Split a version's Markdown into passages for search: by headings, then by about 200-300 words.

Pure functions, no I/O. Each chunk keeps the path of headings above it, so a hit can say where in
the document it was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^(```|~~~)")
TARGET_WORDS = 250
MAX_WORDS = 300


@dataclass(frozen=True)
class ChunkText:
    ordinal: int
    heading_path: tuple[str, ...]
    text: str

    @property
    def word_count(self) -> int:
        return len(self.text.split())


def _blocks(lines: list[str]) -> list[str]:
    """Paragraph-like blocks separated by blank lines (fenced code kept whole)."""
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False
    for line in lines:
        if FENCE.match(line.strip()):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _split_long_block(block: str) -> list[str]:
    words = block.split()
    return [" ".join(words[i:i + TARGET_WORDS]) for i in range(0, len(words), TARGET_WORDS)]


def _pack(blocks: list[str]) -> list[str]:
    """Group consecutive blocks into passages of about TARGET_WORDS, never over MAX_WORDS."""
    passages: list[str] = []
    current: list[str] = []
    count = 0
    for block in blocks:
        pieces = _split_long_block(block) if len(block.split()) > MAX_WORDS else [block]
        for piece in pieces:
            n = len(piece.split())
            if current and (count + n > MAX_WORDS or count >= TARGET_WORDS):
                passages.append("\n\n".join(current))
                current, count = [], 0
            current.append(piece)
            count += n
    if current:
        passages.append("\n\n".join(current))
    return passages


def chunk_markdown(markdown: str, title: str = "") -> list[ChunkText]:
    """Chunks of ``markdown`` in reading order, each with its heading path (title first when given)."""
    sections: list[tuple[tuple[str, ...], list[str]]] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    path: tuple[str, ...] = ()
    in_fence = False
    for line in markdown.splitlines():
        if FENCE.match(line.strip()):
            in_fence = not in_fence
        match = None if in_fence else HEADING.match(line)
        if match:
            sections.append((path, lines))
            level, heading = len(match.group(1)), match.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            path = tuple(h for _, h in stack)
            lines = []
        else:
            lines.append(line)
    sections.append((path, lines))
    chunks: list[ChunkText] = []
    for heading_path, section_lines in sections:
        if title and (not heading_path or heading_path[0] != title):
            heading_path = (title, *heading_path)
        for passage in _pack(_blocks(section_lines)):
            chunks.append(ChunkText(ordinal=len(chunks), heading_path=heading_path, text=passage))
    if not chunks and title:
        chunks.append(ChunkText(ordinal=0, heading_path=(title,), text=title))
    return chunks
