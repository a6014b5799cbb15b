"""Audit completeness (RELIABILITY T5): every mutating route adds exactly one event on success, none on a 4xx.

The scenario table must cover every POST/PUT/PATCH/DELETE operation of the OpenAPI spec; a new
mutating route without a scenario fails ``test_every_mutating_route_has_a_scenario``. A route that by
design records no event (a person's own bookkeeping: marking notifications read) is listed in
``BOOKKEEPING`` instead, with the reason, and checked to change rows without an event.
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
from tests.audit import audit_events, head_seq, served_state_differences
from tests.factories import doc_body, make_cast, make_person, web_session

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
    obj: tuple[str, str] | Callable[..., tuple[str, str]]  # (object_type, object_id), or made from (response, url)
    then: tuple[tuple[str, str], ...] = ()  # (action, actor) of the events that follow the first, if any


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


def _governance_pending(client, cast) -> None:  # noqa: ANN001
    """Request 1: olga asks to switch four eyes off in benefits (issue 16: it waits for a second person)."""
    assert client.patch("/api/v1/spaces/benefits", json={"four_eyes": False}, headers=cast["owner"].headers).status_code == 202


def _reported(client, cast) -> None:  # noqa: ANN001
    """child-benefit approved and reported outdated by a reader: report 1 in the owners' review queue."""
    _approved(client, cast)
    client.post("/api/v1/flags", json={"target": "document", "target_id": "child-benefit", "reason": "outdated"},
                headers=cast["reader"].headers)


def _flagged(client, cast) -> None:  # noqa: ANN001
    _commented(client, cast)
    client.post("/api/v1/flags", json={"target": "comment", "target_id": "1", "reason": "spam"}, headers=cast["owner"].headers)


def _watching(client, cast) -> None:  # noqa: ANN001
    _approved(client, cast)
    client.post("/api/v1/me/watches", json={"kind": "document", "target": "child-benefit"}, headers=cast["reader"].headers)


def _told(client, cast) -> None:  # noqa: ANN001
    """carl (child-benefit's author) is told of rita's comment: his inbox holds an unread notification."""
    _commented(client, cast)
    assert client.get("/api/v1/notifications", headers=cast["contributor"].headers).json()["unread"] >= 1


def _taxonomy(client, cast) -> None:  # noqa: ANN001
    """A scheme situation with tenant and lodger (issue 20), by the admin."""
    admin = cast["admin"].headers
    client.post("/api/v1/taxonomy", json={"key": "situation", "field": "applies_to", "titles": {"en": "Situation"}}, headers=admin)
    for key in ("tenant", "lodger"):
        client.post("/api/v1/taxonomy/situation/concepts", json={"key": key, "preferred": {"en": key.title()}}, headers=admin)


SKOS = ('@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n<http://example.org/regions> a skos:ConceptScheme .\n'
        '<http://example.org/regions/north> a skos:Concept ; skos:inScheme <http://example.org/regions> ; skos:prefLabel "North"@en .\n')


DOCX = {"files": {"file": ("policy.docx", SAMPLE_DOCX.read_bytes(), "application/octet-stream")}, "data": {"intended_use": "x"}}
BROKEN = {"files": {"file": ("broken.docx", b"PK\x03\x04 not really a zip", "application/octet-stream")}}


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


BULK_ZIP = {"file": ("batch.zip", _zip({"hr/policy.docx": SAMPLE_DOCX.read_bytes()}), "application/zip")}

