"""The social layer: comments, ratings, Q&A, votes, flags and moderation, promotion, reputation, XSS."""

from __future__ import annotations

import json
import re

import pytest

from tests.audit import audit_events, head_seq
from tests.factories import change_space_with_second_person, community_cast, make_cast, sign_in


@pytest.fixture
def cast(database, client):  # noqa: ANN001, ANN201
    return community_cast(database, client)


def post(client, cast, who: str, path: str, body: dict):  # noqa: ANN001, ANN201
    return client.post(path, json=body, headers=cast[who].headers)


def test_comment_thread_anchored_to_version(client, cast) -> None:  # noqa: ANN001
    first = post(client, cast, "reader", "/api/v1/documents/child-benefit/comments", {"body_md": "Is the **amount** per child?"})
    assert first.status_code == 201 and first.json()["on_version"] == 1 and first.json()["kind"] == "community"
    assert "<strong>amount</strong>" in first.json()["body_html"]
    reply = post(client, cast, "contributor", "/api/v1/documents/child-benefit/comments",
                 {"body_md": "Yes, per child.", "parent_id": first.json()["id"]})
    assert reply.json()["parent_id"] == first.json()["id"]
    client.put("/api/v1/documents/child-benefit/draft", json={"title": "Child benefit 2027"}, headers=cast["contributor"].headers)
    client.post("/api/v1/documents/child-benefit/versions/2/submit", json={}, headers=cast["contributor"].headers)
    client.post("/api/v1/documents/child-benefit/versions/2/approve", json={}, headers=cast["owner"].headers)
    listed = client.get("/api/v1/documents/child-benefit/comments", headers=cast["reader"].headers).json()
    assert [(c["on_version"], c["current_version"]) for c in listed["data"]] == [(1, 2), (1, 2)]


def test_comment_edit_keeps_history_and_delete_leaves_tombstone(client, cast, database) -> None:  # noqa: ANN001
    created = post(client, cast, "reader", "/api/v1/documents/child-benefit/comments", {"body_md": "Frist"}).json()
    edited = client.patch(f"/api/v1/comments/{created['id']}", json={"body_md": "First"}, headers=cast["reader"].headers)
    assert edited.json()["edits"] == 1 and edited.json()["edited_at"]
    assert client.patch(f"/api/v1/comments/{created['id']}", json={"body_md": "Mine"}, headers=cast["contributor"].headers).status_code == 403
    assert client.delete(f"/api/v1/comments/{created['id']}", headers=cast["reader"].headers).status_code == 204
    tomb = client.get("/api/v1/documents/child-benefit/comments", headers=cast["owner"].headers).json()["data"][0]
    assert tomb["state"] == "deleted" and tomb["body_html"] is None and tomb["author"] is None
    actions = [e["action"] for e in audit_events(database) if e["object_type"] == "comment"]
    assert actions == ["comment.create", "comment.edit", "comment.delete"]


def test_rating_replaces_and_averages(client, cast) -> None:  # noqa: ANN001
    client.put("/api/v1/documents/child-benefit/rating", json={"stars": 2}, headers=cast["reader"].headers)
    again = client.put("/api/v1/documents/child-benefit/rating", json={"stars": 4}, headers=cast["reader"].headers).json()
    assert again == {"kind": "community", "document": "child-benefit", "average": 4.0, "count": 1, "mine": 4}
    both = client.put("/api/v1/documents/child-benefit/rating", json={"stars": 5}, headers=cast["owner"].headers).json()
    assert both["average"] == 4.5 and both["count"] == 2
    assert client.put("/api/v1/documents/child-benefit/rating", json={"stars": 6}, headers=cast["owner"].headers).status_code == 422


def test_stars_and_votes_are_numbers_given_as_numbers(client, cast) -> None:  # noqa: ANN001
    """``true`` was one star and ``"5"`` five; now each is a 422 that says what it got, and nothing is recorded."""
    for stars in (True, "5", 4.0):
        refused = client.put("/api/v1/documents/child-benefit/rating", json={"stars": stars}, headers=cast["reader"].headers)
        assert refused.status_code == 422
        assert "whole number" in json.dumps(refused.json())
    assert client.get("/api/v1/documents/child-benefit/rating", headers=cast["reader"].headers).json()["count"] == 0
    question = post(client, cast, "reader", "/api/v1/questions", {"title": "Do votes take booleans?", "body_md": "Asking."}).json()
    for value in (True, "1", 1.0):
        refused = client.put(f"/api/v1/questions/{question['id']}/vote", json={"value": value}, headers=cast["contributor"].headers)
        assert refused.status_code == 422
    assert client.get(f"/api/v1/questions/{question['id']}", headers=cast["reader"].headers).json()["score"] == 0


