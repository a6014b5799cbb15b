"""Import of .docx/.md/.txt (RELIABILITY T10): fidelity, re-import, hostile and corrupted files never give a 5xx."""

from __future__ import annotations

import io
import random
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from kb.documents import ingest_docx
from kb.documents.ingest_docx import MAX_INFLATED_BYTES, parse_upload
from kb.documents.schemas import MAX_BODY_CHARS
from kb.errors import KbError
from tests.audit import head_seq
from tests.factories import make_cast, sign_in
from tests.hostile_files import docx_of_paragraphs, mutate, watch_member_opens, zipped

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "kb" / "sample" / "documents"
SHARED_DOCX = ROOT.parent / "shared" / "data" / "docx"
FUZZ_CASES = 1000


@pytest.fixture
def cast(database):  # noqa: ANN001, ANN201
    return make_cast(database)


def upload(client, cast, name: str, data: bytes, who: str = "contributor", **form):  # noqa: ANN001, ANN003, ANN201
    return client.post("/api/v1/spaces/benefits/import", files={"file": (name, data, "application/octet-stream")},
                       data=form, headers=cast[who].headers)


def test_docx_fidelity() -> None:
    parsed = parse_upload("p.docx", (SAMPLE / "parental-leave-policy.docx").read_bytes())
    md = parsed.markdown
    assert md.startswith("# Parental leave policy\n")
    assert "## Entitlements" in md and "## How to request leave" in md
    assert "| Leave | Length | Pay |\n|---|---|---|\n| Birth leave (partner) | 1 week | 100% |" in md
    assert "1. Tell your manager at least two months before the leave starts." in md
    assert "- Ask your HR business partner" in md
    assert "Leave **must** be taken" in md and "*part-time weeks*" in md
    assert parsed.declared_title == "Parental leave policy" and parsed.declared_author == "Northbridge HR"
    assert parsed.declared_created is not None and parsed.declared_created.year == 2026


def test_numbering_part_lists_and_hyperlinks() -> None:
    if not SHARED_DOCX.is_dir():
        pytest.skip(f"{SHARED_DOCX} not present (../shared beside the repository)")
    links = parse_upload("h.docx", (SHARED_DOCX / "par-hyperlinks.docx").read_bytes()).markdown
    assert "](http" in links
    numbered = parse_upload("n.docx", (SHARED_DOCX / "num-having-numbering-part.docx").read_bytes()).markdown
    assert numbered.strip()


def test_real_docx_files_import_without_server_errors(client, cast) -> None:  # noqa: ANN001
    if not SHARED_DOCX.is_dir():
        pytest.skip(f"{SHARED_DOCX} not present (../shared beside the repository)")
    statuses = Counter()
    for path in sorted(SHARED_DOCX.glob("*.docx")):
        response = upload(client, cast, path.name, path.read_bytes())
        statuses[response.status_code] += 1
        assert response.status_code in (201, 422), (path.name, response.text)
        if response.status_code == 422:
            assert "contains no text" in response.json()["error"]["message"], (path.name, response.text)
    assert statuses[201] >= 10


def test_reimport_same_bytes_is_noop_and_changed_bytes_new_version(client, cast, database) -> None:  # noqa: ANN001
    data = (SAMPLE / "parental-leave-policy.docx").read_bytes()
    first = upload(client, cast, "parental-leave-policy.docx", data, intended_use="HR policy")
    assert first.status_code == 201 and first.json()["outcome"] == "created"
    card_source = first.json()
    assert card_source["version"] == 1 and len(card_source["source_sha256"]) == 64
    before = head_seq(database)
    again = upload(client, cast, "parental-leave-policy.docx", data)
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged" and head_seq(database) == before
    changed = upload(client, cast, "parental-leave-policy.md", b"# Parental leave policy\n\nNew text.\n",
                     slug="parental-leave-policy")
    assert changed.json()["outcome"] == "updated_draft"  # v1 is still a draft: the draft is updated
    client.post("/api/v1/documents/parental-leave-policy/versions/1/submit", json={}, headers=cast["contributor"].headers)
    in_review = upload(client, cast, "parental-leave-policy.md", b"# Again\n", slug="parental-leave-policy")
    assert in_review.status_code == 409
    client.post("/api/v1/documents/parental-leave-policy/versions/1/approve", json={}, headers=cast["owner"].headers)
    newer = upload(client, cast, "parental-leave-policy.docx", data, slug="parental-leave-policy")
    assert newer.json()["outcome"] == "new_version" and newer.json()["version"] == 2


