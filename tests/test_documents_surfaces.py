"""Curated documents through every surface: each goes through the one action (kb.documents.actions).

The edit form of the web UI (it answered 500 for every document), the original file of an imported
version (API and web), and the PROV check that stops a broken export on the API, the web and the CLI.
"""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb import provenance
from kb.cli import app as cli_app
from tests.audit import audit_events
from tests.factories import make_document, sign_in

SAMPLE_DOCX = Path(__file__).resolve().parent.parent / "kb" / "sample" / "documents" / "parental-leave-policy.docx"
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"






class FormFields(HTMLParser):
    """The fields a browser would send from the form posting to ``action``: inputs, textareas, selected options."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.fields = action, False, {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif not self.inside:
            return
        elif tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[self._textarea] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a["value"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def form_fields(html: str, action: str) -> dict[str, str]:
    parser = FormFields(action)
    parser.feed(html)
    return parser.fields


# ----------------------------------------------------------------------------- the edit form

def test_the_edit_form_opens_filled_in_for_a_draft_a_rejected_version_and_an_approved_document(
        client, database, cast) -> None:  # noqa: ANN001
    """The "edit the draft" link answered 500 (the form read ``audience.value`` off a plain string)."""
    make_document(database, cast, slug="draft-doc", state="draft", title="Draft doc", audience="public")
    make_document(database, cast, slug="rejected-doc", state="rejected", title="Rejected doc")  # v2: the new draft
    headers = cast["contributor"].headers
    csrf = sign_in(client, database, "carl")
    # (slug, its title, its audience, the number of the draft the edit lands in)
    for slug, title, audience, edited in [("draft-doc", "Draft doc", "public", 1), ("rejected-doc", "Rejected doc", "public", 2),
                                          ("child-benefit", "Child benefit", "public", 2)]:
        newest = client.get(f"/api/v1/documents/{slug}/versions", headers=headers).json()["data"][-1]
        shown = client.get(f"/api/v1/documents/{slug}/versions/{newest['number']}", headers=headers).json()
        assert f'href="/write?slug={slug}"' in client.get(f"/d/{slug}").text  # the link a writer follows
        form = client.get(f"/write?slug={slug}")
        assert form.status_code == 200, (slug, form.status_code)
        fields = form_fields(form.text, "/write")
        assert fields["csrf"] == csrf and fields["existing"] == "1", fields
        assert fields["slug"] == slug and fields["space"] == "benefits", fields
        assert fields["title"] == title and fields["body_md"] == shown["body_md"], fields
        assert fields["audience"] == audience and fields["language"] == "en"
        assert fields["intended_use"] == shown["provenance"]["intended_use"]
        assert fields["licence"] == shown["provenance"]["licence"]
        assert fields["tags"] == ", ".join(shown["tags"])
        assert fields["valid_from"] == (shown["provenance"]["valid_from"] or "")
        assert fields["review_by"] == (shown["provenance"]["review_by"] or "")

        body = f"# {title}\n\nRevised in the browser."
        saved = client.post("/write", data={**fields, "body_md": body, "action": "save"}, follow_redirects=False)
        assert saved.status_code == 303 and saved.headers["location"] == f"/d/{slug}?done=saved", saved.text
        draft = client.get(f"/api/v1/documents/{slug}/versions/{edited}", headers=headers).json()
        assert draft["state"] == "draft" and draft["body_md"] == body
        assert draft["provenance"]["audience"] == audience and draft["title"] == title
        edit_events = [e for e in audit_events(database) if e["action"] == "version.edit" and e["object_id"] == slug]
        assert edit_events[-1]["payload"]["version"] == edited and edit_events[-1]["actor"] == "carl"


def test_the_edit_form_is_refused_to_those_who_may_not_save_it(client, database, cast) -> None:  # noqa: ANN001
    make_document(database, cast, slug="draft-doc", state="draft")
    sign_in(client, database, "rita")
    assert client.get("/write?slug=draft-doc").status_code == 403
    # the gate (version.edit) refuses a reader before any look-up: an unknown slug answers alike, no oracle
    assert client.get("/write?slug=no-such-document").status_code == 403
    sign_in(client, database, "adam")  # an admin writes in no space: the form is refused as saving it would be
    assert client.get("/write?slug=draft-doc").status_code == 403
    sign_in(client, database, "carl")
    assert client.get("/write?slug=draft-doc").status_code == 200
    assert client.get("/write?slug=no-such-document").status_code == 404


# ------------------------------------------------------------------------------ original file

def test_an_imported_version_gives_back_its_original_file_to_those_who_may_see_it(client, database, cast) -> None:  # noqa: ANN001
    data = SAMPLE_DOCX.read_bytes()
    contributor, reader, owner = cast["contributor"].headers, cast["reader"].headers, cast["owner"].headers
    imported = client.post("/api/v1/spaces/benefits/import", headers=contributor,
                           files={"file": ("Parental leave policy.docx", data, "application/octet-stream")},
                           data={"intended_use": "Tells staff about leave"})
    assert imported.status_code == 201, imported.text
    slug = imported.json()["document"]["slug"]
    url = f"/api/v1/documents/{slug}/versions/1/file"

    got = client.get(url, headers=contributor)
    assert got.status_code == 200
    assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(data).hexdigest() == imported.json()["source_sha256"]
    assert got.headers["content-type"].startswith(DOCX_MEDIA_TYPE)
    assert got.headers["content-disposition"] == 'attachment; filename="Parental_leave_policy.docx"'

    # a reader may not see the draft: the same 404 as for a document that does not exist
    hidden = client.get(url, headers=reader)
    unknown = client.get("/api/v1/documents/no-such-document/versions/1/file", headers=reader)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["error"]["code"] == unknown.json()["error"]["code"]
    # an authored version has no file
    authored = client.get("/api/v1/documents/child-benefit/versions/1/file", headers=reader)
    assert authored.status_code == 404
    # approved, it is everyone's to download
    assert client.post(f"/api/v1/documents/{slug}/versions/1/submit", json={}, headers=contributor).status_code == 200
    assert client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={}, headers=owner).status_code == 200
    assert client.get(url, headers=reader).content == data

    # the web pages link to it, and the link gives the same bytes
    sign_in(client, database, "rita")
    link = f'href="/d/{slug}/v/1/file"'
    assert link in client.get(f"/d/{slug}").text and link in client.get(f"/d/{slug}/v/1").text
    assert 'href="/d/child-benefit/v/1/file"' not in client.get("/d/child-benefit").text
    web = client.get(f"/d/{slug}/v/1/file")
    assert web.status_code == 200 and web.content == data
    assert web.headers["content-disposition"].startswith("attachment;")
    assert client.get("/d/child-benefit/v/1/file").status_code == 404


def test_the_download_name_is_safe_in_a_header(client, database, cast) -> None:  # noqa: ANN001
    imported = client.post("/api/v1/spaces/benefits/import", headers=cast["contributor"].headers,
                           files={"file": ('../we"ird; name€.md', b"# Weird\n\nText.", "text/markdown")})
    assert imported.status_code == 201, imported.text
    slug = imported.json()["document"]["slug"]
    got = client.get(f"/api/v1/documents/{slug}/versions/1/file", headers=cast["contributor"].headers)
    assert got.status_code == 200 and got.content == b"# Weird\n\nText."
    filename = got.headers["content-disposition"].removeprefix('attachment; filename="').removesuffix('"')
    assert filename and all(c.isascii() and (c.isalnum() or c in "._-") for c in filename), filename


# ------------------------------------------------------------------------------ PROV, one check

def test_a_prov_export_that_fails_our_checks_is_refused_on_every_surface(
        client, database, cast, cli_env, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(provenance, "check_prov", lambda document: ["the generation of v1 is missing"])
    api = client.get("/api/v1/documents/child-benefit/provenance", headers=cast["reader"].headers)
    assert api.status_code == 500
    assert api.json()["error"]["details"] == {"problems": ["the generation of v1 is missing"]}
    sign_in(client, database, "rita")
    web = client.get("/d/child-benefit/prov?format=ttl")
    assert web.status_code == 500 and "content-disposition" not in web.headers
    cli = CliRunner().invoke(cli_app, ["export-prov", "child-benefit"], catch_exceptions=False)
    assert cli.exit_code == 3 and "the generation of v1 is missing" in cli.output


def test_the_cli_exports_prov_as_kb_itself(client, database, cast, cli_env) -> None:  # noqa: ANN001
    make_document(database, cast, slug="draft-doc", state="draft")
    cli = CliRunner().invoke(cli_app, ["export-prov", "draft-doc", "--format", "provn"], catch_exceptions=False)
    assert cli.exit_code == 0, cli.output
    assert "kb:version/draft-doc/1" in cli.output  # kb itself (an admin) sees the draft
