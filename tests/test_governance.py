"""Separation of duties, as data (issue 16): every row of docs/governance.md.

A change that lowers a space's safeguards, makes or removes an owner, or changes a global role is a
pending request until a second entitled person approves it. For each row: the requester alone cannot
make it take effect (through the API, and through the web form of /governance), self-approval is
refused with 409 naming the rule, a person not entitled is refused, and the second person's approval
applies it, recorded with the approver as actor and the request's id. The changes that raise a
safeguard stay immediate. The two attacks of issue 16 (olga alone, adam with a sock puppet) fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from kb.provenance.models import AuditEvent
from tests.factories import doc_body, global_role_of, make_cast, role_in_space, sign_in, space_of


@dataclass(frozen=True)
class Row:
    """One row of the table: the request, who asks, who may approve, who may not, and how to see it applied."""

    name: str
    method: str
    path: str
    body: dict | None
    requester: str
    approver: str
    not_entitled: str
    applied: Callable  # (session) -> bool
    event: str


_space, _role, _global = space_of, role_in_space, global_role_of  # tests/factories.py


ROWS = [
    Row("four-eyes off", "PATCH", "/api/v1/spaces/benefits", {"four_eyes": False}, "owner", "owner2", "outsider_owner",
        lambda s: _space(s).four_eyes is False, "space.update"),
    Row("four-eyes off, asked by an admin", "PATCH", "/api/v1/spaces/benefits", {"four_eyes": False}, "admin", "owner",
        "outsider_owner", lambda s: _space(s).four_eyes is False, "space.update"),
    Row("public community on", "PATCH", "/api/v1/spaces/benefits", {"public_community": True}, "owner", "admin",
        "outsider_owner", lambda s: _space(s).public_community is True, "space.update"),
    Row("make an owner", "PUT", "/api/v1/spaces/benefits/members/rita", {"role": "owner"}, "owner", "owner2",
        "outsider_owner", lambda s: _role(s, "rita") == "owner", "space.member.set"),
    Row("an owner made contributor", "PUT", "/api/v1/spaces/benefits/members/otto", {"role": "contributor"}, "owner",
        "admin", "outsider_owner", lambda s: _role(s, "otto") == "contributor", "space.member.set"),
    Row("remove an owner", "DELETE", "/api/v1/spaces/benefits/members/otto", None, "owner", "admin", "outsider_owner",
        lambda s: _role(s, "otto") is None, "space.member.remove"),
    Row("make an admin", "PATCH", "/api/v1/users/rita", {"global_role": "admin"}, "admin", "admin2", "owner",
        lambda s: _global(s, "rita") == "admin", "user.update"),
    Row("make a moderator", "PATCH", "/api/v1/users/rita", {"global_role": "moderator"}, "admin", "admin2", "owner",
        lambda s: _global(s, "rita") == "moderator", "user.update"),
    Row("remove a moderator", "PATCH", "/api/v1/users/mona", {"global_role": "reader"}, "admin", "admin2", "owner",
        lambda s: _global(s, "mona") == "reader", "user.update"),
    Row("create an admin account", "POST", "/api/v1/users", {"username": "adam2", "display_name": "Otto Owner",
        "global_role": "admin"}, "admin", "admin2", "owner", lambda s: _global(s, "adam2") == "admin", "user.update"),
    Row("create a moderator account", "POST", "/api/v1/users", {"username": "mod2", "display_name": "Mod Two",
        "global_role": "moderator"}, "admin", "admin2", "owner", lambda s: _global(s, "mod2") == "moderator", "user.update"),
]


@pytest.fixture
def cast(database):  # noqa: ANN001, ANN201
    from kb.actors import GlobalRole
    from tests.factories import make_person

    people = make_cast(database)
    people["admin2"] = make_person(database, "ada", GlobalRole.admin)
    return people


def _ask(client, cast, row: Row):  # noqa: ANN001, ANN202
    response = client.request(row.method, row.path, json=row.body, headers=cast[row.requester].headers)
    assert response.status_code == 202, response.text
    request = response.json()
    assert request["status"] == "pending" and request["requested_by"] == cast[row.requester].username
    return request


def _payload(event: AuditEvent) -> dict:
    return json.loads(event.payload) if isinstance(event.payload, str) else event.payload


def _events(database, action: str) -> list[AuditEvent]:  # noqa: ANN001
    with database.session() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)).scalars())


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_the_requester_alone_cannot_make_it_take_effect(client, database, cast, row: Row) -> None:  # noqa: ANN001
    request = _ask(client, cast, row)
    with database.session() as session:
        assert not row.applied(session)
    assert [_payload(e)["kind"] for e in _events(database, "governance.request")] == [request["kind"]]
    # self-approval is refused, on the API and on the web form
    mine = client.post(f"/api/v1/governance/requests/{request['id']}/approve", headers=cast[row.requester].headers)
    assert mine.status_code == 409 and mine.json()["error"]["details"]["rule"] == "separation_of_duties", mine.text
    assert "Separation of duties" in mine.json()["error"]["message"]
    csrf = sign_in(client, database, cast[row.requester].username)
    form = client.post(f"/governance/{request['id']}", data={"decision": "approve", "csrf": csrf}, follow_redirects=False)
    assert form.status_code == 409 and "Separation of duties" in form.text
    client.cookies.clear()
    refused = client.post(f"/api/v1/governance/requests/{request['id']}/refuse", json={"reason": "mine"},
                          headers=cast[row.requester].headers)
    assert refused.status_code == 409
    # someone not entitled cannot approve it either
    other = client.post(f"/api/v1/governance/requests/{request['id']}/approve", headers=cast[row.not_entitled].headers)
    assert other.status_code == 403, other.text
    with database.session() as session:
        assert not row.applied(session)
    assert _events(database, "governance.approve") == []
    # the requester sees it as their own, without a decision to make
    listed = client.get("/api/v1/governance/requests", headers=cast[row.requester].headers).json()["data"]
    assert [(r["id"], r["may_decide"]) for r in listed] == [(request["id"], False)]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_it_takes_effect_with_the_second_persons_approval(client, database, cast, row: Row) -> None:  # noqa: ANN001
    request = _ask(client, cast, row)
    approver = cast[row.approver]
    listed = client.get("/api/v1/governance/requests", headers=approver.headers).json()["data"]
    assert [(r["id"], r["may_decide"]) for r in listed] == [(request["id"], True)]
    approved = client.post(f"/api/v1/governance/requests/{request['id']}/approve", headers=approver.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == approver.username
    with database.session() as session:
        assert row.applied(session)
    (decision,) = _events(database, "governance.approve")
    assert decision.actor_name == approver.username and decision.object_id == str(request["id"])
    applied = _events(database, row.event)[-1]
    assert applied.actor_name == approver.username and _payload(applied)["request"] == request["id"]
    assert applied.seq > decision.seq
    again = client.post(f"/api/v1/governance/requests/{request['id']}/approve", headers=cast["admin2"].headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"


@pytest.mark.parametrize("row", ROWS[:1] + ROWS[6:7], ids=["space", "global role"])
def test_approval_through_the_web_form(client, database, cast, row: Row) -> None:  # noqa: ANN001
    request = _ask(client, cast, row)
    csrf = sign_in(client, database, cast[row.approver].username)
    page = client.get("/governance")
    assert page.status_code == 200 and f'action="/governance/{request["id"]}"' in page.text
    assert 'href="/governance"' in page.text
    done = client.post(f"/governance/{request['id']}", data={"decision": "approve", "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/governance?done=governance-approved"
    with database.session() as session:
        assert row.applied(session)


def test_a_refusal_changes_nothing_and_keeps_the_reason(client, database, cast) -> None:  # noqa: ANN001
    row = ROWS[0]
    request = _ask(client, cast, row)
    csrf = sign_in(client, database, "otto")
    done = client.post(f"/governance/{request['id']}", data={"decision": "refuse", "reason": "Keep two pairs of eyes",
                                                             "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    with database.session() as session:
        assert _space(session).four_eyes is True
    (refusal,) = _events(database, "governance.refuse")
    assert refusal.actor_name == "otto" and _payload(refusal)["reason"] == "Keep two pairs of eyes"
    mine = client.get("/api/v1/governance/requests", headers=cast["owner"].headers).json()["data"]
    assert mine[0]["status"] == "refused" and mine[0]["reason"] == "Keep two pairs of eyes"
    approve = client.post(f"/api/v1/governance/requests/{request['id']}/approve", headers=cast["admin"].headers)
    assert approve.status_code == 409


IMMEDIATE = [
    ("PATCH", "/api/v1/spaces/benefits", {"description": "Entitlements"}, "owner"),
    ("PATCH", "/api/v1/spaces/benefits", {"four_eyes": True, "public_community": False}, "owner"),
    ("PUT", "/api/v1/spaces/benefits/members/rita", {"role": "contributor"}, "owner"),
    ("PUT", "/api/v1/spaces/benefits/members/rita", {"role": "reader"}, "owner"),
    ("DELETE", "/api/v1/spaces/benefits/members/carl", None, "owner"),
    ("POST", "/api/v1/users", {"username": "neo", "display_name": "Neo"}, "admin"),
    ("PATCH", "/api/v1/users/rita", {"display_name": "Rita R."}, "admin"),
]


@pytest.mark.parametrize(("method", "path", "body", "who"), IMMEDIATE, ids=[f"{m} {p} {b}" for m, p, b, _ in IMMEDIATE])
def test_raising_a_safeguard_or_a_plain_change_stays_immediate(client, database, cast, method, path, body, who) -> None:  # noqa: ANN001
    response = client.request(method, path, json=body, headers=cast[who].headers)
    assert response.status_code in (200, 201, 204), response.text
    assert _events(database, "governance.request") == []


def test_raising_four_eyes_again_is_immediate(client, database, cast) -> None:  # noqa: ANN001
    request = _ask(client, cast, ROWS[0])
    approved = client.post(f"/api/v1/governance/requests/{request['id']}/approve", headers=cast["owner2"].headers)
    assert approved.status_code == 200, approved.text
    assert client.get("/api/v1/spaces/benefits", headers=cast["owner"].headers).json()["four_eyes"] is False
    back = client.patch("/api/v1/spaces/benefits", json={"four_eyes": True}, headers=cast["owner"].headers)
    assert back.status_code == 200 and back.json()["four_eyes"] is True


def _olga_writes_and_approves(client, olga, title: str = "Olga self") -> int:  # noqa: ANN001
    body = {**doc_body(title), "body_md": f"# {title}\n\nEveryone gets a bonus of 1000 euro.\n"}
    slug = body["slug"]
    assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=olga).status_code == 201
    assert client.post(f"/api/v1/documents/{slug}/versions/1/submit", json={}, headers=olga).status_code == 200
    return client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={}, headers=olga).status_code


def test_olga_alone_cannot_switch_four_eyes_off_and_approve_her_own_document(client, database) -> None:  # noqa: ANN001
    from kb.actors import GlobalRole, SpaceRole
    from tests.factories import make_person, make_space

    make_space(database, "benefits")
    olga = make_person(database, "olga", spaces={"benefits": SpaceRole.owner})  # the only owner
    adam = make_person(database, "adam", GlobalRole.admin)
    switched = client.patch("/api/v1/spaces/benefits", json={"four_eyes": False}, headers=olga.headers)
    assert switched.status_code == 202
    assert client.post(f"/api/v1/governance/requests/{switched.json()['id']}/approve",
                       headers=olga.headers).status_code == 409
    assert _olga_writes_and_approves(client, olga.headers) == 409  # four eyes still on
    # the only owner's request needs an admin
    listed = client.get("/api/v1/governance/requests", headers=adam.headers).json()["data"]
    assert [r["may_decide"] for r in listed] == [True]
    assert client.post(f"/api/v1/governance/requests/{switched.json()['id']}/approve",
                       headers=adam.headers).status_code == 200
    assert _olga_writes_and_approves(client, olga.headers, "Olga again") == 200


def test_olga_with_a_second_owners_approval(client, database, cast) -> None:  # noqa: ANN001
    olga = cast["owner"].headers
    switched = client.patch("/api/v1/spaces/benefits", json={"four_eyes": False}, headers=olga)
    assert switched.status_code == 202
    assert client.post(f"/api/v1/governance/requests/{switched.json()['id']}/approve",
                       headers=cast["owner2"].headers).status_code == 200
    assert _olga_writes_and_approves(client, olga) == 200
    assert client.patch("/api/v1/spaces/benefits", json={"four_eyes": True}, headers=olga).status_code == 200
    (applied,) = [e for e in _events(database, "space.update") if _payload(e).get("request")]
    assert applied.actor_name == "otto" and _payload(applied)["changes"]["four_eyes"] == {"from": True, "to": False}


def test_adam_cannot_make_a_sock_puppet_approver_alone(client, database) -> None:  # noqa: ANN001
    from kb.actors import GlobalRole, SpaceRole
    from tests.factories import make_person, make_space

    make_space(database, "benefits")
    adam = make_person(database, "adam", GlobalRole.admin)
    make_person(database, "carl", spaces={"benefits": SpaceRole.contributor})
    created = client.post("/api/v1/users", json={"username": "adam2", "display_name": "Otto Owner",
                                                 "global_role": "admin", "password": "a-long-password"},
                          headers=adam.headers)
    assert created.status_code == 202 and created.json()["target"] == "adam2"
    with database.session() as session:
        assert _global(session, "adam2") == "reader"
    made_owner = client.put("/api/v1/spaces/benefits/members/adam2", json={"role": "owner"}, headers=adam.headers)
    assert made_owner.status_code == 202
    himself = client.put("/api/v1/spaces/benefits/members/adam", json={"role": "owner"}, headers=adam.headers)
    assert himself.status_code == 202
    pending_requests = client.get("/api/v1/governance/requests", headers=adam.headers).json()["data"]
    assert len(pending_requests) == 3  # adam2's role, adam2 as owner, adam as owner
    for pending in pending_requests:
        answer = client.post(f"/api/v1/governance/requests/{pending['id']}/approve", headers=adam.headers)
        assert answer.status_code == 409 and answer.json()["error"]["details"]["rule"] == "separation_of_duties"
    with database.session() as session:
        assert _global(session, "adam2") == "reader"
        assert _role(session, "adam2") is None and _role(session, "adam") is None
    # adam2 can sign in, but as a reader it decides nothing
    token = client.post("/api/v1/auth/token", json={"username": "adam2", "password": "a-long-password"}).json()["token"]
    puppet = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/api/v1/governance/requests/{made_owner.json()['id']}/approve",
                       headers=puppet).status_code == 403
    # only a second admin makes it happen
    ada = make_person(database, "ada", GlobalRole.admin)
    assert client.post(f"/api/v1/governance/requests/{created.json()['id']}/approve", headers=ada.headers).status_code == 200
    with database.session() as session:
        assert _global(session, "adam2") == "admin"


def test_the_cli_goes_through_governance_and_only_the_bootstrap_is_immediate(database, cli_env) -> None:  # noqa: ANN001
    """Issue 16 closed the operator's hole: `kb init --admin` makes the first admin as kb itself, and
    from then on `kb user add --role admin` and `kb space add --owner` are a person's requests."""
    from tests.factories import run_cli

    assert run_cli("init", "--admin", "root", env={"KB_NEW_PASSWORD": "root-password-1"}).exit_code == 0
    made = run_cli("user", "add", "root2", "--role", "admin", "--as", "root", password="root-password-1")
    assert made.exit_code == 0 and "is waiting for a second admin" in made.stdout, made.output
    space = run_cli("space", "add", "hr", "--owner", "root2", "--as", "root", password="root-password-1")
    assert space.exit_code == 0 and "is waiting for a second owner of hr or an admin" in space.stdout, space.output
    with database.session() as session:
        assert _global(session, "root2") == "reader" and _role(session, "root2", "hr") is None
    requests = _events(database, "governance.request")
    assert [(e.actor_name, e.channel) for e in requests] == [("root", "cli"), ("root", "cli")]