SCENARIOS = [
    Scenario(("POST", "/api/v1/auth/token"), _password_user,
             Call("POST", "/api/v1/auth/token", None, {"json": {"username": "pia", "password": "correct horse battery"}}),
             Call("POST", "/api/v1/auth/token", None, {"json": {"username": "pia", "password": "wrong password"}}),
             "token.create", "pia",
             lambda response, url: ("token", _newest_token(response))),
    Scenario(("POST", "/api/v1/me/tokens"), _nothing,
             Call("POST", "/api/v1/me/tokens", "reader", {"json": {"name": "laptop"}}),
             Call("POST", "/api/v1/me/tokens", "reader", {"json": {"name": ""}}), "token.create", "rita",
             lambda response, url: ("token", str(response.json()["id"]))),
    Scenario(("DELETE", "/api/v1/me/tokens/{token_id}"), _token_to_revoke,
             Call("DELETE", "/api/v1/me/tokens/{token}", "reader", {}),
             Call("DELETE", "/api/v1/me/tokens/{token}", "owner", {}), "token.revoke", "rita",
             lambda response, url: ("token", url.rsplit("/", 1)[1])),
    Scenario(("POST", "/api/v1/users"), _nothing,
             Call("POST", "/api/v1/users", "admin", {"json": {"username": "neo", "display_name": "Neo"}}),
             Call("POST", "/api/v1/users", "reader", {"json": {"username": "neo", "display_name": "Neo"}}), "user.create", "adam",
             ("user", "neo")),
    Scenario(("PATCH", "/api/v1/users/{username}"), _nothing,
             Call("PATCH", "/api/v1/users/rita", "admin", {"json": {"global_role": "moderator"}}),
             Call("PATCH", "/api/v1/users/nobody", "admin", {"json": {"global_role": "moderator"}}),
             "governance.request", "adam", ("governance_request", "1")),  # a role change waits for a second admin (issue 16)
    Scenario(("POST", "/api/v1/governance/requests/{request_id}/approve"), _governance_pending,
             Call("POST", "/api/v1/governance/requests/1/approve", "owner2", {}),
             Call("POST", "/api/v1/governance/requests/1/approve", "owner", {}),  # her own request: 409
             "governance.approve", "otto", ("governance_request", "1"), then=(("space.update", "otto"),)),
    Scenario(("POST", "/api/v1/governance/requests/{request_id}/refuse"), _governance_pending,
             Call("POST", "/api/v1/governance/requests/1/refuse", "owner2", {"json": {"reason": "Keep four eyes"}}),
             Call("POST", "/api/v1/governance/requests/1/refuse", "owner", {"json": {"reason": "Mine"}}),
             "governance.refuse", "otto", ("governance_request", "1")),
    Scenario(("POST", "/api/v1/spaces"), _nothing,
             Call("POST", "/api/v1/spaces", "admin", {"json": {"slug": "legal", "name": "Legal"}}),
             Call("POST", "/api/v1/spaces", "admin", {"json": {"slug": "benefits", "name": "Again"}}), "space.create", "adam",
             ("space", "legal")),
    Scenario(("PATCH", "/api/v1/spaces/{slug}"), _nothing,
             Call("PATCH", "/api/v1/spaces/benefits", "owner", {"json": {"description": "Entitlements"}}),
             Call("PATCH", "/api/v1/spaces/benefits", "outsider_owner", {"json": {"description": "Mine now"}}), "space.update", "olga",
             ("space", "benefits")),
    Scenario(("PUT", "/api/v1/spaces/{slug}/members/{username}"), _nothing,
             Call("PUT", "/api/v1/spaces/benefits/members/rita", "owner", {"json": {"role": "contributor"}}),
             Call("PUT", "/api/v1/spaces/benefits/members/rita", "reader", {"json": {"role": "owner"}}), "space.member.set", "olga",
             ("space", "benefits")),
    Scenario(("DELETE", "/api/v1/spaces/{slug}/members/{username}"), _nothing,
             Call("DELETE", "/api/v1/spaces/benefits/members/carl", "owner", {}),
             Call("DELETE", "/api/v1/spaces/benefits/members/rita", "owner", {}), "space.member.remove", "olga",
             ("space", "benefits")),
    Scenario(("POST", "/api/v1/spaces/{space}/documents"), _nothing,
             Call("POST", "/api/v1/spaces/benefits/documents", "contributor", {"json": doc_body()}),
             Call("POST", "/api/v1/spaces/benefits/documents", "contributor", {"json": {**doc_body(), "slug": "Bad!"}}),
             "document.create", "carl",
             ("document", "child-benefit")),
    Scenario(("POST", "/api/v1/spaces/{space}/import"), _nothing,
             Call("POST", "/api/v1/spaces/benefits/import", "contributor", DOCX),
             Call("POST", "/api/v1/spaces/benefits/import", "contributor", BROKEN), "document.import", "carl",
             lambda response, url: ("document", response.json()["document"]["slug"])),
    Scenario(("POST", "/api/v1/spaces/{space}/bulk-import"), _nothing,  # one file in the zip: one event (issue 19)
             Call("POST", "/api/v1/spaces/benefits/bulk-import", "contributor", {"files": BULK_ZIP}),
             Call("POST", "/api/v1/spaces/benefits/bulk-import", "contributor", BROKEN), "document.import", "carl",
             ("document", "hr-policy")),
    Scenario(("PUT", "/api/v1/documents/{slug}/draft"), _approved,
             Call("PUT", "/api/v1/documents/child-benefit/draft", "contributor", {"json": {"title": "Child benefit 2027"}}),
             Call("PUT", "/api/v1/documents/child-benefit/draft", "reader", {"json": {"title": "Mine"}}), "version.edit", "carl",
             ("document", "child-benefit")),
    Scenario(("POST", "/api/v1/documents/{slug}/versions/{number}/submit"), _draft,
             Call("POST", "/api/v1/documents/child-benefit/versions/1/submit", "contributor", {"json": {}}),
             Call("POST", "/api/v1/documents/child-benefit/versions/9/submit", "contributor", {"json": {}}),
             "version.submit", "carl",
             ("document", "child-benefit")),
    Scenario(("POST", "/api/v1/documents/{slug}/versions/{number}/approve"), _in_review,
             Call("POST", "/api/v1/documents/child-benefit/versions/1/approve", "owner", {"json": {}}),
             Call("POST", "/api/v1/documents/child-benefit/versions/1/approve", "contributor", {"json": {}}),
             "version.approve", "olga",
             ("document", "child-benefit"), then=(("version.publish", "system"),)),
    Scenario(("POST", "/api/v1/documents/{slug}/versions/{number}/reject"), _in_review,
             Call("POST", "/api/v1/documents/child-benefit/versions/1/reject", "owner", {"json": {"reason": "No"}}),
             Call("POST", "/api/v1/documents/child-benefit/versions/1/reject", "owner", {"json": {"reason": ""}}),
             "version.reject", "olga",
             ("document", "child-benefit")),
    Scenario(("POST", "/api/v1/documents/{slug}/retire"), _approved,
             Call("POST", "/api/v1/documents/child-benefit/retire", "owner", {"json": {"reason": "Ended"}}),
             Call("POST", "/api/v1/documents/child-benefit/retire", "owner2", {"json": {}}), "version.retire", "olga",
             ("document", "child-benefit")),
    Scenario(("POST", "/api/v1/reports/{report_id}/dismiss"), _reported,
             Call("POST", "/api/v1/reports/1/dismiss", "owner", {"json": {"reason": "Still right"}}),
             Call("POST", "/api/v1/reports/1/dismiss", "reader", {"json": {"reason": "Still right"}}), "report.dismiss", "olga",
             ("document", "child-benefit")),
    Scenario(("POST", "/api/v1/documents/{slug}/comments"), _approved,
             Call("POST", "/api/v1/documents/child-benefit/comments", "reader", {"json": {"body_md": "Helpful"}}),
             Call("POST", "/api/v1/documents/no-such-doc/comments", "reader", {"json": {"body_md": "Helpful"}}),
             "comment.create", "rita",
             lambda response, url: ("comment", str(response.json()["id"]))),
    Scenario(("PATCH", "/api/v1/comments/{comment_id}"), _commented,
             Call("PATCH", "/api/v1/comments/1", "reader", {"json": {"body_md": "A question about the amounts"}}),
             Call("PATCH", "/api/v1/comments/1", "contributor", {"json": {"body_md": "Not mine"}}), "comment.edit", "rita",
             ("comment", "1")),
    Scenario(("DELETE", "/api/v1/comments/{comment_id}"), _commented,
             Call("DELETE", "/api/v1/comments/1", "reader", {}),
             Call("DELETE", "/api/v1/comments/1", "contributor", {}), "comment.delete", "rita",
             ("comment", "1")),
    Scenario(("PUT", "/api/v1/documents/{slug}/rating"), _approved,
             Call("PUT", "/api/v1/documents/child-benefit/rating", "reader", {"json": {"stars": 4}}),
             Call("PUT", "/api/v1/documents/child-benefit/rating", "reader", {"json": {"stars": 0}}), "rating.set", "rita",
             ("document", "child-benefit")),
    Scenario(("POST", "/api/v1/feedback"), _approved,
             Call("POST", "/api/v1/feedback", "reader", {"json": {"document": "child-benefit", "query": "q", "helpful": True}}),
             Call("POST", "/api/v1/feedback", "reader", {"json": {"document": "nope", "query": "q", "helpful": True}}),
             "feedback.create", "rita",
             ("document", "child-benefit")),
    Scenario(("POST", "/api/v1/questions"), _nothing,
             Call("POST", "/api/v1/questions", "reader", {"json": {"title": "Where is the form?", "body_md": "?"}}),
             Call("POST", "/api/v1/questions", "reader", {"json": {"title": "?", "body_md": "?"}}), "question.create", "rita",
             lambda response, url: ("question", str(response.json()["id"]))),
    Scenario(("POST", "/api/v1/questions/{question_id}/answers"), _answered,
             Call("POST", "/api/v1/questions/1/answers", "owner", {"json": {"body_md": "Use form CB-1."}}),
             Call("POST", "/api/v1/questions/99/answers", "owner", {"json": {"body_md": "Use form CB-1."}}),
             "answer.create", "olga",
             ("answer", "2")),  # the setup answered once already
    Scenario(("PUT", "/api/v1/{kind}/{post_id}/vote"), _answered,
             Call("PUT", "/api/v1/answers/1/vote", "reader", {"json": {"value": 1}}),
             Call("PUT", "/api/v1/answers/1/vote", "contributor", {"json": {"value": 1}}), "vote.set", "rita",
             ("answer", "1")),
    Scenario(("POST", "/api/v1/questions/{question_id}/accept"), _answered,
             Call("POST", "/api/v1/questions/1/accept", "reader", {"json": {"answer_id": 1}}),
             Call("POST", "/api/v1/questions/1/accept", "contributor", {"json": {"answer_id": 1}}), "answer.accept", "rita",
             ("question", "1")),
    Scenario(("POST", "/api/v1/questions/{question_id}/close"), _answered,
             Call("POST", "/api/v1/questions/2/close", "moderator", {"json": {"duplicate_of": 1}}),
             Call("POST", "/api/v1/questions/2/close", "contributor", {"json": {"duplicate_of": 1}}), "question.close", "mona",
             ("question", "2")),
    Scenario(("POST", "/api/v1/questions/{question_id}/promote"), _accepted,
             Call("POST", "/api/v1/questions/1/promote", "owner", {"json": {"space": "benefits", "slug": "twins"}}),
             Call("POST", "/api/v1/questions/1/promote", "owner", {"json": {"space": "benefits", "slug": "child-benefit"}}),
             "document.promote", "olga",
             ("document", "twins"), then=(("version.submit", "olga"),)),
    Scenario(("POST", "/api/v1/flags"), _commented,
             Call("POST", "/api/v1/flags", "owner", {"json": {"target": "comment", "target_id": "1", "reason": "spam"}}),
             Call("POST", "/api/v1/flags", "owner", {"json": {"target": "comment", "target_id": "9", "reason": "spam"}}),
             "flag.create", "olga",
             ("comment", "1")),
    Scenario(("POST", "/api/v1/moderation/{kind}/{target_id}"), _flagged,
             Call("POST", "/api/v1/moderation/comment/1", "moderator", {"json": {"action": "hide", "reason": "Spam"}}),
             Call("POST", "/api/v1/moderation/comment/1", "reader", {"json": {"action": "hide", "reason": "Spam"}}),
             "moderation.hide", "mona",
             ("comment", "1")),
    Scenario(("PATCH", "/api/v1/me/expertise"), _nothing,
             Call("PATCH", "/api/v1/me/expertise", "reader", {"json": {"declared_skills": ["housing"]}}),
             Call("PATCH", "/api/v1/me/expertise", "reader", {"json": {"declared_skills": ["x" * 61]}}),
             "profile.update", "rita",
             ("user", "rita")),
    Scenario(("POST", "/api/v1/experts/{username}/ask"), _nothing,
             Call("POST", "/api/v1/experts/olga/ask", "reader", {"json": {"message": "Help"}}),
             Call("POST", "/api/v1/experts/nobody/ask", "reader", {"json": {"message": "Help"}}), "expert.ask", "rita",
             ("user", "olga")),
    # notifications (issue 17): watching, unwatching and the delivery preference are audited on the watcher
    Scenario(("POST", "/api/v1/me/watches"), _approved,
             Call("POST", "/api/v1/me/watches", "reader", {"json": {"kind": "document", "target": "child-benefit"}}),
             Call("POST", "/api/v1/me/watches", "reader", {"json": {"kind": "document", "target": "no-such-doc"}}),
             "watch.add", "rita", ("user", "rita")),
    Scenario(("DELETE", "/api/v1/me/watches/{kind}/{target}"), _watching,
             Call("DELETE", "/api/v1/me/watches/document/child-benefit", "reader", {}),
             Call("DELETE", "/api/v1/me/watches/planet/child-benefit", "reader", {}),  # no such kind: 422
             "watch.remove", "rita", ("user", "rita")),
    # the taxonomy (issue 20): one event per change; an import is one per scheme and concept it makes
    Scenario(("POST", "/api/v1/taxonomy"), _nothing,
             Call("POST", "/api/v1/taxonomy", "owner", {"json": {"key": "topic", "field": "topic", "titles": {"en": "Topic"}}}),
             Call("POST", "/api/v1/taxonomy", "owner", {"json": {"key": "topic", "field": "colour", "titles": {"en": "Topic"}}}),
             "concept_scheme.create", "olga", ("concept_scheme", "topic")),
    Scenario(("POST", "/api/v1/taxonomy/import"), _nothing,
             Call("POST", "/api/v1/taxonomy/import?field=regions:region", "admin",
                  {"content": SKOS, "headers": {"Content-Type": "text/turtle"}}),
             Call("POST", "/api/v1/taxonomy/import", "admin", {"content": SKOS, "headers": {"Content-Type": "text/turtle"}}),
             "concept_scheme.create", "adam", ("concept_scheme", "regions"), then=(("concept.create", "adam"),)),
    Scenario(("POST", "/api/v1/taxonomy/{scheme}/concepts"), _taxonomy,
             Call("POST", "/api/v1/taxonomy/situation/concepts", "owner", {"json": {"key": "student", "preferred": {"en": "Student"}}}),
             Call("POST", "/api/v1/taxonomy/situation/concepts", "owner", {"json": {"key": "tenant", "preferred": {"en": "Again"}}}),
             "concept.create", "olga", ("concept", "situation:student")),
    Scenario(("PATCH", "/api/v1/taxonomy/{scheme}/concepts/{key}"), _taxonomy,
             Call("PATCH", "/api/v1/taxonomy/situation/concepts/tenant", "owner", {"json": {"alternative": {"en": ["renter"]}}}),
             Call("PATCH", "/api/v1/taxonomy/situation/concepts/tenant", "owner", {"json": {"broader": "tenant"}}),
             "concept.update", "olga", ("concept", "situation:tenant")),
    Scenario(("POST", "/api/v1/taxonomy/{scheme}/concepts/{key}/merge"), _taxonomy,
             Call("POST", "/api/v1/taxonomy/situation/concepts/lodger/merge", "owner", {"json": {"into": "tenant"}}),
             Call("POST", "/api/v1/taxonomy/situation/concepts/lodger/merge", "owner", {"json": {"into": "lodger"}}),
             "concept.merge", "olga", ("concept", "situation:lodger")),
    Scenario(("POST", "/api/v1/taxonomy/{scheme}/concepts/{key}/deprecate"), _taxonomy,
             Call("POST", "/api/v1/taxonomy/situation/concepts/lodger/deprecate", "owner", {}),
             Call("POST", "/api/v1/taxonomy/situation/concepts/nobody/deprecate", "owner", {}),
             "concept.deprecate", "olga", ("concept", "situation:lodger")),
    Scenario(("DELETE", "/api/v1/taxonomy/{scheme}/concepts/{key}"), _taxonomy,
             Call("DELETE", "/api/v1/taxonomy/situation/concepts/lodger", "owner", {}),
             Call("DELETE", "/api/v1/taxonomy/situation/concepts/lodger", "reader", {}),
             "concept.delete", "olga", ("concept", "situation:lodger")),
    Scenario(("PUT", "/api/v1/me/notification-preference"), _nothing,
             Call("PUT", "/api/v1/me/notification-preference", "reader", {"json": {"mode": "digest"}}),
             Call("PUT", "/api/v1/me/notification-preference", "reader", {"json": {"mode": "pigeon"}}),
             "notify.preference", "rita", ("user", "rita")),
]


