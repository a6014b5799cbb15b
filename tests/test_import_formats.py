"""PDF and HTML import (issue 19): fidelity, declared metadata into provenance, and hostile files as 422s on every surface."""

from __future__ import annotations

import datetime as dt
import random
import zlib
from collections import Counter
from pathlib import Path

import pytest

from kb.documents import ingest_docx
from kb.documents.ingest_docx import parse_upload
from kb.documents.ingest_html import MAX_HTML_ELEMENTS
from kb.documents.ingest_pdf import MAX_PDF_PAGES, NO_TEXT_LAYER
from kb.errors import KbError
from tests.audit import audit_events, head_seq
from tests.factories import make_cast, sign_in
from tests.hostile_files import mutate, pdf_file

PDFS = Path(__file__).resolve().parent / "data" / "pdf"  # py-pdf/sample-files, CC-BY-SA-4.0 (see README.md there)
FUZZ_CASES = 300

POLICY_PDF_PAGES = [
    [(24, "Travel expenses"), (11, "Staff who travel for work may claim their costs back."),
     (16, "What you can claim"), (11, "\u2022 Train tickets in second class"), (11, "\u2022 Hotel nights up to 150 euros"),
     (11, "Claims are paid with the next salary.")],
    [(16, "How to claim"), (11, "1. Keep every receipt."), (11, "2. Send the form to your manager.")],
]
POLICY_INFO = {"Title": "Travel expenses policy", "Author": "Northbridge Finance",
               "CreationDate": "D:20250301090000Z", "ModDate": "D:20251120103000+01'00'"}

PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Travel expenses | Northbridge intranet</title>
<link rel="canonical" href="https://intranet.northbridge.example/hr/travel-expenses">
<meta name="author" content="Northbridge Finance">
<meta property="og:title" content="Travel expenses">
<meta property="article:published_time" content="2025-03-01T09:00:00+01:00">
<meta property="article:modified_time" content="2025-11-20T10:30:00Z">
<style>body { color: red } .STYLE-TEXT { display: none }</style>
<script>var tracking = "SCRIPT-TEXT";</script>
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/hr">HR</a></li><li><a href="/it">NAVIGATION-TEXT</a></li></ul></nav></header>
<main><article>
<h1>Travel expenses</h1>
<p>Staff who travel for work may claim their costs back. This page explains what can be claimed and how to claim it.</p>
<h2>What you can claim</h2>
<ul><li>Train tickets in second class</li><li>Hotel nights up to 150 euros</li></ul>
<h2>How to claim</h2>
<ol><li>Keep every receipt.</li><li>Send the form to your manager within thirty days.</li></ol>
<table><thead><tr><th>Item</th><th>Limit</th></tr></thead>
<tbody><tr><td>Hotel</td><td>150 euros a night</td></tr><tr><td>Meals</td><td>40 euros a day</td></tr></tbody></table>
<p>Questions about travel expenses go to the finance service desk, which answers within two working days.</p>
</article></main>
<footer><p>FOOTER-TEXT Copyright Northbridge</p></footer>
<script>document.write("LATE-SCRIPT-TEXT")</script>
</body></html>
"""


@pytest.fixture
def cast(database):  # noqa: ANN001, ANN201
    return make_cast(database)


def upload(client, cast, name: str, data: bytes, who: str = "contributor", **form):  # noqa: ANN001, ANN003, ANN201
    return client.post("/api/v1/spaces/benefits/import", files={"file": (name, data, "application/octet-stream")},
                       data=form, headers=cast[who].headers)


# ------------------------------------------------------------------------------------ fidelity

def test_pdf_headings_from_font_sizes_lists_and_declared_metadata() -> None:
    parsed = parse_upload("travel.pdf", pdf_file(POLICY_PDF_PAGES, info=POLICY_INFO))
    assert parsed.markdown == (
        "# Travel expenses\n\nStaff who travel for work may claim their costs back.\n\n## What you can claim\n\n"
        "- Train tickets in second class\n- Hotel nights up to 150 euros\n\nClaims are paid with the next salary.\n\n"
        "## How to claim\n\n1. Keep every receipt.\n2. Send the form to your manager.\n")
    assert parsed.media_type == "application/pdf"
    assert (parsed.declared_title, parsed.declared_author) == ("Travel expenses policy", "Northbridge Finance")
    assert parsed.declared_created == dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
    assert parsed.declared_modified == dt.datetime(2025, 11, 20, 9, 30, tzinfo=dt.UTC)


def test_pdf_headings_from_the_outline_win_over_font_sizes() -> None:
    data = pdf_file([[(12, "1 Introduction"), (11, "Why the rules exist."), (12, "2 Scope"), (11, "Who they apply to."),
                      (30, "Not a heading: no outline entry")]],
                    outline=[("Introduction", 0), ("Scope", 0)])
    markdown = parse_upload("o.pdf", data).markdown
    assert markdown.startswith("# 1 Introduction\n\nWhy the rules exist.\n\n# 2 Scope\n\nWho they apply to.")
    assert "\n# Not a heading" not in markdown
    real = parse_upload("outline.pdf", (PDFS / "pdflatex-outline.pdf").read_bytes()).markdown
    assert [line for line in real.splitlines() if line.startswith("#")] == [
        "# 1 Foo", "# 2 Bar", "# 3 Baz", "# 4 Foo", "# 5 Bar", "# 6 Baz", "# 7 Foo", "# 8 Bar", "# 9 Baz"]


def test_real_pdfs_of_a_public_test_suite() -> None:
    google = parse_upload("g.pdf", (PDFS / "google-doc-document.pdf").read_bytes())
    assert google.markdown.startswith("# Example document\n\nBeautiful is better than ugly.\n")
    assert google.declared_title == "PDF Example Document" and "Jakarta" in google.markdown
    xmp = parse_upload("x.pdf", (PDFS / "output_with_metadata_pymupdf.pdf").read_bytes())
    assert (xmp.declared_title, xmp.declared_author, xmp.markdown) == ("Sample PDF with XMP Metadata", "John Doe", "Hello, World!\n")
    latex = parse_upload("m.pdf", (PDFS / "minimal-document.pdf").read_bytes())
    assert latex.markdown.startswith("Lorem ipsum dolor sit amet") and "takimata" in latex.markdown  # taki-\nmata joined
    assert latex.declared_created == dt.datetime(2022, 4, 3, 16, 5, 42, tzinfo=dt.UTC)
    assert parse_upload("w.pdf", (PDFS / "002-trivial-libre-office-writer.pdf").read_bytes()).markdown.startswith("Lorem ipsum")


def test_html_keeps_the_main_content_and_drops_scripts_styles_and_navigation() -> None:
    parsed = parse_upload("travel.html", PAGE)
    md = parsed.markdown
    assert md.startswith("# Travel expenses\n\nStaff who travel for work")
    assert "## What you can claim\n\n- Train tickets in second class\n- Hotel nights up to 150 euros" in md
    assert "1. Keep every receipt.\n2. Send the form to your manager within thirty days." in md
    assert "| Item | Limit |" in md and "|---|---|" in md and "| Hotel | 150 euros a night |" in md
    for chrome in ("SCRIPT-TEXT", "STYLE-TEXT", "NAVIGATION-TEXT", "FOOTER-TEXT", "color: red"):
        assert chrome not in md
    assert parsed.media_type == "text/html"
    assert parsed.declared_source_uri == "https://intranet.northbridge.example/hr/travel-expenses"
    assert (parsed.declared_title, parsed.declared_author) == ("Travel expenses", "Northbridge Finance")
    assert parsed.declared_created == dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert parsed.declared_modified == dt.datetime(2025, 11, 20, 10, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("canonical", ["https://example.org/a b<x>", "javascript:alert(1)", "/relative/path", "ftp://example.org/x"])
def test_a_canonical_url_that_is_not_an_absolute_http_uri_is_left_out(canonical: str) -> None:
    page = PAGE.replace(b"https://intranet.northbridge.example/hr/travel-expenses", canonical.encode())
    parsed = parse_upload("p.htm", page)
    assert parsed.declared_source_uri is None and parsed.markdown.startswith("# Travel expenses")


def test_html_in_a_declared_legacy_encoding() -> None:
    page = ("<html><head><meta charset='iso-8859-1'><title>Caf\xe9</title></head><body>"
            + "<p>Caf\xe9 cr\xe8me for everyone on Fridays, na\xefvely r\xe9sum\xe9d.</p>" * 3 + "</body></html>").encode("latin-1")
    parsed = parse_upload("cafe.html", page)
    assert parsed.declared_title == "Café" and "Café crème" in parsed.markdown


# ------------------------------------------------------------------------------ every surface

@pytest.mark.parametrize("surface", ["api", "web", "cli"])
@pytest.mark.parametrize("kind", ["pdf", "html"])
def test_a_pdf_or_page_imports_with_its_declared_provenance_on_every_surface(  # noqa: PLR0913
    client, cast, database, cli_env, tmp_path: Path, surface: str, kind: str,  # noqa: ANN001
) -> None:
    name, data = ("travel-expenses.pdf", pdf_file(POLICY_PDF_PAGES, info=POLICY_INFO)) if kind == "pdf" \
        else ("travel-expenses.html", PAGE)
    if surface == "api":
        before = head_seq(database)
        response = upload(client, cast, name, data)
        assert response.status_code == 201 and response.json()["outcome"] == "created", response.text
    elif surface == "web":
        csrf = sign_in(client, database, "carl")
        before = head_seq(database)
        response = client.post("/import", data={"space": "benefits", "csrf": csrf},
                               files={"file": (name, data, "application/octet-stream")}, follow_redirects=False)
        assert response.status_code == 303, response.text[:500]
    else:
        from typer.testing import CliRunner

        from kb.cli import app as cli_app

        before = head_seq(database)
        (tmp_path / name).write_bytes(data)
        result = CliRunner().invoke(cli_app, ["import", str(tmp_path / name), "--space", "benefits"],
                                    env={"KB_TOKEN": cast["contributor"].token})
        assert result.exit_code == 0 and "1 created" in result.output, result.output
    version = client.get("/api/v1/documents/travel-expenses/versions/1", headers=cast["contributor"].headers).json()
    card = version["provenance"]
    assert card["source_kind"] == "imported_file" and card["source_filename"] == name
    assert card["declared_by_file"]["author"] == "Northbridge Finance"
    assert card["declared_by_file"]["created"].startswith("2025-03-01")
    assert card["declared_by_file"]["modified"].startswith("2025-11-20")
    if kind == "pdf":
        assert card["declared_by_file"]["title"] == "Travel expenses policy" and card["source_uri"] is None
        assert version["body_md"].startswith("# Travel expenses\n\nStaff who travel") and "- Hotel nights" in version["body_md"]
    else:
        # the page's claim about where it lives is the file's, never shown as a person's source
        assert card["source_uri"] is None
        assert card["declared_by_file"]["source_uri"] == "https://intranet.northbridge.example/hr/travel-expenses"
        assert "| Hotel | 150 euros a night |" in version["body_md"] and "NAVIGATION-TEXT" not in version["body_md"]
    imports = [e for e in audit_events(database, after_seq=before) if e["action"] == "document.import"]
    assert len(imports) == 1 and imports[0]["payload"]["filename"] == name
    assert imports[0]["payload"]["outcome"] == "created" and imports[0]["payload"]["source_sha256"] == card["source_sha256"]


@pytest.mark.parametrize("surface", ["api", "web", "cli"])
def test_a_pdf_without_a_text_layer_is_a_422_that_says_so_on_every_surface(  # noqa: PLR0913
    client, cast, database, cli_env, tmp_path: Path, surface: str,  # noqa: ANN001
) -> None:
    name, data = "scan.pdf", (PDFS / "imagemagick-lzw.pdf").read_bytes()
    before = head_seq(database)
    if surface == "api":
        response = upload(client, cast, name, data)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_file" and error["message"] == NO_TEXT_LAYER, error
    elif surface == "web":
        csrf = sign_in(client, database, "carl")
        before = head_seq(database)
        response = client.post("/import", data={"space": "benefits", "csrf": csrf},
                               files={"file": (name, data, "application/octet-stream")})
        assert response.status_code == 422 and "no text layer; scanned documents need OCR" in response.text
    else:
        from typer.testing import CliRunner

        from kb.cli import app as cli_app

        (tmp_path / name).write_bytes(data)
        result = CliRunner().invoke(cli_app, ["import", str(tmp_path / name), "--space", "benefits"],
                                    env={"KB_TOKEN": cast["contributor"].token})
        assert result.exit_code == 1 and NO_TEXT_LAYER in result.output, result.output
    assert head_seq(database) == before  # nothing imported, nothing recorded


# ------------------------------------------------------------------------------ hostile files

HELLO = [[(11, "Hello there")]]
DEEP = 100_000


def _flate_bomb() -> bytes:
    bomb = zlib.compress(b" " * (64 * 1024 * 1024), 6)  # inflates past pypdf's per-stream limit (MAX_PDF_STREAM_BYTES)
    plain = pdf_file(HELLO, content=[b""])
    return plain.replace(b"<< /Length 0 >>\nstream\n\nendstream",
                         b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream")


HOSTILE = {
    "encrypted.pdf": (lambda: (PDFS / "libreoffice-writer-password.pdf").read_bytes(), "the PDF is encrypted"),
    "no-header.pdf": (lambda: b"hello, I am not a PDF at all", "not a PDF"),
    "truncated.pdf": (lambda: pdf_file(HELLO, info=POLICY_INFO)[:300], "the PDF"),
    "nested-arrays.pdf": (lambda: pdf_file(HELLO, content=[b"BT /F1 11 Tf " + b"[" * DEEP + b"]" * DEEP + b" TJ ET"]),
                          "nests its objects too deeply"),
    "nested-tree.pdf": (lambda: pdf_file(HELLO, page_tree=b"<< /Type /Pages /Kids [5 0 R] /Count 1 /X " + b"[" * DEEP + b"]" * DEEP + b" >>"),
                        "the PDF cannot be read"),
    "cyclic-pages.pdf": (lambda: pdf_file(HELLO, page_tree=b"<< /Type /Pages /Kids [2 0 R 5 0 R] /Count 2 >>"), "cyclic"),
    "cyclic-two-nodes.pdf": (lambda: pdf_file(HELLO, page_tree=b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>",
                                              extra=[b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>"]), "cyclic"),
    "endless-page-tree.pdf": (lambda: pdf_file(HELLO, page_tree=b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>",
                                               extra=[b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (i + 7) for i in range(3000)]
                                               + [b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>"]), "page tree depth"),
    "flate-bomb.pdf": (_flate_bomb, "safety limit of the PDF reader"),
    "too-many-pages.pdf": (lambda: pdf_file([[(11, f"page {i}")] for i in range(MAX_PDF_PAGES + 1)]),
                           f"the limit is {MAX_PDF_PAGES:,}"),
    "binary.html": (lambda: b"\x00\x01\x02\x03" * 100, "not an HTML page"),
    "deep.html": (lambda: b"<html><body>" + b"<div>" * 200_000 + b"<p>Deep text</p>" + b"</div>" * 200_000 + b"</body></html>",
                  "no main content"),
    "many-elements.html": (lambda: b"<html><body>" + b"<p>x</p>" * (MAX_HTML_ELEMENTS + 10) + b"</body></html>",
                           f"more than {MAX_HTML_ELEMENTS:,} elements"),
    "nav-and-scripts-only.html": (lambda: b"<html><head><script>x()</script><style>p{}</style></head><body></body></html>",
                                  "no main content"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_pdf_and_html_files_are_422s_with_a_json_body(client, cast, database, name: str) -> None:  # noqa: ANN001
    make, phrase = HOSTILE[name]
    before = head_seq(database)
    response = upload(client, cast, name, make())
    assert response.status_code == 422, response.text[:500]
    error = response.json()["error"]
    assert error["code"] == "invalid_file" and phrase in error["message"], error
    assert head_seq(database) == before


def test_html_entities_are_never_expanded() -> None:
    page = (b'<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd"><!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><html><body><p>&x; &b;</p>'
            b"<p>Some real text of an intranet page that says what the rules are for everyone.</p></body></html>")
    markdown = parse_upload("entities.html", page).markdown
    assert "root:" not in markdown and "aaaaaaaaaa" not in markdown


@pytest.mark.parametrize("suffix", [".pdf", ".html"])
def test_the_parse_time_cap_holds_for_pdf_and_html(monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """A clock that moves ten seconds each time the parser looks: the cap, without waiting."""
    data = pdf_file(POLICY_PDF_PAGES) if suffix == ".pdf" else PAGE
    looks = iter(range(10**9))
    monkeypatch.setattr(ingest_docx, "_clock", lambda: 0.0 * next(looks))  # time stands still: the whole parse
    parse_upload(f"fast{suffix}", data)
    whole = next(looks)
    ticks = iter(range(10**9))
    monkeypatch.setattr(ingest_docx, "_clock", lambda: 10.0 * next(ticks))
    with pytest.raises(KbError) as caught:
        parse_upload(f"slow{suffix}", data)
    assert caught.value.details == {"too_large": "parse_seconds", "limit": ingest_docx.MAX_PARSE_SECONDS}
    assert next(ticks) < whole  # it stopped at the first look past the deadline, before the end of the parse


@pytest.mark.parametrize("suffix", [".pdf", ".html"])
def test_the_characters_cap_holds_for_pdf_and_html(suffix: str) -> None:
    from kb.documents.schemas import MAX_BODY_CHARS

    line = "word " * 200
    if suffix == ".pdf":
        data = pdf_file([[(11, line)] * 60 for _ in range(MAX_BODY_CHARS // (len(line) * 60) + 2)])
    else:
        data = b"<html><body><p>" + b"word " * (MAX_BODY_CHARS // 5 + 10) + b"</p></body></html>"
    with pytest.raises(KbError) as caught:
        parse_upload(f"long{suffix}", data)
    assert caught.value.details == {"too_large": "characters", "limit": MAX_BODY_CHARS}


def test_unsupported_extensions_name_the_new_formats(client, cast) -> None:  # noqa: ANN001
    response = upload(client, cast, "image.png", b"\x89PNG\r\n")
    assert response.status_code == 415
    assert response.json()["error"]["message"] == "Cannot import .png: use .docx, .pdf, .html, .md or .txt"


def test_mutation_fuzz_of_pdf_and_html_gives_no_server_errors(client, cast, backend: str) -> None:  # noqa: ANN001
    if backend != "sqlite":
        pytest.skip("the parsers do not depend on the database; fuzzed once, on SQLite (bench/pdf_html_fuzz.py runs thousands)")
    seeds = [(".pdf", pdf_file(POLICY_PDF_PAGES, info=POLICY_INFO)), (".pdf", (PDFS / "google-doc-document.pdf").read_bytes()),
             (".pdf", (PDFS / "pdflatex-outline.pdf").read_bytes()), (".html", PAGE)]
    rng = random.Random(20261205)
    statuses: Counter[int] = Counter()
    for case in range(FUZZ_CASES):
        suffix, seed = seeds[case % len(seeds)]
        response = upload(client, cast, f"fuzz-{case}{suffix}", mutate(seed, rng))
        statuses[response.status_code] += 1
        assert response.status_code < 500, (case, response.text)
        assert set(response.json()) in ({"error"}, {"outcome", "document", "version", "source_sha256"})
    assert sum(statuses.values()) == FUZZ_CASES and statuses[201] > 0 and statuses[422] > 0
