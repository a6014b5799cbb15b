"""Test data built through the services, so that provenance and audit events exist as in production."""

from __future__ import annotations

from dataclasses import dataclass

from kb.accounts import service as accounts
from kb.accounts.schemas import SpaceCreate, UserCreate
from kb.actors import SYSTEM, Actor, Channel, GlobalRole, SpaceRole
from kb.db import Database, transaction


@dataclass
class Person:
    username: str
    token: str
    actor: Actor

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_space(database: Database, slug: str = "benefits", four_eyes: bool = True) -> None:
    with database.session() as session, transaction(session):
        accounts.create_space(session, actor=SYSTEM, data=SpaceCreate(slug=slug, name=slug.title(), four_eyes=four_eyes),
                              four_eyes_default=True)


def make_person(
    database: Database,
    username: str,
    global_role: GlobalRole = GlobalRole.reader,
    spaces: dict[str, SpaceRole] | None = None,
    password: str | None = None,
) -> Person:
    with database.session() as session:
        with transaction(session):
            user = accounts.create_user(session, actor=SYSTEM, data=UserCreate(
                username=username, display_name=username.title(), email=f"{username}@example.test",
                password=password, global_role=global_role))
            for slug, role in (spaces or {}).items():
                accounts.set_membership(session, actor=SYSTEM, slug=slug, username=username, role=role)
            _token, raw = accounts.create_token(session, actor=SYSTEM, user=user, name="test")
        actor = accounts.actor_for(session, user, Channel.api)
    return Person(username=username, token=raw, actor=actor)


def make_cast(database: Database, space: str = "benefits") -> dict[str, Person]:
    """One person per role in ``space`` (two owners for four-eyes), plus an owner of another space."""
    make_space(database, space)
    make_space(database, "elsewhere")
    return {
        "reader": make_person(database, "rita"),
        "contributor": make_person(database, "carl", spaces={space: SpaceRole.contributor}),
        "owner": make_person(database, "olga", spaces={space: SpaceRole.owner}),
        "owner2": make_person(database, "otto", spaces={space: SpaceRole.owner}),
        "moderator": make_person(database, "mona", GlobalRole.moderator),
        "admin": make_person(database, "adam", GlobalRole.admin),
        "outsider_owner": make_person(database, "oscar", spaces={"elsewhere": SpaceRole.owner}),
    }


def community_cast(database: Database, client) -> dict[str, Person]:  # noqa: ANN001
    """The cast, child-benefit approved, and three more readers (reader0..reader2) to comment, vote and flag."""
    people = make_cast(database)
    approved_document(client, people)
    for i in range(3):
        people[f"reader{i}"] = make_person(database, f"reader{i}")
    return people


def doc_body(title: str = "Child benefit", extra: str = "") -> dict:
    return {
        "slug": title.lower().replace(" ", "-"), "title": title,
        "body_md": f"# {title}\n\nChild benefit is paid every quarter for each child under 18.\n\n## Who\n\nParents.{extra}\n",
        "audience": "public", "language": "en", "tags": ["family"], "licence": "CC-BY-4.0",
        "intended_use": "Explains child benefit to citizens.", "valid_from": "2026-01-01", "review_by": "2030-01-01",
    }


def approved_document(client, cast: dict[str, Person], title: str = "Child benefit") -> str:  # noqa: ANN001
    """Create, submit and approve a document through the API (contributor writes, owner approves)."""
    body = doc_body(title)
    response = client.post("/api/v1/spaces/benefits/documents", json=body, headers=cast["contributor"].headers)
    assert response.status_code == 201, response.text
    slug = body["slug"]
    assert client.post(f"/api/v1/documents/{slug}/versions/1/submit", json={}, headers=cast["contributor"].headers).status_code == 200
    approved = client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={}, headers=cast["owner"].headers)
    assert approved.status_code == 200, approved.text
    return slug


def make_document(
    database: Database, cast: dict[str, Person], *, slug: str, state: str, audience: str = "public",
    body: str = "", title: str | None = None, language: str = "en", valid_from: str | None = None,
    valid_until: str | None = None, translation_of: str | None = None, space: str = "benefits",
    applies_to: list[str] | None = None, topic: list[str] | None = None,
) -> None:
    """A document in ``state`` built through the services (author: the contributor; approver: an owner);
    ``applies_to`` and ``topic`` name taxonomy concepts as ``scheme:key`` (they must exist)."""
    import datetime as dt

    from kb.documents import service as documents
    from kb.documents.schemas import DocumentCreate, DraftSave

    author, owner = cast["contributor"].actor, cast["owner"].actor
    data = DocumentCreate(
        slug=slug, title=title or slug.replace("-", " ").title(), body_md=body or f"# {slug}\n\nAbout {slug}.",
        audience=audience, language=language, intended_use="Tests", licence="CC0",
        valid_from=dt.date.fromisoformat(valid_from) if valid_from else None,
        valid_until=dt.date.fromisoformat(valid_until) if valid_until else None, translation_of=translation_of,
        applies_to=applies_to, topic=topic,
    )
    steps = {
        "draft": [], "in_review": ["submit"], "approved": ["submit", "approve"], "rejected": ["submit", "reject"],
        "retired": ["submit", "approve", "retire"], "superseded": ["submit", "approve", "edit", "submit2", "approve2"],
    }[state]
    with database.session() as session:
        with transaction(session):
            documents.create_document(session, actor=author, space_slug=space, data=data)
        for step in steps:
            with transaction(session):
                if step == "submit":
                    documents.submit(session, actor=author, slug=slug, number=1)
                elif step == "approve":
                    documents.approve(session, actor=owner, slug=slug, number=1)
                elif step == "reject":
                    documents.reject(session, actor=owner, slug=slug, number=1, reason="no")
                elif step == "retire":
                    documents.retire(session, actor=owner, slug=slug, reason="ended")
                elif step == "edit":
                    documents.save_draft(session, actor=author, slug=slug, data=DraftSave(body_md=f"# {slug}\n\nNewer text."))
                elif step == "submit2":
                    documents.submit(session, actor=author, slug=slug, number=2)
                elif step == "approve2":
                    documents.approve(session, actor=owner, slug=slug, number=2)