@dataclass
class BookkeepingScenario:
    """A mutating route that changes only its caller's own bookkeeping and, by design, records no event:
    ``ok`` succeeds and changes rows without an event, ``bad`` is refused and changes nothing."""

    route: tuple[str, str]
    setup: Callable
    ok: Call
    bad: Call
    why: str


BOOKKEEPING = [
    # docs/notifications.md: "Reading and marking read are personal bookkeeping and record no audit event"
    # (kb/notifications/service.py). It sets notification.read_at, a row change with no event: docs/audit.md's
    # "every change of state is one event" lists only a token's last-used stamp as such bookkeeping.
    BookkeepingScenario(("POST", "/api/v1/notifications/read"), _told,
                        Call("POST", "/api/v1/notifications/read", "contributor", {"json": {}}),
                        Call("POST", "/api/v1/notifications/read", "contributor", {"json": {"ids": ["all"]}}),
                        "marking one's notifications read"),
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
    audited, bookkeeping = {s.route for s in SCENARIOS}, {s.route for s in BOOKKEEPING}
    assert not audited & bookkeeping
    assert mutating == audited | bookkeeping


def _newest_token(response) -> str:  # noqa: ANN001
    """The id of the token a sign-in just made: the newest of the signed-in person's tokens."""
    client, raw = response.test_client, response.json()["token"]
    mine = client.get("/api/v1/me/tokens", headers={"Authorization": f"Bearer {raw}"}).json()["data"]
    return str(max(token["id"] for token in mine))


def _send(client, cast, call: Call):  # noqa: ANN001, ANN202
    url = call.url.replace("{token}", str(_token_id(client, cast))) if "{token}" in call.url else call.url
    kwargs = dict(call.kwargs)
    headers = {**(cast[call.who].headers if call.who else {}), **kwargs.pop("headers", {})}
    response = client.request(call.method, url, headers=headers, **kwargs)
    response.test_client, response.sent_to = client, url
    return response


def expected_object(scenario: Scenario, response) -> tuple[str, str]:  # noqa: ANN001
    return scenario.obj(response, response.sent_to) if callable(scenario.obj) else scenario.obj


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
    assert [(e["action"], e["actor"]) for e in events] == [(scenario.action, scenario.actor), *scenario.then]
    assert (events[0]["object_type"], events[0]["object_id"]) == expected_object(scenario, ok), "the event names another object"
    assert [e["channel"] for e in events] == ["system" if e["actor"] == "system" else "api" for e in events], \
        "every event of an API call records the channel api (kb's own consequences: system)"
    assert served_state_differences(database) == [], "the database is not what the log commits to"


@pytest.mark.parametrize("scenario", BOOKKEEPING, ids=lambda s: f"{s.route[0]} {s.route[1]}")
def test_bookkeeping_changes_only_rows_and_records_no_event(client, database, scenario: BookkeepingScenario) -> None:  # noqa: ANN001
    cast = make_cast(database)
    scenario.setup(client, cast)
    before_rows, before_seq = snapshot(database), head_seq(database)
    bad = _send(client, cast, scenario.bad)
    assert 400 <= bad.status_code < 500, bad.text
    assert head_seq(database) == before_seq and snapshot(database) == before_rows, "a rejected request changed something"
    ok = _send(client, cast, scenario.ok)
    assert ok.status_code < 300, ok.text
    assert snapshot(database) != before_rows, f"{scenario.why} changed no row: it is not a mutating route"
    assert head_seq(database) == before_seq, f"{scenario.why} recorded an event: give it a Scenario instead"
    assert served_state_differences(database) == [], "the database is not what the log commits to"


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


# ------------------------------------------------------------- web form posts and CLI commands
# Issue 15: the same promise through the other two surfaces. Each scenario names the events a
# success adds, with their objects; its refused or invalid twin must add no event and change no row.

@dataclass
class Form:
    who: str | None
    url: str
    data: dict
    files: dict | None = None


@dataclass
class WebScenario:
    route: tuple[str, str]
    setup: Callable
    ok: Form
    bad: Form
    events: list[tuple[str, str, str, str]]  # (action, actor, object_type, object_id)
    ok_status: int = 303  # a form post redirects; the bulk import shows its report (200)




def _login_form(client) -> str:  # noqa: ANN001
    import re

    return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)