def test_unknown_request_is_404(client, cast) -> None:  # noqa: ANN001
    answer = client.post("/api/v1/governance/requests/999/approve", headers=cast["admin"].headers)
    assert answer.status_code == 404


def test_a_new_space_without_safeguards_needs_a_second_admin(client, database, cast) -> None:  # noqa: ANN001
    """Creating a space with four eyes off (or its community public) is a lowering too: the space is made
    safe, the lowering waits for a second admin (an admin alone made such a space at once before)."""
    second = cast["admin2"]
    made = client.post("/api/v1/spaces", json={"slug": "quick", "name": "Quick", "four_eyes": False, "public_community": True},
                       headers=cast["admin"].headers)
    assert made.status_code == 201 and made.json()["four_eyes"] is True and made.json()["public_community"] is False
    (pending,) = [r for r in client.get("/api/v1/governance/requests", headers=second.headers).json()["data"]
                  if r["target"] == "quick"]
    own = client.post(f"/api/v1/governance/requests/{pending['id']}/approve", headers=cast["admin"].headers)
    assert own.status_code == 409
    assert client.post(f"/api/v1/governance/requests/{pending['id']}/approve", headers=second.headers).status_code == 200
    space = client.get("/api/v1/spaces/quick", headers=second.headers).json()
    assert space["four_eyes"] is False and space["public_community"] is True


