"""The taxonomy through every surface (issue 20): the API, the web pages and the CLI each go through the one
door (kb.taxonomy.actions), and documents carry their concepts on every surface.

Each state change is checked three ways: the response, the stored state (read back through another
surface or the API) and its audit event.
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from kb.cli import app as cli_app
from tests.audit import audit_events
from tests.factories import sign_in

TURTLE_VOCABULARY = """
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<http://example.org/regions> a skos:ConceptScheme ; skos:prefLabel "Regions"@en .
<http://example.org/regions/north> a skos:Concept ; skos:inScheme <http://example.org/regions> ;
    skos:prefLabel "North"@en, "Noord"@nl ; skos:altLabel "Northern region"@en .
<http://example.org/regions/south> a skos:Concept ; skos:inScheme <http://example.org/regions> ;
    skos:prefLabel "South"@en, "Zuid"@nl .
"""


def last(database):  # noqa: ANN001, ANN201
    return audit_events(database)[-1]


def build_taxonomy(client, cast) -> None:  # noqa: ANN001
    """A situation scheme (student under in education, tenant, lodger) and a topic scheme, through the API as the admin."""
    admin = cast["admin"].headers
    made = client.post("/api/v1/taxonomy", headers=admin, json={
        "key": "situation", "field": "applies_to", "titles": {"en": "Life situation", "nl": "Levenssituatie"}})
    assert made.status_code == 201, made.text
    for key, body in (
        ("education", {"preferred": {"en": "In education", "nl": "In opleiding"}}),
        ("student", {"broader": "education", "preferred": {"en": "Student", "nl": "Student"}, "alternative": {"en": ["pupil"]}}),
        ("tenant", {"preferred": {"en": "Tenant", "nl": "Huurder"}, "alternative": {"en": ["renter"]}}),
        ("lodger", {"preferred": {"en": "Lodger", "nl": "Kamerhuurder"}}),
    ):
        response = client.post("/api/v1/taxonomy/situation/concepts", headers=admin, json={"key": key, **body})
        assert response.status_code == 201, response.text
    assert client.post("/api/v1/taxonomy", headers=admin, json={
        "key": "topic", "field": "topic", "titles": {"en": "Topic"}}).status_code == 201
    assert client.post("/api/v1/taxonomy/topic/concepts", headers=admin, json={
        "key": "housing", "preferred": {"en": "Housing", "nl": "Wonen"}}).status_code == 201


@pytest.fixture
def taxonomy(client, cast):  # noqa: ANN001, ANN201
    build_taxonomy(client, cast)
    return cast


# ------------------------------------------------------------------------------------------- API

def test_the_api_lists_reads_and_labels_in_the_readers_language(client, database, taxonomy) -> None:  # noqa: ANN001
    reader = taxonomy["reader"].headers
    assert last(database)["action"] == "concept.create"
    listed = client.get("/api/v1/taxonomy?lang=nl", headers=reader)
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 2 and [s["key"] for s in body["data"]] == ["situation", "topic"]
    situation = body["data"][0]
    assert situation["title"] == "Levenssituatie" and situation["field"] == "applies_to"
    assert {c["ref"]: c["label"] for c in situation["concepts"]}["situation:tenant"] == "Huurder"
    one = client.get("/api/v1/taxonomy/situation", headers=reader)
    assert one.status_code == 200 and one.json()["title"] == "Life situation"
    student = client.get("/api/v1/taxonomy/situation/concepts/student?lang=nl", headers=reader).json()
    assert student["broader"] == "situation:education" and student["alternative"] == {"en": ["pupil"]}
    assert client.get("/api/v1/taxonomy/nothing", headers=reader).json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/taxonomy/situation/concepts/nobody", headers=reader).status_code == 404
    assert client.get("/api/v1/taxonomy/situation/concepts/Not%20A%20Key", headers=reader).status_code == 422
    assert client.get("/api/v1/taxonomy?lang=not a language", headers=reader).status_code == 422
    assert client.get("/api/v1/taxonomy").status_code == 401


def test_the_api_changes_concepts_each_change_one_event(client, database, taxonomy) -> None:  # noqa: ANN001
    admin, reader = taxonomy["admin"].headers, taxonomy["reader"].headers
    refused = client.patch("/api/v1/taxonomy/situation/concepts/tenant", headers=reader, json={"alternative": {"en": ["x"]}})
    assert refused.status_code == 403
    changed = client.patch("/api/v1/taxonomy/situation/concepts/tenant", headers=taxonomy["owner"].headers,
                           json={"alternative": {"en": ["renter", "leaseholder"]}, "related": ["situation:lodger"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["alternative"] == {"en": ["leaseholder", "renter"]}
    assert changed.json()["related"] == ["situation:lodger"]
    event = last(database)
    assert (event["action"], event["object_id"], event["actor"]) == ("concept.update", "situation:tenant", "olga")
    # a loop in the hierarchy is refused, as JSON, never a 500
    loop = client.patch("/api/v1/taxonomy/situation/concepts/education", headers=admin, json={"broader": "student"})
    assert loop.status_code == 422 and loop.json()["error"]["code"] == "validation_error"
    assert client.post("/api/v1/taxonomy/situation/concepts", headers=admin,
                       json={"key": "tenant", "preferred": {"en": "Again"}}).status_code == 409
    assert client.post("/api/v1/taxonomy/situation/concepts", headers=admin,
                       json={"key": "no-english", "preferred": {"nl": "Geen Engels"}}).status_code == 422

    deprecated = client.post("/api/v1/taxonomy/situation/concepts/student/deprecate", headers=admin)
    assert deprecated.status_code == 200 and deprecated.json()["status"] == "deprecated"
    assert last(database)["action"] == "concept.deprecate"
    again = client.post("/api/v1/taxonomy/situation/concepts/student/deprecate", headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"

    merged = client.post("/api/v1/taxonomy/situation/concepts/lodger/merge", headers=admin, json={"into": "tenant"})
    assert merged.status_code == 200, merged.text
    assert merged.json()["ref"] == "situation:tenant" and "Kamerhuurder" in merged.json()["alternative"]["nl"]
    assert (last(database)["action"], last(database)["payload"]["into"]) == ("concept.merge", "situation:tenant")
    lodger = client.get("/api/v1/taxonomy/situation/concepts/lodger", headers=reader).json()
    assert lodger["replaced_by"] == "situation:tenant" and lodger["status"] == "deprecated"
    assert client.post("/api/v1/taxonomy/situation/concepts/tenant/merge", headers=admin, json={"into": "tenant"}).status_code == 422
    assert client.post("/api/v1/taxonomy/situation/concepts/tenant/merge", headers=admin, json={}).status_code == 422


def test_the_api_deletes_an_unused_concept_and_refuses_one_in_use(client, database, taxonomy) -> None:  # noqa: ANN001
    admin = taxonomy["admin"].headers
    tagged = client.put("/api/v1/documents/child-benefit/draft", headers=taxonomy["contributor"].headers,
                        json={"applies_to": ["situation:tenant"], "topic": ["topic:housing"]})
    assert tagged.status_code == 200, tagged.text
    assert [c["ref"] for c in tagged.json()["provenance"]["applies_to"]] == ["situation:tenant"]
    in_use = client.delete("/api/v1/taxonomy/situation/concepts/tenant", headers=admin)
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "conflict"
    assert "merge" in in_use.json()["error"]["message"]
    assert client.get("/api/v1/taxonomy/situation/concepts/tenant", headers=admin).json()["used_by_versions"] == 1
    before = last(database)["seq"]
    assert client.delete("/api/v1/taxonomy/situation/concepts/lodger", headers=taxonomy["reader"].headers).status_code == 403
    assert last(database)["seq"] == before
    gone = client.delete("/api/v1/taxonomy/situation/concepts/lodger", headers=admin)
    assert gone.status_code == 204 and gone.content == b""
    assert (last(database)["action"], last(database)["object_id"]) == ("concept.delete", "situation:lodger")
    assert client.get("/api/v1/taxonomy/situation/concepts/lodger", headers=admin).status_code == 404


def test_the_api_exports_skos_with_its_media_type_and_imports_it(client, database, taxonomy) -> None:  # noqa: ANN001
    from rdflib import Graph

    reader, admin = taxonomy["reader"].headers, taxonomy["admin"].headers
    turtle = client.get("/api/v1/taxonomy/export", headers=reader)
    assert turtle.status_code == 200 and turtle.headers["content-type"].startswith("text/turtle")
    assert len(Graph().parse(data=turtle.text, format="turtle")) > 20
    jsonld = client.get("/api/v1/taxonomy/export?format=json-ld", headers=reader)
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    assert json.loads(jsonld.text)
    assert client.get("/api/v1/taxonomy/export?format=rdfxml", headers=reader).status_code == 422

    # a vocabulary that does not say its field: refused, then loaded with field=regions:region
    headers = {**admin, "Content-Type": "text/turtle"}
    refused = client.post("/api/v1/taxonomy/import", headers=headers, content=TURTLE_VOCABULARY)
    assert refused.status_code == 422 and "which field" in refused.json()["error"]["message"]
    assert client.post("/api/v1/taxonomy/import", headers={**taxonomy["reader"].headers, "Content-Type": "text/turtle"},
                       content=TURTLE_VOCABULARY).status_code == 403
    loaded = client.post("/api/v1/taxonomy/import?field=regions:region", headers=headers, content=TURTLE_VOCABULARY)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() == {"schemes": ["regions"], "concepts_created": 2, "concepts_updated": 0}
    assert last(database)["actor"] == "adam"
    north = client.get("/api/v1/taxonomy/regions/concepts/north?lang=nl", headers=reader).json()
    assert north["label"] == "Noord"
    # kb's own JSON-LD export goes back in (the format from the Content-Type): nothing new, each concept updated
    again = client.post("/api/v1/taxonomy/import", headers={**admin, "Content-Type": "application/ld+json"},
                        content=jsonld.text)
    assert again.status_code == 200 and again.json()["concepts_created"] == 0


@pytest.mark.parametrize("query, body, status", [
    ("", "this is not turtle <<<", 422),
    ("?format=json-ld", "{not json", 422),
    ("?format=json-ld", json.dumps({"@context": "file:///etc/hostname", "@id": "http://x/s"}), 422),
    ("?format=json-ld", json.dumps([{"@context": {"@import": "https://example.org/context.jsonld"}}]), 422),
    ("?format=json-ld", "[" * 100_000, 422),
    ("?field=regions", TURTLE_VOCABULARY, 422),
    ("?field=regions:colour", TURTLE_VOCABULARY, 422),
    ("?format=xml", TURTLE_VOCABULARY, 422),
    ("", "\udcff", 422),
])
def test_a_bad_skos_import_is_a_json_4xx_never_a_500(client, taxonomy, query, body, status) -> None:  # noqa: ANN001
    response = client.post(f"/api/v1/taxonomy/import{query}", headers={**taxonomy["admin"].headers, "Content-Type": "text/turtle"},
                           content=body.encode("utf-8", "surrogateescape"))
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) >= {"code", "message"}


def test_a_remote_json_ld_context_is_never_read(client, taxonomy, tmp_path) -> None:  # noqa: ANN001
    """rdflib would read a context named by address (here a file of the server): the import refuses it first."""
    context = tmp_path / "context.jsonld"
    context.write_text(json.dumps({"@context": {"@vocab": "http://www.w3.org/2004/02/skos/core#"}}), encoding="utf-8")
    document = {"@context": context.as_uri(), "@id": "http://example.org/s", "@type": "ConceptScheme"}
    response = client.post("/api/v1/taxonomy/import?format=json-ld&field=s:topic", content=json.dumps(document),
                           headers={**taxonomy["admin"].headers, "Content-Type": "application/ld+json"})
    assert response.status_code == 422 and "remote @context" in response.json()["error"]["message"]


def test_a_skos_import_over_the_cap_is_refused(client, taxonomy, monkeypatch) -> None:  # noqa: ANN001
    from kb.taxonomy import actions

    monkeypatch.setattr(actions, "MAX_SKOS_BYTES", 1000)
    response = client.post("/api/v1/taxonomy/import?field=regions:region", content=TURTLE_VOCABULARY + " " * 1000,
                           headers={**taxonomy["admin"].headers, "Content-Type": "text/turtle"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


def test_documents_carry_concepts_through_the_api_create_edit_and_import(client, database, taxonomy) -> None:  # noqa: ANN001
    contributor = taxonomy["contributor"].headers
    made = client.post("/api/v1/spaces/benefits/documents", headers=contributor, json={
        "slug": "rent-allowance", "title": "Rent allowance", "body_md": "# Rent\n\nHelp with rent.", "language": "nl",
        "applies_to": ["situation:student", "situation:tenant"], "topic": ["topic:housing"]})
    assert made.status_code == 201, made.text
    version = client.get("/api/v1/documents/rent-allowance/versions/1", headers=contributor).json()
    card = version["provenance"]
    assert [c["label"] for c in card["applies_to"]] == ["Huurder", "Student"]  # the version's language, sorted
    assert card["topic"] == [{"ref": "topic:housing", "label": "Wonen", "stated_as": None}] and card["region"] == []
    wrong = client.put("/api/v1/documents/rent-allowance/draft", headers=contributor, json={"topic": ["situation:student"]})
    assert wrong.status_code == 422 and "topic" in wrong.json()["error"]["message"]
    imported = client.post("/api/v1/spaces/benefits/import", headers=contributor,
                           files={"file": ("lease.md", b"# Lease\n\nAbout leases.", "text/markdown")},
                           data={"slug": "lease", "applies_to": "situation:tenant, situation:lodger", "topic": "topic:housing"})
    assert imported.status_code == 201, imported.text
    card = client.get("/api/v1/documents/lease/versions/1", headers=contributor).json()["provenance"]
    assert sorted(c["ref"] for c in card["applies_to"]) == ["situation:lodger", "situation:tenant"]
    refused = client.post("/api/v1/spaces/benefits/import", headers=contributor,
                          files={"file": ("other.md", b"# Other\n\nText.", "text/markdown")}, data={"region": "nowhere"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "validation_error"


# ------------------------------------------------------------------------------------------- CLI

def kb(person, *args: str):  # noqa: ANN001, ANN201
    """Run ``kb ARGS`` as ``person`` (their API token in KB_TOKEN)."""
    return CliRunner().invoke(cli_app, list(args), env={"KB_TOKEN": person.token, "KB_AS": None}, catch_exceptions=False)


def test_the_cli_maintains_the_taxonomy(cli_env, client, database, taxonomy, tmp_path) -> None:  # noqa: ANN001
    admin, reader = taxonomy["admin"], taxonomy["reader"]
    listed = kb(reader, "taxonomy", "list", "--lang", "nl")
    assert listed.exit_code == 0, listed.output
    assert "situation (applies_to): Levenssituatie" in listed.output and "situation:tenant\tHuurder" in listed.output

    refused = kb(reader, "taxonomy", "add-concept", "situation:carer", "--label", "en=Carer")
    assert refused.exit_code != 0 and "Usage:" not in refused.output
    added = kb(admin, "taxonomy", "add-concept", "situation:carer", "--label", "en=Carer", "--label", "nl=Mantelzorger",
               "--alt", "en=caregiver", "--related", "situation:tenant")
    assert added.exit_code == 0, added.output
    assert (last(database)["action"], last(database)["object_id"], last(database)["channel"]) == ("concept.create", "situation:carer", "cli")
    carer = client.get("/api/v1/taxonomy/situation/concepts/carer", headers=reader.headers).json()
    assert carer["preferred"] == {"en": "Carer", "nl": "Mantelzorger"} and carer["related"] == ["situation:tenant"]
    assert kb(admin, "taxonomy", "add-concept", "carer", "--label", "en=X").exit_code != 0  # no scheme in the reference
    assert kb(admin, "taxonomy", "add-concept", "situation:x", "--label", "Carer").exit_code != 0  # no LANG=
    no_english = kb(admin, "taxonomy", "add-concept", "situation:y", "--label", "nl=Geen")
    assert no_english.exit_code != 0 and "English" in no_english.output

    updated = kb(admin, "taxonomy", "update", "situation:carer", "--label", "en=Family carer", "--label", "nl=Mantelzorger",
                 "--broader", "education")
    assert updated.exit_code == 0, updated.output
    assert last(database)["action"] == "concept.update"
    carer = client.get("/api/v1/taxonomy/situation/concepts/carer", headers=reader.headers).json()
    assert carer["label"] == "Family carer" and carer["broader"] == "situation:education"
    assert carer["alternative"] == {"en": ["caregiver"]}  # not given: kept

    assert kb(admin, "taxonomy", "merge", "situation:lodger", "topic:housing").exit_code != 0  # another scheme
    merged = kb(admin, "taxonomy", "merge", "situation:lodger", "tenant")
    assert merged.exit_code == 0 and last(database)["action"] == "concept.merge"
    assert kb(admin, "taxonomy", "deprecate", "situation:student").exit_code == 0
    assert last(database)["action"] == "concept.deprecate"
    again = kb(admin, "taxonomy", "deprecate", "situation:student")
    assert again.exit_code == 2 and "deprecated already" in again.output
    assert kb(admin, "taxonomy", "delete", "situation:carer").exit_code == 0
    assert last(database)["action"] == "concept.delete"
    assert kb(admin, "taxonomy", "delete", "situation:carer").exit_code == 2  # gone

    made = kb(admin, "taxonomy", "add-scheme", "region", "--field", "region", "--title", "en=Region", "--title", "nl=Regio")
    assert made.exit_code == 0 and last(database)["action"] == "concept_scheme.create"
    assert kb(admin, "taxonomy", "add-scheme", "colour", "--field", "colour", "--title", "en=Colour").exit_code != 0


def test_the_cli_exports_and_imports_skos(cli_env, client, database, taxonomy, tmp_path) -> None:  # noqa: ANN001
    from rdflib import Graph

    admin, reader = taxonomy["admin"], taxonomy["reader"]
    printed = kb(reader, "taxonomy", "export", "--format", "json-ld")
    assert printed.exit_code == 0 and json.loads(printed.output)
    out = tmp_path / "taxonomy.ttl"
    assert kb(reader, "taxonomy", "export", "-o", str(out)).exit_code == 0
    assert len(Graph().parse(out, format="turtle")) > 20
    assert kb(reader, "taxonomy", "export", "--format", "xml").exit_code != 0

    vocabulary = tmp_path / "regions.ttl"
    vocabulary.write_text(TURTLE_VOCABULARY, encoding="utf-8")
    refused = kb(admin, "taxonomy", "import", str(vocabulary))
    assert refused.exit_code == 1 and "which field" in refused.output  # bad input (the service's 422)
    assert kb(admin, "taxonomy", "import", str(vocabulary), "--field", "regions:region").exit_code != 0  # SCHEME=FIELD
    assert kb(reader, "taxonomy", "import", str(vocabulary), "--field", "regions=region").exit_code != 0
    loaded = kb(admin, "taxonomy", "import", str(vocabulary), "--field", "http://example.org/regions=region")
    assert loaded.exit_code == 0, loaded.output
    assert "2 concepts created" in loaded.output and last(database)["channel"] == "cli"
    assert client.get("/api/v1/taxonomy/regions/concepts/south?lang=nl", headers=reader.headers).json()["label"] == "Zuid"
    again = kb(admin, "taxonomy", "import", str(out))
    assert again.exit_code == 0 and "0 concepts created" in again.output


def test_kb_import_gives_documents_their_concepts(cli_env, client, database, taxonomy, tmp_path) -> None:  # noqa: ANN001
    contributor = taxonomy["contributor"]
    page = tmp_path / "student-rent.md"
    page.write_text("# Student rent\n\nRent help for students.", encoding="utf-8")
    result = kb(contributor, "import", str(page), "--space", "benefits", "--applies-to", "situation:student, situation:tenant",
                "--topic", "topic:housing")
    assert result.exit_code == 0, result.output
    card = client.get("/api/v1/documents/student-rent/versions/1", headers=contributor.headers).json()["provenance"]
    assert [c["ref"] for c in card["applies_to"]] == ["situation:student", "situation:tenant"]
    assert [c["ref"] for c in card["topic"]] == ["topic:housing"]
    other = tmp_path / "other.md"
    other.write_text("# Other\n\nText.", encoding="utf-8")
    wrong = kb(contributor, "import", str(other), "--space", "benefits", "--region", "topic:housing")
    assert wrong.exit_code != 0 and "region" in wrong.output


# ------------------------------------------------------------------------------------------- web

def csrf_of(page_text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page_text).group(1)


def test_the_taxonomy_page_shows_labels_in_the_readers_language_and_forms_to_those_who_maintain_it(client, database, taxonomy) -> None:  # noqa: ANN001
    sign_in(client, database, "rita")
    page = client.get("/taxonomy", headers={"Accept-Language": "nl-NL,nl;q=0.9"})
    assert page.status_code == 200
    assert "Levenssituatie" in page.text and "Huurder" in page.text and "situation:tenant" in page.text
    assert 'action="/taxonomy/situation/concepts"' not in page.text and 'href="/taxonomy">' not in page.text  # a reader maintains nothing
    assert 'href="/taxonomy/export?format=turtle"' in page.text
    client.cookies.clear()
    sign_in(client, database, "olga")
    page = client.get("/taxonomy?lang=en")
    assert "Life situation" in page.text and "Tenant" in page.text
    assert 'href="/taxonomy">Taxonomy</a>' in page.text  # the navigation offers it to owners
    assert 'action="/taxonomy/situation/concepts"' in page.text and 'action="/taxonomy/import"' in page.text
    assert 'action="/taxonomy/situation/concepts/tenant/merge"' in page.text
    client.cookies.clear()
    assert client.get("/taxonomy", follow_redirects=False).headers["location"].startswith("/login")


def test_the_web_forms_change_concepts_with_one_event_each(client, database, taxonomy) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "adam")
    reader = taxonomy["reader"].headers
    forged = client.post("/taxonomy/situation/concepts", data={"csrf": "forged", "key": "carer", "pref_en": "Carer"},
                         follow_redirects=False)
    assert forged.status_code == 403
    added = client.post("/taxonomy/situation/concepts", follow_redirects=False, data={
        "csrf": csrf, "key": "carer", "pref_en": "Carer", "pref_nl": "Mantelzorger", "alt_en": "caregiver, family carer",
        "broader": "", "new_lang": "pt", "new_pref": "Cuidador"})
    assert added.status_code == 303 and added.headers["location"].endswith("#c-situation-carer")
    assert (last(database)["action"], last(database)["object_id"], last(database)["channel"]) == ("concept.create", "situation:carer", "web")
    carer = client.get("/api/v1/taxonomy/situation/concepts/carer", headers=reader).json()
    assert carer["preferred"] == {"en": "Carer", "nl": "Mantelzorger", "pt": "Cuidador"}
    assert carer["alternative"] == {"en": ["caregiver", "family carer"]}
    no_english = client.post("/taxonomy/situation/concepts", data={"csrf": csrf, "key": "x", "pref_nl": "X"})
    assert no_english.status_code == 422 and "English" in no_english.text

    saved = client.post("/taxonomy/situation/concepts/carer", follow_redirects=False, data={
        "csrf": csrf, "pref_en": "Family carer", "pref_nl": "Mantelzorger", "pref_pt": "Cuidador", "alt_en": "", "broader": "education"})
    assert saved.status_code == 303
    assert last(database)["action"] == "concept.update"
    carer = client.get("/api/v1/taxonomy/situation/concepts/carer", headers=reader).json()
    assert (carer["label"], carer["alternative"], carer["broader"]) == ("Family carer", {}, "situation:education")
    loop = client.post("/taxonomy/situation/concepts/education", data={"csrf": csrf, "pref_en": "In education", "broader": "carer"})
    assert loop.status_code == 422 and "loop" in loop.text

    assert client.post("/taxonomy/situation/concepts/lodger/merge", data={"csrf": csrf, "into": "tenant"},
                       follow_redirects=False).status_code == 303
    assert last(database)["action"] == "concept.merge"
    assert client.post("/taxonomy/situation/concepts/student/deprecate", data={"csrf": csrf},
                       follow_redirects=False).status_code == 303
    assert last(database)["action"] == "concept.deprecate"
    page = client.get("/taxonomy")
    assert "merged into <code>situation:tenant</code>" in page.text and "deprecated" in page.text

    client.put("/api/v1/documents/child-benefit/draft", headers=taxonomy["contributor"].headers, json={"applies_to": ["situation:tenant"]})
    in_use = client.post("/taxonomy/situation/concepts/tenant/delete", data={"csrf": csrf})
    assert in_use.status_code == 409 and "merge" in in_use.text
    assert "cannot be deleted" in client.get("/taxonomy").text
    assert client.post("/taxonomy/situation/concepts/carer/delete", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert (last(database)["action"], last(database)["object_id"]) == ("concept.delete", "situation:carer")

    scheme = client.post("/taxonomy/schemes", data={"csrf": csrf, "key": "region", "field": "region", "title_en": "Region"},
                         follow_redirects=False)
    assert scheme.status_code == 303 and last(database)["action"] == "concept_scheme.create"
    assert client.post("/taxonomy/schemes", data={"csrf": csrf, "key": "x", "field": "colour", "title_en": "X"}).status_code == 422


def test_the_web_exports_and_imports_skos(client, database, taxonomy) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "olga")
    exported = client.get("/taxonomy/export?format=json-ld")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/ld+json")
    assert "attachment" in exported.headers["content-disposition"]
    turtle = client.get("/taxonomy/export")
    assert turtle.headers["content-type"].startswith("text/turtle")
    file = {"file": ("regions.ttl", TURTLE_VOCABULARY.encode(), "text/turtle")}
    refused = client.post("/taxonomy/import", data={"csrf": csrf}, files=file)
    assert refused.status_code == 422 and "which field" in refused.text
    bad = client.post("/taxonomy/import", data={"csrf": csrf, "fields": "regions"}, files=file)
    assert bad.status_code == 422 and "SCHEME=FIELD" in bad.text
    imported = client.post("/taxonomy/import", data={"csrf": csrf, "fields": "regions=region\n"}, files=file)
    assert imported.status_code == 200 and "2 concepts created" in imported.text
    assert last(database)["channel"] == "web"
    again = client.post("/taxonomy/import", data={"csrf": csrf}, files={"file": ("kb.jsonld", exported.content, "application/ld+json")})
    assert again.status_code == 200 and "0 concepts created" in again.text


def test_the_write_form_offers_the_concepts_and_tag_suggestions_and_the_card_shows_them(client, database, taxonomy) -> None:  # noqa: ANN001
    client.put("/api/v1/documents/child-benefit/draft", headers=taxonomy["contributor"].headers, json={})  # nothing
    admin = taxonomy["admin"].headers
    client.post("/api/v1/taxonomy/situation/concepts/lodger/deprecate", headers=admin)
    csrf = sign_in(client, database, "carl")
    form = client.get("/write", headers={"Accept-Language": "nl"})
    assert form.status_code == 200
    assert 'name="applies_to" value="situation:tenant"' in form.text and "Huurder" in form.text
    assert 'name="topic" value="topic:housing"' in form.text and "Wonen" in form.text
    assert "situation:lodger" not in form.text  # deprecated: not offered
    assert 'list="tag-suggestions"' in form.text and '<option value="huurder">' in form.text
    assert '<option value="renter">' not in form.text  # other names in the reader's language only (nl has none)
    assert '<option value="renter">' in client.get("/write", headers={"Accept-Language": "en"}).text

    written = client.post("/write", follow_redirects=False, data={
        "csrf": csrf, "space": "benefits", "slug": "rent-allowance", "title": "Huurtoeslag", "body_md": "# Huurtoeslag\n\nHulp bij de huur.",
        "audience": "public", "language": "nl", "action": "save", "concepts_shown": "1",
        "applies_to": ["situation:student", "situation:tenant"], "topic": "topic:housing"})
    assert written.status_code == 303, written.text
    card = client.get("/api/v1/documents/rent-allowance/versions/1", headers=taxonomy["contributor"].headers).json()["provenance"]
    assert [c["ref"] for c in card["applies_to"]] == ["situation:tenant", "situation:student"]  # by label: Huurder, Student
    version = client.get("/d/rent-allowance/v/1")
    assert "<dt>Applies to</dt>" in version.text and ">Huurder</span>" in version.text and "<dt>Topic</dt>" in version.text
    assert "<dt>Region</dt>" not in version.text

    edit = client.get("/write?slug=rent-allowance")
    assert 'value="situation:tenant" checked' in edit.text and 'value="topic:housing" checked' in edit.text
    wrong = client.post("/write", data={
        "csrf": csrf, "space": "benefits", "slug": "rent-allowance", "existing": "1", "title": "Huurtoeslag",
        "body_md": "# Huurtoeslag\n\nHulp.", "audience": "public", "language": "nl", "action": "save", "concepts_shown": "1",
        "applies_to": "topic:housing"})
    assert wrong.status_code == 422 and "fills the field topic, not applies_to" in wrong.text
    assert 'value="topic:housing"' in wrong.text  # the form again, with what was chosen
    cleared = client.post("/write", follow_redirects=False, data={
        "csrf": csrf, "space": "benefits", "slug": "rent-allowance", "existing": "1", "title": "Huurtoeslag",
        "body_md": "# Huurtoeslag\n\nHulp bij de huur.", "audience": "public", "language": "nl", "action": "save",
        "concepts_shown": "1", "applies_to": "situation:tenant"})
    assert cleared.status_code == 303
    card = client.get("/api/v1/documents/rent-allowance/versions/1", headers=taxonomy["contributor"].headers).json()["provenance"]
    assert [c["ref"] for c in card["applies_to"]] == ["situation:tenant"] and card["topic"] == []
    # a form without the pickers (no taxonomy shown) leaves the concepts as they are
    kept = client.post("/write", follow_redirects=False, data={
        "csrf": csrf, "space": "benefits", "slug": "rent-allowance", "existing": "1", "title": "Huurtoeslag 2026",
        "body_md": "# Huurtoeslag\n\nHulp bij de huur.", "audience": "public", "language": "nl", "action": "save"})
    assert kept.status_code == 303
    card = client.get("/api/v1/documents/rent-allowance/versions/1", headers=taxonomy["contributor"].headers).json()["provenance"]
    assert [c["ref"] for c in card["applies_to"]] == ["situation:tenant"]


def test_a_merged_or_deprecated_concept_on_a_version_is_shown_and_named_on_its_edit_form(client, database, taxonomy) -> None:  # noqa: ANN001
    contributor, admin = taxonomy["contributor"].headers, taxonomy["admin"].headers
    client.put("/api/v1/documents/child-benefit/draft", headers=contributor, json={"applies_to": ["situation:lodger", "situation:student"]})
    client.post("/api/v1/taxonomy/situation/concepts/lodger/merge", headers=admin, json={"into": "tenant"})
    client.post("/api/v1/taxonomy/situation/concepts/student/deprecate", headers=admin)
    sign_in(client, database, "carl")
    document = client.get("/d/child-benefit/v/2")
    assert ">Tenant</span>" in document.text and ">Student</span>" in document.text  # read through the merge
    edit = client.get("/write?slug=child-benefit")
    assert 'value="situation:tenant" checked' in edit.text
    assert "Student (<code>situation:student</code>) is deprecated" in edit.text


def test_the_import_forms_give_the_file_its_concepts(client, database, taxonomy) -> None:  # noqa: ANN001
    import io
    import zipfile

    csrf = sign_in(client, database, "carl")
    form = client.get("/import")
    assert 'name="region"' not in form.text and 'name="applies_to" value="situation:student"' in form.text
    assert 'list="tag-suggestions"' in form.text
    imported = client.post("/import", follow_redirects=False, data={
        "csrf": csrf, "space": "benefits", "applies_to": ["situation:tenant", "situation:student"], "topic": "topic:housing"},
        files={"file": ("lease.md", b"# Lease\n\nAbout leases.", "text/markdown")})
    assert imported.status_code == 303, imported.text
    card = client.get("/api/v1/documents/lease/versions/1", headers=taxonomy["contributor"].headers).json()["provenance"]
    assert sorted(c["ref"] for c in card["applies_to"]) == ["situation:student", "situation:tenant"]
    refused = client.post("/import", data={"csrf": csrf, "space": "benefits", "applies_to": "situation:nobody"},
                          files={"file": ("other.md", b"# Other\n\nText.", "text/markdown")})
    assert refused.status_code == 422 and "is no concept" in refused.text
    assert 'value="situation:tenant"' in refused.text

    bulk_form = client.get("/import/bulk")
    assert 'name="topic" value="topic:housing"' in bulk_form.text
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("rent/a.md", "# A\n\nAbout rent.")
        z.writestr("rent/b.md", "# B\n\nMore about rent.")
    report = client.post("/import/bulk", data={"csrf": csrf, "space": "benefits", "topic": "topic:housing"},
                         files={"file": ("rent.zip", archive.getvalue(), "application/zip")})
    assert report.status_code == 200 and "2 created" in report.text.replace("\n", " ")
    for slug in ("rent-a", "rent-b"):
        card = client.get(f"/api/v1/documents/{slug}/versions/1", headers=taxonomy["contributor"].headers).json()["provenance"]
        assert [c["ref"] for c in card["topic"]] == ["topic:housing"]


# ------------------------------------------------------------------------------ PROV and diffs

def test_the_prov_export_and_the_diff_name_the_concepts_a_version_names(client, database, taxonomy) -> None:  # noqa: ANN001
    from kb import provenance

    contributor = taxonomy["contributor"].headers
    client.put("/api/v1/documents/child-benefit/draft", headers=contributor,
               json={"applies_to": ["situation:lodger"], "topic": ["topic:housing"]})
    client.post("/api/v1/taxonomy/situation/concepts/lodger/merge", headers=taxonomy["admin"].headers, json={"into": "tenant"})
    exported = client.get("/api/v1/documents/child-benefit/provenance?format=json", headers=contributor)
    assert exported.status_code == 200, exported.text
    version = json.loads(exported.text)["entity"]["kb:version/child-benefit/2"]
    assert version["kb:appliesTo"] == {"$": "urn:kb:concept:situation:lodger", "type": "xsd:anyURI"}  # as signed
    assert version["kb:topic"] == {"$": "urn:kb:concept:topic:housing", "type": "xsd:anyURI"}
    assert "kb:appliesTo" not in json.loads(exported.text)["entity"]["kb:version/child-benefit/1"]
    for fmt in ("provn", "xml", "ttl"):
        text = client.get(f"/api/v1/documents/child-benefit/provenance?format={fmt}", headers=contributor)
        assert text.status_code == 200 and "urn:kb:concept:topic:housing" in text.text
    assert provenance.deserialize_prov(exported.text, "json") is not None
    diff = client.get("/api/v1/documents/child-benefit/diff?from=1&to=2", headers=contributor).json()
    changes = {change["field"]: (change["before"], change["after"]) for change in diff["fields"]}
    assert changes["applies_to"] == (None, "situation:lodger") and changes["topic"] == (None, "topic:housing")
    assert "+applies_to: situation:lodger" in diff["diff"]


def test_how_many_versions_name_a_concept_is_shown_only_to_those_who_maintain_it(client, taxonomy) -> None:  # noqa: ANN001
    """Found by review: the count includes drafts of every space, so a reader learned of drafts they may not see."""
    client.post("/api/v1/spaces/benefits/documents", headers=taxonomy["contributor"].headers, json={
        "slug": "secret-draft", "title": "Secret", "body_md": "# Secret\n\nA draft.", "applies_to": ["situation:tenant"]})
    reader = client.get("/api/v1/taxonomy/situation/concepts/tenant", headers=taxonomy["reader"].headers).json()
    assert reader["used_by_versions"] is None
    assert all(c["used_by_versions"] is None for s in client.get("/api/v1/taxonomy", headers=taxonomy["reader"].headers).json()["data"]
               for c in s["concepts"])
    owner = client.get("/api/v1/taxonomy/situation/concepts/tenant", headers=taxonomy["owner"].headers).json()
    assert owner["used_by_versions"] == 1


# ------------------------------------------------------------------- merges of concepts approved pages name

def _approved_lodger_page(database, taxonomy) -> None:  # noqa: ANN001
    from tests.factories import make_document

    make_document(database, taxonomy, slug="rent-help", state="approved", applies_to=["situation:lodger"])


def test_the_web_merge_form_asks_a_second_person_when_approved_pages_name_the_concept(client, database, taxonomy) -> None:  # noqa: ANN001
    """A merge would change how pages read that their approvers signed: from the web form it becomes a
    request that the requester cannot decide, and an owner of the pages' space approves on /governance."""
    _approved_lodger_page(database, taxonomy)
    csrf = sign_in(client, database, "oscar")  # an owner of another space: he may maintain the taxonomy
    asked = client.post("/taxonomy/situation/concepts/lodger/merge", data={"csrf": csrf, "into": "tenant"}, follow_redirects=False)
    assert asked.status_code == 303 and "merge-requested" in asked.headers["location"], asked.headers
    assert "waits for a second person" in client.get(asked.headers["location"]).text
    request = last(database)
    assert (request["action"], request["channel"], request["payload"]["kind"]) == ("governance.request", "web", "concept.merge")
    lodger = client.get("/api/v1/taxonomy/situation/concepts/lodger", headers=taxonomy["reader"].headers).json()
    assert lodger["status"] == "active"
    request_id = int(request["object_id"])
    own = client.post(f"/governance/{request_id}", data={"decision": "approve", "csrf": csrf})
    assert own.status_code == 409
    client.cookies.clear()
    # someone who maintains the taxonomy but owns none of the pages' spaces may not decide it
    elsewhere = client.post(f"/api/v1/governance/requests/{request_id}/approve", headers=taxonomy["owner"].headers)
    assert elsewhere.status_code == 200, elsewhere.text  # olga owns benefits, where the page is
    merged = last(database)
    assert (merged["action"], merged["actor"], merged["payload"]["request"]) == ("concept.merge", "olga", request_id)
    lodger = client.get("/api/v1/taxonomy/situation/concepts/lodger", headers=taxonomy["reader"].headers).json()
    assert (lodger["status"], lodger["replaced_by"]) == ("deprecated", "situation:tenant")


