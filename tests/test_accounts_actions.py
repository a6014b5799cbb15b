"""Accounts and audit-log actions: each rule decided once, by the action every surface calls.

The actions are called here as the surfaces call them (the API routes, the web pages and the CLI
are thin adapters over them), and through two surfaces where the point is that they agree.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.accounts import actions as accounts
from kb.accounts.schemas import SpaceCreate, SpaceUpdate, UserCreate
from kb.actors import SYSTEM, SpaceRole
from kb.errors import ErrorCode, KbError
from kb.provenance import actions as audit
from kb.documents import actions as documents
from kb.ratelimit import HashGate, RateLimiter
from tests.audit import audit_events, head_seq
from tests.factories import approved_document, make_cast, make_person

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def refused(code: ErrorCode, call, *args, **kwargs) -> KbError:  # noqa: ANN001
    with pytest.raises(KbError) as caught:
        call(*args, **kwargs)
    assert caught.value.code is code, caught.value.message
    return caught.value


# --------------------------------------------------------------------------------- the audit log

def test_the_audit_log_is_refused_to_non_admins_by_the_action_itself(database) -> None:  # noqa: ANN001
    """The bug: only the route layers checked (the API's require, the web page's own ``is_admin``);
    ``kb.provenance`` listed and verified for anyone who called it. Now the action decides."""
    cast = make_cast(database)
    with database.session() as session:
        for role in ("reader", "contributor", "owner", "moderator", "outsider_owner"):
            refused(ErrorCode.FORBIDDEN, audit.list_events, session, cast[role].actor)
            refused(ErrorCode.FORBIDDEN, documents.verify_log, session, cast[role].actor)
        first = audit.list_events(session, cast["admin"].actor, limit=3)
        assert [e.seq for e in first.data] == [1, 2, 3] and first.next_after_seq == 3
        assert documents.verify_log(session, SYSTEM).ok  # the operator's ``kb audit verify``


def test_the_audit_page_and_the_api_refuse_an_owner_alike(client, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    api = client.get("/api/v1/audit", headers=cast["owner"].headers)
    with database.session() as session:
        make_person(database, "mira", password=PASSWORD)
        accounts.set_member(session, SYSTEM, slug="benefits", username="mira", role=SpaceRole.owner)
    login = client.post("/login", data={"username": "mira", "password": PASSWORD, "csrf": _login_csrf(client)},
                        follow_redirects=False)
    assert login.status_code == 303
    web = client.get("/audit")
    assert api.status_code == web.status_code == 403
    assert api.json()["error"]["message"] in web.text


# ------------------------------------------------------------------------------------- signing in

def _login_csrf(client) -> str:  # noqa: ANN001
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)


def _limits(settings, slots: int = 1) -> accounts.SignInLimits:  # noqa: ANN001
    return accounts.SignInLimits(limiter=RateLimiter(), gate=HashGate(slots), settings=settings)


def test_sign_in_issues_a_token_or_a_web_session_from_plain_inputs(settings, database) -> None:  # noqa: ANN001
    make_person(database, "wendy", password=PASSWORD)
    limits = _limits(settings)
    with database.session() as session:
        token = accounts.sign_in(session, None, username="wendy", password=PASSWORD, client_ip="198.51.100.1",
                                 limits=limits, wanted=accounts.ApiTokenWanted(name="laptop"))
        assert token.name == "laptop" and token.token.startswith("kb_")
        assert accounts.identify_by_token(session, token=token.token).username == "wendy"
        started = accounts.sign_in(session, None, username="wendy", password=PASSWORD, client_ip="198.51.100.1",
                                   limits=limits, wanted=accounts.WebSessionWanted(max_age_seconds=60))
        identity = accounts.identify_by_web_session(session, cookie=started.cookie)
        assert identity is not None and identity.actor.username == "wendy" and started.max_age_seconds == 60
        assert identity.spaces == {}  # no space exists yet: the navigation names none
        accounts.sign_out(session, identity.actor, web_session_id=identity.web_session_id)
        assert accounts.identify_by_web_session(session, cookie=started.cookie) is None
        refused(ErrorCode.INVALID_CREDENTIALS, accounts.sign_in, session, None, username="wendy", password="wrong",
                client_ip="198.51.100.1", limits=limits, wanted=accounts.ApiTokenWanted(name="x"))
    events = [(e["actor"], e["action"]) for e in audit_events(database)][-3:]
    assert events == [("wendy", "token.create"), ("wendy", "session.create"), ("wendy", "session.end")]


def test_the_api_and_the_web_sign_in_share_one_count_per_account(app, client, database) -> None:  # noqa: ANN001
    """One action behind both doors: attempts through the API use up the web form's budget too."""
    make_person(database, "wendy", password=PASSWORD)
    limit = int(app.state.settings.rate_limit_login.split("/")[0])
    for _ in range(limit - 1):
        assert client.post("/api/v1/auth/token", json={"username": "wendy", "password": "wrong"}).status_code == 401
    form = {"username": "wendy", "password": "wrong", "csrf": _login_csrf(client)}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 401
    last = client.post("/login", data={**form, "password": PASSWORD}, follow_redirects=False)
    assert last.status_code == 429 and "Retry-After" in last.headers
    assert client.post("/api/v1/auth/token", json={"username": "wendy", "password": PASSWORD}).status_code == 429


