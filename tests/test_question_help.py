"""Questions (issue 17): similar questions and documents while the title is typed (API, the ask form's
fragment, the form still works without JavaScript), and promotion visible to owners, defaulting to the
question's space, titled from the question, submitted into the review queue, never offered twice."""

from __future__ import annotations

from tests.audit import audit_events
from tests.factories import sign_in


def _ask(client, headers, title: str, body: str = "Details?", space: str | None = "benefits") -> int:  # noqa: ANN001
    response = client.post("/api/v1/questions", json={"title": title, "body_md": body, **({"space": space} if space else {})},
                           headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_similar_questions_and_documents_while_typing(client, database, cast) -> None:  # noqa: ANN001
    _ask(client, cast["reader"].headers, "How is child benefit paid for twins?")
    _ask(client, cast["reader"].headers, "Where do I park my bicycle?")
    found = client.get("/api/v1/questions/similar", params={"q": "child benefit twins"}, headers=cast["contributor"].headers)
    assert found.status_code == 200, found.text
    data = found.json()
    assert [q["title"] for q in data["questions"]] == ["How is child benefit paid for twins?"]
    assert data["questions"][0]["link"].startswith("/questions/") and data["questions"][0]["answers"] == 0
    assert [d["link"] for d in data["documents"]] == ["/d/child-benefit"]
    bad = client.get("/api/v1/questions/similar", params={"q": "x" * 2000}, headers=cast["reader"].headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert client.get("/api/v1/questions/similar", params={"q": "twins"}).status_code == 401

    sign_in(client, database, "rita")
    form = client.get("/questions/ask").text
    assert 'id="similar"' in form and '<script src="/static/similar.js" defer></script>' in form
    assert 'method="post" action="/questions"' in form  # the form itself needs no script
    fragment = client.get("/questions/similar", params={"q": "child benefit twins"})
    assert fragment.status_code == 200 and "How is child benefit paid for twins?" in fragment.text
    assert 'href="/d/child-benefit"' in fragment.text and "<html" not in fragment.text
    assert client.get("/questions/similar", params={"q": ""}).text.strip() == ""
    assert client.get("/static/similar.js").status_code == 200


def test_promotion_is_offered_to_owners_in_the_questions_space_and_lands_in_review(client, database, cast) -> None:  # noqa: ANN001
    qid = _ask(client, cast["reader"].headers, "Can students get housing allowance?", "Shared rooms?")
    answer = client.post(f"/api/v1/questions/{qid}/answers", json={"body_md": "Not for shared rooms."},
                         headers=cast["contributor"].headers).json()["answers"][0]["id"]
    assert client.post(f"/api/v1/questions/{qid}/accept", json={"answer_id": answer}, headers=cast["reader"].headers).status_code == 200

    csrf = sign_in(client, database, "olga")
    page = client.get(f"/questions/{qid}").text
    assert "<details><summary>Promote" not in page and 'id="promote-heading"' in page  # not hidden in a collapsed section
    assert '<option value="benefits" selected>' in page and 'value="Can students get housing allowance?"' in page
    promoted = client.post(f"/questions/{qid}/promote", data={"csrf": csrf, "title": "Can students get housing allowance?",
                                                               "slug": "", "audience": "internal"}, follow_redirects=False)
    assert promoted.status_code == 303, promoted.text
    slug = "can-students-get-housing-allowance"
    assert promoted.headers["location"].startswith(f"/d/{slug}")
    version = client.get(f"/api/v1/documents/{slug}/versions/1", headers=cast["owner"].headers).json()
    assert version["state"] == "in_review" and version["title"] == "Can students get housing allowance?"
    assert version["provenance"]["space"] == "benefits" and version["provenance"]["intended_use"]
    events = [(e["action"], e["actor"], e["channel"]) for e in audit_events(database)][-2:]
    assert events == [("document.promote", "olga", "web"), ("version.submit", "olga", "web")]
    # in the other owner's review queue, as the notice says; its page is titled from the question
    queue = client.get("/api/v1/review-queue", headers=cast["owner2"].headers).json()["data"]
    assert [(i["document"], i["reason"]) for i in queue if i["document"] == slug] == [(slug, "in_review")]
    assert "<h1>Can students get housing allowance?</h1>" in client.get(f"/d/{slug}").text
    # not offered again: a link to the promoted document instead
    page = client.get(f"/questions/{qid}").text
    assert 'id="promote-heading"' not in page and f'href="/d/{slug}"' in page
    again = client.post(f"/api/v1/questions/{qid}/promote", json={}, headers=cast["owner2"].headers)
    assert again.status_code == 409
    # the answer's author sees it waiting in their work
    work = client.get("/api/v1/me/work", headers=cast["contributor"].headers).json()["documents"]["promoted"]
    assert [(i["document"], i["state"]) for i in work] == [(slug, "in_review")]


def test_promoting_a_question_in_no_space_needs_a_space(client, cast) -> None:  # noqa: ANN001
    qid = _ask(client, cast["reader"].headers, "Who orders the office plants?", space=None)
    answer = client.post(f"/api/v1/questions/{qid}/answers", json={"body_md": "Facilities."},
                         headers=cast["contributor"].headers).json()["answers"][0]["id"]
    client.post(f"/api/v1/questions/{qid}/accept", json={"answer_id": answer}, headers=cast["reader"].headers)
    refused = client.post(f"/api/v1/questions/{qid}/promote", json={}, headers=cast["owner"].headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "validation_error"
    done = client.post(f"/api/v1/questions/{qid}/promote", json={"space": "benefits"}, headers=cast["owner"].headers)
    assert done.status_code == 201 and done.json() == {"document": "who-orders-the-office-plants", "state": "in_review",
                                                       "source_kind": "promoted_answer"}