def test_questions_answers_votes_accept(client, cast, database) -> None:  # noqa: ANN001
    question = post(client, cast, "reader", "/api/v1/questions", {"title": "How do I claim for twins?", "body_md": "Two forms?",
                                                                  "tags": ["family"], "documents": ["child-benefit"], "space": "benefits"}).json()
    qid = question["id"]
    assert question["documents"] == ["child-benefit"] and question["kind"] == "community"
    unanswered = client.get("/api/v1/questions", params={"unanswered": True}, headers=cast["reader"].headers).json()
    assert [q["id"] for q in unanswered["data"]] == [qid]
    answered = post(client, cast, "contributor", f"/api/v1/questions/{qid}/answers", {"body_md": "One form, both children."}).json()
    aid = answered["answers"][0]["id"]
    assert client.get("/api/v1/questions", params={"unanswered": True}, headers=cast["reader"].headers).json()["count"] == 0
    own = client.put(f"/api/v1/answers/{aid}/vote", json={"value": 1}, headers=cast["contributor"].headers)
    assert own.status_code == 403
    before = head_seq(database)
    client.put(f"/api/v1/answers/{aid}/vote", json={"value": 1}, headers=cast["reader"].headers)
    second = client.put(f"/api/v1/answers/{aid}/vote", json={"value": -1}, headers=cast["reader"].headers).json()
    assert second["score"] == -1  # the second vote replaced the first
    assert [e["action"] for e in audit_events(database, before)] == ["vote.set", "vote.set"]
    assert post(client, cast, "reader2", f"/api/v1/questions/{qid}/accept", {"answer_id": aid}).status_code == 403
    accepted = post(client, cast, "reader", f"/api/v1/questions/{qid}/accept", {"answer_id": aid}).json()
    assert accepted["accepted_answer_id"] == aid and accepted["answers"][0]["accepted"] is True
    before = head_seq(database)
    again = post(client, cast, "reader", f"/api/v1/questions/{qid}/accept", {"answer_id": aid})
    assert again.status_code == 200 and again.json()["accepted_answer_id"] == aid
    assert audit_events(database, before) == []  # accepted already: no second event, no second notice to the author


def test_a_post_of_invisible_characters_is_refused(client, cast) -> None:  # noqa: ANN001
    """A comment of zero-width spaces was accepted and shown as an empty post (the review of 2026-12-07)."""
    refused = client.post("/api/v1/documents/child-benefit/comments", json={"body_md": "\u200b\u200b"},
                          headers=cast["reader"].headers)
    assert refused.status_code == 422 and "invisible" in refused.text, refused.text


def test_the_same_question_twice_is_refused_as_a_duplicate(client, cast) -> None:  # noqa: ANN001
    """Duplicate detection compared a question's title and body with stored bodies alone and never fired
    (the review of 2026-12-07): a double submit posted the question twice."""
    body = {"title": "Can I claim twice?", "body_md": "For the same child?", "tags": ["family"]}
    assert post(client, cast, "reader", "/api/v1/questions", body).status_code == 201
    again = post(client, cast, "reader", "/api/v1/questions", body)
    assert again.status_code == 409 and "same text" in again.json()["error"]["message"], again.text
    other = post(client, cast, "reader", "/api/v1/questions", {**body, "title": "Can I claim for two children?"})
    assert other.status_code == 201, other.text


def test_close_as_duplicate(client, cast) -> None:  # noqa: ANN001
    first = post(client, cast, "reader", "/api/v1/questions", {"title": "Child benefit dates?", "body_md": "When paid?"}).json()
    second = post(client, cast, "reader0", "/api/v1/questions", {"title": "When is child benefit paid?", "body_md": "Dates?"}).json()
    closed = post(client, cast, "moderator", f"/api/v1/questions/{second['id']}/close", {"duplicate_of": first["id"]})
    assert closed.json()["duplicate_of"] == first["id"]
    assert post(client, cast, "owner", f"/api/v1/questions/{second['id']}/answers", {"body_md": "Quarterly."}).status_code == 409