def test_a_full_hash_gate_refuses_with_503_on_every_door(settings, database) -> None:  # noqa: ANN001
    import threading

    make_person(database, "wendy", password=PASSWORD)
    held = threading.BoundedSemaphore(1)
    held.acquire()  # the only slot is taken
    limits = accounts.SignInLimits(limiter=RateLimiter(), gate=HashGate(1, 0.01, semaphore=held), settings=settings)
    with database.session() as session:
        error = refused(ErrorCode.SERVICE_UNAVAILABLE, accounts.sign_in, session, None, username="wendy",
                        password=PASSWORD, client_ip="198.51.100.1", limits=limits,
                        wanted=accounts.WebSessionWanted(max_age_seconds=60))
    assert error.headers == {"Retry-After": "1"}


def test_one_cannot_end_someone_elses_web_session(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    make_person(database, "wendy", password=PASSWORD)
    with database.session() as session:
        started = accounts.sign_in(session, None, username="wendy", password=PASSWORD, client_ip="198.51.100.1",
                                   limits=_limits(settings), wanted=accounts.WebSessionWanted(max_age_seconds=60))
        identity = accounts.identify_by_web_session(session, cookie=started.cookie)
        refused(ErrorCode.NOT_FOUND, accounts.sign_out, session, cast["admin"].actor,
                web_session_id=identity.web_session_id)
        assert accounts.identify_by_web_session(session, cookie=started.cookie) is not None
    assert audit_events(database)[-1]["action"] == "session.create"


# ------------------------------------------------------------------------------- users and spaces

def test_role_gates_are_the_actions_rows(database) -> None:  # noqa: ANN001
    """The services no longer hold role gates: the row of kb.permissions, applied by the action, does."""
    cast = make_cast(database)
    with database.session() as session:
        for role in ("reader", "owner", "moderator"):
            actor = cast[role].actor
            refused(ErrorCode.FORBIDDEN, accounts.create_user, session, actor,
                    data=UserCreate(username="newbie", display_name="Newbie"))
            refused(ErrorCode.FORBIDDEN, accounts.list_users, session, actor, limit=10, offset=0)
            refused(ErrorCode.FORBIDDEN, accounts.read_user, session, actor, username="rita")
            refused(ErrorCode.FORBIDDEN, accounts.create_space, session, actor,
                    data=SpaceCreate(slug="new", name="New"), four_eyes_default=True)
        # An owner of another space passes the row (owner_or_admin) but not the service's per-space rule.
        refused(ErrorCode.FORBIDDEN, accounts.update_space, session, cast["outsider_owner"].actor,
                slug="benefits", data=SpaceUpdate(name="Mine"))
        refused(ErrorCode.FORBIDDEN, accounts.set_member, session, cast["reader"].actor,
                slug="benefits", username="rita", role=SpaceRole.owner)
        space = accounts.set_member(session, cast["owner"].actor, slug="benefits", username="rita",
                                    role=SpaceRole.contributor)
        assert ("rita", SpaceRole.contributor) in {(m.username, m.role) for m in space.members}
    assert audit_events(database)[-1]["action"] == "space.member.set"


def test_a_space_and_its_owners_are_created_together_or_not_at_all(database) -> None:  # noqa: ANN001
    make_person(database, "olga")
    before = len(audit_events(database))
    with database.session() as session:
        refused(ErrorCode.NOT_FOUND, accounts.create_space, session, SYSTEM, data=SpaceCreate(slug="hr", name="HR"),
                four_eyes_default=True, owners=["olga", "nobody"])
        refused(ErrorCode.NOT_FOUND, accounts.read_space, session, SYSTEM, slug="hr")
        assert len(audit_events(database)) == before
        space = accounts.create_space(session, SYSTEM, data=SpaceCreate(slug="hr", name="HR"), four_eyes_default=False,
                                      owners=["olga"])
    assert space.four_eyes is False and [(m.username, m.role) for m in space.members] == [("olga", SpaceRole.owner)]
    assert [(e["actor"], e["action"]) for e in audit_events(database)[before:]] == [
        ("system", "space.create"), ("system", "space.member.set")]


# --------------------------------------------------------------------------------------- surfaces

SURFACES = ["kb/accounts/api.py", "kb/provenance/api.py", "kb/web/accounts.py", "kb/web/admin.py",
            "kb/web/common.py", "kb/cli/accounts.py", "kb/cli/audit.py", "kb/app.py"]


@pytest.mark.parametrize("path", SURFACES)
def test_the_accounts_surfaces_go_through_actions(path: str) -> None:
    """No transaction, no service, no API route called from a page, no hand-written role check."""
    text = (ROOT / path).read_text(encoding="utf-8")
    assert not re.search(r"\btransaction\(", text)
    assert not re.search(r"\bservice\.\w|import service|service as ", text)
    if path != "kb/app.py":  # the composition root mounts the API routers
        assert "import api" not in text and ".api import" not in text
    assert "is_admin" not in text and "require(Access" not in text


def test_nobody_acts_through_the_cli_as_a_deactivated_account(cli_env, client, database) -> None:  # noqa: ANN001
    """A deactivated owner's token and web session are refused; on the CLI, their token and their password alike."""
    from typer.testing import CliRunner

    from kb.cli import app as cli

    cast = make_cast(database)
    approved_document(client, cast)
    edited = client.put("/api/v1/documents/child-benefit/draft", json={"title": "Child benefit 2027"},
                        headers=cast["contributor"].headers)
    assert client.post("/api/v1/documents/child-benefit/versions/2/submit", json={},
                       headers=cast["contributor"].headers).status_code == 200, edited.text
    assert client.patch("/api/v1/users/otto", json={"is_active": False}, headers=cast["admin"].headers).status_code == 200
    before = head_seq(database)
    refused = CliRunner().invoke(cli, ["approve", "child-benefit", "2"], env={"KB_TOKEN": cast["owner2"].token},
                                 catch_exceptions=False)
    assert refused.exit_code != 0 and "deactivated" in refused.output
    assert head_seq(database) == before
    assert client.post("/api/v1/documents/child-benefit/versions/2/approve", json={},
                       headers=cast["owner2"].headers).status_code == 401  # the API refuses the same person


def test_no_person_may_be_called_system(client, database) -> None:  # noqa: ANN001
    """The audit log names kb itself `system`: a person of that name would read as kb in it."""


    cast = make_cast(database)
    response = client.post("/api/v1/users", json={"username": "system", "display_name": "Kb"}, headers=cast["admin"].headers)
    assert response.status_code == 422 and "reserved" in response.text
    assert client.post("/api/v1/users", json={"username": "systems", "display_name": "Sys"},
                       headers=cast["admin"].headers).status_code == 201
