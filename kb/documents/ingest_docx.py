"""Turn uploaded files (.docx, .pdf, .html, .md, .txt) into Markdown plus what the file declares about itself.

``parse_upload`` dispatches by extension: .docx here, .pdf to ``kb.documents.ingest_pdf``, .html/.htm
to ``kb.documents.ingest_html`` (imported when such a file comes, so neither pypdf nor trafilatura is
loaded by ``kb --help``). The caps below (``MAX_UPLOAD_BYTES``, ``MAX_BODY_CHARS``, ``MAX_PARSE_SECONDS``
through ``_Budget``, ``MAX_INFLATED_BYTES``) are those of every format.

Defensive by design (RELIABILITY T10): the zip container is inspected before any XML is parsed
(member count, declared total size, compression ratio), every member is then inflated with a byte
cap because declared sizes can lie, and every failure of the container or of python-docx becomes
``KbError(INVALID_FILE)`` with a message saying what is wrong, never an unhandled exception.

Bounded work (issue 16, abuse by exhaustion): the conversion is linear in the document (style names
are resolved once per document, table cells once per row, never through python-docx's per-call
scans), and three caps answer 422 naming what was too large: ``MAX_PARAGRAPHS`` (counted in a
streaming pre-scan, before python-docx builds its tree), ``MAX_BODY_CHARS`` of resulting Markdown
(the cap of every body) and ``MAX_PARSE_SECONDS``, checked cooperatively inside the loops. Parsing
touches no database: the import action parses before it opens its write transaction.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from kb.documents.schemas import MAX_BODY_CHARS
from kb.errors import ErrorCode, KbError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_INFLATED_BYTES = 100 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
MAX_ZIP_MEMBERS = 1000
MAX_PARAGRAPHS = 50_000
"""Paragraphs in all the XML parts of a .docx together (table cells, headers and footers included)."""
MAX_PARSE_SECONDS = 20.0
"""Wall-clock budget of one .docx conversion, checked inside the parse loops (a cap, not a promise)."""
SUPPORTED_SUFFIXES: tuple[str, ...] = (".docx", ".pdf", ".html", ".htm", ".md", ".markdown", ".txt")
"""The file name suffixes ``parse_upload`` reads, lower case: kept in step with its dispatch (a test checks
both agree). Bulk import lists any other file as refused, without reading it."""
SAFE_LINK = re.compile(r"^(https?://|mailto:)", re.I)

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class ParsedFile:
    """What an uploaded file gives us: Markdown and the metadata the file declares about itself."""

    markdown: str
    media_type: str
    declared_title: str | None = None
    declared_author: str | None = None
    declared_created: dt.datetime | None = None
    declared_modified: dt.datetime | None = None
    declared_source_uri: str | None = None
    """Where the file says it comes from (an HTML page's ``<link rel="canonical">``), an absolute http(s) URI."""


def _invalid(message: str) -> KbError:
    return KbError(ErrorCode.INVALID_FILE, message)


def _too_large(what: str, limit: int | float, message: str) -> KbError:
    """The 422 of a cap: ``details`` names the cap (paragraphs, characters, parse_seconds) and its limit."""
    return KbError(ErrorCode.INVALID_FILE, message, {"too_large": what, "limit": limit})


def _check_characters(filename: str, markdown: str) -> None:
    if len(markdown) > MAX_BODY_CHARS:
        raise _too_large("characters", MAX_BODY_CHARS,
                         f"{filename} gives {len(markdown):,} characters of Markdown; the limit is {MAX_BODY_CHARS:,}")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(text: str) -> str:
    """``text`` as a database takes it: no NUL or other control characters (PostgreSQL refuses NUL in
    text), no lone surrogates (not UTF-8; a PDF's broken UTF-16 gives them), Unix line ends."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _declared(value: object, limit: int = 300) -> str | None:
    """A string the file declares about itself (title, author), cleaned and cut to its column, or None."""
    if not isinstance(value, str):
        return None
    cleaned = " ".join(_printable(value).split())[:limit]
    return cleaned or None


_clock = time.monotonic  # the parse-time cap's clock (tests replace it, never wall-clock time)


class _Budget:
    """The caps of one conversion: a deadline on ``time.monotonic`` and a running count of characters.

    ``kind`` names the format in the messages (".docx", "PDF", "HTML page").
    """

    def __init__(self, kind: str = ".docx") -> None:
        self.kind = kind
        self.deadline = _clock() + MAX_PARSE_SECONDS
        self.characters = 0
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % 64 == 0:
            # Hand the GIL over now and then: the server's other threads (searches, logins) would
            # otherwise queue behind a parse of pure Python for up to a switch interval each time.
            time.sleep(0)
        if _clock() > self.deadline:
            raise _too_large("parse_seconds", MAX_PARSE_SECONDS,
                             f"the {self.kind} took longer than {MAX_PARSE_SECONDS:g} s to read; the limit is {MAX_PARSE_SECONDS:g} s")

    def add(self, block: str) -> None:
        self.characters += len(block) + 2
        if self.characters > MAX_BODY_CHARS:
            raise _too_large("characters", MAX_BODY_CHARS,
                             f"the {self.kind} gives more than {MAX_BODY_CHARS:,} characters of Markdown; the limit is {MAX_BODY_CHARS:,}")


def parse_upload(filename: str, data: bytes) -> ParsedFile:
    """Parse an uploaded file by its extension.

    Raises:
        KbError INVALID_FILE: empty, too large, malformed or unsafe file (the message says which); over a
            cap on paragraphs, characters of Markdown or parse time (``details["too_large"]`` names it).
        KbError UNSUPPORTED_MEDIA_TYPE: an extension other than .docx, .pdf, .html, .htm, .md, .markdown or .txt.
    """
    suffix = PurePath(filename).suffix.lower()
    if not data:
        raise _invalid(f"{filename} is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _invalid(f"{filename} is {len(data)} bytes; the limit is {MAX_UPLOAD_BYTES}")
    if suffix == ".docx":
        return parse_docx(data)  # checks MAX_BODY_CHARS as it goes
    if suffix == ".pdf":
        from kb.documents.ingest_pdf import parse_pdf

        return parse_pdf(data)
    if suffix in (".html", ".htm"):
        from kb.documents.ingest_html import parse_html

        return parse_html(data)
    if suffix in (".md", ".markdown", ".txt"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _invalid(f"{filename} is not UTF-8 text (byte {exc.start})") from None
        if "\x00" in text:
            raise _invalid(f"{filename} contains NUL bytes; it is not a text file")
        text = text.replace("\r\n", "\n")
        if suffix == ".txt":
            _check_characters(filename, text)
            return ParsedFile(markdown=text, media_type="text/plain")
        meta, body = split_front_matter(text)
        _check_characters(filename, body)
        return ParsedFile(markdown=body, media_type="text/markdown", declared_title=meta.get("title") or None,
                          declared_author=meta.get("author") or None)
    raise KbError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Cannot import {suffix or 'files without an extension'}: use .docx, .pdf, .html, .md or .txt")


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split simple ``key: value`` front matter between ``---`` lines from a Markdown body."""
    if not text.startswith("---\n") or "\n---\n" not in text[3:]:
        return {}, text
    end = text.index("\n---\n", 3)
    meta = {}
    for line in text[4:end].splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip()
    return meta, text[end + 5:].lstrip("\n")


def _checked_members(data: bytes) -> dict[str, bytes]:
    """Inflate every zip member after checking the container's declared shape, with a byte cap."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # zipfile raises BadZipFile, NotImplementedError, ValueError, EOFError… on hostile input
        raise _invalid(f"not a .docx (not a readable zip file: {type(exc).__name__}: {exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise _invalid(f"the .docx has {len(infos)} parts; the limit is {MAX_ZIP_MEMBERS}")
        declared = sum(info.file_size for info in infos)
        if declared > MAX_INFLATED_BYTES:
            raise _invalid(f"the .docx would inflate to {declared} bytes; the limit is {MAX_INFLATED_BYTES}")
        if declared > MAX_COMPRESSION_RATIO * max(len(data), 1) and declared > 1024 * 1024:
            raise _invalid(f"the .docx compresses {declared // max(len(data), 1)}:1; more than {MAX_COMPRESSION_RATIO}:1 looks like a zip bomb")
        members: dict[str, bytes] = {}
        budget = MAX_INFLATED_BYTES
        for info in infos:
            if info.is_dir():
                continue
            try:
                with archive.open(info) as handle:
                    content = handle.read(min(info.file_size, budget) + 1)
            except Exception as exc:  # BadZipFile, zlib.error, EOFError, NotImplementedError, … (T10)
                raise _invalid(f"the .docx part {info.filename!r} is damaged ({type(exc).__name__}: {exc})") from None
            if len(content) > info.file_size:
                raise _invalid(f"the .docx part {info.filename!r} is larger than it declares")
            budget -= len(content)
            members[info.filename] = content
    if "word/document.xml" not in members and "[Content_Types].xml" not in members:
        raise _invalid("not a .docx: the zip has no word/document.xml")
    return members


def parse_docx(data: bytes) -> ParsedFile:
    """Convert a .docx to Markdown: headings, bulleted and numbered lists, tables, bold and italic.

    Raises:
        KbError INVALID_FILE: malformed or unsafe; or over a cap (``details["too_large"]``:
            ``paragraphs``, ``characters`` or ``parse_seconds``).
    """
    budget = _Budget()
    members = _checked_members(data)
    _count_paragraphs(members, budget)
    rebuilt = io.BytesIO()
    with zipfile.ZipFile(rebuilt, "w", compression=zipfile.ZIP_STORED) as clean:
        for name, content in members.items():
            clean.writestr(name, content)
    rebuilt.seek(0)
    try:
        import docx

        document = docx.Document(rebuilt)
        budget.tick()
        markdown = _to_markdown(document, budget)
        props = document.core_properties
        created, modified = _aware(props.created), _aware(props.modified)
        title, author = (props.title or None), (props.author or None)
    except KbError:
        raise
    except Exception as exc:  # python-docx and lxml raise many types on malformed parts (T10)
        raise _invalid(f"the .docx cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
    return ParsedFile(markdown=markdown, media_type=DOCX_MEDIA_TYPE, declared_title=title,
                      declared_author=author, declared_created=created, declared_modified=modified)


WORDML_PARAGRAPH = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}p"


def _count_paragraphs(members: dict[str, bytes], budget: _Budget) -> None:
    """Refuse more than MAX_PARAGRAPHS paragraphs before python-docx builds its tree of every part.

    A streaming count over every XML part (python-docx loads them all), each element freed once
    seen, that stops at the first paragraph over the cap: a million-paragraph file costs the time
    of 50,000. A part that is not well-formed XML is left to python-docx, which says what is wrong.
    """
    from lxml import etree

    seen = 0
    for name, content in members.items():
        if not name.lower().endswith((".xml", ".rels")) or b":p" not in content and b"<p" not in content:
            continue
        try:
            for _event, element in etree.iterparse(io.BytesIO(content), events=("end",), tag=WORDML_PARAGRAPH,
                                                   resolve_entities=False, no_network=True, load_dtd=False):
                seen += 1
                if seen > MAX_PARAGRAPHS:
                    raise _too_large("paragraphs", MAX_PARAGRAPHS,
                                     f"the .docx has more than {MAX_PARAGRAPHS:,} paragraphs; the limit is {MAX_PARAGRAPHS:,}")
                if seen % 1000 == 0:
                    budget.tick()
                element.clear(keep_tail=True)
        except etree.Error:
            continue


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------ docx → Markdown

def _escape_cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


_RUN = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}r"
_HYPERLINK = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}hyperlink"
_RUN_TEXT = frozenset("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}" + tag
                      for tag in ("br", "cr", "noBreakHyphen", "ptab", "t", "tab"))


def _runs_markdown(paragraph) -> str:  # noqa: ANN001
    """The paragraph's runs and hyperlinks as Markdown.

    What ``paragraph.iter_inner_content()`` and ``run.text`` give, read from the element's children
    directly: python-docx answers both with an XPath compiled on every call, most of the time of a
    document of short paragraphs.
    """
    from docx.text.hyperlink import Hyperlink
    from docx.text.run import Run

    parts: list[str] = []
    for child in paragraph._p:
        if child.tag == _HYPERLINK:
            item = Hyperlink(child, paragraph)
            text = item.text.strip()
            url = item.url or ""
            parts.append(f"[{text}]({url})" if text and SAFE_LINK.match(url) else text)
            continue
        if child.tag != _RUN:
            continue
        text = "".join(str(e) for e in child if e.tag in _RUN_TEXT)
        if not text:
            continue
        stripped = text.strip()
        if stripped:
            run = Run(child, paragraph)
            bold, italic = run.bold, run.italic
            if bold and italic:
                text = text.replace(stripped, f"***{stripped}***")
            elif bold:
                text = text.replace(stripped, f"**{stripped}**")
            elif italic:
                text = text.replace(stripped, f"*{stripped}*")
        parts.append(text)
    return "".join(parts).strip()


def _numbering_formats(document) -> dict[tuple[str, str], str]:  # noqa: ANN001
    """(numId, ilvl) → numFmt ('bullet', 'decimal', …) from the numbering part, if any."""
    from docx.oxml.ns import qn

    try:
        numbering = document.part.numbering_part.element
    except (KeyError, NotImplementedError, AttributeError):
        return {}
    abstract: dict[str, dict[str, str]] = {}
    for node in numbering.findall(qn("w:abstractNum")):
        levels = {}
        for lvl in node.findall(qn("w:lvl")):
            fmt = lvl.find(qn("w:numFmt"))
            levels[lvl.get(qn("w:ilvl"))] = fmt.get(qn("w:val")) if fmt is not None else "decimal"
        abstract[node.get(qn("w:abstractNumId"))] = levels
    formats: dict[tuple[str, str], str] = {}
    for num in numbering.findall(qn("w:num")):
        ref = num.find(qn("w:abstractNumId"))
        if ref is None:
            continue
        for ilvl, fmt in abstract.get(ref.get(qn("w:val")), {}).items():
            formats[(num.get(qn("w:numId")), ilvl)] = fmt
    return formats


def _list_marker(paragraph, style: str, formats: dict[tuple[str, str], str]) -> tuple[str, int] | None:  # noqa: ANN001
    from docx.oxml.ns import qn

    ppr = paragraph._p.pPr
    numpr = ppr.find(qn("w:numPr")) if ppr is not None else None
    level = 0
    if numpr is not None:
        ilvl_node, num_node = numpr.find(qn("w:ilvl")), numpr.find(qn("w:numId"))
        ilvl = ilvl_node.get(qn("w:val")) if ilvl_node is not None else "0"
        level = min(int(ilvl), 8) if ilvl and ilvl.isascii() and ilvl.isdigit() else 0
        num_id = num_node.get(qn("w:val")) if num_node is not None else None
        if num_id and num_id != "0":
            fmt = formats.get((num_id, ilvl or "0"))
            if fmt is not None:
                return ("-" if fmt == "bullet" else "1."), level
    lowered = style.lower()
    if "list number" in lowered:
        return "1.", level
    if "list bullet" in lowered or "list paragraph" in lowered:
        return "-", level
    return None


def _paragraph_style_names(document) -> Callable[[str | None], str]:  # noqa: ANN001
    """The name of a paragraph's style from its ``w:pStyle`` id, as python-docx's ``paragraph.style.name`` gives it.

    ``paragraph.style`` looks the id up with an XPath over every style and, for a paragraph without
    one, scans every style for the default: per paragraph, so the bench's 8,000 paragraphs took 7.9 s (issue 16; docs/benchmarks.md).
    Here the styles part is indexed once (the first style of each id, as the XPath finds it) and each
    id's answer is kept: an unknown id, or the id of a style that is not a paragraph style, gives the
    document's default paragraph style (the last one marked default), and no default gives "".
    """
    from docx.enum.style import WD_STYLE_TYPE
    from docx.styles.style import StyleFactory

    styles = document.styles.element
    by_id: dict[str, Any] = {}
    for style in styles.findall(qn_w("style")):
        style_id = style.get(qn_w("styleId"))
        if style_id is not None:
            by_id.setdefault(style_id, style)
    names: dict[str | None, str] = {}
    default: list[str] = []

    def default_name() -> str:
        if not default:
            found = styles.default_for(WD_STYLE_TYPE.PARAGRAPH)
            default.append((StyleFactory(found).name if found is not None else "") or "")
        return default[0]

    def name_of(style_id: str | None) -> str:
        if style_id in names:
            return names[style_id]
        style = by_id.get(style_id) if style_id else None
        if style is None or style.type != WD_STYLE_TYPE.PARAGRAPH:
            name = default_name()
        else:
            name = StyleFactory(style).name or ""
        names[style_id] = name
        return name

    return name_of


def qn_w(tag: str) -> str:
    """``w:tag`` in Clark notation (the WordprocessingML namespace)."""
    return "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}" + tag


def _table_rows(table, budget: _Budget) -> list[list[str]]:  # noqa: ANN001
    """The cell texts of each row, as python-docx's ``row.cells`` gives them, in time linear in the table.

    ``row.cells`` finds the cell above a vertically merged one by re-walking the rows above it, once
    per merged cell and recursively (quadratic in a tall merge, and a RecursionError past about
    1,000 rows). Here each row is walked once: a ``w:tc`` with ``vMerge="continue"`` takes the cells
    of the ``w:tc`` starting at the same grid offset in the row above, already resolved.
    """
    from docx.table import _Cell

    resolved: dict[Any, tuple[str, ...]] = {}
    rows: list[list[str]] = []
    above: dict[int, Any] | None = None
    for tr in table._tbl.tr_lst:
        budget.tick()
        starts: dict[int, Any] = {}
        offset = tr.grid_before
        furthest: int | None = None
        cells: list[str] = []
        for tc in tr.tc_lst:
            if furthest is None or offset > furthest:  # the tc python-docx's tc_at_grid_offset finds
                starts[offset] = tc
                furthest = offset
            span = tc.grid_span
            if tc.vMerge == "continue":
                if above is None:
                    raise ValueError("no tr above topmost tr in w:tbl")
                if offset not in above:
                    raise ValueError(f"no `tc` element at grid_offset={offset}")
                texts = resolved[above[offset]]
            else:
                texts = (_escape_cell(_Cell(tc, table).text),) * max(span, 0)
            resolved[tc] = texts
            cells.extend(texts)
            offset += span
        above = starts
        rows.append(cells)
    return rows


def _to_markdown(document, budget: _Budget) -> str:  # noqa: ANN001
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    formats = _numbering_formats(document)
    style_name = _paragraph_style_names(document)
    blocks: list[str] = []
    list_items: list[str] = []

    def add(block: str) -> None:
        budget.add(block)
        blocks.append(block)

    def flush_list() -> None:
        if list_items:
            blocks.append("\n".join(list_items))  # counted item by item
            list_items.clear()

    for item in document.iter_inner_content():
        budget.tick()
        if isinstance(item, Paragraph):
            style = style_name(item._p.style)
            text = _runs_markdown(item)
            if not text:
                continue
            heading = re.match(r"^Heading (\d)$", style)
            if heading or style == "Title":
                flush_list()
                level = int(heading.group(1)) if heading else 1
                add("#" * min(level, 6) + " " + text.replace("**", "").replace("*", ""))
                continue
            marker = _list_marker(item, style, formats)
            if marker:
                symbol, level = marker
                line = "  " * level + f"{symbol} {text}"
                budget.add(line)
                list_items.append(line)
                continue
            flush_list()
            add(text)
        elif isinstance(item, Table):
            flush_list()
            rows = [row for row in _table_rows(item, budget) if any(row)]
            if not rows:
                continue
            width = max(len(row) for row in rows)
            rows = [row + [""] * (width - len(row)) for row in rows]
            lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
            lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
            add("\n".join(lines))
    flush_list()
    return "\n\n".join(blocks) + "\n"
