"""Insider matrix (issue 16): the attacks of "Accountability no single insider can forge", through the
API, the web UI and the CLI. Each attack fails when one person tries it alone (the state is unchanged:
a pending request, or a refusal) and takes effect only when a second entitled person approves it,
through the same surface. docs/reliability.md ("Insider matrix") tabulates exactly what is asserted here.

1. An owner (olga, of benefits) switches four eyes off, removes a co-owner, makes someone an owner,
   and approves her own document.
2. An admin (adam) makes himself owner, creates an admin account (adam2) named like an owner
   ("Otto Owner"), makes it an owner.
3. The CLI acts under other people's names without their credentials (carl, otto).

The web UI has no form to change a space, its members or a user's role: there the change is asked for
through the API and the web's part is the decision on /governance, where the requester's own approval
is refused and the second person's applies it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from kb.accounts import service as accounts
from kb.actors import GlobalRole
from kb.db import transaction
from tests.audit import audit_events, event_ids, new_events
from tests.factories import (
    Person, doc_body, global_role_of, make_cast, make_document, make_person, role_in_space, run_cli, sign_in, space_of,
)

SURFACES = ["api", "web", "cli"]
OTTO_PASSWORD = "otto-password-1"


@pytest.fixture
def people(database, cli_env):  # noqa: ANN001, ANN201
    """As tests.factories.make_cast (olga and otto own benefits, carl contributes to it, rita reads, adam
    is an admin, oscar owns elsewhere), a second admin (ada), and otto with a password for the CLI's prompt."""
    cast = make_cast(database)
    cast["admin2"] = make_person(database, "ada", GlobalRole.admin)
    with database.session() as session, transaction(session):
        accounts.get_user(session, "otto").password_hash = accounts.hash_password(OTTO_PASSWORD)
    return cast


# ------------------------------------------------------------------------------------- the state

_space, _role, _global = space_of, role_in_space, global_role_of  # tests/factories.py


def _nothing_recorded(database, known: frozenset[int]) -> bool:  # noqa: ANN001
    """No audit event besides ``known`` but the web sign-ins the test made (``session.create``)."""
    return {e["action"] for e in new_events(database, known)} <= {"session.create"}


# ------------------------------------------------------------------------- asking and deciding

@dataclass(frozen=True)
class Attack:
    """A change one insider tries alone: how to ask through the API and the CLI, who asks, who is the
    second entitled person, and how to see that it took effect."""

    name: str
    insider: str
    second: str
    api: tuple[str, str, dict | None]
    cli: list[str]
    applied: Callable  # (session) -> bool
    before: Callable | None = None  # (client, people, database) -> None: what the attack builds on


def _adam2_exists(client, people, database) -> None:  # noqa: ANN001
    created = client.post("/api/v1/users", json={"username": "adam2", "display_name": "Adam Second"},
                          headers=people["admin"].headers)
    assert created.status_code == 201, created.text


def _lodger_page(client, people, database) -> None:  # noqa: ANN001
    """A taxonomy (situation: tenant, lodger) and an approved page of benefits for lodgers."""
    admin = people["admin"].headers
    made = client.post("/api/v1/taxonomy", json={"key": "situation", "field": "applies_to", "titles": {"en": "Situation"}},
                       headers=admin)
    assert made.status_code == 201, made.text
    for key in ("tenant", "lodger"):
        made = client.post("/api/v1/taxonomy/situation/concepts", json={"key": key, "preferred": {"en": key.title()}},
                           headers=admin)
        assert made.status_code == 201, made.text
    make_document(database, people, slug="rent-help", state="approved", applies_to=["situation:lodger"])


def _merged(session, ref: str) -> bool:  # noqa: ANN001
    from kb.taxonomy import service as taxonomy

    return taxonomy.get_concept(session, *ref.split(":")).status == "deprecated"