def test_imported_provenance_is_declared_by_the_file(client, cast, settings) -> None:  # noqa: ANN001
    data = (SAMPLE / "parental-leave-policy.docx").read_bytes()
    body = upload(client, cast, "parental-leave-policy.docx", data).json()
    version = client.get("/api/v1/documents/parental-leave-policy/versions/1", headers=cast["contributor"].headers).json()
    card = version["provenance"]
    assert card["source_kind"] == "imported_file" and card["source_filename"] == "parental-leave-policy.docx"
    assert card["declared_by_file"]["author"] == "Northbridge HR"
    sha = body["source_sha256"]
    assert (settings.files_dir / sha[:2] / sha).read_bytes() == data  # the original is kept by its hash


def test_markdown_and_text_imports(client, cast) -> None:  # noqa: ANN001
    md = upload(client, cast, "notes.md", b"---\ntitle: Notes\n---\n# Notes\n\nSome text.\n")
    assert md.status_code == 201 and md.json()["document"]["working"]["title"] == "Notes"
    assert upload(client, cast, "plain.txt", "Plain text, ünïcödé.".encode()).status_code == 201


@pytest.mark.parametrize(("name", "data", "status", "phrase"), [
    ("empty.docx", b"", 422, "empty"),
    ("not-zip.docx", b"hello, I am not a zip", 422, "not a readable zip"),
    ("binary.md", b"\xff\xfe\x00bad", 422, "not UTF-8"),
    ("image.png", b"\x89PNG\r\n", 415, "Cannot import"),
])
def test_bad_uploads_are_clear_4xx(client, cast, name: str, data: bytes, status: int, phrase: str) -> None:  # noqa: ANN001
    response = upload(client, cast, name, data)
    assert response.status_code == status and phrase in response.json()["error"]["message"]


@pytest.mark.parametrize("form", [{"valid_from": "2026-02-01", "valid_until": "2026-01-01"},
                                  {"tags": "x" * 80}])
def test_form_fields_that_disagree_are_422_not_500(client, cast, database, form: dict) -> None:  # noqa: ANN001
    """Regression (schemathesis, issue 8): rules across form fields raised a pydantic error, a 500."""
    before = head_seq(database)
    response = upload(client, cast, "note.md", b"# Note\n\nText.", **form)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error" and response.json()["error"]["details"]
    assert head_seq(database) == before


def test_zip_bomb_refused_before_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused from the zip directory's declared sizes: no member is ever opened, so nothing is inflated."""
    members = {"[Content_Types].xml": b"<x/>", "word/document.xml": b"\0" * (MAX_INFLATED_BYTES + 1024)}
    bomb = zipped(members)
    assert len(bomb) < 200_000
    opened = watch_member_opens(monkeypatch, members)
    with pytest.raises(KbError) as caught:
        parse_upload("bomb.docx", bomb)
    assert opened == []
    assert f"would inflate to {MAX_INFLATED_BYTES + 1024 + 4} bytes" in caught.value.message


def test_high_ratio_member_refused() -> None:
    bomb = zipped({"[Content_Types].xml": b"<x/>", "word/document.xml": b"a" * (20 * 1024 * 1024)})
    with pytest.raises(KbError, match="zip bomb"):
        parse_upload("ratio.docx", bomb)


def test_too_many_members_refused() -> None:
    many = zipped({f"word/part{i}.xml": b"<x/>" for i in range(1100)})
    with pytest.raises(KbError, match="parts"):
        parse_upload("many.docx", many)