DOCX_FORM = {"file": ("policy.docx", SAMPLE_DOCX.read_bytes(), "application/octet-stream")}
BROKEN_FORM = {"file": ("broken.docx", b"PK\x03\x04 not really a zip", "application/octet-stream")}
NEW_DOC = {"space": "benefits", "slug": "web-doc", "title": "Web doc", "body_md": "# Web doc\n\nWritten on the web.",
           "audience": "internal", "language": "en", "action": "save"}

WEB_SCENARIOS = [
    WebScenario(("POST", "/login"), _password_user,
                Form(None, "/login", {"username": "pia", "password": "correct horse battery"}),
                Form(None, "/login", {"username": "pia", "password": "wrong password"}),
                [("session.create", "pia", "user", "pia")]),
    WebScenario(("POST", "/logout"), _nothing, Form("reader", "/logout", {}), Form("reader", "/logout", {"csrf": "forged"}),
                [("session.end", "rita", "user", "rita")]),
    WebScenario(("POST", "/write"), _nothing, Form("contributor", "/write", NEW_DOC), Form("reader", "/write", NEW_DOC),
                [("document.create", "carl", "document", "web-doc")]),
    WebScenario(("POST", "/write"), _approved,
                Form("contributor", "/write", {**NEW_DOC, "slug": "child-benefit", "existing": "1", "title": "Child benefit 2027"}),
                Form("reader", "/write", {**NEW_DOC, "slug": "child-benefit", "existing": "1", "title": "Mine"}),
                [("version.edit", "carl", "document", "child-benefit")]),
    WebScenario(("POST", "/import"), _nothing,
                Form("contributor", "/import", {"space": "benefits", "intended_use": "x"}, DOCX_FORM),
                Form("contributor", "/import", {"space": "benefits"}, BROKEN_FORM),
                [("document.import", "carl", "document", "policy")]),
    WebScenario(("POST", "/import/bulk"), _nothing,
                Form("contributor", "/import/bulk", {"space": "benefits"}, BULK_ZIP),
                Form("contributor", "/import/bulk", {"space": "benefits"}, BROKEN_FORM),
                [("document.import", "carl", "document", "hr-policy")], ok_status=200),
    WebScenario(("POST", "/d/{slug}/v/{number}/submit"), _draft,
                Form("contributor", "/d/child-benefit/v/1/submit", {}), Form("reader", "/d/child-benefit/v/1/submit", {}),
                [("version.submit", "carl", "document", "child-benefit")]),
    WebScenario(("POST", "/review/{slug}/{number}/{decision}"), _in_review,
                Form("owner", "/review/child-benefit/1/approve", {}), Form("contributor", "/review/child-benefit/1/approve", {}),
                [("version.approve", "olga", "document", "child-benefit"),
                 ("version.publish", "system", "document", "child-benefit")]),
    WebScenario(("POST", "/review/{slug}/{number}/{decision}"), _in_review,
                Form("owner", "/review/child-benefit/1/reject", {"comment": "Not yet"}),
                Form("owner", "/review/child-benefit/1/reject", {"comment": ""}),
                [("version.reject", "olga", "document", "child-benefit")]),
    WebScenario(("POST", "/d/{slug}/comments"), _approved,
                Form("reader", "/d/child-benefit/comments", {"body_md": "Helpful"}),
                Form("reader", "/d/no-such-doc/comments", {"body_md": "Helpful"}),
                [("comment.create", "rita", "comment", "1")]),
    WebScenario(("POST", "/d/{slug}/rating"), _approved, Form("reader", "/d/child-benefit/rating", {"stars": "4"}),
                Form("reader", "/d/child-benefit/rating", {"stars": "0"}), [("rating.set", "rita", "document", "child-benefit")]),
    WebScenario(("POST", "/feedback"), _approved,
                Form("reader", "/feedback", {"document": "child-benefit", "query": "q", "helpful": "yes"}),
                Form("reader", "/feedback", {"document": "nope", "query": "q", "helpful": "yes"}),
                [("feedback.create", "rita", "document", "child-benefit")]),
    WebScenario(("POST", "/flags"), _commented,
                Form("owner", "/flags", {"target": "comment", "target_id": "1", "reason": "spam", "next": "/d/child-benefit"}),
                Form("owner", "/flags", {"target": "comment", "target_id": "9", "reason": "spam", "next": "/d/child-benefit"}),
                [("flag.create", "olga", "comment", "1")]),
    WebScenario(("POST", "/questions"), _nothing,
                Form("reader", "/questions", {"title": "Where is the form?", "body_md": "?"}),
                Form("reader", "/questions", {"title": "?", "body_md": "?"}), [("question.create", "rita", "question", "1")]),
    WebScenario(("POST", "/questions/{question_id}/answers"), _answered,
                Form("owner", "/questions/1/answers", {"body_md": "Use form CB-1."}),
                Form("owner", "/questions/99/answers", {"body_md": "Use form CB-1."}), [("answer.create", "olga", "answer", "2")]),
    WebScenario(("POST", "/votes/{kind}/{post_id}"), _answered,
                Form("reader", "/votes/answers/1", {"value": "1", "question": "1"}),
                Form("contributor", "/votes/answers/1", {"value": "1", "question": "1"}), [("vote.set", "rita", "answer", "1")]),
    WebScenario(("POST", "/questions/{question_id}/accept"), _answered,
                Form("reader", "/questions/1/accept", {"answer_id": "1"}),
                Form("contributor", "/questions/1/accept", {"answer_id": "1"}), [("answer.accept", "rita", "question", "1")]),
    WebScenario(("POST", "/questions/{question_id}/promote"), _accepted,
                Form("owner", "/questions/1/promote", {"space": "benefits", "slug": "twins", "audience": "internal"}),
                Form("owner", "/questions/1/promote", {"space": "benefits", "slug": "child-benefit", "audience": "internal"}),
                [("document.promote", "olga", "document", "twins"), ("version.submit", "olga", "document", "twins")]),
    WebScenario(("POST", "/governance/{request_id}"), _governance_pending,
                Form("owner2", "/governance/1", {"decision": "approve"}),
                Form("owner", "/governance/1", {"decision": "approve"}),  # her own request: 409
                [("governance.approve", "otto", "governance_request", "1"), ("space.update", "otto", "space", "benefits")]),
    WebScenario(("POST", "/moderation/{kind}/{target_id}"), _flagged,
                Form("moderator", "/moderation/comment/1", {"action": "hide", "reason": "Spam"}),
                Form("reader", "/moderation/comment/1", {"action": "hide", "reason": "Spam"}),
                [("moderation.hide", "mona", "comment", "1")]),
    WebScenario(("POST", "/people/{username}/ask"), _nothing, Form("reader", "/people/olga/ask", {"message": "Help"}),
                Form("reader", "/people/nobody/ask", {"message": "Help"}), [("expert.ask", "rita", "user", "olga")]),
    WebScenario(("POST", "/me/profile"), _nothing, Form("reader", "/me/profile", {"skills": "housing"}),
                Form("reader", "/me/profile", {"skills": "x" * 61}), [("profile.update", "rita", "user", "rita")]),
    # issue 17: the author edits a comment on its document's page; watching and the preference, on any page's button
    WebScenario(("POST", "/comments/{comment_id}/edit"), _commented,
                Form("reader", "/comments/1/edit", {"body_md": "A question about the amounts"}),
                Form("contributor", "/comments/1/edit", {"body_md": "Not mine"}), [("comment.edit", "rita", "comment", "1")]),
    WebScenario(("POST", "/review/reports/{report_id}/dismiss"), _reported,
                Form("owner", "/review/reports/1/dismiss", {"reason": "Still right"}),
                Form("owner", "/review/reports/1/dismiss", {"reason": ""}), [("report.dismiss", "olga", "document", "child-benefit")]),
    WebScenario(("POST", "/watch"), _approved,
                Form("reader", "/watch", {"kind": "document", "target": "child-benefit", "next": "/d/child-benefit"}),
                Form("reader", "/watch", {"kind": "document", "target": "no-such-doc", "next": "/d/child-benefit"}),
                [("watch.add", "rita", "user", "rita")]),
    WebScenario(("POST", "/watch"), _watching,
                Form("reader", "/watch", {"kind": "document", "target": "child-benefit", "stop": "yes", "next": "/d/child-benefit"}),
                Form("reader", "/watch", {"kind": "planet", "target": "child-benefit", "stop": "yes", "next": "/d/child-benefit"}),
                [("watch.remove", "rita", "user", "rita")]),
    WebScenario(("POST", "/notifications/preference"), _nothing, Form("reader", "/notifications/preference", {"mode": "digest"}),
                Form("reader", "/notifications/preference", {"mode": "pigeon"}), [("notify.preference", "rita", "user", "rita")]),
]

