"""Role × operation matrix (RELIABILITY T3, OWASP API1 and API5): expected vs actual, mismatches = 0.

Written by hand from the product's rules (README, DESIGN), not derived from the routes' declared
access, so that a route whose declaration or service check drifts from the rules fails here. Each
row is one concrete request that succeeds for the roles admitted to it; every other role must get
401 (anonymous) or the row's denial status (403, or 404 where existence must not leak). Roles not
admitted go first, so a refusal is judged before any admitted request changes state; an admitted
request that repeats a one-time action may get 409 (or the row's ``repeat`` status). Every operation
of the OpenAPI spec needs a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from kb.app import create_app
from kb.actors import SYSTEM
from kb.search.indexer import SearchIndexes
from tests.factories import doc_body, make_document, make_person
from tests.fakes import HashingEmbedder

R, C, O, M, A, X, N = "reader", "contributor", "owner", "moderator", "admin", "outsider_owner", "anonymous"
SIGNED = frozenset({R, C, O, M, A, X})
EVERYONE = SIGNED | {N}
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Row:
    method: str
    route: str  # the OpenAPI path
    url: str  # a concrete request
    admitted: frozenset[str]
    kwargs: dict = field(default_factory=dict)
    denied: int = 403
    repeat: frozenset[int] = frozenset({409})
    denied_for: dict = field(default_factory=dict)  # a role refused otherwise than ``denied`` (404: no such object for it)


def zip_of(path: str) -> dict:
    """A bulk import's zip of one Markdown file at ``path`` (a fresh document for each admitted role: the second
    one finds the same bytes, ``unchanged``, which is a 200 too)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{path}.md", f"# {path}\n\nRent notes.\n")
    return {"files": {"file": ("batch.zip", buffer.getvalue(), "application/zip")}}


def md_file(name: str) -> dict:
    return {"files": {"file": (f"{name}.md", f"# {name}\n\nText of {name}.".encode(), "text/markdown")}}


