"""Audit completeness (RELIABILITY T5): every mutating route adds exactly one event on success, none on a 4xx.

The scenario table must cover every POST/PUT/PATCH/DELETE operation of the OpenAPI spec; a new
mutating route without a scenario fails ``test_every_mutating_route_has_a_scenario``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from kb.db import transaction
from kb.documents import service as documents
from tests.audit import audit_events, head_seq
from tests.factories import doc_body, make_cast, make_person

SAMPLE_DOCX = Path(__file__).resolve().parent.parent / "kb" / "sample" / "documents" / "parental-leave-policy.docx"


@dataclass
class Call:
    method: str
    url: str
    who: str | None
    kwargs: dict


@dataclass
class Scenario:
    route: tuple[str, str]
    setup: Callable
    ok: Call
    bad: Call
    action: str
    actor: str


def _draft(client, cast) -> None:  # noqa: ANN001
    client.post("/api/v1/spaces/benefits/documents", json=doc_body(), headers=cast["contributor"].headers)


def _in_review(client, cast) -> None:  # noqa: ANN001
    _draft(client, cast)
    client.post("/api/v1/documents/child-benefit/versions/1/submit", json={}, headers=cast["contributor"].headers)


def _approved(client, cast) -> None:  # noqa: ANN001
    _in_review(client, cast)
    client.post("/api/v1/documents/child-benefit/versions/1/approve", json={}, headers=cast["owner"].headers)


def _nothing(client, cast) -> None:  # noqa: ANN001
    return None


def _password_user(client, cast) -> None:  # noqa: ANN001
    make_person(client.app.state.db, "pia", password="correct horse battery")


def _token_to_revoke(client, cast) -> None:  # noqa: ANN001
    client.post("/api/v1/me/tokens", json={"name": "spare"}, headers=cast["reader"].headers)


def _token_id(client, cast) -> int:  # noqa: ANN001
    return next(t["id"] for t in client.get("/api/v1/me/tokens", headers=cast["reader"].headers).json()["data"] if t["name"] == "spare")


def _commented(client, cast) -> None:  # noqa: ANN001
    _approved(client, cast)
    client.post("/api/v1/documents/child-benefit/comments", json={"body_md": "A question about amounts"},
                headers=cast["reader"].headers)


def _answered(client, cast) -> None:  # noqa: ANN001
    _approved(client, cast)
    client.post("/api/v1/questions", json={"title": "How to claim twins?", "body_md": "One form?", "space": "benefits"},
                headers=cast["reader"].headers)
    client.post("/api/v1/questions", json={"title": "Twins: how to claim?", "body_md": "Two forms?"},
                headers=cast["moderator"].headers)
    client.post("/api/v1/questions/1/answers", json={"body_md": "One form for both."}, headers=cast["contributor"].headers)


def _accepted(client, cast) -> None:  # noqa: ANN001
    _answered(client, cast)
    client.post("/api/v1/questions/1/accept", json={"answer_id": 1}, headers=cast["reader"].headers)


def _flagged(client, cast) -> None:  # noqa: ANN001
    _commented(client, cast)
    client.post("/api/v1/flags", json={"target": "comment", "target_id": "1", "reason": "spam"}, headers=cast["owner"].headers)


DOCX = {"files": {"file": ("policy.docx", SAMPLE_DOCX.read_bytes(), "application/octet-stream")}, "data": {"intended_use": "x"}}
BROKEN = {"files": {"file": ("broken.docx", b"PK\x03\x04 not really a zip", "application/octet-stream")}}

SCENARIOS = [
    Scenario(("POST", "/api/v1/auth/token"), _password_user,
             Call("POST", "/api/v1/auth/token", None, {"json": {"username": "pia", "password": "correct horse battery"}}),
             Call("POST", "/api/v1/auth/token", None, {"json": {"username": "pia", "password": "wrong password"}}),
             "token.create", "pia"),
    Scenario(("POST", "/api/v1/me/tokens"), _nothing,
             Call("POST", "/api/v1/me/tokens", "reader", {"json": {"name": "laptop"}}),
             Call("POST", "/api/v1/me/tokens", "reader", {"json": {"name": ""}}), "token.create", "rita"),
    Scenario(("DELETE", "/api/v1/me/tokens/{token_id}"), _token_to_revoke,
             Call("DELETE", "/api/v1/me/tokens/{token}", "reader", {}),
             Call("DELETE", "/api/v1/me/tokens/{token}", "owner", {}), "token.revoke", "rita"),
    Scenario(("POST", "/api/v1/users"), _nothing,
             Call("POST", "/api/v1/users", "admin", {"json": {"username": "neo", "display_name": "Neo"}}),
             Call("POST", "/api/v1/users", "reader", {"json": {"username": "neo", "display_name": "Neo"}}), "user.create", "adam"),
    Scenario(("PATCH", "/api/v1/users/{username}"), _nothing,
             Call("PATCH", "/api/v1/users/rita", "admin", {"json": {"global_role": "moderator"}}),
             Call("PATCH", "/api/v1/users/nobody", "admin", {"json": {"global_role": "moderator"}}), "user.update", "adam"),
    Scenario(("POST", "/api/v1/spaces"), _nothing,
             Call("POST", "/api/v1/spaces", "admin", {"json": {"slug": "legal", "name": "Legal"}}),
             Call("POST", "/api/v1/spaces", "admin", {"json": {"slug": "benefits", "name": "Again"}}), "space.create", "adam"),
    Scenario(("PATCH", "/api/v1/spaces/{slug}"), _nothing,
             Call("PATCH", "/api/v1/spaces/benefits", "owner", {"json": {"description": "Entitlements"}}),
             Call("PATCH", "/api/v1/spaces/benefits", "outsider_owner", {"json": {"description": "Mine now"}}), "space.update", "olga"),
    Scenario(("PUT", "/api/v1/spaces/{slug}/members/{username}"), _nothing,
             Call("PUT", "/api/v1/spaces/benefits/members/rita", "owner", {"json": {"role": "contributor"}}),
             Call("PUT", "/api/v1/spaces/benefits/members/rita", "reader", {"json": {"role": "owner"}}), "space.member.set", "olga"),
    Scenario(("DELETE", "/api/v1/spaces/{slug}/members/{username}"), _nothing,
             Call("DELETE", "/api/v1/spaces/benefits/members/carl", "owner", {}),
             Call("DELETE", "/api/v1/spaces/benefits/members/rita", "owner", {}), "space.member.remove", "olga"),
    Scenario(("POST", "/api/v1/spaces/{space}/documents"), _nothing,
             Call("POST", "/api/v1/spaces/benefits/documents", "contributor", {"json": doc_body()}),
             Call("POST", "/api/v1/spaces/benefits/documents", "contributor", {"json": {**doc_body(), "slug": "Bad!"}}),
             "document.create", "carl"),
    Scenario(("POST", "/api/v1/spaces/{space}/import"), _nothing,
             Call("POST", "/api/v1/spaces/benefits/import", "contributor", DOCX),
             Call("POST", "/api/v1/spaces/benefits/import", "contributor", BROKEN), "document.import", "carl"),
    Scenario(("PUT", "/api/v1/documents/{slug}/draft"), _approved,
             Call("PUT", "/api/v1/documents/child-benefit/draft", "contributor", {"json": {"title": "Child benefit 2027"}}),
             Call("PUT", "/api/v1/documents/child-benefit/draft", "reader", {"json": {"title": "Mine"}}), "version.edit", "carl"),
    Scenario(("POST", "/api/v1/documents/{slug}/versions/{number}/submit"), _draft,
             Call("POST", "/api/v1/documents/child-benefit/versions/1/submit", "contributor", {"json": {}}),
             Call("POST", "/api/v1/documents/child-benefit/versions/9/submit", "contributor", {"json": {}}),
             "version.submit", "carl"),
    Scenario(("POST", "/api/v1/documents/{slug}/versions/{number}/approve"), _in_review,
             Call("POST", "/api/v1/documents/child-benefit/versions/1/approve", "owner", {"json": {}}),
             Call("POST", "/api/v1/documents/child-benefit/versions/1/approve", "contributor", {"json": {}}),
             "version.approve", "olga"),
    Scenario(("POST", "/api/v1/documents/{slug}/versions/{number}/reject"), _in_review,
             Call("POST", "/api/v1/documents/child-benefit/versions/1/reject", "owner", {"json": {"reason": "No"}}),
             Call("POST", "/api/v1/documents/child-benefit/versions/1/reject", "owner", {"json": {"reason": ""}}),
             "version.reject", "olga"),
    Scenario(("POST", "/api/v1/documents/{slug}/retire"), _approved,
             Call("POST", "/api/v1/documents/child-benefit/retire", "owner", {"json": {"reason": "Ended"}}),
             Call("POST", "/api/v1/documents/child-benefit/retire", "owner2", {"json": {}}), "version.retire", "olga"),
    Scenario(("POST", "/api/v1/documents/{slug}/comments"), _approved,
             Call("POST", "/api/v1/documents/child-benefit/comments", "reader", {"json": {"body_md": "Helpful"}}),
             Call("POST", "/api/v1/documents/no-such-doc/comments", "reader", {"json": {"body_md": "Helpful"}}),
             "comment.create", "rita"),
    Scenario(("PATCH", "/api/v1/comments/{comment_id}"), _commented,
             Call("PATCH", "/api/v1/comments/1", "reader", {"json": {"body_md": "A question about the amounts"}}),
             Call("PATCH", "/api/v1/comments/1", "contributor", {"json": {"body_md": "Not mine"}}), "comment.edit", "rita"),
    Scenario(("DELETE", "/api/v1/comments/{comment_id}"), _commented,
             Call("DELETE", "/api/v1/comments/1", "reader", {}),
             Call("DELETE", "/api/v1/comments/1", "contributor", {}), "comment.delete", "rita"),
    Scenario(("PUT", "/api/v1/documents/{slug}/rating"), _approved,
             Call("PUT", "/api/v1/documents/child-benefit/rating", "reader", {"json": {"stars": 4}}),
             Call("PUT", "/api/v1/documents/child-benefit/rating", "reader", {"json": {"stars": 0}}), "rating.set", "rita"),
    Scenario(("POST", "/api/v1/feedback"), _approved,
             Call("POST", "/api/v1/feedback", "reader", {"json": {"document": "child-benefit", "query": "q", "helpful": True}}),
             Call("POST", "/api/v1/feedback", "reader", {"json": {"document": "nope", "query": "q", "helpful": True}}),
             "feedback.create", "rita"),
    Scenario(("POST", "/api/v1/questions"), _nothing,
             Call("POST", "/api/v1/questions", "reader", {"json": {"title": "Where is the form?", "body_md": "?"}}),
             Call("POST", "/api/v1/questions", "reader", {"json": {"title": "?", "body_md": "?"}}), "question.create", "rita"),
    Scenario(("POST", "/api/v1/questions/{question_id}/answers"), _answered,
             Call("POST", "/api/v1/questions/1/answers", "owner", {"json": {"body_md": "Use form CB-1."}}),
             Call("POST", "/api/v1/questions/99/answers", "owner", {"json": {"body_md": "Use form CB-1."}}),
             "answer.create", "olga"),
    Scenario(("PUT", "/api/v1/{kind}/{post_id}/vote"), _answered,
             Call("PUT", "/api/v1/answers/1/vote", "reader", {"json": {"value": 1}}),
             Call("PUT", "/api/v1/answers/1/vote", "contributor", {"json": {"value": 1}}), "vote.set", "rita"),
    Scenario(("POST", "/api/v1/questions/{question_id}/accept"), _answered,
             Call("POST", "/api/v1/questions/1/accept", "reader", {"json": {"answer_id": 1}}),
             Call("POST", "/api/v1/questions/1/accept", "contributor", {"json": {"answer_id": 1}}), "answer.accept", "rita"),
    Scenario(("POST", "/api/v1/questions/{question_id}/close"), _answered,
             Call("POST", "/api/v1/questions/2/close", "moderator", {"json": {"duplicate_of": 1}}),
             Call("POST", "/api/v1/questions/2/close", "contributor", {"json": {"duplicate_of": 1}}), "question.close", "mona"),
    Scenario(("POST", "/api/v1/questions/{question_id}/promote"), _accepted,
             Call("POST", "/api/v1/questions/1/promote", "owner", {"json": {"space": "benefits", "slug": "twins"}}),
             Call("POST", "/api/v1/questions/1/promote", "owner", {"json": {"space": "benefits", "slug": "child-benefit"}}),
             "document.promote", "olga"),
    Scenario(("POST", "/api/v1/flags"), _commented,
             Call("POST", "/api/v1/flags", "owner", {"json": {"target": "comment", "target_id": "1", "reason": "spam"}}),
             Call("POST", "/api/v1/flags", "owner", {"json": {"target": "comment", "target_id": "9", "reason": "spam"}}),
             "flag.create", "olga"),
    Scenario(("POST", "/api/v1/moderation/{kind}/{target_id}"), _flagged,
             Call("POST", "/api/v1/moderation/comment/1", "moderator", {"json": {"action": "hide", "reason": "Spam"}}),
             Call("POST", "/api/v1/moderation/comment/1", "reader", {"json": {"action": "hide", "reason": "Spam"}}),
             "moderation.hide", "mona"),
    Scenario(("PATCH", "/api/v1/me/expertise"), _nothing,
             Call("PATCH", "/api/v1/me/expertise", "reader", {"json": {"declared_skills": ["housing"]}}),
             Call("PATCH", "/api/v1/me/expertise", "reader", {"json": {"declared_skills": ["x" * 61]}}),
             "profile.update", "rita"),
    Scenario(("POST", "/api/v1/experts/{username}/ask"), _nothing,
             Call("POST", "/api/v1/experts/olga/ask", "reader", {"json": {"message": "Help"}}),
             Call("POST", "/api/v1/experts/nobody/ask", "reader", {"json": {"message": "Help"}}), "expert.ask", "rita"),
]


def snapshot(database) -> str:  # noqa: ANN001
    """A digest of every row of every table (token last-used stamps excluded: bookkeeping)."""
    digest = hashlib.sha256()
    with database.engine.connect() as connection:
        for table in sorted(inspect(connection).get_table_names()):
            if table == "alembic_version":
                continue
            columns = [c["name"] for c in inspect(connection).get_columns(table) if c["name"] != "last_used_at"]
            rows = connection.execute(text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1")).all()
            digest.update(f"{table}:{rows!r}".encode())
    return digest.hexdigest()


def test_every_mutating_route_has_a_scenario(app) -> None:  # noqa: ANN001
    spec = app.openapi()
    mutating = {(method.upper(), path) for path, item in spec["paths"].items() for method in item
                if method in ("post", "put", "patch", "delete")}
    assert mutating == {s.route for s in SCENARIOS}


def _send(client, cast, call: Call):  # noqa: ANN001, ANN202
    url = call.url.replace("{token}", str(_token_id(client, cast))) if "{token}" in call.url else call.url
    headers = cast[call.who].headers if call.who else {}
    return client.request(call.method, url, headers=headers, **call.kwargs)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"{s.route[0]} {s.route[1]}")
def test_success_adds_one_event_and_4xx_adds_none(client, database, scenario: Scenario) -> None:  # noqa: ANN001
    cast = make_cast(database)
    scenario.setup(client, cast)
    before_rows, before_seq = snapshot(database), head_seq(database)
    bad = _send(client, cast, scenario.bad)
    assert 400 <= bad.status_code < 500, bad.text
    assert head_seq(database) == before_seq, "a rejected request recorded an event"
    assert snapshot(database) == before_rows, "a rejected request changed rows"
    ok = _send(client, cast, scenario.ok)
    assert ok.status_code < 300, ok.text
    events = audit_events(database, before_seq)
    assert [(e["action"], e["actor"]) for e in events] == [(scenario.action, scenario.actor)]


def test_exception_before_commit_leaves_no_rows_and_no_events(database) -> None:  # noqa: ANN001
    from kb.documents.schemas import DocumentCreate

    cast = make_cast(database)
    before_rows, before_seq = snapshot(database), head_seq(database)
    with database.session() as session, pytest.raises(RuntimeError, match="injected"):
        with transaction(session):
            documents.create_document(session, actor=cast["contributor"].actor, space_slug="benefits",
                                      data=DocumentCreate(**doc_body()))
            raise RuntimeError("injected after the row write")
    assert head_seq(database) == before_seq and snapshot(database) == before_rows