ATTACKS = [
    Attack("an owner switches four eyes off", "owner", "owner2",
           ("PATCH", "/api/v1/spaces/benefits", {"four_eyes": False}), ["space", "update", "benefits", "--no-four-eyes"],
           lambda s: _space(s).four_eyes is False),
    Attack("an owner removes a co-owner", "owner", "admin",
           ("DELETE", "/api/v1/spaces/benefits/members/otto", None), ["space", "remove", "benefits", "otto"],
           lambda s: _role(s, "otto") is None),
    Attack("an owner makes someone an owner", "owner", "owner2",
           ("PUT", "/api/v1/spaces/benefits/members/rita", {"role": "owner"}), ["space", "member", "benefits", "rita", "owner"],
           lambda s: _role(s, "rita") == "owner"),
    Attack("an admin makes himself owner", "admin", "admin2",
           ("PUT", "/api/v1/spaces/benefits/members/adam", {"role": "owner"}), ["space", "member", "benefits", "adam", "owner"],
           lambda s: _role(s, "adam") == "owner"),
    Attack("an admin creates an admin account", "admin", "admin2",
           ("POST", "/api/v1/users", {"username": "adam2", "display_name": "Adam Second", "global_role": "admin"}),
           ["user", "add", "adam2", "--name", "Adam Second", "--role", "admin"],
           lambda s: _global(s, "adam2") == "admin"),
    Attack("an admin makes his second account an owner", "admin", "owner",
           ("PUT", "/api/v1/spaces/benefits/members/adam2", {"role": "owner"}), ["space", "member", "benefits", "adam2", "owner"],
           lambda s: _role(s, "adam2") == "owner", before=_adam2_exists),
    Attack("an owner of another space merges a concept that benefits' approved pages name", "outsider_owner", "owner",
           ("POST", "/api/v1/taxonomy/situation/concepts/lodger/merge", {"into": "tenant"}),
           ["taxonomy", "merge", "situation:lodger", "tenant"], lambda s: _merged(s, "situation:lodger"), before=_lodger_page),
]


def _ask(surface: str, client, people, attack: Attack) -> int:  # noqa: ANN001
    """The insider asks for the change; returns the pending request's id. The web has no form for it:
    asked through the API (the web's part is the decision)."""
    if surface == "cli":
        result = run_cli(*attack.cli, token=people[attack.insider].token)
        assert result.exit_code == 0, result.output
        line = next(l for l in result.stdout.splitlines() if l.startswith("Request "))
        assert "is waiting for a second" in line
        return int(line.split()[1])
    method, path, body = attack.api
    response = client.request(method, path, json=body, headers=people[attack.insider].headers)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    return response.json()["id"]


def _decide(surface: str, client, database, people, who: str, request_id: int) -> tuple[bool, str]:  # noqa: ANN001
    """``who`` approves the request through ``surface``: (approved, what the surface answered)."""
    if surface == "api":
        response = client.post(f"/api/v1/governance/requests/{request_id}/approve", headers=people[who].headers)
        return response.status_code == 200, f"{response.status_code} {response.text[:200]}"
    if surface == "web":
        csrf = sign_in(client, database, people[who].username)
        response = client.post(f"/governance/{request_id}", data={"decision": "approve", "csrf": csrf},
                               follow_redirects=False)
        client.cookies.clear()
        return response.status_code == 303, f"{response.status_code} {response.text}"
    result = run_cli("governance", "approve", str(request_id), token=people[who].token)
    return result.exit_code == 0, f"exit {result.exit_code}: {result.output.strip()[-200:]}"


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_one_insider_alone_cannot_and_a_second_person_can(client, database, people, attack: Attack, surface: str) -> None:  # noqa: ANN001
    if attack.before:
        attack.before(client, people, database)
    request_id = _ask(surface, client, people, attack)
    with database.session() as session:
        assert not attack.applied(session), "one person's request was applied"
    asked, log = _request_log(database, request_id), _log_but_sign_ins(database)
    assert [action for action, _who, _channel in asked] == ["governance.request"], asked
    approved, answer = _decide(surface, client, database, people, attack.insider, request_id)
    assert not approved and ("409" in answer or "Separation of duties" in answer), answer
    assert _log_but_sign_ins(database) == log, "a refused self-approval recorded an event"
    with database.session() as session:
        assert not attack.applied(session), "the insider's own approval was applied"
    approved, answer = _decide(surface, client, database, people, attack.second, request_id)
    assert approved, answer
    with database.session() as session:
        assert attack.applied(session), "the second person's approval did not apply the change"
    decided = [entry for entry in _request_log(database, request_id) if entry[0] == "governance.approve"]
    assert decided == [("governance.approve", people[attack.second].username, surface)]


def _log_but_sign_ins(database) -> list[tuple[int, str]]:  # noqa: ANN001
    """The whole audit log as (seq, action), but the sign-ins (signing in to the web to try is not a change)."""
    return [(e["seq"], e["action"]) for e in audit_events(database) if e["action"] != "session.create"]