def test_four_eyes_off_by_default_is_a_request_too(client, database, cast, cli_env) -> None:  # noqa: ANN001
    """KB_FOUR_EYES_DEFAULT=false does not let one admin make a space without four eyes: a space created
    without saying, through the API or the CLI, has four eyes on and a pending request to lower it
    (before, it was made with four eyes off at once: the insider review of 2026-12-07, F4)."""
    from typer.testing import CliRunner

    from kb.cli import app as cli

    client.app.state.settings = client.app.state.settings.model_copy(update={"four_eyes_default": False})
    made = client.post("/api/v1/spaces", json={"slug": "quiet", "name": "Quiet"}, headers=cast["admin"].headers)
    assert made.status_code == 201 and made.json()["four_eyes"] is True, made.text
    ran = CliRunner().invoke(cli, ["space", "add", "quieter", "--name", "Quieter"],
                             env={"KB_FOUR_EYES_DEFAULT": "false", "KB_TOKEN": cast["admin"].token})
    assert ran.exit_code == 0, ran.output
    pending = client.get("/api/v1/governance/requests", headers=cast["admin2"].headers).json()["data"]
    assert {(r["target"], r["status"]) for r in pending} >= {("quiet", "pending"), ("quieter", "pending")}
    assert client.get("/api/v1/spaces/quieter", headers=cast["admin"].headers).json()["four_eyes"] is True