# Order matters: actions that end a document's or a thread's life come after the rows that need it.
ROWS = [
    Row("GET", "/api/v1/health", "/api/v1/health", EVERYONE),
    Row("POST", "/api/v1/auth/token", "/api/v1/auth/token", EVERYONE, {"json": {"username": "pia", "password": PASSWORD}}),
    Row("GET", "/api/v1/me", "/api/v1/me", SIGNED),
    Row("GET", "/api/v1/me/tokens", "/api/v1/me/tokens", SIGNED),
    Row("POST", "/api/v1/me/tokens", "/api/v1/me/tokens", SIGNED, {"json": {"name": "matrix"}}),
    Row("DELETE", "/api/v1/me/tokens/{token_id}", "/api/v1/me/tokens/{spare_token}", frozenset({R, A}), denied=404),
    Row("GET", "/api/v1/me/inbox", "/api/v1/me/inbox", SIGNED),
    Row("PATCH", "/api/v1/me/expertise", "/api/v1/me/expertise", SIGNED, {"json": {"declared_skills": ["housing"]}}),
    Row("GET", "/api/v1/users", "/api/v1/users", frozenset({A})),
    Row("POST", "/api/v1/users", "/api/v1/users", frozenset({A}), {"json": {"username": "neo", "display_name": "Neo"}}),
    Row("GET", "/api/v1/users/{username}", "/api/v1/users/rita", frozenset({A})),
    Row("PATCH", "/api/v1/users/{username}", "/api/v1/users/rita", frozenset({A}), {"json": {"display_name": "Rita R."}}),
    Row("GET", "/api/v1/spaces", "/api/v1/spaces", SIGNED),
    Row("POST", "/api/v1/spaces", "/api/v1/spaces", frozenset({A}), {"json": {"slug": "legal", "name": "Legal"}}),
    Row("GET", "/api/v1/spaces/{slug}", "/api/v1/spaces/benefits", SIGNED),
    Row("PATCH", "/api/v1/spaces/{slug}", "/api/v1/spaces/benefits", frozenset({O, A}), {"json": {"description": "Entitlements"}}),
    Row("PUT", "/api/v1/spaces/{slug}/members/{username}", "/api/v1/spaces/benefits/members/pia", frozenset({O, A}),
        {"json": {"role": "reader"}}),
    Row("DELETE", "/api/v1/spaces/{slug}/members/{username}", "/api/v1/spaces/benefits/members/pia", frozenset({O, A}),
        repeat=frozenset({404})),
    # separation of duties (issue 16): otto asked to make pia (request 1) and mona (request 2) owners
    Row("GET", "/api/v1/governance/requests", "/api/v1/governance/requests", SIGNED),
    Row("POST", "/api/v1/governance/requests/{request_id}/approve", "/api/v1/governance/requests/1/approve",
        frozenset({O, A}), {"json": {}}),
    Row("POST", "/api/v1/governance/requests/{request_id}/refuse", "/api/v1/governance/requests/2/refuse",
        frozenset({O, A}), {"json": {"reason": "Not now"}}),
    Row("GET", "/api/v1/documents", "/api/v1/documents", SIGNED),
    Row("POST", "/api/v1/spaces/{space}/documents", "/api/v1/spaces/benefits/documents", frozenset({C, O}),
        {"json": doc_body("Housing allowance")}),
    Row("POST", "/api/v1/spaces/{space}/import", "/api/v1/spaces/benefits/import", frozenset({C, O}), md_file("rent-rules")),
    Row("POST", "/api/v1/spaces/{space}/bulk-import", "/api/v1/spaces/benefits/bulk-import", frozenset({C, O}),
        zip_of("bulk/rent-notes")),
    # the import row just made rent-rules v1, a draft: its writers and admins see it, anyone else gets 404
    Row("GET", "/api/v1/documents/{slug}/versions/{number}/file", "/api/v1/documents/rent-rules/versions/1/file",
        frozenset({C, O, A}), denied=404),
    Row("GET", "/api/v1/documents/{slug}", "/api/v1/documents/child-benefit", SIGNED),
    Row("GET", "/api/v1/documents/{slug}/versions", "/api/v1/documents/child-benefit/versions", SIGNED),
    Row("GET", "/api/v1/documents/{slug}/versions/{number}", "/api/v1/documents/child-benefit/versions/1", SIGNED),
    Row("GET", "/api/v1/documents/{slug}/diff", "/api/v1/documents/child-benefit/diff?from=1&to=1", SIGNED),
    Row("GET", "/api/v1/documents/{slug}/provenance", "/api/v1/documents/child-benefit/provenance", SIGNED),
    Row("PUT", "/api/v1/documents/{slug}/draft", "/api/v1/documents/child-benefit/draft", frozenset({C, O}),
        {"json": {"title": "Child benefit 2027"}}),
    # the reviewer's view of a version in review: its writers and reviewers (owners) and admins; to anyone else it does not exist
    Row("GET", "/api/v1/documents/{slug}/versions/{number}/review", "/api/v1/documents/review-policy/versions/1/review",
        frozenset({C, O, A}), denied=404),
    Row("POST", "/api/v1/documents/{slug}/versions/{number}/submit", "/api/v1/documents/draft-policy/versions/1/submit",
        frozenset({C, O}), {"json": {}}),
    Row("POST", "/api/v1/documents/{slug}/versions/{number}/approve", "/api/v1/documents/review-policy/versions/1/approve",
        frozenset({O}), {"json": {}}),
    Row("POST", "/api/v1/documents/{slug}/versions/{number}/reject", "/api/v1/documents/reject-policy/versions/1/reject",
        frozenset({O}), {"json": {"reason": "Not yet"}}),
    Row("GET", "/api/v1/review-queue", "/api/v1/review-queue", frozenset({O, X})),
    # report 1: rita's report that child-benefit is outdated; an owner of another space finds no such report
    Row("POST", "/api/v1/reports/{report_id}/dismiss", "/api/v1/reports/1/dismiss", frozenset({O}),
        {"json": {"reason": "Still right"}}, denied_for={X: 404}),
    Row("GET", "/api/v1/search", "/api/v1/search?q=benefit", SIGNED),
    Row("GET", "/api/v1/insights/queries", "/api/v1/insights/queries", frozenset({O, X, A})),
    Row("GET", "/api/v1/insights/situations", "/api/v1/insights/situations", frozenset({O, X, A})),  # issue 20
    Row("GET", "/api/v1/documents/{slug}/comments", "/api/v1/documents/child-benefit/comments", SIGNED),
    Row("POST", "/api/v1/documents/{slug}/comments", "/api/v1/documents/child-benefit/comments", SIGNED,
        {"json": {"body_md": "Useful, thanks."}}),
    Row("PATCH", "/api/v1/comments/{comment_id}", "/api/v1/comments/1", frozenset({R}), {"json": {"body_md": "When exactly?"}}),
    Row("GET", "/api/v1/documents/{slug}/rating", "/api/v1/documents/child-benefit/rating", SIGNED),
    Row("PUT", "/api/v1/documents/{slug}/rating", "/api/v1/documents/child-benefit/rating", SIGNED, {"json": {"stars": 4}}),
    Row("POST", "/api/v1/feedback", "/api/v1/feedback", SIGNED,
        {"json": {"document": "child-benefit", "query": "benefit", "helpful": True}}),
    Row("GET", "/api/v1/questions", "/api/v1/questions", SIGNED),
    Row("POST", "/api/v1/questions", "/api/v1/questions", SIGNED, {"json": {"title": "Where is the form?", "body_md": "Paper?"}}),
    Row("GET", "/api/v1/questions/{question_id}", "/api/v1/questions/1", SIGNED),
    Row("GET", "/api/v1/questions/similar", "/api/v1/questions/similar?q=twins%20claim", SIGNED),
    Row("POST", "/api/v1/questions/{question_id}/answers", "/api/v1/questions/1/answers", SIGNED,
        {"json": {"body_md": "Ask at the counter."}}),
    Row("PUT", "/api/v1/{kind}/{post_id}/vote", "/api/v1/answers/1/vote", SIGNED - {C}, {"json": {"value": 1}}),  # not one's own
    Row("GET", "/api/v1/questions/{question_id}/experts", "/api/v1/questions/1/experts", SIGNED),
    Row("POST", "/api/v1/questions/{question_id}/accept", "/api/v1/questions/1/accept", frozenset({R, O}),
        {"json": {"answer_id": 1}}),
    Row("POST", "/api/v1/questions/{question_id}/promote", "/api/v1/questions/1/promote", frozenset({O}),
        {"json": {"space": "benefits", "slug": "twins"}}),
    Row("POST", "/api/v1/questions/{question_id}/close", "/api/v1/questions/1/close", frozenset({R, O, M, A}),
        {"json": {"duplicate_of": 2}}),
    Row("GET", "/api/v1/experts", "/api/v1/experts?q=benefit", SIGNED),
    Row("GET", "/api/v1/experts/people/{username}", "/api/v1/experts/people/olga", SIGNED),
    Row("POST", "/api/v1/experts/{username}/ask", "/api/v1/experts/otto/ask", SIGNED, {"json": {"message": "A question on rent"}}),
    Row("GET", "/api/v1/people/{username}", "/api/v1/people/rita", SIGNED),
    Row("POST", "/api/v1/flags", "/api/v1/flags", SIGNED, {"json": {"target": "document", "target_id": "child-benefit", "reason": "outdated"}}),
    Row("GET", "/api/v1/moderation/queue", "/api/v1/moderation/queue", frozenset({M, A})),
    Row("POST", "/api/v1/moderation/{kind}/{target_id}", "/api/v1/moderation/comment/1", frozenset({M, A}),
        {"json": {"action": "hide", "reason": "Checking"}}),
    # the moderation row just hid comment 1: to anyone but its author and the moderators it no longer exists
    Row("DELETE", "/api/v1/comments/{comment_id}", "/api/v1/comments/1", frozenset({R, M, A}), denied=404),
    # notifications and "my work" (issue 17): each person's own, so every signed-in person, and nobody else's
    Row("GET", "/api/v1/notifications", "/api/v1/notifications", SIGNED),
    Row("POST", "/api/v1/notifications/read", "/api/v1/notifications/read", SIGNED, {"json": {}}),
    Row("GET", "/api/v1/me/notification-preference", "/api/v1/me/notification-preference", SIGNED),
    Row("PUT", "/api/v1/me/notification-preference", "/api/v1/me/notification-preference", SIGNED, {"json": {"mode": "digest"}}),
    Row("GET", "/api/v1/me/watches", "/api/v1/me/watches", SIGNED),
    Row("POST", "/api/v1/me/watches", "/api/v1/me/watches", SIGNED, {"json": {"kind": "document", "target": "child-benefit"}}),
    Row("DELETE", "/api/v1/me/watches/{kind}/{target}", "/api/v1/me/watches/document/child-benefit", SIGNED),
    Row("GET", "/api/v1/me/work", "/api/v1/me/work", SIGNED),
    # the taxonomy (issue 20): every signed-in person reads it; owners of any space and admins maintain it
    Row("POST", "/api/v1/taxonomy", "/api/v1/taxonomy", frozenset({O, A, X}),
        {"json": {"key": "matrix", "field": "applies_to", "titles": {"en": "Matrix"}}}),
    Row("GET", "/api/v1/taxonomy", "/api/v1/taxonomy?lang=nl", SIGNED),
    Row("GET", "/api/v1/taxonomy/{scheme}", "/api/v1/taxonomy/matrix", SIGNED),
    Row("POST", "/api/v1/taxonomy/{scheme}/concepts", "/api/v1/taxonomy/matrix/concepts", frozenset({O, A, X}),
        {"json": {"key": "tenant", "preferred": {"en": "Tenant"}}}),
    Row("POST", "/api/v1/taxonomy/{scheme}/concepts", "/api/v1/taxonomy/matrix/concepts", frozenset({O, A, X}),
        {"json": {"key": "lodger", "preferred": {"en": "Lodger"}}}),
    Row("GET", "/api/v1/taxonomy/{scheme}/concepts/{key}", "/api/v1/taxonomy/matrix/concepts/tenant", SIGNED),
    Row("PATCH", "/api/v1/taxonomy/{scheme}/concepts/{key}", "/api/v1/taxonomy/matrix/concepts/tenant", frozenset({O, A, X}),
        {"json": {"alternative": {"en": ["renter"]}}}),
    Row("POST", "/api/v1/taxonomy/{scheme}/concepts/{key}/merge", "/api/v1/taxonomy/matrix/concepts/lodger/merge",
        frozenset({O, A, X}), {"json": {"into": "tenant"}}),
    Row("POST", "/api/v1/taxonomy/{scheme}/concepts/{key}/deprecate", "/api/v1/taxonomy/matrix/concepts/tenant/deprecate",
        frozenset({O, A, X})),
    Row("DELETE", "/api/v1/taxonomy/{scheme}/concepts/{key}", "/api/v1/taxonomy/matrix/concepts/lodger", frozenset({O, A, X}),
        repeat=frozenset({404})),
    Row("GET", "/api/v1/taxonomy/export", "/api/v1/taxonomy/export?format=json-ld", SIGNED),
    Row("POST", "/api/v1/taxonomy/import", "/api/v1/taxonomy/import?field=regions:region", frozenset({O, A, X}),
        {"content": '@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n<http://example.org/regions> a skos:ConceptScheme .\n',
         "headers": {"Content-Type": "text/turtle"}}),
    Row("GET", "/api/v1/audit", "/api/v1/audit", frozenset({A})),
    Row("GET", "/api/v1/audit/verify", "/api/v1/audit/verify", frozenset({A})),
    Row("GET", "/public/v1/search", "/public/v1/search?q=benefit", EVERYONE),
    Row("GET", "/public/v1/explore", "/public/v1/explore", EVERYONE),  # issue 20: what applies to me
    Row("GET", "/public/v1/documents/{slug}", "/public/v1/documents/child-benefit", EVERYONE),
    Row("GET", "/public/v1/documents/{slug}/community", "/public/v1/documents/child-benefit/community", EVERYONE),
    Row("GET", "/public/v1/transparency/tree-head", "/public/v1/transparency/tree-head", EVERYONE),
    Row("GET", "/public/v1/transparency/inclusion", "/public/v1/transparency/inclusion?seq=1", EVERYONE),
    Row("GET", "/public/v1/transparency/consistency", "/public/v1/transparency/consistency?first=1", EVERYONE),
    Row("GET", "/public/v1/documents/{slug}/receipt", "/public/v1/documents/child-benefit/receipt", EVERYONE),
    Row("POST", "/api/v1/documents/{slug}/retire", "/api/v1/documents/child-benefit/retire", frozenset({O}),
        {"json": {"reason": "Replaced"}}),
]


