"""Source URIs: validated on input, escaped on output (issue 16, point 6).

A ``source_uri`` holding ``"``, ``<`` or ``>`` made the PROV-O Turtle export a 500. Input now takes
only an absolute http(s) URI by RFC 3986 (422 otherwise, on the API and the web write form), and a
URI stored before that check still exports in every format, each passing ``check_prov``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kb import provenance
from kb.cli import app as cli_app
from tests.factories import doc_body, make_cast, sign_in

BAD_URIS = ['https://example.org/a"b', "https://example.org/<script>", "https://example.org/a b", "ftp://example.org/x",
            "urn:isbn:0451450523", "example.org/x", "https://", "https://example.org/%zz", "https://example.org/{x}"]
GOOD_URI = "https://www.example.org/benefits/child?year=2026&lang=en#amounts"
STORED_BAD = 'https://example.org/a"quoted"<angle>{brace}|pipe\\back^caret`tick space'


@pytest.fixture
def cast(database):  # noqa: ANN001, ANN201
    return make_cast(database)


@pytest.mark.parametrize("uri", BAD_URIS)
def test_the_api_refuses_a_bad_source_uri_with_422(client, cast, uri: str) -> None:  # noqa: ANN001
    headers = cast["contributor"].headers
    created = client.post("/api/v1/spaces/benefits/documents", json={**doc_body(), "source_uri": uri}, headers=headers)
    assert created.status_code == 422, created.text
    error = created.json()["error"]
    assert error["code"] == "validation_error" and error["details"][0]["loc"][-1] == "source_uri"
    assert "absolute http:// or https:// URI" in error["details"][0]["msg"]
    assert client.post("/api/v1/spaces/benefits/documents", json=doc_body(), headers=headers).status_code == 201
    edited = client.put("/api/v1/documents/child-benefit/draft", json={"source_uri": uri}, headers=headers)
    assert edited.status_code == 422 and edited.json()["error"]["code"] == "validation_error"


def test_the_api_keeps_a_good_source_uri(client, cast) -> None:  # noqa: ANN001
    created = client.post("/api/v1/spaces/benefits/documents", json={**doc_body(), "source_uri": GOOD_URI},
                          headers=cast["contributor"].headers)
    assert created.status_code == 201, created.text
    version = client.get("/api/v1/documents/child-benefit/versions/1", headers=cast["contributor"].headers).json()
    assert version["provenance"]["source_uri"] == GOOD_URI and version["provenance"]["source_kind"] == "url"


def test_the_web_write_form_refuses_a_bad_source_uri_with_422(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "carl")
    form = {"csrf": csrf, "space": "benefits", "slug": "housing-help", "title": "Housing help", "body_md": "Rent support.",
            "audience": "public", "language": "en", "intended_use": "Explains rent support", "action": "save"}
    refused = client.post("/write", data={**form, "source_uri": 'https://example.org/"><script>'})
    assert refused.status_code == 422 and "absolute http:// or https:// URI" in refused.text
    assert "Rent support." in refused.text  # the text is kept
    assert client.get("/api/v1/documents/housing-help", headers=cast["contributor"].headers).status_code == 404
    saved = client.post("/write", data={**form, "source_uri": GOOD_URI}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    card = client.get("/api/v1/documents/housing-help/versions/1", headers=cast["contributor"].headers).json()["provenance"]
    assert card["source_uri"] == GOOD_URI
    assert f'value="{GOOD_URI.replace("&", "&amp;")}"' in client.get("/write?slug=housing-help").text  # the edit form shows it


def test_a_stored_bad_uri_exports_in_every_format(client, database, cast, cli_env) -> None:  # noqa: ANN001
    headers = cast["contributor"].headers
    assert client.post("/api/v1/spaces/benefits/documents", json={**doc_body(), "source_uri": GOOD_URI},
                       headers=headers).status_code == 201
    with database.engine.begin() as connection:  # as a database from before the input check may hold it
        connection.execute(text("UPDATE document_version SET source_uri = :uri"), {"uri": STORED_BAD})
    for fmt in ("json", "provn", "xml", "ttl"):
        response = client.get("/api/v1/documents/child-benefit/provenance", params={"format": fmt}, headers=headers)
        assert response.status_code == 200, (fmt, response.text)
        parsed = provenance.deserialize_prov(response.text, fmt)
        assert provenance.check_prov(parsed) == [], fmt
        assert "%22quoted%22%3Cangle%3E%7Bbrace%7D%7Cpipe%5Cback%5Ecaret%60tick%20space" in response.text, fmt
    sign_in(client, database, "carl")
    web = client.get("/d/child-benefit/prov?format=ttl")
    assert web.status_code == 200 and "%22quoted%22" in web.text
    cli = CliRunner().invoke(cli_app, ["export-prov", "child-benefit", "--format", "ttl"], catch_exceptions=False)
    assert cli.exit_code == 0 and "%22quoted%22" in cli.output