WEB_SCENARIOS += [  # the taxonomy (issue 20)
    WebScenario(("POST", "/taxonomy/schemes"), _nothing,
                Form("owner", "/taxonomy/schemes", {"key": "topic", "field": "topic", "title_en": "Topic"}),
                Form("reader", "/taxonomy/schemes", {"key": "topic", "field": "topic", "title_en": "Topic"}),
                [("concept_scheme.create", "olga", "concept_scheme", "topic")]),
    WebScenario(("POST", "/taxonomy/import"), _nothing,
                Form("admin", "/taxonomy/import", {"fields": "regions=region"}, {"file": ("regions.ttl", SKOS.encode(), "text/turtle")}),
                Form("admin", "/taxonomy/import", {}, {"file": ("regions.ttl", SKOS.encode(), "text/turtle")}),
                [("concept_scheme.create", "adam", "concept_scheme", "regions"), ("concept.create", "adam", "concept", "regions:north")],
                ok_status=200),
    WebScenario(("POST", "/taxonomy/{scheme}/concepts"), _taxonomy,
                Form("owner", "/taxonomy/situation/concepts", {"key": "student", "pref_en": "Student"}),
                Form("owner", "/taxonomy/situation/concepts", {"key": "tenant", "pref_en": "Again"}),
                [("concept.create", "olga", "concept", "situation:student")]),
    WebScenario(("POST", "/taxonomy/{scheme}/concepts/{key}"), _taxonomy,
                Form("owner", "/taxonomy/situation/concepts/tenant", {"pref_en": "Tenant", "alt_en": "renter"}),
                Form("owner", "/taxonomy/situation/concepts/tenant", {"pref_nl": "Huurder"}),  # no English label
                [("concept.update", "olga", "concept", "situation:tenant")]),
    WebScenario(("POST", "/taxonomy/{scheme}/concepts/{key}/merge"), _taxonomy,
                Form("owner", "/taxonomy/situation/concepts/lodger/merge", {"into": "tenant"}),
                Form("contributor", "/taxonomy/situation/concepts/lodger/merge", {"into": "tenant"}),
                [("concept.merge", "olga", "concept", "situation:lodger")]),
    WebScenario(("POST", "/taxonomy/{scheme}/concepts/{key}/deprecate"), _taxonomy,
                Form("admin", "/taxonomy/situation/concepts/lodger/deprecate", {}),
                Form("admin", "/taxonomy/situation/concepts/lodger/deprecate", {"csrf": "forged"}),
                [("concept.deprecate", "adam", "concept", "situation:lodger")]),
    WebScenario(("POST", "/taxonomy/{scheme}/concepts/{key}/delete"), _taxonomy,
                Form("admin", "/taxonomy/situation/concepts/lodger/delete", {}),
                Form("admin", "/taxonomy/situation/concepts/nobody/delete", {}),
                [("concept.delete", "adam", "concept", "situation:lodger")]),
]