def test_only_an_owner_of_the_pages_space_or_an_admin_decides_a_merge(client, database, taxonomy) -> None:  # noqa: ANN001
    _approved_lodger_page(database, taxonomy)
    asked = client.post("/api/v1/taxonomy/situation/concepts/lodger/merge", headers=taxonomy["owner"].headers,
                        json={"into": "tenant"})
    assert asked.status_code == 202 and asked.json()["status"] == "pending", asked.text
    request_id = asked.json()["id"]
    again = client.post("/api/v1/taxonomy/situation/concepts/lodger/merge", headers=taxonomy["owner"].headers,
                        json={"into": "tenant"})
    assert again.status_code == 409 and again.json()["error"]["details"]["rule"] == "duplicate_request"
    oscar = client.post(f"/api/v1/governance/requests/{request_id}/approve", headers=taxonomy["outsider_owner"].headers)
    assert oscar.status_code == 403 and "approved pages name the concept" in oscar.json()["error"]["message"]
    listed = client.get("/api/v1/governance/requests", headers=taxonomy["owner2"].headers).json()["data"]
    assert [(r["id"], r["may_decide"]) for r in listed] == [(request_id, True)]
    assert client.post(f"/api/v1/governance/requests/{request_id}/approve", headers=taxonomy["admin"].headers).status_code == 200
    # a concept only drafts name is merged at once: no approved page reads differently
    client.put("/api/v1/documents/child-benefit/draft", headers=taxonomy["contributor"].headers, json={"applies_to": ["situation:student"]})
    now = client.post("/api/v1/taxonomy/situation/concepts/student/merge", headers=taxonomy["owner"].headers, json={"into": "tenant"})
    assert now.status_code == 200 and now.json()["ref"] == "situation:tenant", now.text


