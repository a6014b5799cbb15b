"""PDF import (issue 19): the text layer as Markdown, and the metadata the file declares about itself.

Library: **pypdf** (BSD-3-Clause, pure Python, maintained by the py-pdf organisation with releases
every few weeks). Chosen over pdfminer.six (MIT, finer layout analysis) because kb must bound the
work of a hostile file *inside* the request, and pypdf (7.x) has limits of its own, set per call
through a context variable (``pypdf.Configuration``): decompressed bytes and decoding work per
stream, parsing work per content stream, page-tree and outline size and depth, XMP size (and XMP
entities refused), no external ``jbig2dec``. pdfminer.six has none of these, so it would need a
subprocess to be bounded. Pure Python also means nothing to compile and nothing outside PyPI.

What is kept:
- Headings: from the outline (bookmarks) where the file has one (a line that reads as the next
  outline entries' title, with or without a section number, is a heading of the entry's depth);
  otherwise from font sizes (a short line set clearly larger than the body text's size, ranked
  largest first into levels 1-3).
- Lists: lines opening with a bullet glyph become ``- `` items; numbered lines stay numbered.
- Tables: pypdf gives the text of a table's cells line by line (no cell structure); they are kept
  as text lines. Paragraph breaks are where the PDF breaks its lines; words hyphenated across a line
  end are joined.
- Metadata: the info dictionary's /Title, /Author, /CreationDate and /ModDate, else XMP's dc:title,
  dc:creator, xmp:CreateDate and xmp:ModifyDate, as *declared by the file*.

Refused with 422 (``ErrorCode.INVALID_FILE``): encrypted files (even with an empty user password),
files pypdf cannot read, a file over one of pypdf's limits, more than ``MAX_PDF_PAGES`` pages, more
than ``MAX_INFLATED_BYTES`` of page content in all, and a PDF with no text at all: "no text layer;
scanned documents need OCR, which kb does not do". The caps of every upload hold too:
``MAX_BODY_CHARS`` counted as lines are added, ``MAX_PARSE_SECONDS`` checked between pages and every
few hundred content-stream operators (pypdf's visitor callback). Opening the file and walking its
page tree are not cooperative; they are bounded by the upload size and pypdf's limits instead.

Imports pypdf (lazily, when a PDF comes) and the shared caps of ``ingest_docx``; no database.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections import Counter
from dataclasses import dataclass

from kb.documents.ingest_docx import (
    MAX_INFLATED_BYTES, MAX_UPLOAD_BYTES, ParsedFile, _aware, _Budget, _declared, _invalid, _printable, _too_large,
)
from kb.documents.schemas import MAX_BODY_CHARS
from kb.errors import KbError

PDF_MEDIA_TYPE = "application/pdf"
MAX_PDF_PAGES = 2_000
"""Pages of one PDF (checked before any page is read)."""
MAX_PDF_STREAM_BYTES = 25 * 1024 * 1024
"""Decompressed bytes of any one stream (pypdf's per-filter output limits)."""
NO_TEXT_LAYER = "no text layer; scanned documents need OCR, which kb does not do"
HEADING_RATIO = 1.15
"""A line is a heading by its font size when set at least this much larger than the body text."""
MAX_HEADING_WORDS = 16
_OPERATORS_PER_TICK = 256
_BULLET = re.compile(r"^[\u2022\u25cf\u25aa\u25e6\u2023\u2219\u00b7\u25a0\u25a1\u2013\u2014\uf0b7\uf0a7]\s*(?=\S)|^-\s+(?=\S)")
_NUMBERED = re.compile(r"^(\d{1,3})[.)]\s+(?=\S)")
_SECTION_NUMBER = re.compile(r"^(\d+(\.\d+)*\.?|[A-Z]\.|[IVXLC]+\.)\s+")
_MARKDOWN_START = re.compile(r"^(#|>|\||=+\s*$|```|~~~|[+*]\s)")


def _pypdf_configuration():  # noqa: ANN202
    """pypdf's limits for one kb import: tighter than its defaults where kb's caps are tighter."""
    from pypdf import Configuration

    return Configuration().with_overwrites(
        maximum_declared_stream_length=MAX_UPLOAD_BYTES,
        array_based_stream_maximum_output_length=MAX_PDF_STREAM_BYTES,
        zlib_maximum_output_length=MAX_PDF_STREAM_BYTES,
        lzw_maximum_output_length=MAX_PDF_STREAM_BYTES,
        run_length_maximum_output_length=MAX_PDF_STREAM_BYTES,
        brotli_maximum_output_length=MAX_PDF_STREAM_BYTES,
        jbig2_maximum_output_length=MAX_PDF_STREAM_BYTES,
        image_maximum_buffer_size=MAX_PDF_STREAM_BYTES,
        stream_decoding_work_maximum_length=4 * MAX_PDF_STREAM_BYTES,
        xmp_maximum_input_length=1024 * 1024,
        xmp_maximum_element_count=10_000,
        outline_maximum_entries=10_000,
        outline_maximum_depth=20,
        page_tree_maximum_entries=4 * MAX_PDF_PAGES,
        page_tree_maximum_depth=50,
        page_tree_maximum_page_entries=200_000,
        named_destinations_maximum_entries=10_000,
        named_destinations_maximum_depth=20,
        stream_parsing_work_maximum_count=500_000,  # tokens of one content stream (pypdf: 2,000,000, about 10 s)
        xform_maximum_invocations_per_extraction=1_000,
        jbig2dec_binary=None,  # never start an external program on an uploaded file
        disable_legacy_handling=True,
    )


def parse_pdf(data: bytes) -> ParsedFile:
    """Convert a PDF's text layer to Markdown: headings (outline or font sizes), lists, text.

    Raises:
        KbError INVALID_FILE: encrypted, unreadable, over one of pypdf's limits, without a text layer
            (``NO_TEXT_LAYER``), or over a cap (``details["too_large"]``: ``pages``, ``inflated_bytes``,
            ``characters`` or ``parse_seconds``).
    """
    import logging

    from pypdf import apply_configuration
    from pypdf.errors import LimitReachedError

    budget = _Budget("PDF")
    if not data.lstrip()[:1024].find(b"%PDF-") >= 0:
        raise _invalid("not a PDF (no %PDF- header)")
    # A damaged upload is the uploader's 422, not lines in the server's log (set once; not per call,
    # which would race between threads).
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    try:
        with apply_configuration(_pypdf_configuration()):
            return _parse(data, budget)
    except KbError:
        raise
    except LimitReachedError as exc:
        raise _invalid(f"the PDF is over a safety limit of the PDF reader ({str(exc)[:200]})") from None
    except RecursionError:
        raise _invalid("the PDF nests its objects too deeply to be read") from None
    except MemoryError:
        raise _invalid("the PDF needs too much memory to be read") from None
    except Exception as exc:  # pypdf raises many types on malformed input (PdfReadError, ValueError, KeyError, …)
        raise _invalid(f"the PDF cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None


def _parse(data: bytes, budget: _Budget) -> ParsedFile:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    budget.tick()
    if reader.is_encrypted:
        raise _invalid("the PDF is encrypted; kb imports only unencrypted PDFs (save a copy without a password)")
    pages = len(reader.pages)
    if pages > MAX_PDF_PAGES:
        raise _too_large("pages", MAX_PDF_PAGES, f"the PDF has {pages:,} pages; the limit is {MAX_PDF_PAGES:,}")
    budget.tick()
    outline = _outline_titles(reader, budget)
    lines: list[_Line] = []
    inflated = characters = 0
    for page in reader.pages:
        budget.tick()
        contents = page.get_contents()
        if contents is not None:
            inflated += len(contents.get_data())
            if inflated > MAX_INFLATED_BYTES:
                raise _too_large("inflated_bytes", MAX_INFLATED_BYTES,
                                 f"the PDF's pages inflate to more than {MAX_INFLATED_BYTES:,} bytes; the limit is {MAX_INFLATED_BYTES:,}")
        page_lines = _page_lines(page, budget)
        characters += sum(len(line.text) + 1 for line in page_lines)
        if characters > MAX_BODY_CHARS:  # the text alone is over the cap: stop before reading more pages
            raise _too_large("characters", MAX_BODY_CHARS,
                             f"the PDF gives more than {MAX_BODY_CHARS:,} characters of text; the limit is {MAX_BODY_CHARS:,}")
        lines.extend(page_lines)
    if not any(line.text.strip() for line in lines):
        raise _invalid(NO_TEXT_LAYER)
    markdown = _to_markdown(lines, outline, budget)
    title, author, created, modified = _metadata(reader)
    return ParsedFile(markdown=markdown, media_type=PDF_MEDIA_TYPE, declared_title=title, declared_author=author,
                      declared_created=created, declared_modified=modified)


# ------------------------------------------------------------------------------ text and sizes

@dataclass
class _Line:
    text: str
    size: float  # the largest effective font size (points) of the text on the line


def _page_lines(page, budget: _Budget) -> list[_Line]:  # noqa: ANN001
    """The page's text, line by line, each with its font size, from pypdf's text visitor.

    pypdf hands each shown string with its font size, text matrix and current transformation
    matrix; the rendered size is the font size scaled by both. Its newlines separate the lines.
    """
    lines: list[_Line] = [_Line("", 0.0)]
    operators = [0]

    def on_operator(_operator, _operands, _cm, _tm) -> None:  # noqa: ANN001
        operators[0] += 1
        if operators[0] % _OPERATORS_PER_TICK == 0:
            budget.tick()

    def on_text(text, cm, tm, _font, font_size) -> None:  # noqa: ANN001
        if not text:
            return
        try:
            scale = math.sqrt(abs((tm[0] * tm[3] - tm[1] * tm[2]) * (cm[0] * cm[3] - cm[1] * cm[2])))
            size = float(font_size) * scale if math.isfinite(scale) else 0.0
        except (TypeError, ValueError, IndexError, OverflowError):
            size = 0.0
        parts = _printable(text).split("\n")
        for index, part in enumerate(parts):
            if index:
                lines.append(_Line("", 0.0))
            if part.strip():
                lines[-1].text += part
                lines[-1].size = max(lines[-1].size, round(size, 1) if math.isfinite(size) else 0.0)
            elif part:
                lines[-1].text += part

    page.extract_text(visitor_operand_before=on_operator, visitor_text=on_text)
    return [line for line in lines if line.text.strip()]


def _outline_titles(reader, budget: _Budget) -> list[tuple[str, int]]:  # noqa: ANN001
    """The outline's titles in reading order with their depth (1 = top), as written; [] if none or unreadable."""
    titles: list[tuple[str, int]] = []
    try:
        outline = reader.outline
    except Exception:  # noqa: BLE001 - a damaged outline only costs the headings it would have given
        return []
    stack: list[tuple[list, int]] = [(list(outline), 1)]
    while stack:
        items, depth = stack.pop()
        for position, item in enumerate(items):
            if isinstance(item, list):
                stack.append((items[position + 1:], depth))
                stack.append((item, depth + 1))
                break
            title = _declared(getattr(item, "title", None) or (item.get("/Title") if hasattr(item, "get") else None))
            if title:
                titles.append((title, min(depth, 6)))
        budget.tick()
    return titles


def _normal(text: str) -> str:
    return " ".join(_SECTION_NUMBER.sub("", text.strip()).split()).casefold()


def _to_markdown(lines: list[_Line], outline: list[tuple[str, int]], budget: _Budget) -> str:
    """Lines with sizes to Markdown blocks: headings, list items and paragraphs."""
    body_size = _body_size(lines)
    heading_levels = {} if outline else _size_levels(lines, body_size)
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    next_entry = 0

    def add(block: str) -> None:
        budget.add(block)
        blocks.append(block)

    def flush() -> None:
        if paragraph:
            blocks.append(_join_lines(paragraph))  # counted line by line
            paragraph.clear()
        if items:
            add("\n".join(items))
            items.clear()

    for line in lines:
        text = " ".join(line.text.split())
        level = None
        if outline:
            for offset, (title, depth) in enumerate(outline[next_entry:next_entry + 3]):
                if _normal(text) == _normal(title) and text:
                    level, next_entry = depth, next_entry + offset + 1
                    break
        elif line.size in heading_levels and len(text.split()) <= MAX_HEADING_WORDS and not text.endswith((".", ",", ";")):
            level = heading_levels[line.size]
        if level is not None:
            flush()
            add("#" * level + " " + text.replace("*", "").replace("_", " ").strip())
            continue
        bullet, numbered = _BULLET.match(text), _NUMBERED.match(text)
        if bullet or numbered:
            if paragraph:
                blocks.append(_join_lines(paragraph))
                paragraph.clear()
            item = f"- {text[bullet.end():]}" if bullet else f"{numbered.group(1)}. {text[numbered.end():]}"
            budget.add(item)
            items.append(item)
            continue
        if items and line.size and abs(line.size - body_size) < 0.5 and not paragraph and text[:1].islower():
            budget.add(text)
            items[-1] += " " + text  # an item that runs on to the next line
            continue
        if items:
            add("\n".join(items))
            items.clear()
        budget.add(text)
        paragraph.append(("\\" + text) if _MARKDOWN_START.match(text) else text)
    flush()
    return "\n\n".join(blocks) + "\n"


def _join_lines(lines: list[str]) -> str:
    """A paragraph's lines, the words hyphenated at a line end joined again (linear in the paragraph)."""
    parts = [lines[0]]
    for line in lines[1:]:
        previous = parts[-1]
        if len(previous) > 1 and previous[-1] == "-" and previous[-2].isalpha() and previous[-2].islower() and line[:1].islower():
            parts[-1] = previous[:-1]
            parts.append(line)
        else:
            parts.append("\n" + line)
    return "".join(parts)


def _body_size(lines: list[_Line]) -> float:
    """The font size most of the text is set in (by characters)."""
    sizes: Counter[float] = Counter()
    for line in lines:
        if line.size > 0:
            sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _size_levels(lines: list[_Line], body_size: float) -> dict[float, int]:
    """Sizes clearly above the body's, largest first, to heading levels 1-3 (more sizes share level 3)."""
    if body_size <= 0:
        return {}
    larger = sorted({line.size for line in lines if line.size >= body_size * HEADING_RATIO}, reverse=True)
    return {size: min(rank + 1, 3) for rank, size in enumerate(larger)}


# ------------------------------------------------------------------------------ declared metadata

def _metadata(reader) -> tuple[str | None, str | None, dt.datetime | None, dt.datetime | None]:  # noqa: ANN001
    """Title, author, created and modified as the file declares them: the info dictionary, else XMP.

    A damaged or missing value is left out (None): metadata never refuses an otherwise readable file.
    """
    title = author = created = modified = None
    try:
        info = reader.metadata
    except Exception:  # noqa: BLE001
        info = None
    if info is not None:
        title, author = _safe(lambda: _declared(info.title)), _safe(lambda: _declared(info.author))
        created, modified = _safe(lambda: _date(info.creation_date)), _safe(lambda: _date(info.modification_date))
    if title and author and created and modified:
        return title, author, created, modified
    xmp = _safe(lambda: reader.xmp_metadata)
    if xmp is not None:
        title = title or _safe(lambda: _declared(_x_default(xmp.dc_title)))
        author = author or _safe(lambda: _declared("; ".join(str(a) for a in (xmp.dc_creator or []))))
        created = created or _safe(lambda: _date(xmp.xmp_create_date))
        modified = modified or _safe(lambda: _date(xmp.xmp_modify_date))
    return title, author, created, modified


def _safe(read):  # noqa: ANN001, ANN202
    try:
        return read()
    except Exception:  # noqa: BLE001 - pypdf parses dates and XMP lazily and raises on bad ones
        return None


def _x_default(value: object) -> str | None:
    if isinstance(value, dict) and value:
        return value.get("x-default") or next(iter(value.values()))
    return value if isinstance(value, str) else None


def _date(value: object) -> dt.datetime | None:
    if not isinstance(value, dt.datetime) or not 1900 <= value.year <= 2200:
        return None
    return _aware(value)