# Form posts that change only the poster's own bookkeeping and record no event by design (as BOOKKEEPING above):
# the twin of POST /api/v1/notifications/read (docs/notifications.md: marking read is personal bookkeeping).
WEB_BOOKKEEPING = [
    (("POST", "/notifications/read"), _told, Form("contributor", "/notifications/read", {}),
     Form("contributor", "/notifications/read", {"csrf": "forged"})),
]


def test_every_form_post_of_the_web_has_a_scenario() -> None:
    from fastapi.routing import APIRoute

    from kb.web.routes import PAGES

    posts = {("POST", route.path) for pages in PAGES for route in pages.router.routes
             if isinstance(route, APIRoute) and "POST" in route.methods}
    audited, bookkeeping = {s.route for s in WEB_SCENARIOS}, {route for route, *_ in WEB_BOOKKEEPING}
    assert not audited & bookkeeping
    assert posts == audited | bookkeeping


def _signed_in(client, database, cast, form: Form) -> tuple[str | None, dict]:  # noqa: ANN001
    """The session cookie and the form data (with its CSRF token) for ``form``'s poster, made beforehand."""
    data = dict(form.data)
    if form.who is None:
        return None, data
    cookie, csrf = web_session(database, cast[form.who].username)
    data.setdefault("csrf", csrf)
    return cookie, data


def _post_form(client, form: Form, cookie: str | None, data: dict):  # noqa: ANN001, ANN202
    client.cookies.clear()
    if cookie is not None:
        client.cookies.set("kb_session", cookie)
    elif form.url == "/login":
        data = {**data, "csrf": _login_form(client)}
    response = client.post(form.url, data=data, files=form.files, follow_redirects=False)
    client.cookies.clear()
    return response


