"""One table of permissions, three surfaces (issue 15): every action × role is allowed or refused alike
through the API, the web pages and the CLI.

The expectation comes from ``kb.permissions.PERMISSIONS`` (the role gate every surface meets) and,
where a service adds a rule about the object, from the case's ``only`` (the asker or an owner may
accept, only its author edits a comment…). Each attempt acts on a fresh object when the action can
be done once (approve, retire, accept…), so an admitted role must get the success status: no "409
will do". A refused attempt must leave the audit log as it was. Every action in the table needs a
case here, and every surface a case names is tried for every role (the CLI has no anonymous user).
"""

from __future__ import annotations

import itertools
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kb.actors import ANONYMOUS, SYSTEM
from kb.permissions import PERMISSIONS
from tests.audit import head_seq
from tests.factories import make_person, web_session
from tests.fakes import HashingEmbedder

R, C, O, M, A, X, N = "reader", "contributor", "owner", "moderator", "admin", "outsider_owner", "anonymous"
ROLES = (R, C, O, M, A, X, N)
# The roles each persona holds (kb.actors.Actor.roles): C contributes to and O owns the space
# "benefits", X owns only "elsewhere"; every signed-in person is a reader.
HOLDS = {
    R: {"reader"}, C: {"reader", "contributor"}, O: {"reader", "contributor", "owner"}, M: {"reader", "moderator"},
    A: {"reader", "admin"}, X: {"reader", "contributor", "owner"}, N: {ANONYMOUS},
}
PASSWORD = "correct horse battery"
counter = itertools.count(1)


