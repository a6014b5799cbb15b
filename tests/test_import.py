"""Import of .docx/.md/.txt (RELIABILITY T10): fidelity, re-import, hostile and corrupted files never give a 5xx."""

from __future__ import annotations

import io
import random
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from kb.documents.ingest_docx import MAX_INFLATED_BYTES, parse_upload
from kb.errors import KbError
from tests.audit import head_seq
from tests.factories import make_cast
from tests.hostile_files import mutate, zipped

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
    bomb = zipped({"[Content_Types].xml": b"<x/>", "word/document.xml": b"\0" * (MAX_INFLATED_BYTES + 1024)})
    assert len(bomb) < 200_000
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def watched_open(archive, member, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        opened.append(getattr(member, "filename", member))
        return real_open(archive, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", watched_open)
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
