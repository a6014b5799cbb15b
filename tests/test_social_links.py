"""The link cap of a new account's first day counts each link once (issue "one door per action").

A Markdown link ``[a](https://…)`` was counted twice (once for ``](`` and once for its URL), so a
post with two Markdown links was refused although the cap is two links.
"""

from __future__ import annotations

import pytest

from kb.social.service import NEW_ACCOUNT_MAX_LINKS
from tests.audit import audit_events
from tests.factories import approved_document, make_cast, make_person

TWO = "See [the form](https://forms.example/child) and [the rates](https://rates.example/2026)."
THREE = TWO + " Or [ask us](https://help.example)."


@pytest.fixture
def cast(database, client):  # noqa: ANN001, ANN201
    people = make_cast(database)
    approved_document(client, people)
    people["newcomer"] = make_person(database, "newcomer")  # created just now: a new account
    return people


def test_the_cap_is_two() -> None:
    assert NEW_ACCOUNT_MAX_LINKS == 2


def test_a_new_account_may_post_two_markdown_links_but_not_three(client, cast, database) -> None:  # noqa: ANN001
    headers = cast["newcomer"].headers
    two = client.post("/api/v1/documents/child-benefit/comments", json={"body_md": TWO}, headers=headers)
    assert two.status_code == 201, two.text
    assert two.json()["body_html"].count("<a ") == 2
    before = len(audit_events(database))
    three = client.post("/api/v1/documents/child-benefit/comments", json={"body_md": THREE}, headers=headers)
    assert three.status_code == 422 and "at most 2 links" in three.json()["error"]["message"]
    assert len(audit_events(database)) == before  # refused: nothing recorded
    comments = client.get("/api/v1/documents/child-benefit/comments", headers=headers).json()
    assert [c["body_html"].count("<a ") for c in comments["data"]] == [2]


def test_questions_and_answers_count_links_alike(client, cast) -> None:  # noqa: ANN001
    headers = cast["newcomer"].headers
    asked = client.post("/api/v1/questions", json={"title": "Which form do I need?", "body_md": TWO}, headers=headers)
    assert asked.status_code == 201, asked.text
    qid = asked.json()["id"]
    assert client.post("/api/v1/questions", json={"title": "Which rates apply?", "body_md": THREE},
                       headers=headers).status_code == 422
    assert client.post(f"/api/v1/questions/{qid}/answers", json={"body_md": "Found it: " + TWO},
                       headers=headers).status_code == 201
    assert client.post(f"/api/v1/questions/{qid}/answers", json={"body_md": "Also: " + THREE},
                       headers=headers).status_code == 422


def test_an_older_account_has_no_cap(client, cast, database) -> None:  # noqa: ANN001
    import datetime as dt

    from kb.accounts.models import User
    from kb.db import transaction, utcnow

    with database.session() as session, transaction(session):
        user = session.get(User, cast["newcomer"].actor.id)
        user.created_at = utcnow() - dt.timedelta(days=2)
        session.add(user)
    posted = client.post("/api/v1/documents/child-benefit/comments", json={"body_md": THREE}, headers=cast["newcomer"].headers)
    assert posted.status_code == 201, posted.text