@pytest.fixture
def matrix_client(settings, database):  # noqa: ANN001, ANN201
    from kb.accounts import service as accounts
    from kb.accounts.schemas import SpaceUpdate
    from kb.db import transaction
    from tests.api_fuzz import build_world

    cast = build_world(database)  # child-benefit approved, draft-policy, review-policy, comment 1, question 1 + answer 1
    make_document(database, cast, slug="reject-policy", state="in_review")
    make_person(database, "pia", password=PASSWORD)
    with database.session() as session:
        with transaction(session):
            accounts.update_space(session, actor=SYSTEM, slug="benefits", data=SpaceUpdate(public_community=True))
        with transaction(session):
            spare = accounts.create_token(session, actor=SYSTEM, user=accounts.get_user(session, "rita"), name="spare")[0]
    generous = {name: "100000/minute" for name in ("rate_limit_public_search", "rate_limit_login", "rate_limit_login_ip")}
    app_settings = settings.model_copy(update={**generous, "rate_limit_posting": "100000/hour"})
    app = create_app(app_settings, database=database, search=SearchIndexes(app_settings, embedder=HashingEmbedder()))
    with TestClient(app) as client:
        client.post("/api/v1/questions", json={"title": "Twins: one claim form?", "body_md": "Or two?"},
                    headers=cast["moderator"].headers)  # question 2, the duplicate target
        reported = client.post("/api/v1/flags", json={"target": "document", "target_id": "child-benefit", "reason": "outdated"},
                               headers=cast["reader"].headers)
        assert reported.status_code == 201 and reported.json()["status"] == "review_requested", reported.text
        for username in ("pia", "mona"):  # governance requests 1 and 2, decided by another owner or an admin
            asked = client.put(f"/api/v1/spaces/benefits/members/{username}", json={"role": "owner"},
                               headers=cast["owner2"].headers)
            assert asked.status_code == 202, asked.text
        yield client, cast, spare.id