def test_a_refusal_needs_its_reason_on_the_web_as_on_the_api(client, database, cast) -> None:  # noqa: ANN001
    request = _ask(client, cast, ROWS[0])
    api = client.post(f"/api/v1/governance/requests/{request['id']}/refuse", json={"reason": ""}, headers=cast["owner2"].headers)
    assert api.status_code == 422
    csrf = sign_in(client, database, "otto")
    web = client.post(f"/governance/{request['id']}", data={"decision": "refuse", "reason": "", "csrf": csrf},
                      follow_redirects=False)
    assert web.status_code == 422  # the page made up the reason "refused" before
    pending = client.get("/api/v1/governance/requests", headers=cast["owner2"].headers).json()["data"]
    assert [r["status"] for r in pending if r["id"] == request["id"]] == ["pending"]


def test_the_same_change_twice_is_one_request(client, database, cast) -> None:  # noqa: ANN001
    """A second identical request while the first waits is a 409 naming it (no pile of requests to rubber-stamp);
    once the first is decided, the change may be asked for again."""
    olga, otto = cast["owner"].headers, cast["owner2"].headers
    first = client.patch("/api/v1/spaces/benefits", json={"four_eyes": False}, headers=olga)
    assert first.status_code == 202
    again = client.patch("/api/v1/spaces/benefits", json={"four_eyes": False}, headers=otto)
    assert again.status_code == 409, again.text
    error = again.json()["error"]
    assert error["details"] == {"rule": "duplicate_request", "request": first.json()["id"]}
    assert f"Request {first.json()['id']} asks for the same change" in error["message"]
    other = client.patch("/api/v1/spaces/benefits", json={"public_community": True}, headers=olga)
    assert other.status_code == 202  # another change is another request
    refused = client.post(f"/api/v1/governance/requests/{first.json()['id']}/refuse", json={"reason": "No"}, headers=otto)
    assert refused.status_code == 200, refused.text
    assert client.patch("/api/v1/spaces/benefits", json={"four_eyes": False}, headers=olga).status_code == 202