def _request_log(database, request_id: int) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """What the audit log says of one governance request: (action, who, channel) of each event on it, in log order."""
    return [(e["action"], e["actor"], e["channel"]) for e in audit_events(database)
            if e["object_type"] == "governance_request" and e["object_id"] == str(request_id)]


# ------------------------------------------------------------------------------ self-approval

def _olgas_own_document(client, people) -> str:  # noqa: ANN001
    """olga, an owner of benefits, writes and submits a document herself (four eyes on)."""
    olga = people["owner"].headers
    body = {**doc_body("Olga self"), "body_md": "# Olga self\n\nEveryone gets a bonus of 1000 euro.\n"}
    assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=olga).status_code == 201
    assert client.post(f"/api/v1/documents/{body['slug']}/versions/1/submit", json={}, headers=olga).status_code == 200
    return body["slug"]


def _approve_version(surface: str, client, database, people, who: str, slug: str) -> tuple[bool, str]:  # noqa: ANN001
    if surface == "api":
        response = client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={}, headers=people[who].headers)
        return response.status_code == 200, f"{response.status_code} {response.text[:200]}"
    if surface == "web":
        csrf = sign_in(client, database, people[who].username)
        response = client.post(f"/review/{slug}/1/approve", data={"csrf": csrf}, follow_redirects=False)
        client.cookies.clear()
        return response.status_code == 303, f"{response.status_code} {response.text}"
    result = run_cli("approve", slug, "1", token=people[who].token)
    return result.exit_code == 0, f"exit {result.exit_code}: {result.output.strip()[-200:]}"


def _version_state(client, people, slug: str) -> str:  # noqa: ANN001
    return client.get(f"/api/v1/documents/{slug}/versions/1", headers=people["admin"].headers).json()["state"]


@pytest.mark.parametrize("surface", SURFACES)
def test_self_approval_under_four_eyes_is_refused_and_a_second_owner_approves(client, database, people, surface: str) -> None:  # noqa: ANN001
    slug = _olgas_own_document(client, people)
    known = event_ids(database)
    approved, answer = _approve_version(surface, client, database, people, "owner", slug)
    assert not approved and ("409" in answer or "four eyes" in answer), answer
    assert _nothing_recorded(database, known) and _version_state(client, people, slug) == "in_review"
    approved, answer = _approve_version(surface, client, database, people, "owner2", slug)
    assert approved, answer
    assert _version_state(client, people, slug) == "approved"
    (approval,) = [e for e in new_events(database, known) if e["action"] == "version.approve"]
    assert (approval["actor"], approval["channel"]) == ("otto", surface)


@pytest.mark.parametrize("surface", SURFACES)
def test_four_eyes_off_alone_does_not_let_olga_approve_her_own(client, database, people, surface: str) -> None:  # noqa: ANN001
    """Point 1 end to end: olga asks for four eyes off and approves her own document: refused while the
    request waits; once a second owner has approved the request, four eyes are off by two people's will."""
    attack = ATTACKS[0]
    request_id = _ask(surface, client, people, attack)
    slug = _olgas_own_document(client, people)
    approved, answer = _approve_version(surface, client, database, people, "owner", slug)
    assert not approved, answer
    assert _version_state(client, people, slug) == "in_review"
    assert _decide(surface, client, database, people, attack.second, request_id)[0]
    # submitted under four eyes, it still needs a second person (tests/test_four_eyes_at_submit.py)
    assert not _approve_version(surface, client, database, people, "owner", slug)[0]
    assert _version_state(client, people, slug) == "in_review"


# --------------------------------------------------------------------------------- sock puppet

@pytest.mark.parametrize("surface", ["api", "cli"])
@pytest.mark.parametrize("name", ["Otto Owner", "\u039ftto Owner", "0tto Owner"], ids=["same", "greek O", "zero"])
def test_a_sock_puppet_named_like_an_owner_is_refused_for_anyone(client, database, people, surface: str, name: str) -> None:  # noqa: ANN001
    """adam2 called "Otto Owner" (otto's name, any confusable spelling) is refused, for adam and for a
    second admin alike: no approval makes a name that passes for someone else's."""
    client.patch("/api/v1/users/otto", json={"display_name": "Otto Owner"}, headers=people["admin"].headers)
    known = event_ids(database)
    for who in ("admin", "admin2"):
        if surface == "api":
            response = client.post("/api/v1/users", json={"username": "adam2", "display_name": name, "global_role": "admin"},
                                   headers=people[who].headers)
            assert response.status_code == 409 and response.json()["error"]["code"] == "display_name_confusable", response.text
        else:
            result = run_cli("user", "add", "adam2", "--name", name, "--role", "admin", token=people[who].token)
            assert result.exit_code != 0 and "confusable" in result.output, result.output
    assert not new_events(database, known)
    with database.session() as session:
        assert _global(session, "adam2") is None


