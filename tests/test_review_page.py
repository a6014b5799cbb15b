"""The review page (issue 17): the text diff as text, provenance changes as a table of field, before and
after, the timeline in time order naming who did what and why, and no Approve button for whoever may
not approve, with the reason, computed by the rules approval applies (``service.approval_refusal``)."""

from __future__ import annotations

import re

from kb.actors import SYSTEM, SpaceRole
from kb.accounts import service as accounts
from kb.db import transaction
from tests.factories import sign_in


def _new_version_in_review(client, cast) -> None:  # noqa: ANN001
    """child-benefit v2 by carl: a changed paragraph, a new source URI with a long value, in review."""
    headers = cast["contributor"].headers
    body = ("# Child benefit\n\nChild benefit is paid every month for each child under 18.\n\n## Who\n\nParents.\n")
    draft = client.put("/api/v1/documents/child-benefit/draft", headers=headers,
                         json={"body_md": body, "source_uri": "https://example.org/" + "a" * 120, "tags": ["family", "money"]})
    assert draft.status_code == 200, draft.text
    assert client.post("/api/v1/documents/child-benefit/versions/2/submit", json={}, headers=headers).status_code == 200


def test_review_shows_the_text_diff_and_a_field_table_not_the_raw_record(client, database, cast) -> None:  # noqa: ANN001
    _new_version_in_review(client, cast)
    review = client.get("/api/v1/documents/child-benefit/versions/2/review", headers=cast["owner2"].headers)
    assert review.status_code == 200, review.text
    data = review.json()
    assert data["against"] == 1
    changes = {c["field"]: (c["before"], c["after"]) for c in data["changes"]["fields"]}
    assert changes["tags"] == ("family", "family, money")
    assert changes["source_uri"] == (None, "https://example.org/" + "a" * 120)
    assert "author" not in changes  # unchanged fields are not listed
    assert "approver" not in changes  # a decision on v1, not a field of what is reviewed (the timeline names it)
    body = data["changes"]["body_diff"]
    assert "-Child benefit is paid every quarter" in body and "+Child benefit is paid every month" in body
    assert "source_sha256" not in body and "approver" not in body
    assert data["decision"] == {"may_approve": True, "may_reject": True, "reason": None, "rule": None}

    sign_in(client, database, "otto")
    page = client.get("/review/child-benefit/2")
    assert page.status_code == 200
    html = page.text
    assert '<table class="changes">' in html and "source uri" in html and "family, money" in html
    assert "approver: None" not in html and "source_sha256:" not in html
    assert "paid every month" in html and 'class="diff-add"' in html and 'class="diff-del"' in html
    assert ">Approve</button>" in html and ">Reject</button>" in html


def test_the_timeline_is_in_time_order_and_names_who_and_why(client, database, cast) -> None:  # noqa: ANN001
    _new_version_in_review(client, cast)
    rejected = client.post("/api/v1/documents/child-benefit/versions/2/reject", json={"reason": "Cite the law"},
                           headers=cast["owner2"].headers)
    assert rejected.status_code == 200 and rejected.json()["number"] == 3
    timeline = client.get("/api/v1/documents/child-benefit/versions/3/review", headers=cast["owner"].headers).json()["timeline"]
    steps = [(s["version"], s["action"], s["by"], s["reason"]) for s in timeline]
    assert steps == [
        (1, "drafted", "carl", None), (1, "submitted", "carl", None), (1, "approved", "olga", None),
        (2, "drafted", "carl", None), (2, "submitted", "carl", None), (2, "rejected", "otto", "Cite the law"),
        (3, "drafted", "carl", None),
    ]
    assert [s["at"] for s in timeline] == sorted(s["at"] for s in timeline)

    sign_in(client, database, "carl")
    page = client.get("/d/child-benefit").text
    assert "v2 rejected by" in page and "Cite the law" in page
    assert "Version 2 was rejected by otto" in page and 'href="/write?slug=child-benefit"' in page


def test_an_author_sees_why_she_cannot_approve_instead_of_a_button(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "olga")
    form = {"csrf": csrf, "space": "benefits", "slug": "own-work", "title": "Own work", "body_md": "Text.",
            "audience": "internal", "language": "en", "intended_use": "Tests", "action": "submit"}
    assert client.post("/write", data=form, follow_redirects=False).status_code == 303
    decision = client.get("/api/v1/documents/own-work/versions/1/review", headers=cast["owner"].headers).json()["decision"]
    assert decision["may_approve"] is False and decision["rule"] == "four_eyes" and decision["may_reject"] is True
    page = client.get("/review/own-work/1").text
    assert ">Approve</button>" not in page and "You cannot approve this version." in page and "four eyes" in page
    # the rule is the one approval applies: trying anyway is refused with the same reason
    refused = client.post("/api/v1/documents/own-work/versions/1/approve", json={}, headers=cast["owner"].headers)
    assert refused.status_code == 409 and refused.json()["error"]["message"] == decision["reason"]
    # a reader of the document is offered neither decision
    decision = client.get("/api/v1/documents/own-work/versions/1/review", headers=cast["owner2"].headers).json()["decision"]
    assert decision["may_approve"] is True
    reader = client.get("/api/v1/documents/child-benefit/versions/1/review", headers=cast["reader"].headers).json()["decision"]
    assert reader == {"may_approve": False, "may_reject": False, "reason": reader["reason"], "rule": "not_owner"}


def test_an_approver_who_chose_the_authors_password_is_told_why_before_trying(client, database, cast) -> None:  # noqa: ANN001
    with database.session() as session, transaction(session):
        accounts.set_membership(session, actor=SYSTEM, slug="benefits", username="adam", role=SpaceRole.owner)
    admin = cast["admin"].headers
    created = client.post("/api/v1/users", json={"username": "carl2", "display_name": "Carl Second",
                                                 "password": "adam-chose-this-1"}, headers=admin)
    assert created.status_code == 201, created.text
    assert client.put("/api/v1/spaces/benefits/members/carl2", json={"role": "contributor"}, headers=admin).status_code == 200
    token = client.post("/api/v1/auth/token", json={"username": "carl2", "password": "adam-chose-this-1"}).json()["token"]
    puppet = {"Authorization": f"Bearer {token}"}
    body = {"slug": "puppet-work", "title": "Puppet work", "body_md": "# Puppet work\n\nA bonus for all.\n",
            "audience": "internal", "intended_use": "Tests"}
    assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=puppet).status_code == 201
    assert client.post("/api/v1/documents/puppet-work/versions/1/submit", json={}, headers=puppet).status_code == 200
    decision = client.get("/api/v1/documents/puppet-work/versions/1/review", headers=admin).json()["decision"]
    assert decision["may_approve"] is False and decision["rule"] == "password_set_by" and "password" in decision["reason"]
    sign_in(client, database, "adam")
    page = client.get("/review/puppet-work/1").text
    assert ">Approve</button>" not in page and re.search(r"chose carl2(&#39;|')s password", page)


def test_the_review_of_a_missing_version_is_a_json_404(client, cast) -> None:  # noqa: ANN001
    missing = client.get("/api/v1/documents/child-benefit/versions/9/review", headers=cast["owner"].headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/documents/child-benefit/versions/1/review").status_code == 401