def test_missing_parts_and_bad_xml() -> None:
    with pytest.raises(KbError, match="no word/document.xml"):
        parse_upload("x.docx", zipped({"readme.txt": b"hi"}))
    original = (SAMPLE / "fire-evacuation-procedure.docx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(original)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["word/document.xml"] = b"<w:document><unclosed>"
    with pytest.raises(KbError, match="cannot be read"):
        parse_upload("x.docx", zipped(members))


def test_mutation_fuzz_gives_no_server_errors(client, cast, backend: str) -> None:  # noqa: ANN001
    if backend != "sqlite":
        pytest.skip("the parser does not depend on the database; fuzzed once, on SQLite")
    seeds = [(SAMPLE / name).read_bytes() for name in ("parental-leave-policy.docx", "fire-evacuation-procedure.docx")]
    rng = random.Random(20261123)
    statuses: Counter[int] = Counter()
    for case in range(FUZZ_CASES):
        data = mutate(seeds[case % 2], rng)
        response = upload(client, cast, f"fuzz-{case}.docx", data)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (case, response.text)
        assert set(response.json()) in ({"error"}, {"outcome", "document", "version", "source_sha256"})
    assert sum(statuses.values()) == FUZZ_CASES and statuses[422] > FUZZ_CASES // 2
    print(f"fuzz statuses: {dict(statuses)}")


# ------------------------------------------------------------------ abuse by exhaustion (issue 16)

# SHA-256 of the Markdown each file gave before the parser was made linear (when it still asked
# python-docx's paragraph.style, row.cells and XPath per paragraph): the same Markdown, byte for byte.
MARKDOWN_BEFORE = {
    ("sample", "fire-evacuation-procedure.docx"): "bda2cf8dc9d7389e230cb9f02e5ac68ecd8228c883e25430b3c650bc1203d05f",
    ("sample", "parental-leave-policy.docx"): "52ecfd2db9be282d6d4cfcfdf2ded162d75e2eb8266606bf3904d3fbe37e1787",
    ("shared", "blk-containing-table.docx"): "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
    ("shared", "blk-inner-content.docx"): "04b1d464e04903adaa74ba6c91327d4bac1669dbd0a042abb9f7cc68c62b6c4c",
    ("shared", "blk-paras-and-tables.docx"): "057fc8ffb51b6e23b319224584709bcd73874559b5d9ee5d69491a6dff2cc196",
    ("shared", "comments-rich-para.docx"): "9caf2d0f96ac455003f8eea0d44dc383e2d43ed80d8e8942c613dbc9a147a80a",
    ("shared", "doc-coreprops.docx"): "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
    ("shared", "doc-no-coreprops.docx"): "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
    ("shared", "doc-word-default-blank.docx"): "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
    ("shared", "having-images.docx"): "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
    ("shared", "hdr-header-footer.docx"): "8c5f6cd9db813147a12069c50c78ad3115136d37ec91dd233136b87aa1397e42",
    ("shared", "num-having-numbering-part.docx"): "8571a482189307096f5b00ef587236bfe955f727a4aaf693053e94d3604f3eaa",
    ("shared", "par-hyperlinks.docx"): "602f601397cbe202dde1300d3f959614d12b93b5dabe231fa194f0505ed5c0b5",
    ("shared", "par-known-paragraphs.docx"): "a8bbbaf61267ba148729e23327cc148f265829fb435139c3621f203e6ad35b7b",
    ("shared", "par-known-styles.docx"): "31108d8d13b190a86675c77e94856880e1768f6dbac6424ffce79523c441c4f2",
    ("shared", "shp-inline-shape-access.docx"): "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
    ("shared", "sty-having-no-styles-part.docx"): "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
    ("shared", "tbl-cell-access.docx"): "8798693b50dd2c0bb3d115fa3632f3a497f92d4a8ae335642d2b45b2c93eef28",
    ("shared", "tbl-having-tables.docx"): "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
    ("shared", "test.docx"): "00f1b6e1af311d5350a7e24bd23d4dfcd7949c568a730760c8421c0b924fdba5",
    ("shared", "txt-font-props.docx"): "d82bab6c3173b05de8f3c80ac2c1b23db3e03ffe643cbfb1872eab7630f814a4",
}


def test_the_linear_parser_gives_the_markdown_the_old_one_gave() -> None:
    import hashlib

    checked = 0
    for (where, name), digest in MARKDOWN_BEFORE.items():
        path = (SAMPLE if where == "sample" else SHARED_DOCX) / name
        if not path.exists():  # ../shared beside the repository is optional
            continue
        markdown = parse_upload(name, path.read_bytes()).markdown
        assert hashlib.sha256(markdown.encode()).hexdigest() == digest, (name, markdown)
        checked += 1
    assert checked >= 2


def test_no_per_paragraph_lookups_of_python_docx(monkeypatch: pytest.MonkeyPatch) -> None:
    """paragraph.style scanned every style for each paragraph (the bench's 8,000 paragraphs: 7.9 s); row.cells re-walks the rows above."""
    import docx.table
    import docx.text.paragraph

    def refused(_self):  # noqa: ANN001, ANN202
        raise AssertionError("a per-paragraph (or per-row) lookup that scans the document")

    monkeypatch.setattr(docx.text.paragraph.Paragraph, "style", property(refused))
    monkeypatch.setattr(docx.table._Row, "cells", property(refused))
    md = parse_upload("p.docx", (SAMPLE / "parental-leave-policy.docx").read_bytes()).markdown
    assert md.startswith("# Parental leave policy\n") and "| Leave | Length | Pay |" in md


def test_a_tall_vertical_merge_is_read_row_by_row() -> None:
    """python-docx resolves a merged cell by recursing through the rows above: 3,000 rows were a RecursionError."""
    rows = 3000
    merged = '<w:tc><w:tcPr><w:vMerge w:val="restart"/></w:tcPr><w:p><w:r><w:t>Region</w:t></w:r></w:p></w:tc>'
    cont = '<w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc>'
    table = "<w:tbl><w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid>" + "".join(
        f"<w:tr>{merged if i == 0 else cont}<w:tc><w:p><w:r><w:t>row {i}</w:t></w:r></w:p></w:tc></w:tr>"
        for i in range(rows)) + "</w:tbl>"
    data = docx_of_paragraphs(1)
    source = zipfile.ZipFile(io.BytesIO(data))
    members = {name: source.read(name) for name in source.namelist()}
    members["word/document.xml"] = members["word/document.xml"].replace(b"<w:body>", b"<w:body>" + table.encode(), 1)
    md = parse_upload("t.docx", zipped(members)).markdown
    assert md.count("| Region | row ") == rows and "| Region | row 2999 |" in md


def _over_paragraphs() -> tuple[str, bytes]:
    return "many-paragraphs.docx", docx_of_paragraphs(ingest_docx.MAX_PARAGRAPHS + 1)


def _over_characters_docx() -> tuple[str, bytes]:
    return "long.docx", docx_of_paragraphs(MAX_BODY_CHARS // 100, width=100)


def _over_characters_md() -> tuple[str, bytes]:
    return "long.md", b"# Long\n\n" + b"word " * (MAX_BODY_CHARS // 5 + 1)


def _slow(monkeypatch: pytest.MonkeyPatch) -> tuple[str, bytes]:
    """A clock that moves five seconds each time the parser looks: the parse-time cap, without waiting."""
    ticks = iter(range(10**9))
    monkeypatch.setattr(ingest_docx, "_clock", lambda: 5.0 * next(ticks))
    return "slow.docx", (SAMPLE / "parental-leave-policy.docx").read_bytes()


CAPS = {
    "paragraphs": (lambda _mp: _over_paragraphs(), "more than 50,000 paragraphs; the limit is 50,000"),
    "characters": (lambda _mp: _over_characters_docx(), "more than 2,000,000 characters of Markdown"),
    "markdown": (lambda _mp: _over_characters_md(), "characters of Markdown; the limit is 2,000,000"),
    "parse_seconds": (_slow, "took longer than 20 s to read"),
}


@pytest.mark.parametrize("cap", sorted(CAPS))
@pytest.mark.parametrize("surface", ["api", "web", "cli"])
def test_an_upload_over_a_cap_is_a_422_naming_it_on_every_surface(  # noqa: PLR0913
    client, cast, database, cli_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cap: str, surface: str,  # noqa: ANN001
) -> None:
    make, phrase = CAPS[cap]
    name, data = make(monkeypatch)
    before = head_seq(database)
    if surface == "api":
        response = upload(client, cast, name, data)
        assert response.status_code == 422, response.text[:500]
        error = response.json()["error"]
        assert error["code"] == "invalid_file" and phrase in error["message"], error
        assert error["details"]["too_large"] == ("characters" if cap == "markdown" else cap)
    elif surface == "web":
        csrf = sign_in(client, database, "carl")
        before = head_seq(database)
        response = client.post("/import", data={"space": "benefits", "csrf": csrf},
                               files={"file": (name, data, "application/octet-stream")})
        assert response.status_code == 422 and phrase in response.text, response.text[:500]
    else:
        from typer.testing import CliRunner

        from kb.cli import app as cli_app

        (tmp_path / name).write_bytes(data)
        result = CliRunner().invoke(cli_app, ["import", str(tmp_path / name), "--space", "benefits"],
                                    env={"KB_TOKEN": cast["contributor"].token})
        assert result.exit_code == 1 and phrase in result.output, result.output
    assert head_seq(database) == before  # nothing imported, nothing recorded


@pytest.mark.parametrize("surface", ["api", "web", "cli"])
def test_the_file_is_parsed_while_no_write_lock_is_held(  # noqa: PLR0913
    client, cast, database, settings, cli_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, surface: str,  # noqa: ANN001
) -> None:
    """Issue 16: a 39-second parse inside the import's write transaction made every other write fail."""
    import sqlite3

    from kb.documents import importing

    if settings.database_url:
        pytest.skip("SQLite's write lock")
    probes: list[str] = []
    real_parse = importing.parse_upload

    def parse_and_probe(filename: str, data: bytes):  # noqa: ANN202
        other = sqlite3.connect(settings.data_dir / "kb.sqlite3", timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another writer (a login, the query log) gets the lock at once
            other.execute("ROLLBACK")
            probes.append("free")
        except sqlite3.OperationalError as exc:
            probes.append(str(exc))
        finally:
            other.close()
        return real_parse(filename, data)

    monkeypatch.setattr(importing, "parse_upload", parse_and_probe)
    data = b"# Rent support\n\nWho may ask for rent support."
    if surface == "api":
        assert upload(client, cast, "rent.md", data).status_code == 201
    elif surface == "web":
        csrf = sign_in(client, database, "carl")
        response = client.post("/import", data={"space": "benefits", "csrf": csrf},
                               files={"file": ("rent.md", data, "text/markdown")}, follow_redirects=False)
        assert response.status_code == 303, response.text[:500]
    else:
        from typer.testing import CliRunner

        from kb.cli import app as cli_app

        (tmp_path / "rent.md").write_bytes(data)
        result = CliRunner().invoke(cli_app, ["import", str(tmp_path / "rent.md"), "--space", "benefits"],
                                    env={"KB_TOKEN": cast["contributor"].token})
        assert result.exit_code == 0, result.output
    assert probes == ["free"]


def test_the_same_bytes_again_are_not_parsed(client, cast, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from kb.documents import importing

    data = (SAMPLE / "parental-leave-policy.docx").read_bytes()
    assert upload(client, cast, "policy.docx", data).status_code == 201

    def refused(*_args):  # noqa: ANN002, ANN202
        raise AssertionError("parsed again")

    monkeypatch.setattr(importing, "parse_upload", refused)
    again = upload(client, cast, "policy.docx", data)
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged", again.text


def test_an_owner_who_reimports_a_colleagues_draft_cannot_approve_it(client, database) -> None:  # noqa: ANN001
    """New bytes with the same text still change the draft (its source): the importer is credited, so
    four eyes refuses them as its approver and no card can claim a second review (issue 16)."""
    from tests.factories import make_cast

    cast = make_cast(database)
    carl, otto = cast["contributor"].headers, cast["owner2"].headers
    first = client.post("/api/v1/spaces/benefits/import", headers=carl, data={"intended_use": "Rules for staff."},
                        files={"file": ("rules.md", b"# Rules\n\nText here.\n", "text/markdown")})
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/spaces/benefits/import", headers=otto,
                        files={"file": ("rules.md", b"# Rules\r\n\r\nText here.\r\n", "text/markdown")})
    assert again.status_code == 201 and again.json()["outcome"] == "updated_draft", again.text
    assert client.post("/api/v1/documents/rules/versions/1/submit", json={}, headers=carl).status_code == 200
    refused = client.post("/api/v1/documents/rules/versions/1/approve", json={}, headers=otto)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "four_eyes_violation", refused.text
    assert client.post("/api/v1/documents/rules/versions/1/approve", json={},
                       headers=cast["owner"].headers).status_code == 200