@pytest.mark.parametrize("scenario", WEB_SCENARIOS, ids=lambda s: f"{s.route[1]} {s.events[0][0]}")
def test_a_form_post_adds_its_events_and_a_refused_one_none(client, database, scenario: WebScenario) -> None:  # noqa: ANN001
    cast = make_cast(database)
    scenario.setup(client, cast)
    bad_session, ok_session = _signed_in(client, database, cast, scenario.bad), _signed_in(client, database, cast, scenario.ok)
    before_rows, before_seq = snapshot(database), head_seq(database)
    bad = _post_form(client, scenario.bad, *bad_session)
    assert 400 <= bad.status_code < 500, (bad.status_code, bad.text[:300])
    assert head_seq(database) == before_seq, "a refused form post recorded an event"
    assert snapshot(database) == before_rows, "a refused form post changed rows"
    ok = _post_form(client, scenario.ok, *ok_session)
    assert ok.status_code == scenario.ok_status and not ok.headers.get("location", "").startswith("/login?next="), \
        (ok.status_code, ok.text[:300])
    events = audit_events(database, before_seq)
    assert [(e["action"], e["actor"], e["object_type"], e["object_id"]) for e in events] == scenario.events
    assert [e["channel"] for e in events] == ["system" if e["actor"] == "system" else "web" for e in events], \
        "every event of a form post records the channel web (kb's own consequences: system)"
    assert served_state_differences(database) == [], "the database is not what the log commits to"


@pytest.mark.parametrize("scenario", WEB_BOOKKEEPING, ids=lambda s: s[0][1])
def test_a_bookkeeping_form_post_changes_rows_and_records_no_event(client, database, scenario) -> None:  # noqa: ANN001
    route, setup, ok_form, bad_form = scenario
    cast = make_cast(database)
    setup(client, cast)
    bad_session, ok_session = _signed_in(client, database, cast, bad_form), _signed_in(client, database, cast, ok_form)
    before_rows, before_seq = snapshot(database), head_seq(database)
    bad = _post_form(client, bad_form, *bad_session)
    assert 400 <= bad.status_code < 500, (bad.status_code, bad.text[:300])
    assert head_seq(database) == before_seq and snapshot(database) == before_rows, "a refused form post changed something"
    ok = _post_form(client, ok_form, *ok_session)
    assert ok.status_code == 303 and not ok.headers.get("location", "").startswith("/login?next="), \
        (ok.status_code, ok.text[:300])
    assert snapshot(database) != before_rows, f"{route} changed no row"
    assert head_seq(database) == before_seq, f"{route} recorded an event: give it a WebScenario instead"
    assert served_state_differences(database) == [], "the database is not what the log commits to"


@dataclass
class CliScenario:
    """A command run by ``who`` (their API token in KB_TOKEN): ``ok`` succeeds, ``bad`` is refused by the
    action's rules, and ``ok`` with ``--as who`` and a wrong password is refused before it (issue 16)."""

    name: str
    setup: Callable
    who: str
    ok: list[str]
    bad: list[str]
    events: list[tuple[str, str, str, str | None]]  # object_id None: checked by type only (a new token's id)


CLI_SCENARIOS = [
    CliScenario("user add", _nothing, "admin", ["user", "add", "neo", "--name", "Neo"], ["user", "add", "rita"],
                [("user.create", "adam", "user", "neo")]),
    CliScenario("space add", _nothing, "admin", ["space", "add", "legal", "--name", "Legal"], ["space", "add", "benefits"],
                [("space.create", "adam", "space", "legal")]),
    CliScenario("space member", _nothing, "owner", ["space", "member", "benefits", "rita", "contributor"],
                ["space", "member", "benefits", "rita", "king"], [("space.member.set", "olga", "space", "benefits")]),
    CliScenario("space update", _nothing, "owner", ["space", "update", "benefits", "--description", "Entitlements"],
                ["space", "update", "elsewhere", "--description", "Not hers"], [("space.update", "olga", "space", "benefits")]),
    CliScenario("space remove", _nothing, "owner", ["space", "remove", "benefits", "carl"],
                ["space", "remove", "benefits", "nobody"], [("space.member.remove", "olga", "space", "benefits")]),
    CliScenario("token create", _nothing, "reader", ["token", "create"], ["token", "create", "olga"],
                [("token.create", "rita", "token", None)]),
    CliScenario("import", _nothing, "contributor", ["import", "{docx}", "--space", "benefits", "--intended-use", "x"],
                ["import", "{docx}", "--space", "elsewhere"], [("document.import", "carl", "document", "policy")]),
    CliScenario("approve", _in_review, "owner", ["approve", "child-benefit", "1"],
                ["approve", "child-benefit", "2"], [("version.approve", "olga", "document", "child-benefit"),
                 ("version.publish", "system", "document", "child-benefit")]),
    CliScenario("dismiss-report", _reported, "owner", ["dismiss-report", "1", "--reason", "Still right"],
                ["dismiss-report", "2", "--reason", "Still right"], [("report.dismiss", "olga", "document", "child-benefit")]),
    CliScenario("governance approve", _governance_pending, "owner2", ["governance", "approve", "1"],
                ["governance", "approve", "2"], [("governance.approve", "otto", "governance_request", "1"),
                                                 ("space.update", "otto", "space", "benefits")]),
    CliScenario("governance refuse", _governance_pending, "owner2", ["governance", "refuse", "1", "--reason", "Keep four eyes"],
                ["governance", "refuse", "1", "--reason", ""], [("governance.refuse", "otto", "governance_request", "1")]),
    # issue 17: moderation per item, watching and the delivery preference from the command line
    CliScenario("moderation decide", _flagged, "moderator", ["moderation", "decide", "comment", "1", "hide", "--reason", "Spam"],
                ["moderation", "decide", "comment", "9", "hide", "--reason", "Spam"], [("moderation.hide", "mona", "comment", "1")]),
    CliScenario("notify watch", _approved, "reader", ["notify", "watch", "document", "child-benefit"],
                ["notify", "watch", "document", "no-such-doc"], [("watch.add", "rita", "user", "rita")]),
    CliScenario("notify watch", _watching, "reader", ["notify", "watch", "document", "child-benefit", "--stop"],
                ["notify", "watch", "planet", "child-benefit", "--stop"], [("watch.remove", "rita", "user", "rita")]),
    CliScenario("notify prefer", _nothing, "reader", ["notify", "prefer", "digest"], ["notify", "prefer", "pigeon"],
                [("notify.preference", "rita", "user", "rita")]),
]