def test_a_request_planted_in_the_database_cannot_be_approved(client, database, cast) -> None:  # noqa: ANN001
    """An insider inserts a pending request "by olga" (making rita an owner), or edits a real one: the second
    person's approval is refused, because the audit log holds no such request (issue 16)."""
    from sqlalchemy import text

    olga_id = cast["owner"].actor.id
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO governance_request (kind, target, change, requested_by, requested_at, status) "
                                "VALUES ('space.member.set', 'benefits', :c, :u, '2026-12-05 10:00:00', 'pending')"),
                           {"c": '{"user": "rita", "role": "owner"}', "u": olga_id})
        planted = connection.execute(text("SELECT MAX(id) FROM governance_request")).scalar_one()
    refused = client.post(f"/api/v1/governance/requests/{planted}/approve", headers=cast["owner2"].headers)
    assert refused.status_code == 409 and refused.json()["error"]["details"]["rule"] == "unrecorded_request", refused.text
    real = client.patch("/api/v1/spaces/benefits", json={"four_eyes": False}, headers=cast["owner"].headers).json()["id"]
    with database.engine.begin() as connection:  # the real request, its change edited outside kb
        connection.execute(text("UPDATE governance_request SET change = :c WHERE id = :i"),
                           {"c": '{"public_community": true}', "i": real})
    assert client.post(f"/api/v1/governance/requests/{real}/approve", headers=cast["owner2"].headers).status_code == 409
    space = client.get("/api/v1/spaces/benefits", headers=cast["owner"].headers).json()
    assert space["four_eyes"] is True and space["public_community"] is False
