"""HTML import (issue 19): the main content of a saved intranet page as Markdown, and what the page declares.

Extractor: **trafilatura** (Apache-2.0 since 1.8, maintained, the best-scoring open-source main-content
extractor in the published comparisons, including its own and ScrapingHub's article-extraction
benchmark). It drops scripts, styles, navigation, headers, footers and sidebars, keeps headings,
lists and tables, and writes Markdown itself (no second HTML→Markdown step); it runs offline on
bytes kb hands it (no download, no network). readability-lxml + markdownify was the alternative:
two libraries, and readability drops tables and lists more often. kb calls trafilatura with
``favor_recall`` (an intranet page's content is often short) and without its metadata step (whose
date search guesses from the text): what the page *declares* is read here, from its ``<head>``:

- ``<link rel="canonical">`` (else ``og:url``), if an absolute http(s) URI → the version's ``declared_source_uri``
  (the page's claim about where it lives, shown apart from the ``source_uri`` a person states);
- title: ``og:title``, ``dc.title``/``dcterms.title``, else ``<title>``;
- author: ``author``, ``article:author``, ``dc.creator``/``dcterms.creator``;
- created: ``article:published_time``, ``dcterms.created``/``dc.date.created``, ``dcterms.issued``, ``date``;
- modified: ``article:modified_time``, ``dcterms.modified``/``dc.date.modified``, ``last-modified``.

Bounded work: the upload cap (``MAX_UPLOAD_BYTES``), libxml2's HTML parser (no entities, no
network; nesting past its depth limit is cut, not followed), at most ``MAX_HTML_ELEMENTS`` elements
(counted before trafilatura walks the tree), ``MAX_BODY_CHARS`` of Markdown and ``MAX_PARSE_SECONDS``
(checked between the steps: trafilatura itself cannot be interrupted, so the element cap is what
bounds its time). Every failure is ``KbError(INVALID_FILE)``.

Imports trafilatura and lxml (lazily, when a page comes) and the shared caps of ``ingest_docx``; no database.
"""

from __future__ import annotations

import datetime as dt

from kb.documents.ingest_docx import ParsedFile, _aware, _Budget, _check_characters, _declared, _invalid, _printable, _too_large
from kb.documents.schemas import is_http_uri
from kb.errors import KbError

HTML_MEDIA_TYPE = "text/html"
MAX_HTML_ELEMENTS = 100_000
"""Elements of one page (the tree trafilatura walks)."""

_TITLE = ("og:title", "dc.title", "dcterms.title", "twitter:title")
_AUTHOR = ("author", "article:author", "dc.creator", "dcterms.creator")
_CREATED = ("article:published_time", "dcterms.created", "dc.date.created", "dcterms.issued", "dc.date.issued",
            "dc.date", "date", "pubdate")
_MODIFIED = ("article:modified_time", "dcterms.modified", "dc.date.modified", "last-modified", "og:updated_time")


def parse_html(data: bytes) -> ParsedFile:
    """Convert a saved HTML page's main content to Markdown, with its declared metadata and canonical URL.

    Raises:
        KbError INVALID_FILE: not HTML, no main content, or over a cap (``details["too_large"]``:
            ``elements``, ``characters`` or ``parse_seconds``).
    """
    budget = _Budget("HTML page")
    try:
        return _parse(data, budget)
    except KbError:
        raise
    except RecursionError:
        raise _invalid("the HTML page nests its elements too deeply to be read") from None
    except MemoryError:
        raise _invalid("the HTML page needs too much memory to be read") from None
    except Exception as exc:  # lxml and trafilatura raise many types on hostile input
        raise _invalid(f"the HTML page cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None


def _parse(data: bytes, budget: _Budget) -> ParsedFile:
    import logging

    from trafilatura import extract
    from trafilatura.utils import load_html

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # a broken page is the uploader's 422, not a log line
    if b"\x00" in data[:4096] and b"<" not in data[:4096]:
        raise _invalid("not an HTML page (binary content)")
    tree = load_html(data)
    if tree is None:
        raise _invalid("not an HTML page (no HTML document could be parsed)")
    budget.tick()
    elements = 0
    for _ in tree.iter():
        elements += 1
        if elements % 1000 == 0:
            budget.tick()
        if elements > MAX_HTML_ELEMENTS:
            raise _too_large("elements", MAX_HTML_ELEMENTS,
                             f"the HTML page has more than {MAX_HTML_ELEMENTS:,} elements; the limit is {MAX_HTML_ELEMENTS:,}")
    budget.tick()
    declared = _head_metadata(tree)  # before trafilatura, which prunes the tree it is given
    budget.tick()
    markdown = extract(tree, output_format="markdown", include_tables=True, include_formatting=True,
                       include_links=False, include_images=False, include_comments=False, with_metadata=False,
                       favor_recall=True, deduplicate=False)
    budget.tick()
    markdown = _printable(markdown or "").strip()
    if not markdown:
        raise _invalid("the HTML page has no main content to import (only navigation, scripts or markup)")
    markdown += "\n"
    _check_characters("the HTML page", markdown)
    return ParsedFile(markdown=markdown, media_type=HTML_MEDIA_TYPE, **declared)


def _head_metadata(tree) -> dict:  # noqa: ANN001
    """What the page declares in its ``<head>``: title, author, dates and canonical URL (see the module docstring)."""
    metas: dict[str, str] = {}
    canonical = None
    for element in tree.iter("meta", "link", "title"):
        tag = element.tag
        if tag == "meta":
            key = (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
            value = element.get("content")
            if key and value and key not in metas:
                metas[key] = value
        elif tag == "link" and canonical is None:
            rel = (element.get("rel") or "").lower().split()
            if "canonical" in rel:
                canonical = (element.get("href") or "").strip()
        elif tag == "title" and "<title>" not in metas:
            metas["<title>"] = element.text_content() if hasattr(element, "text_content") else (element.text or "")
    uri = next((u for u in (canonical, metas.get("og:url", "").strip()) if u and len(u) <= 2000 and is_http_uri(u)), None)
    return {
        "declared_title": _first(metas, _TITLE + ("<title>",)),
        "declared_author": _first(metas, _AUTHOR),
        "declared_created": _first_date(metas, _CREATED),
        "declared_modified": _first_date(metas, _MODIFIED),
        "declared_source_uri": uri,
    }


def _first(metas: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((value for key in keys if (value := _declared(metas.get(key)))), None)


def _first_date(metas: dict[str, str], keys: tuple[str, ...]) -> dt.datetime | None:
    for key in keys:
        value = _declared(metas.get(key), limit=64)
        if value and (parsed := _date(value)):
            return parsed
    return None


def _date(value: str) -> dt.datetime | None:
    """An ISO 8601 date or date-time (``Z`` allowed), else an RFC 2822 one (``last-modified``), else None."""
    from email.utils import parsedate_to_datetime

    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not 1900 <= parsed.year <= 2200:
        return None
    return _aware(parsed)
