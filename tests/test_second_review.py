"""A version approved without a second review says so on every card and in the PROV export (issue 16).

The attack of issue 16, point 1: olga, an owner of ``benefits``, switches four eyes off, writes,
submits and approves her own public page, and switches four eyes back on. The page stays live, but
every card shows it — the employee's API card and search hit, the citizen's public document and
search hit, the web and public pages, the CLI, and the W3C PROV export in all four formats
(``kb:secondReview`` false on the approval). A normally approved version says it had a second review.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kb import provenance
from kb.cli import app as cli_app
from tests.factories import approved_document, change_space_with_second_person, doc_body, make_cast, sign_in

FORMATS = ["json", "provn", "xml", "ttl"]
BADGE = "approved without a second review"


@pytest.fixture
def cast(database, client):  # noqa: ANN001, ANN201
    people = make_cast(database)
    assert approved_document(client, people) == "child-benefit"  # carl writes, olga approves: a second review
    olga = people["owner"].headers
    # issue 16: olga alone cannot switch four eyes off any more; otto, a second owner, approves it
    assert change_space_with_second_person(client, people, {"four_eyes": False}).json()["four_eyes"] is False
    body = {**doc_body("Olga self"), "body_md": "# Olga self\n\nEveryone gets a bonus of 1000 euro.\n"}
    assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=olga).status_code == 201
    assert client.post("/api/v1/documents/olga-self/versions/1/submit", json={}, headers=olga).status_code == 200
    approved = client.post("/api/v1/documents/olga-self/versions/1/approve", json={}, headers=olga)
    assert approved.status_code == 200, approved.text
    assert approved.json()["provenance"]["second_review"] is False
    assert client.patch("/api/v1/spaces/benefits", json={"four_eyes": True}, headers=olga).status_code == 200
    return people


def test_the_employee_card_says_so(client, cast) -> None:  # noqa: ANN001
    headers = cast["reader"].headers
    card = client.get("/api/v1/documents/olga-self", headers=headers).json()["current"]["provenance"]
    assert card["second_review"] is False and card["approved_by"] == {"username": "olga", "display_name": "Olga"}
    assert client.get("/api/v1/documents/olga-self/versions/1", headers=headers).json()["provenance"]["second_review"] is False
    normal = client.get("/api/v1/documents/child-benefit", headers=headers).json()["current"]["provenance"]
    assert normal["second_review"] is True
    # not yet approved: nothing to say
    assert client.put("/api/v1/documents/child-benefit/draft", json={"body_md": "# Child benefit\n\nNew."},
                      headers=cast["contributor"].headers).status_code in (200, 201)
    draft = client.get("/api/v1/documents/child-benefit/versions/2", headers=cast["contributor"].headers).json()
    assert draft["provenance"]["second_review"] is None


def test_the_employee_search_hit_says_so(client, cast) -> None:  # noqa: ANN001
    hits = client.get("/api/v1/search", params={"q": "bonus euro child benefit", "mode": "keyword"},
                      headers=cast["reader"].headers).json()["data"]
    reviewed = {hit["document"]: hit["provenance"]["second_review"] for hit in hits}
    assert reviewed == {"olga-self": False, "child-benefit": True}


def test_the_public_document_and_search_hit_say_so_and_name_no_person(client, cast) -> None:  # noqa: ANN001
    public = client.get("/public/v1/documents/olga-self").json()
    assert public["provenance"]["second_review"] is False
    assert public["labels"]["card.second_review"] == "Approved without a second review"
    assert client.get("/public/v1/documents/child-benefit").json()["provenance"]["second_review"] is True
    hits = client.get("/public/v1/search", params={"q": "bonus euro child benefit"}).json()["data"]
    assert {hit["document"]: hit["provenance"]["second_review"] for hit in hits} == {"olga-self": False, "child-benefit": True}
    assert "olga" not in client.get("/public/v1/documents/olga-self").text.lower().replace("olga-self", "").replace("olga self", "")


def test_the_web_pages_show_a_badge(client, database, cast) -> None:  # noqa: ANN001
    sign_in(client, database, "rita")
    assert BADGE in client.get("/d/olga-self").text
    assert BADGE in client.get("/d/olga-self/v/1").text
    assert BADGE not in client.get("/d/child-benefit").text
    assert BADGE in client.get("/search", params={"q": "bonus euro", "mode": "keyword"}).text


def test_the_public_pages_show_a_badge(client, cast) -> None:  # noqa: ANN001
    assert "Approved without a second review" in client.get("/public/d/olga-self").text
    assert "Approved without a second review" not in client.get("/public/d/child-benefit").text
    assert "Approved without a second review" in client.get("/public", params={"q": "bonus euro"}).text
    assert "Goedgekeurd zonder tweede controle" in client.get("/public/d/olga-self", params={"lang": "nl"}).text


def _second_review_on_approvals(text: str, fmt: str) -> dict[str, bool]:
    from prov.model import ProvActivity

    document = provenance.deserialize_prov(text, fmt)
    return {str(record.identifier): next(iter(record.get_attribute("kb:secondReview")))
            for record in document.get_records(ProvActivity) if "approval" in str(record.identifier)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_prov_export_says_so_in_every_format(client, database, cast, fmt: str) -> None:  # noqa: ANN001
    headers = cast["reader"].headers
    response = client.get("/api/v1/documents/olga-self/provenance", params={"format": fmt}, headers=headers)
    assert response.status_code == 200, response.text  # a declared self-approval passes our PROV checks
    assert _second_review_on_approvals(response.text, fmt) == {"kb:approval/olga-self/1": False}
    normal = client.get("/api/v1/documents/child-benefit/provenance", params={"format": fmt}, headers=headers)
    assert _second_review_on_approvals(normal.text, fmt) == {"kb:approval/child-benefit/1": True}
    sign_in(client, database, "rita")
    page = client.get("/d/olga-self/prov", params={"format": fmt})
    assert page.status_code == 200 and _second_review_on_approvals(page.text, fmt) == {"kb:approval/olga-self/1": False}


def test_the_cli_says_so(client, cast, cli_env) -> None:  # noqa: ANN001
    runner = CliRunner()
    exported = runner.invoke(cli_app, ["export-prov", "olga-self", "--format", "provn"], catch_exceptions=False)
    assert exported.exit_code == 0 and 'kb:secondReview="false" %% xsd:boolean' in exported.output
    found = runner.invoke(cli_app, ["search", "bonus euro", "--mode", "keyword"], env={"KB_TOKEN": cast["reader"].token},
                          catch_exceptions=False)
    assert found.exit_code == 0 and "APPROVED WITHOUT A SECOND REVIEW" in found.output
    assert "approved by Olga (@olga)" in found.output
    public = runner.invoke(cli_app, ["search", "bonus euro", "--public"], catch_exceptions=False)
    assert public.exit_code == 0 and "Approved without a second review" in public.output


def test_another_owner_approving_is_a_second_review_even_with_four_eyes_off(client, cast) -> None:  # noqa: ANN001
    """The card states what happened: a second person looked at it, although the space did not require one."""
    olga, otto = cast["owner"].headers, cast["owner2"].headers
    assert change_space_with_second_person(client, cast, {"four_eyes": False}).json()["four_eyes"] is False
    body = {**doc_body("Other"), "body_md": "# Other\n\nText.\n"}
    assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=olga).status_code == 201
    assert client.post("/api/v1/documents/other/versions/1/submit", json={}, headers=olga).status_code == 200
    approved = client.post("/api/v1/documents/other/versions/1/approve", json={}, headers=otto)
    assert approved.status_code == 200 and approved.json()["provenance"]["second_review"] is True


def test_prov_check_accepts_a_self_approval_only_when_it_is_declared() -> None:
    import datetime as dt

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    carl = provenance.PersonRecord("carl", "Carl")

    def record(second_review: bool | None) -> provenance.DocumentRecord:
        version = provenance.VersionRecord(
            number=1, state="approved", title="T", body_sha256="0" * 64, author=carl, contributors=(), approver=carl,
            created_at=t0, completed_at=t0 + dt.timedelta(hours=1), approved_at=t0 + dt.timedelta(hours=2),
            source_kind="authored", source_uri=None, source_sha256=None, source_filename=None, intended_use="Tests",
            audience="public", licence="CC0", language="en", valid_from=None, review_by=None, second_review=second_review)
        return provenance.DocumentRecord(slug="d", space="s", space_name="S", versions=(version,))

    assert provenance.check_prov(provenance.build_prov(record(False))) == []
    for undeclared in (True, None):
        problems = provenance.check_prov(provenance.build_prov(record(undeclared)))
        assert len(problems) == 1 and "approved by its own author" in problems[0]