CLI_SCENARIOS += [  # the taxonomy (issue 20)
    CliScenario("taxonomy add-scheme", _nothing, "owner", ["taxonomy", "add-scheme", "topic", "--field", "topic", "--title", "en=Topic"],
                ["taxonomy", "add-scheme", "topic", "--field", "topic", "--title", "nl=Onderwerp"],
                [("concept_scheme.create", "olga", "concept_scheme", "topic")]),
    CliScenario("taxonomy import", _nothing, "admin", ["taxonomy", "import", "{ttl}", "--field", "regions=region"],
                ["taxonomy", "import", "{ttl}"],
                [("concept_scheme.create", "adam", "concept_scheme", "regions"), ("concept.create", "adam", "concept", "regions:north")]),
    CliScenario("taxonomy add-concept", _taxonomy, "owner", ["taxonomy", "add-concept", "situation:student", "--label", "en=Student"],
                ["taxonomy", "add-concept", "situation:tenant", "--label", "en=Again"],
                [("concept.create", "olga", "concept", "situation:student")]),
    CliScenario("taxonomy update", _taxonomy, "owner", ["taxonomy", "update", "situation:tenant", "--alt", "en=renter"],
                ["taxonomy", "update", "situation:tenant", "--broader", "tenant"],
                [("concept.update", "olga", "concept", "situation:tenant")]),
    CliScenario("taxonomy merge", _taxonomy, "owner", ["taxonomy", "merge", "situation:lodger", "tenant"],
                ["taxonomy", "merge", "situation:lodger", "lodger"], [("concept.merge", "olga", "concept", "situation:lodger")]),
    CliScenario("taxonomy deprecate", _taxonomy, "admin", ["taxonomy", "deprecate", "situation:lodger"],
                ["taxonomy", "deprecate", "situation:nobody"], [("concept.deprecate", "adam", "concept", "situation:lodger")]),
    CliScenario("taxonomy delete", _taxonomy, "admin", ["taxonomy", "delete", "situation:lodger"],
                ["taxonomy", "delete", "situation:nobody"], [("concept.delete", "adam", "concept", "situation:lodger")]),
]

# Commands that change rows yet record no event by design, each checked below to record none:
CLI_NO_EVENT = {
    # the twin of POST /api/v1/notifications/read: personal bookkeeping (docs/notifications.md)
    "notify read": (_told, "contributor", ["notify", "read"], ["notify", "read", "first"]),
    # the delivery job (cron): acts for nobody, sends what earlier events queued and writes the daily
    # reminders into inboxes (kb/cli/notify.py: "it records no event")
    "notify run": (_told, None, ["notify", "run", "--daily-now"], None),
}


def test_every_state_changing_command_has_a_scenario() -> None:
    """The commands that change what kb serves; the others only read, or are bootstrap (init, demo, db upgrade)."""
    import typer

    from kb.cli import app

    def walk(command, prefix: str = ""):  # noqa: ANN001, ANN202
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{prefix}{name} ") if getattr(sub, "commands", None) else [f"{prefix}{name}"]

    commands = set(walk(typer.main.get_command(app)))
    read_only_or_bootstrap = {"init", "serve", "demo", "db upgrade", "export-prov", "search", "experts", "reindex",
                              "index check", "audit verify", "audit checkpoint", "audit export", "governance list",
                              "verify-receipt",
                              "moderation list", "notify list", "me work",  # issue 17's reads: the queue, the inbox, my work
                              "review-queue",  # the owners' review queue, as GET /api/v1/review-queue
                              "taxonomy list", "taxonomy export",  # issue 20's reads
                              "explore",  # issue 20: what applies to me, counted anonymously (analytics, as search's query log)
                              # derived data (issue 19): vectors computed from passages the log commits to, like the indexes
                              "index vectors", "index encode", "index forget"}
    assert not read_only_or_bootstrap & set(CLI_NO_EVENT)
    assert commands - read_only_or_bootstrap - set(CLI_NO_EVENT) == {s.name for s in CLI_SCENARIOS}


@pytest.mark.parametrize("name", sorted(CLI_NO_EVENT))
def test_a_command_that_records_no_event_records_none(cli_env, client, database, name: str) -> None:  # noqa: ANN001
    from tests.factories import run_cli

    setup, who, ok_args, bad_args = CLI_NO_EVENT[name]
    cast = make_cast(database)
    setup(client, cast)
    token = cast[who].token if who else None
    before_rows, before_seq = snapshot(database), head_seq(database)
    if bad_args is not None:
        bad = run_cli(*bad_args, token=token)
        assert bad.exit_code != 0, bad.output
        assert head_seq(database) == before_seq and snapshot(database) == before_rows, "a refused command changed something"
    ok = run_cli(*ok_args, token=token)
    assert ok.exit_code == 0, ok.output
    if who:  # personal bookkeeping: it did change the person's rows
        assert snapshot(database) != before_rows, f"kb {name} changed no row"
    assert head_seq(database) == before_seq, f"kb {name} recorded an event: give it a CliScenario instead"
    assert served_state_differences(database) == [], "the database is not what the log commits to"


@pytest.mark.parametrize("scenario", CLI_SCENARIOS, ids=lambda s: s.name)
def test_a_command_adds_its_events_and_a_refused_one_none(cli_env, client, database, tmp_path, scenario: CliScenario) -> None:  # noqa: ANN001
    from tests.factories import run_cli

    cast = make_cast(database)
    scenario.setup(client, cast)
    docx = tmp_path / "policy.docx"
    docx.write_bytes(SAMPLE_DOCX.read_bytes())
    person = cast[scenario.who]
    ttl = tmp_path / "regions.ttl"
    ttl.write_text(SKOS, encoding="utf-8")
    ok_args, bad_args = ([a.replace("{docx}", str(docx)).replace("{ttl}", str(ttl)) for a in args]
                         for args in (scenario.ok, scenario.bad))
    before_rows, before_seq = snapshot(database), head_seq(database)
    bad = run_cli(*bad_args, token=person.token)
    assert bad.exit_code != 0, bad.output
    unauthenticated = run_cli(*ok_args, "--as", person.username, password="not-their-password")
    assert unauthenticated.exit_code != 0 and "Unknown username or wrong password" in unauthenticated.output
    assert head_seq(database) == before_seq, "a refused command recorded an event"
    assert snapshot(database) == before_rows, "a refused command changed rows"
    ok = run_cli(*ok_args, token=person.token)
    assert ok.exit_code == 0, ok.output
    recorded = audit_events(database, before_seq)
    # A person acts through the CLI: every event they cause records cli; kb's own consequences record system.
    assert [e["channel"] for e in recorded] == ["system" if e["actor"] == "system" else "cli" for e in recorded]
    assert {e["action"] for e in recorded if e["actor"] == "system"} <= {"version.publish"}
    events = [(e["action"], e["actor"], e["object_type"], e["object_id"]) for e in recorded]
    assert [(a, who, kind, oid if want is not None else None) for (a, who, kind, oid), (*_, want) in zip(events, scenario.events)] \
        == scenario.events and len(events) == len(scenario.events)
    assert served_state_differences(database) == [], "the database is not what the log commits to"
