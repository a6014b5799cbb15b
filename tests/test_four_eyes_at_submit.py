"""Four eyes holds as it was when a version was submitted (issue 16, point 6).

An owner who switches four eyes off between submitting and approving her own version gets the same
409 ``four_eyes_violation`` on every surface (it was a 500 from the database's check constraint), and
nothing changes: the version stays in review and no audit event is written.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kb.cli import app as cli_app
from tests.audit import head_seq
from tests.factories import change_space_with_second_person, doc_body, make_cast, run_cli, sign_in


@pytest.fixture
def cast(database, client):  # noqa: ANN001, ANN201
    people = make_cast(database)
    headers = people["owner"].headers
    assert client.post("/api/v1/spaces/benefits/documents", json=doc_body(), headers=headers).status_code == 201
    assert client.post("/api/v1/documents/child-benefit/versions/1/submit", json={}, headers=headers).status_code == 200
    switched = change_space_with_second_person(client, people, {"four_eyes": False})  # otto approves (issue 16)
    assert switched.status_code == 200 and switched.json()["four_eyes"] is False
    return people


def state_of_version_1(client, cast) -> str:  # noqa: ANN001
    return client.get("/api/v1/documents/child-benefit/versions/1", headers=cast["owner"].headers).json()["state"]


def test_the_api_answers_409_naming_the_rule(client, database, cast) -> None:  # noqa: ANN001
    before = head_seq(database)
    response = client.post("/api/v1/documents/child-benefit/versions/1/approve", json={}, headers=cast["owner"].headers)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "four_eyes_violation"
    assert "submitted under four eyes" in error["message"] and "second person" in error["message"]
    assert error["details"] == {"rule": "four_eyes", "submitted_under_four_eyes": True}
    assert head_seq(database) == before and state_of_version_1(client, cast) == "in_review"
    # a second person may still approve it
    assert client.post("/api/v1/documents/child-benefit/versions/1/approve", json={},
                       headers=cast["owner2"].headers).status_code == 200


def test_the_review_form_answers_409_naming_the_rule(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "olga")
    before = head_seq(database)
    refused = client.post("/review/child-benefit/1/approve", data={"csrf": csrf})
    assert refused.status_code == 409 and "submitted under four eyes" in refused.text
    assert head_seq(database) == before and state_of_version_1(client, cast) == "in_review"


def test_kb_approve_refuses_with_one_line(client, database, cast, cli_env) -> None:  # noqa: ANN001
    before = head_seq(database)
    result = CliRunner().invoke(cli_app, ["approve", "child-benefit", "1"], env={"KB_TOKEN": cast["owner"].token},
                                catch_exceptions=False)
    assert result.exit_code != 0 and "submitted under four eyes" in result.output
    assert "Traceback" not in result.output
    assert head_seq(database) == before and state_of_version_1(client, cast) == "in_review"


def test_a_version_submitted_without_four_eyes_may_still_be_approved_by_its_author(client, cast) -> None:  # noqa: ANN001
    headers = cast["owner"].headers
    assert client.put("/api/v1/documents/child-benefit/draft", json={}, headers=headers).status_code == 409  # in review
    assert client.post("/api/v1/documents/child-benefit/versions/1/reject", json={"reason": "again"},
                       headers=cast["owner2"].headers).status_code == 200
    assert client.post("/api/v1/documents/child-benefit/versions/2/submit", json={}, headers=headers).status_code == 200
    assert client.post("/api/v1/documents/child-benefit/versions/2/approve", json={}, headers=headers).status_code == 200


@pytest.mark.parametrize("surface", ["api", "web"])
@pytest.mark.parametrize("rewrites", [True, False], ids=["rewrites the intended use", "keeps it"])
def test_whoever_rewrites_the_intended_use_at_submission_is_credited_and_no_second_person(
        client, database, cli_env, surface: str, rewrites: bool) -> None:  # noqa: ANN001
    """The insider review of 2026-12-07 (F4): otto, an owner, submitted carl's draft with an intended use
    of his own ("Authoritative advice…" for carl's "Internal discussion only") and then approved it as the
    second person. Now a different statement at submission credits him, on the card and in the committed
    version, and four eyes refuses his approval; olga approves. Submitting it as it stands credits nobody."""
    people = make_cast(database)
    draft = {**doc_body("Rent rules"), "intended_use": "Internal discussion only; not advice"}
    assert client.post("/api/v1/spaces/benefits/documents", json=draft, headers=people["contributor"].headers).status_code == 201
    stated = "Authoritative advice to citizens on rent" if rewrites else ""
    if surface == "api":
        submitted = client.post("/api/v1/documents/rent-rules/versions/1/submit",
                                json={"intended_use": stated} if rewrites else {}, headers=people["owner2"].headers)
        assert submitted.status_code == 200, submitted.text
    else:
        csrf = sign_in(client, database, "otto")
        submitted = client.post("/d/rent-rules/v/1/submit", data={"csrf": csrf, "intended_use": stated},
                                follow_redirects=False)
        client.cookies.clear()
        assert submitted.status_code == 303, submitted.text
    version = client.get("/api/v1/documents/rent-rules/versions/1", headers=people["owner"].headers).json()
    assert version["state"] == "in_review"
    assert version["provenance"]["intended_use"] == (stated or draft["intended_use"])
    before = head_seq(database)
    refused = client.post("/api/v1/documents/rent-rules/versions/1/approve", json={}, headers=people["owner2"].headers)
    if rewrites:
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "four_eyes_violation", refused.text
        assert head_seq(database) == before
        approved = client.post("/api/v1/documents/rent-rules/versions/1/approve", json={}, headers=people["owner"].headers)
        assert approved.status_code == 200, approved.text
    else:
        assert refused.status_code == 200, refused.text
    card = client.get("/api/v1/documents/rent-rules/versions/1", headers=people["reader"].headers).json()["provenance"]
    assert [person["username"] for person in card["contributors"]] == (["otto"] if rewrites else [])
    assert card["second_review"] is True
    verified = run_cli("audit", "verify")
    assert verified.exit_code == 0 and "OK" in verified.output, verified.output  # the credit is what the log commits to