def test_three_flags_hide_a_comment_and_a_moderator_restores(client, cast, database) -> None:  # noqa: ANN001
    comment = post(client, cast, "reader", "/api/v1/documents/child-benefit/comments", {"body_md": "Buy cheap watches"}).json()
    before = head_seq(database)
    for who in ("reader0", "reader1", "reader2"):
        assert post(client, cast, who, "/api/v1/flags", {"target": "comment", "target_id": str(comment["id"]), "reason": "spam"}).status_code == 201
    assert post(client, cast, "reader0", "/api/v1/flags", {"target": "comment", "target_id": str(comment["id"]), "reason": "spam"}).status_code == 409
    hidden = client.get("/api/v1/documents/child-benefit/comments", headers=cast["owner"].headers).json()["data"][0]
    assert hidden["state"] == "hidden" and hidden["body_html"] is None
    queue = client.get("/api/v1/moderation/queue", headers=cast["moderator"].headers).json()
    assert queue["count"] == 1 and len(queue["data"][0]["flags"]) == 3  # one entry per post (issue 17)
    assert queue["data"][0]["state"] == "hidden_by_flags"
    assert client.get("/api/v1/moderation/queue", headers=cast["reader"].headers).status_code == 403
    restored = post(client, cast, "moderator", f"/api/v1/moderation/comment/{comment['id']}", {"action": "restore", "reason": "Not spam"})
    assert restored.status_code == 200
    visible = client.get("/api/v1/documents/child-benefit/comments", headers=cast["owner"].headers).json()["data"][0]
    assert visible["state"] == "visible"
    events = audit_events(database, before)
    assert [(e["action"], e["payload"].get("auto_hidden")) for e in events] == [
        ("flag.create", False), ("flag.create", False), ("flag.create", True), ("moderation.restore", None)]
    assert events[-1]["actor"] == "mona" and events[-1]["payload"]["reason"] == "Not spam"


def test_wrong_document_goes_to_review_queue_never_hidden(client, cast) -> None:  # noqa: ANN001
    for who in ("reader0", "reader1", "reader2", "reader"):
        post(client, cast, who, "/api/v1/flags", {"target": "document", "target_id": "child-benefit", "reason": "outdated",
                                                  "note": "Amounts changed in 2027"})
    queue = client.get("/api/v1/review-queue", headers=cast["owner"].headers).json()["data"]
    assert [i["reason"] for i in queue].count("reported_outdated") == 4 and queue[0]["note"]
    assert client.get("/api/v1/documents/child-benefit", headers=cast["reader"].headers).json()["current"]["number"] == 1
    refused = post(client, cast, "moderator", "/api/v1/moderation/document/child-benefit", {"action": "hide", "reason": "x"})
    assert refused.status_code == 409


def test_a_report_leaves_the_queue_once_a_new_version_is_approved_or_the_document_retired(client, cast, database) -> None:  # noqa: ANN001
    """A report stayed in every owner's queue for good, even after the document was corrected or retired
    (the review of 2026-12-07): approving a version since, or retiring it, closes it, on record."""
    def reports() -> list[str]:
        queue = client.get("/api/v1/review-queue", headers=cast["owner"].headers).json()["data"]
        return [i["document"] for i in queue if i["reason"].startswith("reported_")]

    post(client, cast, "reader", "/api/v1/flags", {"target": "document", "target_id": "child-benefit", "reason": "wrong",
                                                   "note": "The amount is wrong"})
    assert reports() == ["child-benefit"]
    client.put("/api/v1/documents/child-benefit/draft", json={"body_md": "# Child benefit\n\nThe right amount."},
               headers=cast["contributor"].headers)
    client.post("/api/v1/documents/child-benefit/versions/2/submit", json={}, headers=cast["contributor"].headers)
    assert reports() == ["child-benefit"]  # a version in review is no answer yet
    before = head_seq(database)
    assert client.post("/api/v1/documents/child-benefit/versions/2/approve", json={}, headers=cast["owner"].headers).status_code == 200
    assert reports() == []
    approval = [e for e in audit_events(database, before) if e["action"] == "version.approve"][0]
    assert len(approval["payload"]["resolved_reports"]) == 1
    again = post(client, cast, "reader2", "/api/v1/flags", {"target": "document", "target_id": "child-benefit",
                                                            "reason": "outdated", "note": "Ended in 2027"})
    assert again.status_code == 201, again.text
    assert reports() == ["child-benefit"]
    assert client.post("/api/v1/documents/child-benefit/retire", json={"reason": "Ended"},
                       headers=cast["owner"].headers).status_code == 200
    assert reports() == []


