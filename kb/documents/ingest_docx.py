"""Turn uploaded files (.docx, .md, .txt) into Markdown plus what the file declares about itself.

Defensive by design (RELIABILITY T10): the zip container is inspected before any XML is parsed
(member count, declared total size, compression ratio), every member is then inflated with a byte
cap because declared sizes can lie, and every failure of the container or of python-docx becomes
``KbError(INVALID_FILE)`` with a message saying what is wrong, never an unhandled exception.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from kb.errors import ErrorCode, KbError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_INFLATED_BYTES = 100 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
MAX_ZIP_MEMBERS = 1000
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


def _invalid(message: str) -> KbError:
    return KbError(ErrorCode.INVALID_FILE, message)


def parse_upload(filename: str, data: bytes) -> ParsedFile:
    """Parse an uploaded file by its extension.

    Raises:
        KbError INVALID_FILE: empty, too large, malformed or unsafe file (the message says which).
        KbError UNSUPPORTED_MEDIA_TYPE: an extension other than .docx, .md, .markdown or .txt.
    """
    suffix = PurePath(filename).suffix.lower()
    if not data:
        raise _invalid(f"{filename} is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise _invalid(f"{filename} is {len(data)} bytes; the limit is {MAX_UPLOAD_BYTES}")
    if suffix == ".docx":
        return parse_docx(data)
    if suffix in (".md", ".markdown", ".txt"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _invalid(f"{filename} is not UTF-8 text (byte {exc.start})") from None
        if "\x00" in text:
            raise _invalid(f"{filename} contains NUL bytes; it is not a text file")
        text = text.replace("\r\n", "\n")
        if suffix == ".txt":
            return ParsedFile(markdown=text, media_type="text/plain")
        meta, body = split_front_matter(text)
        return ParsedFile(markdown=body, media_type="text/markdown", declared_title=meta.get("title") or None,
                          declared_author=meta.get("author") or None)
    raise KbError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Cannot import {suffix or 'files without an extension'}: use .docx, .md or .txt")


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
    """Convert a .docx to Markdown: headings, bulleted and numbered lists, tables, bold and italic."""
    members = _checked_members(data)
    rebuilt = io.BytesIO()
    with zipfile.ZipFile(rebuilt, "w", compression=zipfile.ZIP_STORED) as clean:
        for name, content in members.items():
            clean.writestr(name, content)
    rebuilt.seek(0)
    try:
        import docx

        document = docx.Document(rebuilt)
        markdown = _to_markdown(document)
        props = document.core_properties
        created, modified = _aware(props.created), _aware(props.modified)
        title, author = (props.title or None), (props.author or None)
    except KbError:
        raise
    except Exception as exc:  # python-docx and lxml raise many types on malformed parts (T10)
        raise _invalid(f"the .docx cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
    return ParsedFile(markdown=markdown, media_type=DOCX_MEDIA_TYPE, declared_title=title,
                      declared_author=author, declared_created=created, declared_modified=modified)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------ docx → Markdown

def _escape_cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _runs_markdown(paragraph) -> str:  # noqa: ANN001
    from docx.text.hyperlink import Hyperlink

    parts: list[str] = []
    for item in paragraph.iter_inner_content():
        if isinstance(item, Hyperlink):
            text = item.text.strip()
            url = item.url or ""
            parts.append(f"[{text}]({url})" if text and SAFE_LINK.match(url) else text)
            continue
        text = item.text
        if not text:
            continue
        stripped = text.strip()
        if stripped and item.bold and item.italic:
            text = text.replace(stripped, f"***{stripped}***")
        elif stripped and item.bold:
            text = text.replace(stripped, f"**{stripped}**")
        elif stripped and item.italic:
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


def _to_markdown(document) -> str:  # noqa: ANN001
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    formats = _numbering_formats(document)
    blocks: list[str] = []
    list_items: list[str] = []

    def flush_list() -> None:
        if list_items:
            blocks.append("\n".join(list_items))
            list_items.clear()

    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            style = (item.style.name if item.style is not None else "") or ""
            text = _runs_markdown(item)
            if not text:
                continue
            heading = re.match(r"^Heading (\d)$", style)
            if heading or style == "Title":
                flush_list()
                level = int(heading.group(1)) if heading else 1
                blocks.append("#" * min(level, 6) + " " + text.replace("**", "").replace("*", ""))
                continue
            marker = _list_marker(item, style, formats)
            if marker:
                symbol, level = marker
                list_items.append("  " * level + f"{symbol} {text}")
                continue
            flush_list()
            blocks.append(text)
        elif isinstance(item, Table):
            flush_list()
            rows = [[_escape_cell(cell.text) for cell in row.cells] for row in item.rows]
            rows = [row for row in rows if any(row)]
            if not rows:
                continue
            width = max(len(row) for row in rows)
            rows = [row + [""] * (width - len(row)) for row in rows]
            lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
            lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
            blocks.append("\n".join(lines))
    flush_list()
    return "\n\n".join(blocks) + "\n"
