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
from tests.factories import change_space_with_second_person, doc_body, make_cast, sign_in


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