@pytest.mark.parametrize("edit", ["author", "text", "question"])
def test_an_answer_changed_outside_kb_is_not_promoted(client, cast, database, edit: str) -> None:  # noqa: ANN001
    """The insider review of 2026-12-07 (F6): an operator swapped an accepted answer's author in the
    database, and a good-faith promotion credited otto, who never wrote it, on a curated card. Promotion
    now takes the answer only as its ``answer.create`` recorded it (author, text): 409, nothing recorded."""
    from sqlalchemy import text

    qid = post(client, cast, "reader", "/api/v1/questions", {"title": "Is rent support taxed?", "body_md": "Taxed?",
                                                             "space": "benefits"}).json()["id"]
    aid = post(client, cast, "reader0", f"/api/v1/questions/{qid}/answers", {"body_md": "No, it is not taxed."}).json()["answers"][0]["id"]
    post(client, cast, "reader", f"/api/v1/questions/{qid}/accept", {"answer_id": aid})
    other = post(client, cast, "reader", "/api/v1/questions", {"title": "Is child benefit paid for a newborn?",
                                                               "body_md": "Newborn?", "space": "benefits"}).json()["id"]
    changes = {"author": ["UPDATE answer SET author_id = (SELECT id FROM user_account WHERE username = 'otto') WHERE id = :a"],
               "text": ["UPDATE answer SET body_md = 'Yes, at 52%.' WHERE id = :a"],
               # carl's answer moved under another question and marked accepted there
               "question": ["UPDATE answer SET question_id = :q WHERE id = :a",
                            "UPDATE question SET accepted_answer_id = :a WHERE id = :q"]}[edit]
    with database.engine.begin() as connection:
        for change in changes:
            connection.execute(text(change), {"a": aid, "q": other})
    qid = other if edit == "question" else qid
    before = len(audit_events(database))
    refused = post(client, cast, "owner", f"/api/v1/questions/{qid}/promote", {"space": "benefits", "slug": "rent-tax"})
    assert refused.status_code == 409 and refused.json()["error"]["details"] == {"rule": "unrecorded_answer", "answer": aid}
    assert len(audit_events(database)) == before
    csrf = sign_in(client, database, "olga")  # the web form, the same rule
    before = len(audit_events(database))
    page = client.post(f"/questions/{qid}/promote", data={"csrf": csrf, "space": "benefits", "slug": "rent-tax"},
                       follow_redirects=False)
    client.cookies.clear()
    assert page.status_code == 409 and "not what the audit log recorded" in page.text, page.text
    assert len(audit_events(database)) == before
    assert client.get("/api/v1/documents/rent-tax", headers=cast["owner"].headers).status_code == 404