@dataclass(frozen=True)
class Call:
    """One request: method, URL template (``{name}`` filled from the case's fresh object), JSON or form body."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    files: Callable[[dict[str, str]], dict[str, Any]] | None = None  # a multipart upload made for the attempt


@dataclass(frozen=True)
class Case:
    action: str
    api: Call | None = None
    web: Call | None = None
    cli: Callable[[str, dict[str, str]], list[str]] | None = None
    only: frozenset[str] | None = None  # the service's rule about the object, among the roles the gate admits
    anywhere: bool = False  # the object is no space's (X passes a space-scoped gate on its own space)
    fresh: Callable[[Any], dict[str, str]] | None = None  # a new object for each attempt
    denied: frozenset[int] = frozenset({403})
    cli_roles: frozenset[str] = frozenset(ROLES) - {N}


def expected_allowed(case: Case, role: str) -> bool:
    access = PERMISSIONS[case.action]
    if not HOLDS[role] & access.admitted:
        return False
    if role == X and access.space_scoped and not case.anywhere:
        return False
    return case.only is None or role in case.only


# ------------------------------------------------------------------------- fresh objects

class World:
    """The cast and an API client to build fresh objects with, as their real authors would."""

    def __init__(self, client: TestClient, cast: dict[str, Any]) -> None:
        self.client, self.cast = client, cast

    def api(self, role: str, method: str, url: str, **kwargs: Any) -> Any:
        response = self.client.request(method, url, headers=self.cast[role].headers, **kwargs)
        assert response.status_code < 300, f"setting up: {method} {url} as {role}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def document(self, state: str = "draft") -> dict[str, str]:
        slug = f"mx-doc-{next(counter)}"
        self.api(C, "POST", "/api/v1/spaces/benefits/documents", json={
            "slug": slug, "title": f"Matrix {slug}", "body_md": f"# Matrix\n\nRent rules number {slug}.",
            "audience": "public", "language": "en", "intended_use": "Testing who may do what.", "licence": "CC0"})
        if state in ("in_review", "approved"):
            self.api(C, "POST", f"/api/v1/documents/{slug}/versions/1/submit", json={})
        if state == "approved":
            self.api("owner2", "POST", f"/api/v1/documents/{slug}/versions/1/approve", json={})
        return {"slug": slug}

    def report(self) -> dict[str, str]:
        """An approved document a reader has reported outdated: the report's id, from the owners' review queue."""
        slug = self.document("approved")["slug"]
        self.api(R, "POST", "/api/v1/flags", json={"target": "document", "target_id": slug, "reason": "outdated"})
        queue = self.api("owner2", "GET", "/api/v1/review-queue")["data"]
        return {"report": str(next(item["report"] for item in queue if item["document"] == slug))}

    def imported(self) -> dict[str, str]:
        """An imported, approved document: every signed-in person may see it, and so its original file."""
        slug = f"mx-file-{next(counter)}"
        self.api(C, "POST", "/api/v1/spaces/benefits/import", files=md(slug),
                 data={"slug": slug, "intended_use": "Testing who may do what."})
        self.api(C, "POST", f"/api/v1/documents/{slug}/versions/1/submit", json={})
        self.api("owner2", "POST", f"/api/v1/documents/{slug}/versions/1/approve", json={})
        return {"slug": slug}

    def comment(self) -> dict[str, str]:
        made = self.api(R, "POST", "/api/v1/documents/child-benefit/comments", json={"body_md": f"Comment {next(counter)}"})
        return {"comment": str(made["id"])}

    def question(self, answered: bool = False, accepted: bool = False) -> dict[str, str]:
        n = next(counter)
        question = self.api(R, "POST", "/api/v1/questions", json={
            "title": f"Matrix question {n}?", "body_md": f"Asked for case {n}.", "space": "benefits"})
        made = {"question": str(question["id"])}
        if answered or accepted:
            thread = self.api(C, "POST", f"/api/v1/questions/{question['id']}/answers", json={"body_md": f"Answer {n}."})
            answer = thread["answers"][-1]  # the route answers with the whole thread
            made["answer"] = str(answer["id"])
            if accepted:
                self.api(R, "POST", f"/api/v1/questions/{question['id']}/accept", json={"answer_id": answer["id"]})
        return made

    def token_of_rita(self) -> dict[str, str]:
        made = self.api(R, "POST", "/api/v1/me/tokens", json={"name": f"spare {next(counter)}"})
        return {"token": str(made["id"])}

    def member(self) -> dict[str, str]:
        username = f"mx{next(counter)}"
        make_person(self.client.app.state.db, username)
        self.api(A, "PUT", f"/api/v1/spaces/benefits/members/{username}", json={"role": "reader"})
        return {"username": username}

    def governance_request(self) -> dict[str, str]:
        """A pending request by otto (a second owner) to make a new person an owner (issue 16)."""
        username = f"mxg{next(counter)}"
        make_person(self.client.app.state.db, username)
        made = self.api("owner2", "PUT", f"/api/v1/spaces/benefits/members/{username}", json={"role": "owner"})
        assert made["status"] == "pending"
        return {"request": str(made["id"])}

    def unique(self) -> dict[str, str]:
        return {"n": str(next(counter))}

    def concept(self) -> dict[str, str]:
        """A new concept in the scheme ``mxs`` (issue 20), added by the admin."""
        key = f"c{next(counter)}"
        self.api(A, "POST", "/api/v1/taxonomy/mxs/concepts", json={"key": key, "preferred": {"en": f"Concept {key}"}})
        return {"concept": key}

    def concepts(self) -> dict[str, str]:
        """Two new concepts in ``mxs``: one to merge into the other."""
        return {**self.concept(), "into": self.concept()["concept"]}

    def skos_file(self) -> dict[str, str]:
        """A SKOS vocabulary with a scheme no one has loaded yet, as a file for the CLI (and its number)."""
        n = str(next(counter))
        path = Path(tempfile.mkdtemp(prefix="kb-matrix-")) / f"mx{n}.ttl"
        path.write_text(skos_turtle(n), encoding="utf-8")
        return {"n": n, "ttl": str(path)}


def skos_turtle(n: str) -> str:
    return (f'@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n<http://example.org/mx{n}> a skos:ConceptScheme ; '
            f'<urn:kb:ns#field> "topic" .\n<http://example.org/mx{n}/a> a skos:Concept ; skos:inScheme <http://example.org/mx{n}> ; '
            f'skos:prefLabel "A {n}"@en .\n')


def skos_jsonld(n: str) -> dict[str, Any]:
    """A JSON-LD SKOS scheme (sent as the JSON body of the API's import)."""
    return {"@context": {"skos": "http://www.w3.org/2004/02/skos/core#", "kb": "urn:kb:ns#"},
            "@id": f"http://example.org/mxj{n}", "@type": "skos:ConceptScheme", "kb:field": "topic"}


def md(name: str) -> dict[str, Any]:
    return {"file": (f"{name}.md", f"# {name}\n\nText of {name}.".encode(), "text/markdown")}


def upload(prefix: str) -> Callable[[dict[str, str]], dict[str, Any]]:
    """A new Markdown file for each attempt (the same bytes again would be a no-op)."""
    return lambda made: md(f"{prefix}-{made['n']}")


def as_user(*args: str) -> Callable[[str, dict[str, str]], list[str]]:
    """A CLI command run as the persona (``try_cli`` puts their API token in KB_TOKEN: issue 16, the CLI
    authenticates), with ``{name}`` filled from the fresh object."""
    return lambda _username, made: [a.format(**made) for a in args]


# ------------------------------------------------------------------------------ the cases

SIGNED_READS = [
    Case("me.read", api=Call("GET", "/api/v1/me")),
    Case("token.list", api=Call("GET", "/api/v1/me/tokens")),
    Case("space.list", api=Call("GET", "/api/v1/spaces")),
    Case("space.read", api=Call("GET", "/api/v1/spaces/benefits")),
    Case("document.list", api=Call("GET", "/api/v1/documents")),
    Case("document.read", api=Call("GET", "/api/v1/documents/child-benefit"), web=Call("GET", "/d/child-benefit")),
    Case("document.history", api=Call("GET", "/api/v1/documents/child-benefit/versions")),
    Case("version.read", api=Call("GET", "/api/v1/documents/child-benefit/versions/1"),
         web=Call("GET", "/d/child-benefit/v/1")),
    Case("document.diff", api=Call("GET", "/api/v1/documents/child-benefit/diff?from=1&to=1"),
         web=Call("GET", "/d/child-benefit/diff?from=1&to=1")),
    Case("document.provenance", api=Call("GET", "/api/v1/documents/child-benefit/provenance"),
         web=Call("GET", "/d/child-benefit/prov?format=json")),
    Case("comment.list", api=Call("GET", "/api/v1/documents/child-benefit/comments")),
    Case("rating.read", api=Call("GET", "/api/v1/documents/child-benefit/rating")),
    Case("question.list", api=Call("GET", "/api/v1/questions"), web=Call("GET", "/questions")),
    Case("question.read", api=Call("GET", "/api/v1/questions/1"), web=Call("GET", "/questions/1")),
    Case("question.experts", api=Call("GET", "/api/v1/questions/1/experts")),
    Case("person.read", api=Call("GET", "/api/v1/people/rita")),
    Case("expert.find", api=Call("GET", "/api/v1/experts?q=benefit"), web=Call("GET", "/experts?q=benefit"),
         cli=as_user("experts", "child benefit")),
    Case("expert.profile", api=Call("GET", "/api/v1/experts/people/olga"), web=Call("GET", "/people/olga")),
    Case("inbox.read", api=Call("GET", "/api/v1/me/inbox")),
    Case("search.query", api=Call("GET", "/api/v1/search?q=benefit"), web=Call("GET", "/search?q=benefit"),
         cli=as_user("search", "child benefit")),
    Case("governance.list", api=Call("GET", "/api/v1/governance/requests"), web=Call("GET", "/governance"),
         cli=as_user("governance", "list")),
]

CASES = [
    Case("system.health", api=Call("GET", "/api/v1/health")),
    Case("auth.login", api=Call("POST", "/api/v1/auth/token", {"username": "pia", "password": PASSWORD}),
         web=Call("POST", "/login", {"username": "pia", "password": PASSWORD})),
    Case("auth.logout", web=Call("POST", "/logout")),
    *SIGNED_READS,
    Case("token.create", api=Call("POST", "/api/v1/me/tokens", {"name": "matrix"}), cli=as_user("token", "create", "--name", "matrix")),
    Case("token.revoke", api=Call("DELETE", "/api/v1/me/tokens/{token}"), only=frozenset({R, A}),
         fresh=World.token_of_rita, denied=frozenset({404})),
    Case("user.list", api=Call("GET", "/api/v1/users")),
    Case("user.read", api=Call("GET", "/api/v1/users/rita")),
    Case("user.create", api=Call("POST", "/api/v1/users", {"username": "neo{n}", "display_name": "Neo {n}"}),
         cli=as_user("user", "add", "neo{n}", "--name", "Neo {n}"), fresh=World.unique),
    Case("user.update", api=Call("PATCH", "/api/v1/users/rita", {"display_name": "Rita {n}"}), fresh=World.unique),
    Case("space.create", api=Call("POST", "/api/v1/spaces", {"slug": "legal{n}", "name": "Legal {n}"}),
         cli=as_user("space", "add", "legal{n}", "--name", "Legal {n}"), fresh=World.unique),
    Case("space.update", api=Call("PATCH", "/api/v1/spaces/benefits", {"description": "Entitlements {n}"}),
         cli=as_user("space", "update", "benefits", "--description", "Entitlements {n}"), fresh=World.unique),
    Case("space.member.set", api=Call("PUT", "/api/v1/spaces/benefits/members/pia", {"role": "reader"}),
         cli=as_user("space", "member", "benefits", "pia", "reader")),
    Case("space.member.remove", api=Call("DELETE", "/api/v1/spaces/benefits/members/{username}"),
         cli=as_user("space", "remove", "benefits", "{username}"), fresh=World.member),
    # separation of duties (issue 16): another owner of the space or an admin decides otto's request
    Case("governance.approve", api=Call("POST", "/api/v1/governance/requests/{request}/approve"),
         web=Call("POST", "/governance/{request}", {"decision": "approve"}), cli=as_user("governance", "approve", "{request}"),
         fresh=World.governance_request),
    Case("governance.refuse", api=Call("POST", "/api/v1/governance/requests/{request}/refuse", {"reason": "Not now"}),
         web=Call("POST", "/governance/{request}", {"decision": "refuse", "reason": "Not now"}),
         cli=as_user("governance", "refuse", "{request}", "--reason", "Not now"), fresh=World.governance_request),
    Case("document.create",
         api=Call("POST", "/api/v1/spaces/benefits/documents",
                  {"slug": "mx-new-{n}", "title": "New {n}", "body_md": "# New\n\nBody {n}.", "intended_use": "Tests."}),
         web=Call("POST", "/write", {"space": "benefits", "slug": "mx-web-{n}", "title": "Web {n}", "body_md": "# Web\n\nBody {n}.",
                                     "audience": "internal", "language": "en", "action": "save"}),
         fresh=World.unique),
    Case("document.import", api=Call("POST", "/api/v1/spaces/benefits/import", files=upload("rent-api")),
         web=Call("POST", "/import", {"space": "benefits"}, files=upload("rent-web")),
         cli=as_user("import", "{path}", "--space", "benefits"), fresh=World.unique),
    Case("document.file", api=Call("GET", "/api/v1/documents/{slug}/versions/1/file"),
         web=Call("GET", "/d/{slug}/v/1/file"),
         fresh=World.imported),  # the original file of an imported version
    Case("version.edit", api=Call("PUT", "/api/v1/documents/{slug}/draft", {"title": "Edited {slug}"}),
         web=Call("POST", "/write", {"space": "benefits", "slug": "{slug}", "title": "Edited {slug}", "body_md": "# Edited\n\nNew text.",
                                     "audience": "public", "language": "en", "existing": "1", "action": "save"}),
         fresh=World.document),
    Case("version.submit", api=Call("POST", "/api/v1/documents/{slug}/versions/1/submit", {}),
         web=Call("POST", "/d/{slug}/v/1/submit", {"intended_use": "Testing who may do what."}), fresh=World.document),
    Case("version.approve", api=Call("POST", "/api/v1/documents/{slug}/versions/1/approve", {}),
         web=Call("POST", "/review/{slug}/1/approve", {}), cli=as_user("approve", "{slug}", "1"),
         fresh=lambda world: world.document("in_review")),
    Case("version.reject", api=Call("POST", "/api/v1/documents/{slug}/versions/1/reject", {"reason": "Not yet"}),
         web=Call("POST", "/review/{slug}/1/reject", {"comment": "Not yet"}), fresh=lambda world: world.document("in_review")),
    Case("document.retire", api=Call("POST", "/api/v1/documents/{slug}/retire", {"reason": "Replaced"}),
         fresh=lambda world: world.document("approved")),
    Case("review.queue", api=Call("GET", "/api/v1/review-queue"), web=Call("GET", "/review"), cli=as_user("review-queue"),
         anywhere=True),
    Case("report.dismiss", api=Call("POST", "/api/v1/reports/{report}/dismiss", {"reason": "Unfounded"}),
         web=Call("POST", "/review/reports/{report}/dismiss", {"reason": "Unfounded"}),
         cli=as_user("dismiss-report", "{report}", "--reason", "Unfounded"),
         fresh=World.report, denied=frozenset({403, 404})),  # an owner of another space: no such report for her
    Case("comment.create", api=Call("POST", "/api/v1/documents/child-benefit/comments", {"body_md": "Useful {n}."}),
         web=Call("POST", "/d/child-benefit/comments", {"body_md": "Useful on the web {n}."}), fresh=World.unique),
    Case("comment.edit", api=Call("PATCH", "/api/v1/comments/{comment}", {"body_md": "When exactly?"}),
         only=frozenset({R}), fresh=World.comment),
    Case("comment.delete", api=Call("DELETE", "/api/v1/comments/{comment}"), only=frozenset({R, M, A}),
         fresh=World.comment),
    Case("rating.set", api=Call("PUT", "/api/v1/documents/child-benefit/rating", {"stars": 4}),
         web=Call("POST", "/d/child-benefit/rating", {"stars": "4"})),
    Case("feedback.give", api=Call("POST", "/api/v1/feedback", {"document": "child-benefit", "query": "benefit", "helpful": True}),
         web=Call("POST", "/feedback", {"document": "child-benefit", "query": "benefit", "helpful": "yes"})),
    Case("flag.create", api=Call("POST", "/api/v1/flags", {"target": "comment", "target_id": "{comment}", "reason": "spam"}),
         web=Call("POST", "/flags", {"target": "comment", "target_id": "{comment}", "reason": "spam", "next": "/d/child-benefit"}),
         fresh=World.comment),
    Case("question.create", api=Call("POST", "/api/v1/questions", {"title": "Where is form {n}?", "body_md": "Paper {n}?"}),
         web=Call("POST", "/questions", {"title": "Web form {n}?", "body_md": "Web paper {n}?"}), fresh=World.unique),
    Case("answer.create", api=Call("POST", "/api/v1/questions/1/answers", {"body_md": "At the counter {n}."}),
         web=Call("POST", "/questions/1/answers", {"body_md": "At the web counter {n}."}), fresh=World.unique),
    Case("vote.cast", api=Call("PUT", "/api/v1/answers/{answer}/vote", {"value": 1}),
         web=Call("POST", "/votes/answers/{answer}", {"value": "1", "question": "{question}"}),
         only=frozenset(ROLES) - {C}, fresh=lambda world: world.question(answered=True)),  # never on one's own
    Case("question.accept", api=Call("POST", "/api/v1/questions/{question}/accept", {"answer_id": "{answer}"}),
         web=Call("POST", "/questions/{question}/accept", {"answer_id": "{answer}"}),
         only=frozenset({R, O}), fresh=lambda world: world.question(answered=True)),  # the asker, an owner of its space
    Case("question.close", api=Call("POST", "/api/v1/questions/{question}/close", {"duplicate_of": 2}),
         only=frozenset({R, O, M, A}), fresh=World.question),
    Case("question.promote", api=Call("POST", "/api/v1/questions/{question}/promote", {"space": "benefits", "slug": "mx-promoted-{question}"}),
         web=Call("POST", "/questions/{question}/promote", {"space": "benefits", "slug": "mx-web-promoted-{question}", "audience": "internal"}),
         fresh=lambda world: world.question(accepted=True)),
    Case("moderation.queue", api=Call("GET", "/api/v1/moderation/queue"), web=Call("GET", "/moderation")),
    Case("moderation.decide", api=Call("POST", "/api/v1/moderation/comment/{comment}", {"action": "hide", "reason": "Checking"}),
         web=Call("POST", "/moderation/comment/{comment}", {"action": "hide", "reason": "Checking"}), fresh=World.comment),
    Case("public.community", api=Call("GET", "/public/v1/documents/child-benefit/community")),
    Case("search.public", api=Call("GET", "/public/v1/search?q=benefit"), web=Call("GET", "/public?q=benefit"),
         cli=lambda _username, _made: ["search", "child benefit", "--public"], cli_roles=frozenset({R})),
    Case("public.document", api=Call("GET", "/public/v1/documents/child-benefit"), web=Call("GET", "/public/d/child-benefit")),
    Case("search.explore", api=Call("GET", "/public/v1/explore"), web=Call("GET", "/public/explore"),
         cli=lambda _username, _made: ["explore"], cli_roles=frozenset({R})),
    Case("insights.read", api=Call("GET", "/api/v1/insights/queries"), web=Call("GET", "/insights"), anywhere=True),
    Case("expert.ask", api=Call("POST", "/api/v1/experts/otto/ask", {"message": "A question on rent {n}"}),
         web=Call("POST", "/people/otto/ask", {"message": "A web question on rent {n}"}), fresh=World.unique),
    Case("expertise.update", api=Call("PATCH", "/api/v1/me/expertise", {"declared_skills": ["housing"]}),
         web=Call("POST", "/me/profile", {"skills": "housing"})),
    # my work (issue 17): every signed-in person, their own
    Case("me.work", api=Call("GET", "/api/v1/me/work"), web=Call("GET", "/me/work"), cli=as_user("me", "work")),
    Case("question.similar", api=Call("GET", "/api/v1/questions/similar?q=child+benefit"),
         web=Call("GET", "/questions/similar?q=child+benefit")),
    # notifications (issue 17): every signed-in person, for themselves
    Case("notification.list", api=Call("GET", "/api/v1/notifications"), web=Call("GET", "/notifications"),
         cli=as_user("notify", "list")),
    Case("notification.read", api=Call("POST", "/api/v1/notifications/read", {}), web=Call("POST", "/notifications/read"),
         cli=as_user("notify", "read")),
    Case("notify.preference", api=Call("PUT", "/api/v1/me/notification-preference", {"mode": "in_app"}),
         web=Call("POST", "/notifications/preference", {"mode": "in_app"}), cli=as_user("notify", "prefer", "in_app")),
    Case("watch.list", api=Call("GET", "/api/v1/me/watches")),
    Case("watch.add", api=Call("POST", "/api/v1/me/watches", {"kind": "tag", "target": "rent{n}"}),
         web=Call("POST", "/watch", {"kind": "tag", "target": "rentweb{n}"}), cli=as_user("notify", "watch", "tag", "rentcli{n}"),
         fresh=World.unique),
    Case("watch.remove", api=Call("DELETE", "/api/v1/me/watches/tag/rent"),
         web=Call("POST", "/watch", {"kind": "tag", "target": "rent", "stop": "yes"}),
         cli=as_user("notify", "watch", "tag", "rent", "--stop")),
    # taxonomy (issue 20): every signed-in person reads it; owners of any space and admins maintain it
    Case("taxonomy.read", api=Call("GET", "/api/v1/taxonomy"), web=Call("GET", "/taxonomy"), cli=as_user("taxonomy", "list")),
    Case("taxonomy.export", api=Call("GET", "/api/v1/taxonomy/export"), web=Call("GET", "/taxonomy/export?format=json-ld"),
         cli=as_user("taxonomy", "export", "--format", "json-ld")),
    Case("taxonomy.import", api=Call("POST", "/api/v1/taxonomy/import", {"json-ld": "{n}"}),
         web=Call("POST", "/taxonomy/import", {}, files=lambda made: {"file": (f"mx{made['n']}.ttl", skos_turtle("w" + made["n"]).encode(), "text/turtle")}),
         cli=as_user("taxonomy", "import", "{ttl}"), fresh=World.skos_file, anywhere=True),
    Case("concept_scheme.create", api=Call("POST", "/api/v1/taxonomy", {"key": "mx{n}", "field": "topic", "titles": {"en": "MX {n}"}}),
         web=Call("POST", "/taxonomy/schemes", {"key": "mxw{n}", "field": "region", "title_en": "MX web {n}"}),
         cli=as_user("taxonomy", "add-scheme", "mxc{n}", "--field", "topic", "--title", "en=MX CLI {n}"), fresh=World.unique, anywhere=True),
    Case("concept.create", api=Call("POST", "/api/v1/taxonomy/mxs/concepts", {"key": "new{n}", "preferred": {"en": "New {n}"}}),
         web=Call("POST", "/taxonomy/mxs/concepts", {"key": "neww{n}", "pref_en": "New web {n}"}),
         cli=as_user("taxonomy", "add-concept", "mxs:newc{n}", "--label", "en=New CLI {n}"), fresh=World.unique, anywhere=True),
    Case("concept.update", api=Call("PATCH", "/api/v1/taxonomy/mxs/concepts/{concept}", {"preferred": {"en": "Renamed {concept}"}}),
         web=Call("POST", "/taxonomy/mxs/concepts/{concept}", {"pref_en": "Renamed on the web {concept}"}),
         cli=as_user("taxonomy", "update", "mxs:{concept}", "--label", "en=Renamed by CLI {concept}"), fresh=World.concept,
         anywhere=True),
    Case("concept.merge", api=Call("POST", "/api/v1/taxonomy/mxs/concepts/{concept}/merge", {"into": "{into}"}),
         web=Call("POST", "/taxonomy/mxs/concepts/{concept}/merge", {"into": "{into}"}),
         cli=as_user("taxonomy", "merge", "mxs:{concept}", "{into}"), fresh=World.concepts, anywhere=True),
    Case("concept.deprecate", api=Call("POST", "/api/v1/taxonomy/mxs/concepts/{concept}/deprecate"),
         web=Call("POST", "/taxonomy/mxs/concepts/{concept}/deprecate"),
         cli=as_user("taxonomy", "deprecate", "mxs:{concept}"), fresh=World.concept, anywhere=True),
    Case("concept.delete", api=Call("DELETE", "/api/v1/taxonomy/mxs/concepts/{concept}"),
         web=Call("POST", "/taxonomy/mxs/concepts/{concept}/delete"),
         cli=as_user("taxonomy", "delete", "mxs:{concept}"), fresh=World.concept, anywhere=True),
    Case("audit.list", api=Call("GET", "/api/v1/audit"), web=Call("GET", "/audit")),
    Case("audit.verify", api=Call("GET", "/api/v1/audit/verify"), web=Call("GET", "/audit?verify=1")),
    Case("transparency.head", api=Call("GET", "/public/v1/transparency/tree-head")),
    Case("transparency.proof", api=Call("GET", "/public/v1/transparency/inclusion?seq=1")),
    Case("transparency.receipt", api=Call("GET", "/public/v1/documents/child-benefit/receipt")),
]


def test_every_action_in_the_table_has_a_case() -> None:
    cased = [case.action for case in CASES]
    assert sorted(set(cased)) == sorted(cased), "one case per action"
    assert set(cased) == set(PERMISSIONS), f"missing: {sorted(set(PERMISSIONS) - set(cased))}; unknown: {sorted(set(cased) - set(PERMISSIONS))}"


def test_every_api_route_declares_an_action_of_the_table(app) -> None:  # noqa: ANN001
    from kb.http import api_routes, declared_action

    undeclared = [f"{sorted(r.methods)} {r.path}" for r in api_routes(app.state.routers) if declared_action(r) is None]
    assert undeclared == [], "routes that declare no action (use kb.http.require_for)"
    for route in api_routes(app.state.routers):
        assert declared_action(route) in PERMISSIONS, route.path


def test_every_api_operation_is_tried_here(app) -> None:  # noqa: ANN001
    from kb.http import api_routes, declared_action

    tried = {case.action for case in CASES if case.api is not None}
    routed = {declared_action(route) for route in api_routes(app.state.routers)}
    assert routed - tried == set(), "actions with an API route but no API call in the matrix"


# ------------------------------------------------------------------------------- surfaces

def fill(value: Any, made: dict[str, str]) -> Any:
    """``value`` with the fresh object's names filled in (an answer's id is a number in JSON)."""
    if isinstance(value, str) and "{" in value:
        filled = value.format(**made)
        return int(filled) if value == "{answer}" else filled
    if isinstance(value, dict):
        return {key: fill(item, made) for key, item in value.items()}
    return value






def try_api(world: World, case: Case, role: str, made: dict[str, str]) -> tuple[str, str]:
    call = case.api
    assert call is not None
    headers = {} if role == N else world.cast[role].headers
    kwargs: dict[str, Any] = {}
    if call.files is not None:
        kwargs["files"] = call.files(made)
    elif call.body is not None and "json-ld" in call.body:  # a SKOS document as the body (the taxonomy's import)
        kwargs["json"] = skos_jsonld(made["n"])
    elif call.body is not None:
        kwargs["json"] = fill(call.body, made)
    response = world.client.request(call.method, call.url.format(**made), headers=headers, **kwargs)
    status = response.status_code
    if status < 300:
        return "allowed", str(status)
    refused = {401} if role == N else case.denied
    return ("refused" if status in refused else "wrong"), f"{status} {response.text[:200]}"


def try_web(world: World, case: Case, role: str, made: dict[str, str], signed: tuple[str, str] | None) -> tuple[str, str]:
    """``signed``: the persona's web session (cookie, CSRF token), made before the audit head was read."""
    call = case.web
    assert call is not None
    client = world.client
    client.cookies.clear()
    data: dict[str, Any] = fill(call.body or {}, made)
    if signed is not None:
        client.cookies.set("kb_session", signed[0])
        data = {**data, "csrf": signed[1]}
    if call.url == "/login":  # the sign-in form is used signed out, whoever signs in
        page = client.get("/login")
        data["csrf"] = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    try:
        if call.method == "GET":
            response = client.get(call.url.format(**made), follow_redirects=False)
        else:
            files = call.files(made) if call.files else None
            response = client.post(call.url.format(**made), data=data, files=files, follow_redirects=False)
    finally:
        client.cookies.clear()
    status, location = response.status_code, response.headers.get("location", "")
    if status == 200 or (status == 303 and not location.startswith("/login?next=")):
        return "allowed", f"{status} {location}"
    if role == N and status == 303 and location.startswith("/login?next="):
        return "refused", "303 to sign in"
    if signed is not None and status in case.denied | {403, 404}:
        return "refused", str(status)
    return "wrong", f"{status} {location} {response.text[:300]}"


def try_cli(world: World, case: Case, role: str, made: dict[str, str], tmp_path) -> tuple[str, str]:  # noqa: ANN001
    from kb.cli import app as cli_app

    assert case.cli is not None
    if "{path}" in " ".join(case.cli("x", {"path": "{path}", **made})):
        path = tmp_path / f"cli-{made.get('n', next(counter))}.md"
        path.write_text(f"# CLI import {path.stem}\n\nText of {path.stem}.", encoding="utf-8")
        made = {**made, "path": str(path)}
    person = world.cast[role]
    result = CliRunner().invoke(cli_app, case.cli(person.username, made), env={"KB_TOKEN": person.token, "KB_AS": None},
                                catch_exceptions=False)
    if result.exit_code == 0:
        return "allowed", "exit 0"
    # a refusal names what was refused; a usage error of the case itself (Typer's "Usage: …") is no refusal
    refused = "Usage:" not in result.output
    return ("refused" if refused else "wrong"), f"exit {result.exit_code}: {result.output.strip()[-200:]}"


@pytest.fixture
def world(settings, database, cli_env):  # noqa: ANN001, ANN201
    from kb.accounts import service as accounts
    from kb.accounts.schemas import SpaceUpdate
    from kb.app import create_app
    from kb.db import transaction
    from kb.search.indexer import SearchIndexes
    from tests.api_fuzz import build_world

    cast = build_world(database)  # child-benefit approved, comment 1, question 1 by rita with answer 1 by carl
    make_person(database, "pia", password=PASSWORD)
    with database.session() as session, transaction(session):
        accounts.update_space(session, actor=SYSTEM, slug="benefits", data=SpaceUpdate(public_community=True))
    generous = {name: "100000/minute" for name in ("rate_limit_public_search", "rate_limit_login", "rate_limit_login_ip")}
    # The app's indexes use a small fake embedder; the CLI's (built by `kb search`) the real model, elsewhere.
    app_settings = settings.model_copy(update={**generous, "rate_limit_posting": "100000/hour",
                                               "index_dir": settings.data_dir / "app-index"})
    app = create_app(app_settings, database=database, search=SearchIndexes(app_settings, embedder=HashingEmbedder()))
    with TestClient(app) as client:
        made = World(client, cast)
        made.question()  # question 2, the duplicate target of question.close
        made.api(A, "POST", "/api/v1/taxonomy", json={"key": "mxs", "field": "topic", "titles": {"en": "Matrix topics"}})
        yield made


def test_every_action_is_allowed_or_refused_alike_on_every_surface(world, database, tmp_path) -> None:  # noqa: ANN001
    mismatches: list[str] = []
    tried: dict[str, int] = {"api": 0, "web": 0, "cli": 0}
    for case in CASES:
        expected_by_role = {role: expected_allowed(case, role) for role in ROLES}
        for role in sorted(ROLES, key=lambda r: expected_by_role[r]):  # refusals first: nothing has changed yet
            surfaces = [(name, run) for name, run in (
                ("api", lambda made, signed: try_api(world, case, role, made)),
                ("web", lambda made, signed: try_web(world, case, role, made, signed)),
                ("cli", lambda made, signed: try_cli(world, case, role, made, tmp_path)),
            ) if getattr(case, name) is not None and (name != "cli" or role in case.cli_roles)]
            outcomes = {}
            for name, run in surfaces:
                made = case.fresh(world) if case.fresh else {}
                signed = None
                if name == "web" and role != N and case.web.url != "/login":
                    signed = web_session(database, world.cast[role].username)  # signing in is an event of its own
                before = head_seq(database)
                outcome, detail = run(made, signed)
                tried[name] += 1
                outcomes[name] = outcome
                want = "allowed" if expected_by_role[role] else "refused"
                if outcome != want:
                    mismatches.append(f"{case.action} as {role} via {name}: expected {want}, got {outcome} ({detail})")
                elif outcome == "refused" and head_seq(database) != before:
                    mismatches.append(f"{case.action} as {role} via {name}: refused, but the audit log grew")
            if len(set(outcomes.values())) > 1:
                mismatches.append(f"{case.action} as {role}: the surfaces disagree: {outcomes}")
    print(f"permission matrix: actions={len(CASES)} roles={len(ROLES)} attempts={tried} mismatches={len(mismatches)}")
    assert mismatches == [], "\n".join(mismatches)