def publish_version(session, *, author, owner, slug: str, number: int, data) -> None:  # noqa: ANN001
    """A new version of ``slug`` through the services, each step in its own transaction as the surfaces
    make them: ``author`` saves ``data`` (a ``DraftSave``) as draft ``number`` and submits it, ``owner`` approves it."""
    from kb.documents import service as documents

    with transaction(session):
        documents.save_draft(session, actor=author, slug=slug, data=data)
    with transaction(session):
        documents.submit(session, actor=author, slug=slug, number=number)
    with transaction(session):
        documents.approve(session, actor=owner, slug=slug, number=number)


def web_session(database: Database, username: str) -> tuple[str, str]:
    """A web session for ``username`` made through the accounts service: (cookie value, CSRF token)."""
    with database.session() as session, transaction(session):
        started, raw = accounts.create_web_session(session, user=accounts.get_user(session, username), max_age_seconds=3600)
        return raw, started.csrf_token


def sign_in(client, database: Database, username: str) -> str:  # noqa: ANN001
    """Sign ``username`` in on the web ``client`` (the session cookie goes on it); returns the CSRF token."""
    raw, csrf = web_session(database, username)
    client.cookies.set("kb_session", raw)
    return csrf


def change_space_with_second_person(client, cast: dict[str, Person], change: dict, *, by: str = "owner",  # noqa: ANN001, ANN201
                                    approver: str = "owner2", space: str = "benefits"):
    """PATCH a space as ``by``; a lowering change is a pending request (202) that ``approver`` approves
    (issue 16, docs/governance.md). Returns the space as it is afterwards."""
    response = client.patch(f"/api/v1/spaces/{space}", json=change, headers=cast[by].headers)
    if response.status_code == 202:
        approved = client.post(f"/api/v1/governance/requests/{response.json()['id']}/approve",
                               headers=cast[approver].headers)
        assert approved.status_code == 200, approved.text
        response = client.get(f"/api/v1/spaces/{space}", headers=cast[by].headers)
    assert response.status_code == 200, response.text
    return response


def make_page_written_by(database: Database, cast: dict[str, Person], *, slug: str, author: str, approver: str) -> None:
    """An approved page ``author`` wrote and ``approver`` approved (``make_document``'s author is always the contributor)."""
    from kb.documents import service as documents
    from kb.documents.schemas import DocumentCreate

    with database.session() as session:
        with transaction(session):
            documents.create_document(session, actor=cast[author].actor, space_slug="benefits", data=DocumentCreate(
                slug=slug, title=slug.replace("-", " ").capitalize(), body_md=f"# {slug}\n\nText.", intended_use="Tests",
                licence="CC0"))
        with transaction(session):
            documents.submit(session, actor=cast[author].actor, slug=slug, number=1, intended_use="Tests")
        with transaction(session):
            documents.approve(session, actor=cast[approver].actor, slug=slug, number=1)


def run_cli(*args: str, token: str | None = None, password: str | None = None, env: dict[str, str] | None = None):  # noqa: ANN201
    """Run ``kb ARGS`` in-process as a person (issue 16: the CLI authenticates): ``token`` goes in
    ``KB_TOKEN`` (unset otherwise, so no token of the caller's environment leaks in), ``password`` is
    typed at the hidden prompt that ``--as USERNAME`` opens. Returns typer's ``Result`` (``.stdout``
    without the prompt, ``.output`` with it and the error lines)."""
    from typer.testing import CliRunner

    from kb.cli import app

    return CliRunner().invoke(app, list(args), env={"KB_TOKEN": token, "KB_AS": None, **(env or {})},  # type: ignore[dict-item]
                              input=None if password is None else f"{password}\n", catch_exceptions=False)


# ------------------------------------------------------------- reading the accounts' state in tests

def space_of(session, slug: str = "benefits"):  # noqa: ANN001, ANN201
    """The ``Space`` row of ``slug``."""
    from sqlalchemy import select

    from kb.accounts.models import Space

    return session.execute(select(Space).where(Space.slug == slug)).scalar_one()


def role_in_space(session, username: str, slug: str = "benefits") -> str | None:  # noqa: ANN001
    """The role ``username`` holds in the space ``slug`` (None: no membership)."""
    from sqlalchemy import select

    from kb.accounts.models import Space, SpaceMembership, User

    return session.execute(
        select(SpaceMembership.role).join(User, User.id == SpaceMembership.user_id)
        .join(Space, Space.id == SpaceMembership.space_id)
        .where(User.username == username, Space.slug == slug)).scalar_one_or_none()


def global_role_of(session, username: str) -> str | None:  # noqa: ANN001
    """The global role of ``username`` (None: no such user)."""
    from sqlalchemy import select

    from kb.accounts.models import User

    return session.execute(select(User.global_role).where(User.username == username)).scalar_one_or_none()