def test_promotion_submits_a_version_with_promoted_answer_provenance(client, cast, database) -> None:  # noqa: ANN001
    qid = post(client, cast, "reader", "/api/v1/questions", {"title": "Can students get housing allowance?",
                                                             "body_md": "Shared rooms?", "space": "benefits"}).json()["id"]
    aid = post(client, cast, "reader0", f"/api/v1/questions/{qid}/answers", {"body_md": "Not for shared rooms."}).json()["answers"][0]["id"]
    assert post(client, cast, "owner", f"/api/v1/questions/{qid}/promote", {"space": "benefits", "slug": "students"}).status_code == 409
    post(client, cast, "reader", f"/api/v1/questions/{qid}/accept", {"answer_id": aid})
    assert post(client, cast, "contributor", f"/api/v1/questions/{qid}/promote", {"space": "benefits", "slug": "students"}).status_code == 403
    promoted = post(client, cast, "owner", f"/api/v1/questions/{qid}/promote", {"space": "benefits", "slug": "students-housing"})
    assert promoted.status_code == 201 and promoted.json()["state"] == "in_review"
    draft = client.get("/api/v1/documents/students-housing/versions/1", headers=cast["owner"].headers).json()
    assert draft["state"] == "in_review" and draft["title"] == "Can students get housing allowance?"
    card = draft["provenance"]
    assert card["source_kind"] == "promoted_answer" and card["source_uri"] == f"kb:question/{qid}#answer-{aid}"
    assert [c["username"] for c in card["contributors"]] == ["reader0"] and card["author"]["username"] == "olga"
    as_reader = client.get(f"/api/v1/questions/{qid}", headers=cast["reader"].headers).json()
    assert as_reader["promoted_to"] is None and as_reader["promoted"] is True  # in review: not the reader's to see yet
    assert client.get(f"/api/v1/questions/{qid}", headers=cast["owner2"].headers).json()["promoted_to"] == "students-housing"
    assert "students-housing" in [i["document"] for i in client.get("/api/v1/review-queue", headers=cast["owner2"].headers).json()["data"]]
    assert client.post("/api/v1/documents/students-housing/versions/1/approve", json={}, headers=cast["owner"].headers).status_code == 409
    client.post("/api/v1/documents/students-housing/versions/1/approve", json={}, headers=cast["owner2"].headers)
    assert client.get(f"/api/v1/questions/{qid}", headers=cast["reader"].headers).json()["promoted_to"] == "students-housing"
    promote_events = [e for e in audit_events(database) if e["action"] == "document.promote"]
    assert len(promote_events) == 1 and promote_events[0]["payload"]["question"] == qid


def test_reputation_on_profile(client, cast) -> None:  # noqa: ANN001
    qid = post(client, cast, "reader", "/api/v1/questions", {"title": "Who approves leave?", "body_md": "?"}).json()["id"]
    aid = post(client, cast, "reader0", f"/api/v1/questions/{qid}/answers", {"body_md": "Your manager."}).json()["answers"][0]["id"]
    client.put(f"/api/v1/answers/{aid}/vote", json={"value": 1}, headers=cast["reader"].headers)
    post(client, cast, "reader", f"/api/v1/questions/{qid}/accept", {"answer_id": aid})
    profile = client.get("/api/v1/people/reader0", headers=cast["reader"].headers).json()
    assert profile["reputation"] == 15 + 10 and profile["accepted_answers"] == 1
    assert client.get("/api/v1/people/carl", headers=cast["reader"].headers).json()["approved_documents"] == 1


def test_abuse_guards(client, cast, database, settings) -> None:  # noqa: ANN001
    post(client, cast, "reader", "/api/v1/documents/child-benefit/comments", {"body_md": "Same words"})
    assert post(client, cast, "reader", "/api/v1/documents/child-benefit/comments", {"body_md": "same   WORDS"}).status_code == 409
    links = "see https://a.example https://b.example https://c.example"
    assert post(client, cast, "reader0", "/api/v1/documents/child-benefit/comments", {"body_md": links}).status_code == 422
    too_long = post(client, cast, "reader", "/api/v1/questions", {"title": "Long?", "body_md": "x" * 10_001})
    assert too_long.status_code == 422


def test_posting_quota(settings, database) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from kb.app import create_app

    people = make_cast(database)
    limited = settings.model_copy(update={"rate_limit_posting": "2/hour"})
    with TestClient(create_app(limited, database=database)) as client:
        codes = [client.post("/api/v1/questions", json={"title": f"Question number {i}", "body_md": f"Body {i}"},
                             headers=people["reader"].headers).status_code for i in range(3)]
    assert codes == [201, 201, 429]