def _puppet(client, database, people, *, owner_of_benefits: bool) -> dict[str, str]:  # noqa: ANN001
    """adam (admin, and an owner of benefits since a second person agreed) creates carl2 with a password he
    chose and makes him a contributor (both immediate), or an owner (with olga's approval, given in good
    faith). Returns carl2's API headers, from signing in with the password adam knows."""
    from kb.actors import SYSTEM, SpaceRole

    with database.session() as session, transaction(session):
        accounts.set_membership(session, actor=SYSTEM, slug="benefits", username="adam", role=SpaceRole.owner)
    admin = people["admin"].headers
    created = client.post("/api/v1/users", json={"username": "carl2", "display_name": "Carl Second",
                                                 "password": "adam-chose-this-1"}, headers=admin)
    assert created.status_code == 201, created.text
    role = "owner" if owner_of_benefits else "contributor"
    member = client.put("/api/v1/spaces/benefits/members/carl2", json={"role": role}, headers=admin)
    if owner_of_benefits:
        assert member.status_code == 202, member.text
        assert client.post(f"/api/v1/governance/requests/{member.json()['id']}/approve",
                           headers=people["owner"].headers).status_code == 200
    else:
        assert member.status_code == 200, member.text
    token = client.post("/api/v1/auth/token", json={"username": "carl2", "password": "adam-chose-this-1"})
    assert token.status_code == 201, token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


def _submitted(client, headers: dict[str, str], title: str) -> str:  # noqa: ANN001
    body = {**doc_body(title), "body_md": f"# {title}\n\nEveryone gets a bonus of 1000 euro.\n"}
    assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=headers).status_code == 201
    assert client.post(f"/api/v1/documents/{body['slug']}/versions/1/submit", json={}, headers=headers).status_code == 200
    return body["slug"]


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("puppet", ["author", "approver"])
def test_an_account_whose_password_the_other_chose_is_not_a_second_person(client, database, people,  # noqa: ANN001
                                                                          surface: str, puppet: str) -> None:
    """The sock puppet the other way round: adam creates carl2 with a password he chose. As the *author*,
    carl2 writes what adam then approves as "reviewed by a second person"; as the *approver* (made an owner
    with olga's approval), carl2 approves what adam wrote. Both are refused on every surface (409, rule
    ``password_set_by``); another owner approves."""
    carl2 = _puppet(client, database, people, owner_of_benefits=puppet == "approver")
    people["puppet"] = Person(username="carl2", token=carl2["Authorization"].split()[1], actor=people["admin"].actor)
    slug = _submitted(client, carl2 if puppet == "author" else people["admin"].headers, f"Puppet {puppet} {surface}")
    known = event_ids(database)
    approved, answer = _approve_version(surface, client, database, people, "admin" if puppet == "author" else "puppet", slug)
    assert not approved and ("409" in answer or "chose" in answer), answer
    assert "password" in answer, answer
    assert _nothing_recorded(database, known) and _version_state(client, people, slug) == "in_review"
    approved, answer = _approve_version(surface, client, database, people, "owner2", slug)
    assert approved, answer
    assert _version_state(client, people, slug) == "approved"


def _signed_in(client, username: str, password: str) -> dict[str, str]:  # noqa: ANN001
    token = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert token.status_code == 201, token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