def test_every_operation_has_a_row(app) -> None:  # noqa: ANN001
    spec = app.openapi()
    operations = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert operations == {(row.method, row.route) for row in ROWS}


def test_role_operation_matrix_has_no_mismatch(matrix_client) -> None:  # noqa: ANN001
    client, cast, spare_token = matrix_client
    mismatches, checked = [], 0
    for row in ROWS:
        url = row.url.replace("{spare_token}", str(spare_token))
        refused_first = sorted(EVERYONE - row.admitted) + sorted(row.admitted)
        for role in refused_first:
            kwargs = dict(row.kwargs)
            headers = {**({} if role == N else cast[role].headers), **kwargs.pop("headers", {})}
            status = client.request(row.method, url, headers=headers, **kwargs).status_code
            checked += 1
            if role in row.admitted:
                ok = status < 400 or status in row.repeat
                expected = f"2xx/3xx or {sorted(row.repeat)}"
            else:
                expected = 401 if role == N else row.denied_for.get(role, row.denied)
                ok = status == expected
            if not ok:
                mismatches.append(f"{row.method} {row.route} as {role}: expected {expected}, got {status}")
    print(f"T3 role matrix: operations={len(ROWS)} roles={len(EVERYONE)} requests={checked} mismatches={len(mismatches)}")
    assert mismatches == [], "\n".join(mismatches)