XSS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<body onload=alert(1)>",
    "[click](javascript:alert(1))", "[click](JaVaScRiPt:alert(1))", "[click](java\tscript:alert(1))",
    "[c](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "<a href=\"javascript:alert(1)\">x</a>",
    "<iframe src=\"javascript:alert(1)\"></iframe>", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>", "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">", "<details open ontoggle=alert(1)>", "<input autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)></video>", "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">", "<form action=\"javascript:alert(1)\"><button>x</button></form>",
    "![x](javascript:alert(1))", "<a href=\"&#106;avascript:alert(1)\">x</a>", "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<scr<script>ipt>alert(1)</script>", "[x](vbscript:msgbox(1))", "<a href=\" javascript:alert(1)\">x</a>",
]
SAFE_TAGS = {"p", "br", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h3", "h4", "hr"}


def executable_constructs(html: str) -> list[str]:
    """Real elements and attributes (not escaped text) that could run or load anything."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Inspector(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            if tag not in SAFE_TAGS:
                found.append(f"<{tag}>")
            for name, value in attrs:
                if name not in ("href", "title", "rel"):
                    found.append(f"{tag}[{name}]")
                elif name == "href" and not re.match(r"^(https?:|mailto:)", (value or "").strip(), re.I):
                    found.append(f"href={value}")

    Inspector().feed(html)
    return found


@pytest.mark.parametrize("payload", XSS)
def test_stored_xss_is_inert(client, cast, payload: str) -> None:  # noqa: ANN001
    comment = post(client, cast, "reader", "/api/v1/documents/child-benefit/comments", {"body_md": payload})
    question = post(client, cast, "reader0", "/api/v1/questions", {"title": f"Title {payload}"[:200], "body_md": payload})
    answer = post(client, cast, "reader1", f"/api/v1/questions/{question.json()['id']}/answers", {"body_md": payload})
    for response in (comment, question, answer):
        assert response.status_code == 201, response.text
    rendered = [comment.json()["body_html"], question.json()["body_html"], answer.json()["answers"][0]["body_html"]]
    for html in rendered:
        assert executable_constructs(html) == [], html
    assert question.json()["title"].startswith("Title ")  # titles are plain text: JSON carries them as data


def test_curated_responses_carry_social_signals_only_in_their_block(client, cast) -> None:  # noqa: ANN001
    client.put("/api/v1/documents/child-benefit/rating", json={"stars": 5}, headers=cast["reader"].headers)
    post(client, cast, "reader", "/api/v1/documents/child-benefit/comments", {"body_md": "Great page"})
    document = client.get("/api/v1/documents/child-benefit", headers=cast["reader"].headers).json()
    assert "rating" not in str(document["current"]) and "Great page" not in str(document)
    hit = client.get("/api/v1/search", params={"q": "child benefit"}, headers=cast["reader"].headers).json()["data"][0]
    assert hit["community"] == {"rating_average": 5.0, "rating_count": 1}
    assert "rating" not in str(hit["provenance"])


def test_questions_are_searchable_in_their_own_labelled_section(client, cast) -> None:  # noqa: ANN001
    qid = post(client, cast, "reader", "/api/v1/questions", {"title": "Can twins get child benefit twice?",
                                                             "body_md": "Twins born in May."}).json()["id"]
    aid = post(client, cast, "reader0", f"/api/v1/questions/{qid}/answers", {"body_md": "Yes, one payment per child."}).json()["answers"][0]["id"]
    post(client, cast, "reader", f"/api/v1/questions/{qid}/accept", {"answer_id": aid})
    results = client.get("/api/v1/search", params={"q": "twins child benefit"}, headers=cast["reader"].headers).json()
    assert [hit["document"] for hit in results["data"]] == ["child-benefit"]  # curated ranking untouched
    assert results["community"][0]["kind"] == "community" and results["community"][0]["id"] == qid
    assert results["community"][0]["accepted_answer"].startswith("Yes, one payment")
    public = client.get("/public/v1/search", params={"q": "twins child benefit"}).json()
    assert "community" not in public and "twins" not in str(public["data"]).lower()


def test_community_is_invisible_on_public_unless_the_space_opts_in(client, cast) -> None:  # noqa: ANN001
    client.put("/api/v1/documents/child-benefit/rating", json={"stars": 4}, headers=cast["reader"].headers)
    assert client.get("/public/v1/documents/child-benefit/community").status_code == 404
    opted = change_space_with_second_person(client, cast, {"public_community": True})  # otto approves (issue 16)
    assert opted.json()["public_community"] is True
    # only comments written after the opt-in are shown (tests/test_public_community_opt_in.py)
    post(client, cast, "reader", "/api/v1/documents/child-benefit/comments", {"body_md": "Paid on the 5th"})
    block = client.get("/public/v1/documents/child-benefit/community")
    assert block.status_code == 200 and block.json()["comments"][0]["body_html"] == "<p>Paid on the 5th</p>\n"
    assert block.json()["rating_count"] == 1 and block.json()["kind"] == "community"
    assert "rita" not in block.text.lower()