def _puppets_puppet(client, people, *, role: str) -> dict[str, str]:  # noqa: ANN001
    """adam creates pat1 with a password he chose and asks for pat1 to be an admin; ada approves in good
    faith. As pat1 (adam knows the password), he creates pat2 with a password "pat1" chose and gives pat2
    ``role`` in benefits (a contributor at once; an owner with otto's good-faith approval). Returns pat2's
    API headers: an account whose password adam chose through another he controls."""
    admin = people["admin"].headers
    created = client.post("/api/v1/users", json={"username": "pat1", "display_name": "Pat First",
                                                 "password": "adam-chose-this-1"}, headers=admin)
    assert created.status_code == 201, created.text
    asked = client.patch("/api/v1/users/pat1", json={"global_role": "admin"}, headers=admin)
    assert asked.status_code == 202, asked.text
    decided = client.post(f"/api/v1/governance/requests/{asked.json()['id']}/approve", headers=people["admin2"].headers)
    assert decided.status_code == 200, decided.text
    pat1 = _signed_in(client, "pat1", "adam-chose-this-1")
    created = client.post("/api/v1/users", json={"username": "pat2", "display_name": "Pat Second",
                                                 "password": "pat1-chose-this-1"}, headers=pat1)
    assert created.status_code == 201, created.text
    member = client.put("/api/v1/spaces/benefits/members/pat2", json={"role": role}, headers=pat1)
    if role == "owner":
        assert member.status_code == 202, member.text
        assert client.post(f"/api/v1/governance/requests/{member.json()['id']}/approve",
                           headers=people["owner2"].headers).status_code == 200
    else:
        assert member.status_code == 200, member.text
    return _signed_in(client, "pat2", "pat1-chose-this-1")


def _said(answer: str) -> str:
    """What a surface answered, as one line of plain text (the web's page is HTML, the CLI wraps)."""
    return " ".join(html.unescape(answer).split())


@pytest.mark.parametrize("surface", SURFACES)
def test_a_puppets_puppet_is_not_a_second_person_either(client, database, people, surface: str) -> None:  # noqa: ANN001
    """The insider's review (2026-12-07, F1/F2): adam's puppet pat1, made an admin by ada in good faith,
    creates pat2 "in its own name" and makes it a contributor. pat2 writes what adam approves: refused on
    every surface, naming the chain adam, pat1, pat2; another owner approves."""
    from kb.actors import SYSTEM, SpaceRole

    with database.session() as session, transaction(session):
        accounts.set_membership(session, actor=SYSTEM, slug="benefits", username="adam", role=SpaceRole.owner)
    slug = _submitted(client, _puppets_puppet(client, people, role="contributor"), f"Puppet of a puppet {surface}")
    known = event_ids(database)
    approved, answer = _approve_version(surface, client, database, people, "admin", slug)
    assert not approved and "adam chose pat1's password when creating the account, and pat1 pat2's" in _said(answer), answer
    assert _nothing_recorded(database, known) and _version_state(client, people, slug) == "in_review"
    if surface == "api":
        details = client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={},
                              headers=people["admin"].headers).json()["error"]["details"]
        assert details == {"rule": "password_set_by", "set_by": "adam", "account": "pat2", "chain": ["adam", "pat1", "pat2"]}
    assert _approve_version(surface, client, database, people, "owner2", slug)[0]
    assert _version_state(client, people, slug) == "approved"


# ------------------------------------------------------------------- acting under another's name