def test_a_skos_import_cannot_merge_a_concept_approved_pages_name(client, database, taxonomy) -> None:  # noqa: ANN001
    """The import's path to a merge (``dct:isReplacedBy``) is refused for such a concept: nothing changes."""
    _approved_lodger_page(database, taxonomy)
    exported = client.get("/api/v1/taxonomy/export", headers=taxonomy["admin"].headers).text
    replaced = exported.replace("<urn:kb:concept:situation:lodger> a skos:Concept",
                                "<urn:kb:concept:situation:lodger> a skos:Concept ; "
                                "<http://purl.org/dc/terms/isReplacedBy> <urn:kb:concept:situation:tenant>")
    assert replaced != exported
    known = len(audit_events(database))
    refused = client.post("/api/v1/taxonomy/import", headers={**taxonomy["admin"].headers, "Content-Type": "text/turtle"},
                          content=replaced.encode())
    assert refused.status_code == 409 and refused.json()["error"]["details"]["rule"] == "separation_of_duties", refused.text
    assert len(audit_events(database)) == known


def test_a_merge_that_changes_how_approved_pages_read_through_other_concepts_needs_a_second_person(client, database, taxonomy) -> None:  # noqa: ANN001
    """Approved pages name *student* (below *in education*) and *lodger*, merged earlier into *tenant*: merging
    *in education* or *tenant* changes how they read as much as merging what they name."""
    from tests.factories import make_document

    make_document(database, taxonomy, slug="study-grant", state="approved", applies_to=["situation:student"])
    make_document(database, taxonomy, slug="rent-help", state="draft", applies_to=["situation:lodger"])
    owner = taxonomy["owner"].headers
    merged = client.post("/api/v1/taxonomy/situation/concepts/lodger/merge", headers=owner, json={"into": "tenant"})
    assert merged.status_code == 200, merged.text  # only a draft names lodger: at once
    client.post("/api/v1/documents/rent-help/versions/1/submit", json={}, headers=taxonomy["contributor"].headers)
    assert client.post("/api/v1/documents/rent-help/versions/1/approve", json={}, headers=owner).status_code == 200
    broader = client.post("/api/v1/taxonomy/situation/concepts/education/merge", headers=owner, json={"into": "tenant"})
    assert broader.status_code == 202, broader.text
    replaced = client.post("/api/v1/taxonomy/situation/concepts/tenant/merge", headers=owner, json={"into": "education"})
    assert replaced.status_code == 202, replaced.text
