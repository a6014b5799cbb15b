"""My work (issue 17): drafts, versions in review, rejected ones with who, when and why, promoted answers
waiting, questions asked and answered, and what I watch, through the API, the web page and the CLI; a
rejected version is edited from there (the draft the rejection reopened) and submitted again."""

from __future__ import annotations

import json

from tests.factories import run_cli, sign_in


def _carls_work(client, cast) -> int:  # noqa: ANN001
    """carl: a draft, a version in review, one rejected by olga; a question asked, one answered; a watch.
    Returns the id of the question carl asked."""
    carl, olga = cast["contributor"].headers, cast["owner"].headers
    for slug in ("a-draft", "in-review", "sent-back"):
        body = {"slug": slug, "title": slug.replace("-", " ").title(), "body_md": f"# {slug}\n\nText of {slug}.\n",
                "audience": "internal", "intended_use": "Tests"}
        assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=carl).status_code == 201
    for slug in ("in-review", "sent-back"):
        assert client.post(f"/api/v1/documents/{slug}/versions/1/submit", json={}, headers=carl).status_code == 200
    rejected = client.post("/api/v1/documents/sent-back/versions/1/reject", json={"reason": "Name the legal basis"}, headers=olga)
    assert rejected.status_code == 200 and rejected.json()["number"] == 2
    asked = client.post("/api/v1/questions", json={"title": "Who signs leave forms?", "body_md": "In my team?"}, headers=carl)
    assert asked.status_code == 201, asked.text
    other = client.post("/api/v1/questions", json={"title": "Where is the parking?", "body_md": "Near the office?"},
                        headers=cast["reader"].headers).json()["id"]
    assert client.post(f"/api/v1/questions/{other}/answers", json={"body_md": "Behind building B."}, headers=carl).status_code == 201
    assert client.post("/api/v1/me/watches", json={"kind": "tag", "target": "housing"}, headers=carl).status_code == 201
    return asked.json()["id"]


def test_my_work_through_the_api(client, cast) -> None:  # noqa: ANN001
    asked = _carls_work(client, cast)
    work = client.get("/api/v1/me/work", headers=cast["contributor"].headers)
    assert work.status_code == 200, work.text
    documents = work.json()["documents"]
    assert [(i["document"], i["version"], i["edit_version"]) for i in documents["drafts"]] == [("a-draft", 1, 1)]
    assert [(i["document"], i["state"], i["edit_version"]) for i in documents["in_review"]] == [("in-review", "in_review", None)]
    (rejected,) = documents["rejected"]
    assert (rejected["document"], rejected["version"], rejected["edit_version"], rejected["rejected_version"]) == ("sent-back", 2, 2, 1)
    assert rejected["rejected_by"] == "olga" and rejected["rejection_reason"] == "Name the legal basis" and rejected["rejected_at"]
    assert documents["promoted"] == []
    questions = work.json()["questions"]
    assert [q["id"] for q in questions["asked"]] == [asked]
    assert [q["title"] for q in questions["answered"]] == ["Where is the parking?"]
    assert [(w["kind"], w["target"]) for w in work.json()["watching"]["data"]] == [("tag", "housing")]
    # each person sees their own: olga has nothing of this
    olga = client.get("/api/v1/me/work", headers=cast["owner"].headers).json()
    assert olga["documents"] == {"drafts": [], "in_review": [], "rejected": [], "promoted": []}
    anonymous = client.get("/api/v1/me/work")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"


def test_a_rejected_version_is_edited_from_my_work_and_submitted_again(client, database, cast) -> None:  # noqa: ANN001
    _carls_work(client, cast)
    csrf = sign_in(client, database, "carl")
    assert 'href="/me/work"' in client.get("/").text  # the header links to it
    page = client.get("/me/work")
    assert page.status_code == 200
    html = page.text
    assert "Name the legal basis" in html and "olga" in html and 'href="/write?slug=sent-back"' in html
    assert 'href="/write?slug=a-draft"' in html and 'href="/write?slug=in-review"' not in html  # in review: not editable
    assert "Who signs leave forms?" in html and "Where is the parking?" in html and "housing" in html
    form = client.get("/write?slug=sent-back")
    assert form.status_code == 200 and "Text of sent-back" in form.text
    saved = client.post("/write", data={"csrf": csrf, "existing": "1", "slug": "sent-back", "space": "benefits",
                                        "title": "Sent back", "body_md": "# sent-back\n\nText, under the Act of 2020.\n",
                                        "audience": "internal", "language": "en", "intended_use": "Tests", "action": "submit"},
                        follow_redirects=False)
    assert saved.status_code == 303, saved.text
    version = client.get("/api/v1/documents/sent-back/versions/2", headers=cast["contributor"].headers).json()
    assert version["state"] == "in_review" and "Act of 2020" in version["body_md"]
    documents = client.get("/api/v1/me/work", headers=cast["contributor"].headers).json()["documents"]
    assert documents["rejected"] == [] and sorted(i["document"] for i in documents["in_review"]) == ["in-review", "sent-back"]
    # the document page names the rejection while the reopened draft is open, and offers to edit it
    sign_in(client, database, "carl")
    assert "edit the draft" not in client.get("/d/in-review").text  # in review: nothing to edit


def test_kb_me_work_on_the_cli(client, cast, cli_env) -> None:  # noqa: ANN001
    _carls_work(client, cast)
    result = run_cli("me", "work", token=cast["contributor"].token)
    assert result.exit_code == 0, result.output
    assert "rejected: 1" in result.stdout and "Name the legal basis" in result.stdout and "sent-back v2" in result.stdout
    assert "watching: 1" in result.stdout
    as_json = run_cli("me", "work", "--json", token=cast["contributor"].token)
    assert json.loads(as_json.stdout)["documents"]["drafts"][0]["document"] == "a-draft"
    refused = run_cli("me", "work")
    assert refused.exit_code != 0


def test_a_question_a_moderator_hid_leaves_my_work_for_those_who_answered_it_not_for_its_author(client, cast) -> None:  # noqa: ANN001
    _carls_work(client, cast)
    carl, rita, mona = (cast[k].headers for k in ("contributor", "reader", "moderator"))
    parking = next(q["id"] for q in client.get("/api/v1/me/work", headers=carl).json()["questions"]["answered"])
    assert client.post("/api/v1/flags", json={"target": "question", "target_id": str(parking), "reason": "spam"},
                       headers=carl).status_code == 201
    hidden = client.post(f"/api/v1/moderation/question/{parking}", json={"action": "hide", "reason": "Off topic"}, headers=mona)
    assert hidden.status_code == 200, hidden.text
    assert client.get(f"/api/v1/questions/{parking}", headers=carl).status_code == 404  # carl may not see it any more
    assert client.get("/api/v1/me/work", headers=carl).json()["questions"]["answered"] == []  # nor in his work
    asked = client.get("/api/v1/me/work", headers=rita).json()["questions"]["asked"]
    assert [q["id"] for q in asked] == [parking]  # its author still sees it, as hers
