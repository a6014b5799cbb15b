"""HTTP routes of the accounts domain: thin wrappers that authorise, call the service, shape output."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from kb.accounts import service
from kb.accounts.models import ApiToken, Space, User
from kb.accounts.schemas import (
    Credentials, MePublic, MembershipPublic, MembershipSet, SpaceCreate, SpaceMember, SpacePublic,
    SpacesPublic, SpaceUpdate, TokenCreate, TokenCreated, TokenPublic, TokensPublic, UserAdminPublic,
    UserCreate, UsersPublic, UserUpdate,
)
from kb.actors import Access, Actor
from kb.db import MAX_ROW_ID, transaction
from kb.errors import ErrorResponse
from kb.http import PageDep, SessionDep, api_router_options, client_ip, require

router = APIRouter(prefix="/api/v1", **api_router_options("accounts"))

_BUSY = {"model": ErrorResponse, "description": "Too many sign-ins at once; retry after `Retry-After` seconds"}
UsernamePath = Annotated[str, Path(max_length=64)]
SlugPath = Annotated[str, Path(max_length=64)]


def _memberships(session, user: User) -> list[MembershipPublic]:  # noqa: ANN001
    return [MembershipPublic(space=slug, role=role) for slug, role in service.memberships_of(session, user.id)]


def _user_admin(session, user: User) -> UserAdminPublic:  # noqa: ANN001
    return UserAdminPublic(
        username=user.username, display_name=user.display_name, global_role=user.global_role,
        is_active=user.is_active, created_at=user.created_at, email=user.email,
        memberships=_memberships(session, user),
    )


def _space(session, space: Space) -> SpacePublic:  # noqa: ANN001
    members = [SpaceMember(username=u.username, display_name=u.display_name, role=role)
               for u, role in service.space_members(session, space.id)]
    return SpacePublic(slug=space.slug, name=space.name, description=space.description,
                       four_eyes=space.four_eyes, public_community=space.public_community, created_at=space.created_at,
                       members=members)


def _token(token: ApiToken) -> TokenPublic:
    return TokenPublic.model_validate(token, from_attributes=True)


# ------------------------------------------------------------------------------ authentication

def check_login(request: Request, session, username: str, password: str) -> User:  # noqa: ANN001
    """A password login, however it arrives (API token or web sign-in), behind the same limits.

    Per client IP first (a client spraying many accounts is stopped without using up their accounts'
    budgets), then per account, then at most ``KB_LOGIN_MAX_CONCURRENT_HASHES`` hashes at once. The
    hash is checked outside any write transaction (on SQLite that holds the database's write lock).
    Raises: KbError RATE_LIMITED, SERVICE_UNAVAILABLE or INVALID_CREDENTIALS.
    """
    settings, limiter = request.app.state.settings, request.app.state.rate_limiter
    limiter.enforce(settings.rate_limit_login_ip, "login-ip", client_ip(request))
    limiter.enforce(settings.rate_limit_login, "login-account", username.casefold())
    with request.app.state.login_gate.slot():
        return service.authenticate(session, username=username, password=password)


@router.post("/auth/token", status_code=status.HTTP_201_CREATED, response_model=TokenCreated,
             summary="Exchange a username and password for a new API token",
             description="Rate-limited per client IP (`KB_RATE_LIMIT_LOGIN_IP`) and per account "
             "(`KB_RATE_LIMIT_LOGIN`), successful or not: 429 with `Retry-After` past either. At most "
             "`KB_LOGIN_MAX_CONCURRENT_HASHES` passwords are checked at once: 503 with `Retry-After` beyond.",
             responses={503: _BUSY})
def login_for_token(body: Credentials, request: Request, session: SessionDep,
                    _: Annotated[None, Depends(require(Access.anonymous))]) -> TokenCreated:
    user = check_login(request, session, body.username, body.password)
    with transaction(session):
        actor = service.actor_for(session, user)
        token, raw = service.create_token(session, actor=actor, user=user, name=body.token_name)
    return TokenCreated(**_token(token).model_dump(), token=raw)


@router.get("/me", response_model=MePublic, summary="The signed-in user, with their roles per space")
def me(session: SessionDep, actor: Annotated[Actor, Depends(require(Access.signed_in))]) -> MePublic:
    user = service.get_user(session, actor.username)
    return MePublic(username=user.username, display_name=user.display_name, global_role=user.global_role,
                    is_active=user.is_active, created_at=user.created_at, email=user.email,
                    memberships=_memberships(session, user))


@router.get("/me/tokens", response_model=TokensPublic, summary="The signed-in user's API tokens")
def my_tokens(session: SessionDep, actor: Annotated[Actor, Depends(require(Access.signed_in))]) -> TokensPublic:
    tokens = service.list_tokens(session, actor=actor)
    return TokensPublic(data=[_token(t) for t in tokens], count=len(tokens))


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated,
             summary="Create an API token (shown once)")
def create_my_token(body: TokenCreate, session: SessionDep,
                    actor: Annotated[Actor, Depends(require(Access.signed_in))]) -> TokenCreated:
    with transaction(session):
        user = service.get_user(session, actor.username)
        token, raw = service.create_token(session, actor=actor, user=user, name=body.name,
                                          expires_in_days=body.expires_in_days)
    return TokenCreated(**_token(token).model_dump(), token=raw)


@router.delete("/me/tokens/{token_id}", response_model=TokenPublic, summary="Revoke an API token")
def revoke_my_token(token_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], session: SessionDep,
                    actor: Annotated[Actor, Depends(require(Access.signed_in))]) -> TokenPublic:
    with transaction(session):
        token = service.revoke_token(session, actor=actor, token_id=token_id)
    return _token(token)


# ---------------------------------------------------------------------------------------- users

@router.get("/users", response_model=UsersPublic, summary="List users")
def list_users(session: SessionDep, page: PageDep, actor: Annotated[Actor, Depends(require(Access.admin))]) -> UsersPublic:
    users, total = service.list_users(session, actor=actor, limit=page.limit, offset=page.offset)
    return UsersPublic(data=[_user_admin(session, u) for u in users], count=total)


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserAdminPublic, summary="Create a user")
def create_user(body: UserCreate, session: SessionDep,
                actor: Annotated[Actor, Depends(require(Access.admin))]) -> UserAdminPublic:
    with transaction(session):
        user = service.create_user(session, actor=actor, data=body)
    return _user_admin(session, user)


@router.get("/users/{username}", response_model=UserAdminPublic, summary="One user")
def get_user(username: UsernamePath, session: SessionDep,
             actor: Annotated[Actor, Depends(require(Access.admin))]) -> UserAdminPublic:
    return _user_admin(session, service.get_user(session, username))


@router.patch("/users/{username}", response_model=UserAdminPublic, summary="Change a user's name, role or active flag")
def update_user(username: UsernamePath, body: UserUpdate, session: SessionDep,
                actor: Annotated[Actor, Depends(require(Access.admin))]) -> UserAdminPublic:
    with transaction(session):
        user = service.update_user(session, actor=actor, username=username, data=body)
    return _user_admin(session, user)


# --------------------------------------------------------------------------------------- spaces

@router.get("/spaces", response_model=SpacesPublic, summary="List spaces")
def list_spaces(session: SessionDep, page: PageDep,
                actor: Annotated[Actor, Depends(require(Access.signed_in))]) -> SpacesPublic:
    spaces, total = service.list_spaces(session, limit=page.limit, offset=page.offset)
    return SpacesPublic(data=[_space(session, s) for s in spaces], count=total)


@router.post("/spaces", status_code=status.HTTP_201_CREATED, response_model=SpacePublic, summary="Create a space")
def create_space(body: SpaceCreate, request: Request, session: SessionDep,
                 actor: Annotated[Actor, Depends(require(Access.admin))]) -> SpacePublic:
    with transaction(session):
        space = service.create_space(session, actor=actor, data=body,
                                     four_eyes_default=request.app.state.settings.four_eyes_default)
    return _space(session, space)


@router.get("/spaces/{slug}", response_model=SpacePublic, summary="One space with its members")
def get_space(slug: SlugPath, session: SessionDep,
              actor: Annotated[Actor, Depends(require(Access.signed_in))]) -> SpacePublic:
    return _space(session, service.get_space(session, slug))


@router.patch("/spaces/{slug}", response_model=SpacePublic, summary="Change a space's name, description or four-eyes rule")
def update_space(slug: SlugPath, body: SpaceUpdate, session: SessionDep,
                 actor: Annotated[Actor, Depends(require(Access.owner_or_admin))]) -> SpacePublic:
    with transaction(session):
        space = service.update_space(session, actor=actor, slug=slug, data=body)
    return _space(session, space)


@router.put("/spaces/{slug}/members/{username}", response_model=SpacePublic, summary="Grant a user a role in a space")
def set_member(slug: SlugPath, username: UsernamePath, body: MembershipSet, session: SessionDep,
               actor: Annotated[Actor, Depends(require(Access.owner_or_admin))]) -> SpacePublic:
    with transaction(session):
        service.set_membership(session, actor=actor, slug=slug, username=username, role=body.role)
    return _space(session, service.get_space(session, slug))


@router.delete("/spaces/{slug}/members/{username}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, summary="Remove a user from a space")
def remove_member(slug: SlugPath, username: UsernamePath, session: SessionDep,
                  actor: Annotated[Actor, Depends(require(Access.owner_or_admin))]) -> Response:
    with transaction(session):
        service.remove_membership(session, actor=actor, slug=slug, username=username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