@pytest.mark.parametrize("surface", SURFACES)
def test_nobody_acts_as_otto_without_his_credentials(client, database, people, surface: str) -> None:  # noqa: ANN001
    """Point 3: `kb approve --as otto` acted as otto with no credential. Now each surface needs otto's
    own: no token, no session, no password (or carl's token) is refused; otto's own credentials work."""
    slug = _olgas_own_document(client, people)  # olga wrote it: otto may approve it
    known = event_ids(database)
    if surface == "api":
        anonymous = client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={})
        assert anonymous.status_code == 401
    elif surface == "web":
        anonymous = client.post(f"/review/{slug}/1/approve", data={}, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    else:
        for attempt in (run_cli("approve", slug, "1", "--as", "otto"),  # no password typed
                        run_cli("approve", slug, "1", "--as", "otto", password="guessed-password"),
                        run_cli("approve", slug, "1", "--as", "otto", token=people["contributor"].token)):  # carl's token
            assert attempt.exit_code != 0, attempt.output
    assert not new_events(database, known) and _version_state(client, people, slug) == "in_review"
    if surface == "cli":
        approved = run_cli("approve", slug, "1", "--as", "otto", password=OTTO_PASSWORD)
        assert approved.exit_code == 0, approved.output
    else:
        assert _approve_version(surface, client, database, people, "owner2", slug)[0]
    (approval,) = [e for e in new_events(database, known) if e["action"] == "version.approve"]
    assert (approval["actor"], approval["channel"]) == ("otto", surface)


@pytest.mark.parametrize("surface", SURFACES)
def test_nobody_imports_as_carl_without_his_credentials(client, database, people, surface: str, tmp_path) -> None:  # noqa: ANN001
    """Point 3: `kb import --as carl` recorded carl as the author with no credential."""
    data = b"# Rent allowance\n\nRent allowance is paid monthly.\n"
    known = event_ids(database)
    if surface == "api":
        refused = client.post("/api/v1/spaces/benefits/import", files={"file": ("rent.md", data, "text/markdown")})
        assert refused.status_code == 401
        done = client.post("/api/v1/spaces/benefits/import", files={"file": ("rent.md", data, "text/markdown")},
                           headers=people["contributor"].headers)
        ok = done.status_code in (200, 201)
    elif surface == "web":
        refused = client.post("/import", data={"space": "benefits"}, files={"file": ("rent.md", data, "text/markdown")},
                              follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login?next=")
        csrf = sign_in(client, database, "carl")
        done = client.post("/import", data={"space": "benefits", "csrf": csrf},
                           files={"file": ("rent.md", data, "text/markdown")}, follow_redirects=False)
        client.cookies.clear()
        ok = done.status_code == 303
    else:
        path = tmp_path / "rent.md"
        path.write_bytes(data)
        refused = run_cli("import", str(path), "--space", "benefits", "--as", "carl", password="not-carls-password")
        assert refused.exit_code != 0 and "Unknown username or wrong password" in refused.output
        assert not new_events(database, known)
        done = run_cli("import", str(path), "--space", "benefits", token=people["contributor"].token)
        ok = done.exit_code == 0
    assert ok
    assert [(e["action"], e["actor"], e["channel"]) for e in new_events(database, known)
            if e["action"] != "session.create"] == [("document.import", "carl", surface)]


def test_the_table_in_the_docs_names_every_attack() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "reliability.md").read_text(encoding="utf-8")
    table = text.split("## Insider matrix of issue 16", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "attack (one insider alone)"
    assert [a.name for a in ATTACKS] == rows[1:len(ATTACKS) + 1]
    assert rows[len(ATTACKS) + 1:] == [
        'a sock puppet named like an owner ("Otto Owner", "Οtto Owner", "0tto Owner")',
        "an owner approves her own version (four eyes)", "an owner asks four eyes off, then approves her own version",
        "acting as otto without his credentials", "importing as carl without his credentials",
        "an admin approves what his puppet wrote (carl2, created with a password adam chose, made contributor)",
        "an admin's puppet approves what he wrote (carl2 made an owner with olga's approval, given in good faith)",
        "an admin approves what his puppet's puppet wrote (pat1, whose password adam chose, made admin with ada's "
        "approval in good faith, creates pat2 and makes it a contributor)"]


def test_an_account_whose_password_the_writer_chose_may_not_dismiss_a_report_on_the_writers_text(client, database, people) -> None:  # noqa: ANN001
    """The same puppet against a reader's report (the insider review of 2026-12-07): adam wrote the page, otto
    approved it, a reader reports it wrong; adam may not dismiss the report (four eyes), nor may carl2, made
    an owner with a password adam chose. otto may."""
    carl2 = _puppet(client, database, people, owner_of_benefits=True)
    slug = _submitted(client, people["admin"].headers, "Report on adam page")
    assert client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={}, headers=people["owner2"].headers).status_code == 200
    made = client.post("/api/v1/flags", json={"target": "document", "target_id": slug, "reason": "wrong"},
                       headers=people["reader"].headers)
    assert made.status_code == 201, made.text
    report = next(item["report"] for item in client.get("/api/v1/review-queue", headers=people["owner2"].headers).json()["data"]
                  if item["document"] == slug)
    known = event_ids(database)
    for who, rule in ((people["admin"].headers, "four_eyes"), (carl2, "password_set_by")):
        refused = client.post(f"/api/v1/reports/{report}/dismiss", json={"reason": "It is right"}, headers=who)
        assert refused.status_code == 409 and refused.json()["error"]["details"]["rule"] == rule, refused.text
        assert "decide on" in refused.json()["error"]["message"]
    assert _nothing_recorded(database, known)
    assert client.post(f"/api/v1/reports/{report}/dismiss", json={"reason": "It is right"},
                       headers=people["owner2"].headers).status_code == 200
