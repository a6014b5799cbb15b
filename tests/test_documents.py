"""Curated documents: every lifecycle transition, four eyes, provenance card, visibility, review queue."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from kb.documents.service import TRANSITIONS
from kb.documents.models import VersionState
from tests.audit import audit_events, head_seq
from tests.factories import approved_document, change_space_with_second_person, doc_body, make_cast, sign_in


@pytest.fixture
def cast(database):  # noqa: ANN001, ANN201
    return make_cast(database)


def create(client, cast, **changes):  # noqa: ANN001, ANN003, ANN201
    body = {**doc_body(), **changes}
    response = client.post("/api/v1/spaces/benefits/documents", json=body, headers=cast["contributor"].headers)
    assert response.status_code == 201, response.text
    return response.json()


def act(client, cast, who: str, action: str, number: int = 1, slug: str = "child-benefit"):  # noqa: ANN001, ANN201
    headers = cast[who].headers
    if action == "submit":
        return client.post(f"/api/v1/documents/{slug}/versions/{number}/submit", json={}, headers=headers)
    if action == "approve":
        return client.post(f"/api/v1/documents/{slug}/versions/{number}/approve", json={}, headers=headers)
    if action == "reject":
        return client.post(f"/api/v1/documents/{slug}/versions/{number}/reject", json={"reason": "Amounts are wrong"}, headers=headers)
    if action == "retire":
        return client.post(f"/api/v1/documents/{slug}/retire", json={"reason": "Scheme ended"}, headers=headers)
    if action == "edit":
        return client.put(f"/api/v1/documents/{slug}/draft", json={"body_md": "# Child benefit\n\nEdited text."}, headers=headers)
    raise AssertionError(action)


def version_state(client, cast, number: int, slug: str = "child-benefit") -> str:  # noqa: ANN001
    return client.get(f"/api/v1/documents/{slug}/versions/{number}", headers=cast["owner"].headers).json()["state"]


def test_happy_path_with_provenance_card(client, cast, database) -> None:  # noqa: ANN001
    created = create(client, cast)
    assert created["current"] is None and created["working"]["state"] == "draft"
    assert act(client, cast, "contributor", "submit").json()["state"] == "in_review"
    approved = act(client, cast, "owner", "approve").json()
    card = approved["provenance"]
    assert approved["state"] == "approved"
    assert card["author"]["username"] == "carl" and card["approved_by"]["username"] == "olga"
    assert card["owner"]["username"] == "olga" and card["space"] == "benefits"
    assert card["intended_use"] == "Explains child benefit to citizens." and card["audience"] == "public"
    assert card["source_kind"] == "authored" and len(card["body_sha256"]) == 64 and card["review_overdue"] is False
    document = client.get("/api/v1/documents/child-benefit", headers=cast["reader"].headers).json()
    assert document["current"]["number"] == 1 and document["working"] is None
    actions = [(e["actor"], e["action"]) for e in audit_events(database) if e["object_type"] == "document"]
    assert actions == [("carl", "document.create"), ("carl", "version.submit"), ("olga", "version.approve"),
                       ("system", "version.publish")]  # a public version: kb attests its publication (receipts)


STATES_SETUP = {
    "draft": [],
    "in_review": [("contributor", "submit", 1)],
    "approved": [("contributor", "submit", 1), ("owner", "approve", 1)],
    "rejected": [("contributor", "submit", 1), ("owner", "reject", 1)],
    "superseded": [("contributor", "submit", 1), ("owner", "approve", 1), ("contributor", "edit", 2),
                   ("contributor", "submit", 2), ("owner", "approve", 2)],
    "retired": [("contributor", "submit", 1), ("owner", "approve", 1), ("owner", "retire", 1)],
}
ACTIONS = {"submit": "contributor", "approve": "owner2", "reject": "owner2", "retire": "owner2", "edit": "contributor"}


@pytest.mark.parametrize("state", list(STATES_SETUP))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_transition_legal_or_409(client, cast, database, state: str, action: str) -> None:  # noqa: ANN001
    create(client, cast)
    for who, step, number in STATES_SETUP[state]:
        assert act(client, cast, who, step, number).status_code == 200, (who, step)
    assert version_state(client, cast, 1) == state
    before = head_seq(database)
    response = act(client, cast, ACTIONS[action], action, 1)
    # edit and retire act on the document (newest or current version), the rest on version 1
    legal = action in TRANSITIONS[VersionState(state)]
    if action == "edit":
        legal = state in ("draft", "approved", "retired", "superseded", "rejected")  # the newest version is editable
    if action == "retire":
        legal = state in ("approved", "superseded")  # retire acts on the current approved version
    if legal:
        assert response.status_code == 200, response.text
        published = action == "approve"  # the document is public: kb records version.publish after the approval
        assert head_seq(database) == before + 1 + published
    else:
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "illegal_transition"
        assert action in error["message"] and "allowed" in error["details"]
        assert head_seq(database) == before


def test_four_eyes_service_rule(client, cast, database) -> None:  # noqa: ANN001
    client.post("/api/v1/spaces/benefits/documents", json=doc_body(), headers=cast["owner"].headers)
    act(client, cast, "owner", "submit")
    before = head_seq(database)
    response = act(client, cast, "owner", "approve")
    assert response.status_code == 409 and response.json()["error"]["code"] == "four_eyes_violation"
    assert head_seq(database) == before and version_state(client, cast, 1) == "in_review"
    assert act(client, cast, "owner2", "approve").status_code == 200


def test_four_eyes_database_check(client, cast, database) -> None:  # noqa: ANN001
    create(client, cast)
    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.execute(text("UPDATE document_version SET approver_id = author_id, four_eyes = :t"), {"t": True})


def test_four_eyes_can_be_switched_off_per_space(client, cast) -> None:  # noqa: ANN001
    # a lowering change needs a second person (issue 16): adam asks, olga approves
    assert change_space_with_second_person(client, cast, {"four_eyes": False}, by="admin", approver="owner").json()["four_eyes"] is False
    client.post("/api/v1/spaces/benefits/documents", json=doc_body(), headers=cast["owner"].headers)
    act(client, cast, "owner", "submit")
    assert act(client, cast, "owner", "approve").status_code == 200


def test_one_approved_version_enforced_by_database(client, cast, database) -> None:  # noqa: ANN001
    approved_document(client, cast)
    act(client, cast, "contributor", "edit")
    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.execute(text("UPDATE document_version SET state = 'approved' WHERE number = 2"))


def test_new_version_supersedes_in_one_transaction(client, cast, database) -> None:  # noqa: ANN001
    approved_document(client, cast)
    assert act(client, cast, "contributor", "edit").json()["number"] == 2
    act(client, cast, "contributor", "submit", 2)
    before = head_seq(database)
    act(client, cast, "owner", "approve", 2)
    assert version_state(client, cast, 1) == "superseded" and version_state(client, cast, 2) == "approved"
    events = audit_events(database, before)
    assert [(e["action"], e["payload"]["version"], e["payload"].get("superseded")) for e in events] == [
        ("version.approve", 2, 1), ("version.publish", 2, None)]
    assert [(c["version"], c["state"]) for c in events[0]["payload"]["served"]] == [(2, "approved"), (1, "superseded")]
    history = client.get("/api/v1/documents/child-benefit/versions", headers=cast["reader"].headers).json()
    assert [(v["number"], v["state"]) for v in history["data"]] == [(1, "superseded"), (2, "approved")]


def test_reject_opens_a_new_draft(client, cast) -> None:  # noqa: ANN001
    create(client, cast)
    act(client, cast, "contributor", "submit")
    draft = act(client, cast, "owner", "reject").json()
    assert draft["number"] == 2 and draft["state"] == "draft"
    assert version_state(client, cast, 1) == "rejected"
    assert draft["body_md"].startswith("# Child benefit")


def test_submit_requires_intended_use(client, cast) -> None:  # noqa: ANN001
    create(client, cast, intended_use=None)
    response = act(client, cast, "contributor", "submit")
    assert response.status_code == 422 and "intended_use" in response.json()["error"]["message"]
    ok = client.post("/api/v1/documents/child-benefit/versions/1/submit", json={"intended_use": "For citizens"},
                     headers=cast["contributor"].headers)
    assert ok.status_code == 200 and ok.json()["provenance"]["intended_use"] == "For citizens"


@pytest.mark.parametrize("who", ["reader", "contributor", "moderator", "admin", "outsider_owner"])
def test_only_owners_of_the_space_approve(client, cast, who: str, database) -> None:  # noqa: ANN001
    create(client, cast)
    act(client, cast, "contributor", "submit")
    before = head_seq(database)
    assert act(client, cast, who, "approve").status_code == 403
    assert head_seq(database) == before


@pytest.mark.parametrize("who", ["reader", "moderator", "outsider_owner"])
def test_only_writers_of_the_space_create(client, cast, who: str) -> None:  # noqa: ANN001
    response = client.post("/api/v1/spaces/benefits/documents", json=doc_body(), headers=cast[who].headers)
    assert response.status_code == 403


def test_drafts_are_invisible_to_readers(client, cast) -> None:  # noqa: ANN001
    create(client, cast)
    for path in ("/api/v1/documents/child-benefit", "/api/v1/documents/child-benefit/versions/1",
                 "/api/v1/documents/child-benefit/versions", "/api/v1/documents/child-benefit/provenance"):
        response = client.get(path, headers=cast["reader"].headers)
        assert response.status_code == 404, path
    assert client.get("/api/v1/documents", headers=cast["reader"].headers).json()["count"] == 0
    assert client.get("/api/v1/documents", headers=cast["contributor"].headers).json()["count"] == 1


def test_changing_provenance_after_submission_makes_a_new_version(client, cast) -> None:  # noqa: ANN001
    approved_document(client, cast)
    edited = client.put("/api/v1/documents/child-benefit/draft", json={"audience": "internal"}, headers=cast["contributor"].headers)
    assert edited.status_code == 200 and edited.json()["number"] == 2
    assert client.get("/api/v1/documents/child-benefit/versions/1", headers=cast["reader"].headers).json()["provenance"]["audience"] == "public"
    diff = client.get("/api/v1/documents/child-benefit/diff?from=1&to=2", headers=cast["contributor"].headers).json()["diff"]
    assert "-audience: public" in diff and "+audience: internal" in diff


def test_review_overdue_and_review_queue(client, cast) -> None:  # noqa: ANN001
    client.post("/api/v1/spaces/benefits/documents", json={**doc_body("Old page"), "review_by": "2020-01-01"},
                headers=cast["contributor"].headers)
    act(client, cast, "contributor", "submit", slug="old-page")
    act(client, cast, "owner", "approve", slug="old-page")
    create(client, cast)
    act(client, cast, "contributor", "submit")
    document = client.get("/api/v1/documents/old-page", headers=cast["reader"].headers).json()
    assert document["review_overdue"] is True and document["current"]["provenance"]["review_overdue"] is True
    queue = client.get("/api/v1/review-queue", headers=cast["owner"].headers).json()
    assert [(i["reason"], i["document"]) for i in queue["data"]] == [("in_review", "child-benefit"), ("review_overdue", "old-page")]
    assert client.get("/api/v1/review-queue", headers=cast["outsider_owner"].headers).json()["count"] == 0
    assert client.get("/api/v1/review-queue", headers=cast["reader"].headers).status_code == 403


def test_translation_link(client, cast) -> None:  # noqa: ANN001
    approved_document(client, cast)
    body = {**doc_body("Kinderbijslag"), "language": "nl", "translation_of": "child-benefit"}
    assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=cast["contributor"].headers).status_code == 201
    original = client.get("/api/v1/documents/child-benefit", headers=cast["contributor"].headers).json()
    assert original["translations"] == ["kinderbijslag"]
    # the translation's card names its original by the original's title (issue 17), the link by its slug
    translation = client.get("/api/v1/documents/kinderbijslag/versions/1", headers=cast["contributor"].headers).json()
    assert translation["provenance"]["translation_of"] == "child-benefit"
    assert translation["provenance"]["translation_of_title"] == "Child benefit"
    missing = client.post("/api/v1/spaces/benefits/documents", json={**doc_body("X"), "translation_of": "nope"},
                          headers=cast["contributor"].headers)
    assert missing.status_code == 404


@pytest.mark.parametrize("surface", ["api", "web"])
def test_a_translation_is_written_in_the_space_of_its_original(client, database, cast, surface: str) -> None:  # noqa: ANN001
    """The insider review of 2026-12-07 (F8): oscar, who owns only "elsewhere", wrote a Polish page there as
    the "translation" of benefits' child-benefit, approved it himself as its space's owner, and citizens
    asking in Polish were served it in child-benefit's place without any owner of benefits agreeing. Now
    a translation of another space's page is a 409 naming the original's space, and nothing is made."""
    approved_document(client, cast)
    body = {**doc_body("Zasilek rodzinny"), "language": "pl", "translation_of": "child-benefit"}
    csrf = sign_in(client, database, "oscar") if surface == "web" else ""
    before = head_seq(database)
    if surface == "api":
        refused = client.post("/api/v1/spaces/elsewhere/documents", json=body, headers=cast["outsider_owner"].headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["details"] == {"rule": "translation_in_its_originals_space", "space": "benefits"}
    else:
        form = {"csrf": csrf, "space": "elsewhere", "action": "save", "tags": "", **{k: v for k, v in body.items() if k != "tags"}}
        refused = client.post("/write", data=form, follow_redirects=False)
        client.cookies.clear()
        assert refused.status_code == 409 and "its translations are written there" in html.unescape(refused.text), refused.text
    assert head_seq(database) == before
    assert client.get("/api/v1/documents/zasilek-rodzinny", headers=cast["admin"].headers).status_code == 404
    original = client.get("/api/v1/documents/child-benefit", headers=cast["contributor"].headers).json()
    assert original["translations"] == []


def test_a_body_of_spaces_or_invisible_characters_is_no_text(client, cast) -> None:  # noqa: ANN001
    """A body of spaces was accepted and approvable (the review of 2026-12-07); so was an imported file of them."""
    headers = cast["contributor"].headers
    for body in ("   ", "\u200b\u200c \n"):
        written = client.post("/api/v1/spaces/benefits/documents", json={**doc_body("Blank"), "body_md": body}, headers=headers)
        assert written.status_code == 422 and "Write some text" in written.text, written.text
        imported = client.post("/api/v1/spaces/benefits/import", files={"file": ("blank.md", body.encode(), "text/markdown")},
                               headers=headers)
        assert imported.status_code == 422 and "contains no text" in imported.json()["error"]["message"], imported.text


def test_optional_fields_can_be_emptied_on_the_api_and_the_web(client, database, cast) -> None:  # noqa: ANN001
    """A wrongly set expiry could only be moved, never removed: null kept the value, "" was a 422, and the web
    form said "saved" and kept it (the review of 2026-12-07). ``clear`` names the fields to empty; the web
    form clears a field emptied on it; a field left out keeps its value."""
    from tests.factories import sign_in

    headers = cast["contributor"].headers
    body = {**doc_body("Expiring"), "valid_until": "2031-01-01", "review_by": "2030-06-01", "licence": "CC0",
            "tags": ["money"], "source_uri": "https://example.org/rules"}
    slug = client.post("/api/v1/spaces/benefits/documents", json=body, headers=headers).json()["slug"]
    both = client.put(f"/api/v1/documents/{slug}/draft", json={"valid_until": "2032-01-01", "clear": ["valid_until"]},
                      headers=headers)
    assert both.status_code == 422, both.text
    cleared = client.put(f"/api/v1/documents/{slug}/draft", json={"clear": ["valid_until", "tags"]}, headers=headers)
    assert cleared.status_code == 200, cleared.text
    card = client.get(f"/api/v1/documents/{slug}/versions/1", headers=headers).json()
    assert card["provenance"]["valid_until"] is None and card["tags"] == [] and card["provenance"]["licence"] == "CC0"
    assert card["provenance"]["review_by"] == "2030-06-01"  # left out: kept
    csrf = sign_in(client, database, "carl")
    form = {"csrf": csrf, "action": "save", "existing": "1", "slug": slug, "space": "benefits", "title": "Expiring",
            "body_md": card["body_md"], "audience": "internal", "language": "en", "tags": "", "intended_use": "",
            "licence": "", "valid_from": "", "valid_until": "", "review_by": "", "source_uri": ""}
    saved = client.post("/write", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    card = client.get(f"/api/v1/documents/{slug}/versions/1", headers=headers).json()["provenance"]
    assert (card["review_by"], card["licence"] or None, card["intended_use"] or None, card["source_uri"]) == (None,) * 4, card


def test_a_translation_is_in_another_language_and_the_only_one_in_it(client, database, cast) -> None:  # noqa: ANN001
    """The review of 2026-12-07: an English "translation" of an English page, a second Dutch translation (which
    displaced the first from the page's links once approved) and a translation of a translation were all
    accepted. Each is now a 409 that says what to do; a draft that changes its language is checked when approved."""
    from tests.factories import make_document

    approved_document(client, cast)
    make_document(database, cast, slug="kinderbijslag", state="approved", language="nl", translation_of="child-benefit")

    def create(title: str, language: str, of: str):  # noqa: ANN202
        return client.post("/api/v1/spaces/benefits/documents", json={**doc_body(title), "language": language,
                                                                     "translation_of": of}, headers=cast["contributor"].headers)

    same = create("Child benefit again", "en", "child-benefit")
    assert same.status_code == 409 and same.json()["error"]["details"]["rule"] == "translation_language", same.text
    second = create("Kinderbijslag twee", "nl", "child-benefit")
    assert second.status_code == 409 and "'kinderbijslag' is the 'nl' translation" in second.json()["error"]["message"]
    nested = create("Kindergeld", "de", "kinderbijslag")
    assert nested.status_code == 409 and nested.json()["error"]["details"] == {"rule": "translation_of_an_original"}
    german = create("Kindergeld", "de", "child-benefit")
    assert german.status_code == 201, german.text
    slug = german.json()["slug"]
    assert client.put(f"/api/v1/documents/{slug}/draft", json={"language": "nl", "intended_use": "Tells citizens"},
                      headers=cast["contributor"].headers).status_code == 200
    assert client.post(f"/api/v1/documents/{slug}/versions/1/submit", json={}, headers=cast["contributor"].headers).status_code == 200
    refused = client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={}, headers=cast["owner"].headers)
    assert refused.status_code == 409 and refused.json()["error"]["details"]["translation"] == "kinderbijslag", refused.text
    version = client.get(f"/api/v1/documents/{slug}/versions/1", headers=cast["owner"].headers).json()
    assert version["state"] == "in_review"  # nothing approved: the Dutch translation citizens are served stays kinderbijslag


def test_a_translation_of_a_draft_one_may_not_see_is_not_found_like_a_missing_one(client, cast) -> None:  # noqa: ANN001
    """The second insider review: the 409 named the space of a draft oscar may not see; now it is the
    same 404 as a slug that does not exist (no existence oracle)."""
    assert client.post("/api/v1/spaces/benefits/documents", json=doc_body("Layoffs 2027"),
                       headers=cast["owner"].headers).status_code == 201
    assert client.get("/api/v1/documents/layoffs-2027", headers=cast["outsider_owner"].headers).status_code == 404
    answers = [client.post("/api/v1/spaces/elsewhere/documents", json={**doc_body("Zwolnienia"), "language": "pl",
                                                                        "translation_of": slug},
                           headers=cast["outsider_owner"].headers) for slug in ("layoffs-2027", "no-such-page")]
    assert [a.status_code for a in answers] == [404, 404], [a.text for a in answers]
    assert answers[0].json()["error"]["message"].replace("layoffs-2027", "X") == \
        answers[1].json()["error"]["message"].replace("no-such-page", "X")


def test_validation_errors(client, cast) -> None:  # noqa: ANN001
    bad = [{**doc_body(), "slug": "Bad Slug"}, {**doc_body(), "audience": "everyone"},
           {**doc_body(), "valid_from": "2027-01-01", "valid_until": "2026-01-01"}, {**doc_body(), "body_md": ""}]
    for body in bad:
        response = client.post("/api/v1/spaces/benefits/documents", json=body, headers=cast["contributor"].headers)
        assert response.status_code == 422, body
    create(client, cast)
    duplicate = client.post("/api/v1/spaces/benefits/documents", json=doc_body(), headers=cast["contributor"].headers)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "already_exists"


def test_chunks_keep_heading_path(client, cast, database) -> None:  # noqa: ANN001
    create(client, cast)
    act(client, cast, "contributor", "submit")
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT heading_path, text FROM document_chunk ORDER BY ordinal")).all()
    assert [r[0] for r in rows] == ['["Child benefit"]', '["Child benefit", "Who"]']


def test_translation_groups_of_a_translation_of_a_translation(database) -> None:  # noqa: ANN001
    """C translates B, which translates A: the public search's batch lookup raised KeyError (a 500). kb no
    longer makes such a chain (a translation's original is an original), but a database may hold one."""
    from sqlalchemy import text

    from kb import documents
    from tests.factories import make_document

    people = make_cast(database)
    make_document(database, people, slug="a", state="approved")
    make_document(database, people, slug="b", state="approved", language="nl", translation_of="a")
    make_document(database, people, slug="c", state="approved", language="de", translation_of="a")
    with database.engine.begin() as connection:  # as a database written before the rule may hold it
        connection.execute(text("UPDATE document SET translation_of_id = (SELECT id FROM document WHERE slug = 'b') "
                                "WHERE slug = 'c'"))
    with database.session() as session:
        docs = {d.document.slug: d.document for d in documents.published(session)}
        groups = documents.translation_groups(session, [docs["a"], docs["c"]])
        slugs = {root: sorted(item.document.slug for item in items) for root, items in groups.items()}
    assert slugs == {docs["a"].id: ["a", "b"], docs["b"].id: ["b", "c"]}
