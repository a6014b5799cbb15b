"""HTTP routes of the accounts domain: each translates its input, calls one action and returns its result.

Each route declares its row of ``kb.permissions`` with ``require_for`` (the early 401/403 with the
HTTP headers); the action applies the same row again, with the per-object rules behind it. Routes
open no transaction and call no service: ``kb.accounts.actions`` is their only door.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import JSONResponse

from kb.accounts import actions
from kb.accounts.schemas import (
    Credentials, GovernanceRefusal, GovernanceRequestPublic, GovernanceRequestsPublic, MePublic, MembershipSet, SpaceCreate, SpacePublic, SpacesPublic, SpaceUpdate, TokenCreate,
    TokenCreated, TokenPublic, TokensPublic, UserAdminPublic, UserCreate, UsersPublic, UserUpdate,
)
from kb.actors import Actor
from kb.db import MAX_ROW_ID
from kb.errors import ErrorResponse
from kb.http import PageDep, SessionDep, api_router_options, client_ip, require_for

router = APIRouter(prefix="/api/v1", **api_router_options("accounts"))

_BUSY = {"model": ErrorResponse, "description": "Too many sign-ins at once; retry after `Retry-After` seconds"}
_PENDING = {202: {"model": GovernanceRequestPublic,
                   "description": "The change needs a second person (docs/governance.md): it is a pending request, "
                   "applied when another owner of the space or an admin approves it"}}
UsernamePath = Annotated[str, Path(max_length=64)]
SlugPath = Annotated[str, Path(max_length=64)]


def _or_pending(result: object) -> object:
    """A pending governance request is answered 202 Accepted with the request (issue 16)."""
    if isinstance(result, GovernanceRequestPublic):
        return JSONResponse(result.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return result


def _sign_in_limits(request: Request) -> actions.SignInLimits:
    """The sign-in limits this app holds now (a test may swap the gate on ``app.state``)."""
    state = request.app.state
    return actions.SignInLimits(limiter=state.rate_limiter, gate=state.login_gate, settings=state.settings)


# ------------------------------------------------------------------------------ authentication

@router.post("/auth/token", status_code=status.HTTP_201_CREATED, response_model=TokenCreated,
             summary="Exchange a username and password for a new API token",
             description="Rate-limited per client IP (`KB_RATE_LIMIT_LOGIN_IP`) and per account "
             "(`KB_RATE_LIMIT_LOGIN`), successful or not: 429 with `Retry-After` past either. At most "
             "`KB_LOGIN_MAX_CONCURRENT_HASHES` passwords are checked at once: 503 with `Retry-After` beyond.",
             responses={503: _BUSY})
def login_for_token(body: Credentials, request: Request, session: SessionDep,
                    actor: Annotated[Actor | None, Depends(require_for("auth.login"))]) -> TokenCreated:
    return actions.sign_in(session, actor, username=body.username, password=body.password,
                           client_ip=client_ip(request), limits=_sign_in_limits(request),
                           wanted=actions.ApiTokenWanted(name=body.token_name))


@router.get("/me", response_model=MePublic, summary="The signed-in user, with their roles per space")
def me(session: SessionDep, actor: Annotated[Actor, Depends(require_for("me.read"))]) -> MePublic:
    return actions.read_me(session, actor)


@router.get("/me/tokens", response_model=TokensPublic, summary="The signed-in user's API tokens")
def my_tokens(session: SessionDep, actor: Annotated[Actor, Depends(require_for("token.list"))]) -> TokensPublic:
    return actions.list_tokens(session, actor)


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated,
             summary="Create an API token (shown once)")
def create_my_token(body: TokenCreate, session: SessionDep,
                    actor: Annotated[Actor, Depends(require_for("token.create"))]) -> TokenCreated:
    return actions.create_token(session, actor, username=actor.username, name=body.name,
                                expires_in_days=body.expires_in_days)


@router.delete("/me/tokens/{token_id}", response_model=TokenPublic, summary="Revoke an API token")
def revoke_my_token(token_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], session: SessionDep,
                    actor: Annotated[Actor, Depends(require_for("token.revoke"))]) -> TokenPublic:
    return actions.revoke_token(session, actor, token_id=token_id)


# ---------------------------------------------------------------------------------------- users

@router.get("/users", response_model=UsersPublic, summary="List users")
def list_users(session: SessionDep, page: PageDep,
               actor: Annotated[Actor, Depends(require_for("user.list"))]) -> UsersPublic:
    return actions.list_users(session, actor, limit=page.limit, offset=page.offset)


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserAdminPublic, summary="Create a user",
             description="An admin or moderator account is created as a reader with a pending request for its "
             "role (202), which a second admin approves.", responses=_PENDING)
def create_user(body: UserCreate, session: SessionDep,
                actor: Annotated[Actor, Depends(require_for("user.create"))]) -> Any:
    return _or_pending(actions.create_user(session, actor, data=body))


@router.get("/users/{username}", response_model=UserAdminPublic, summary="One user")
def get_user(username: UsernamePath, session: SessionDep,
             actor: Annotated[Actor, Depends(require_for("user.read"))]) -> UserAdminPublic:
    return actions.read_user(session, actor, username=username)


@router.patch("/users/{username}", response_model=UserAdminPublic, summary="Change a user's name, role or active flag",
              description="A change of global role is a pending request (202) that a second admin approves.",
              responses=_PENDING)
def update_user(username: UsernamePath, body: UserUpdate, session: SessionDep,
                actor: Annotated[Actor, Depends(require_for("user.update"))]) -> Any:
    return _or_pending(actions.update_user(session, actor, username=username, data=body))


# --------------------------------------------------------------------------------------- spaces

@router.get("/spaces", response_model=SpacesPublic, summary="List spaces")
def list_spaces(session: SessionDep, page: PageDep,
                actor: Annotated[Actor, Depends(require_for("space.list"))]) -> SpacesPublic:
    return actions.list_spaces(session, actor, limit=page.limit, offset=page.offset)


@router.post("/spaces", status_code=status.HTTP_201_CREATED, response_model=SpacePublic, summary="Create a space")
def create_space(body: SpaceCreate, request: Request, session: SessionDep,
                 actor: Annotated[Actor, Depends(require_for("space.create"))]) -> SpacePublic:
    return actions.create_space(session, actor, data=body,
                                four_eyes_default=request.app.state.settings.four_eyes_default)


@router.get("/spaces/{slug}", response_model=SpacePublic, summary="One space with its members")
def get_space(slug: SlugPath, session: SessionDep,
              actor: Annotated[Actor, Depends(require_for("space.read"))]) -> SpacePublic:
    return actions.read_space(session, actor, slug=slug)


@router.patch("/spaces/{slug}", response_model=SpacePublic, summary="Change a space's name, description or four-eyes rule",
              description="Switching four-eyes off or the public community on is a pending request (202) that "
              "another owner of the space or an admin approves.", responses=_PENDING)
def update_space(slug: SlugPath, body: SpaceUpdate, session: SessionDep,
                 actor: Annotated[Actor, Depends(require_for("space.update"))]) -> Any:
    return _or_pending(actions.update_space(session, actor, slug=slug, data=body))


@router.put("/spaces/{slug}/members/{username}", response_model=SpacePublic, summary="Grant a user a role in a space",
            description="Making someone an owner, or an owner something else, is a pending request (202) that "
            "another owner of the space or an admin approves.", responses=_PENDING)
def set_member(slug: SlugPath, username: UsernamePath, body: MembershipSet, session: SessionDep,
               actor: Annotated[Actor, Depends(require_for("space.member.set"))]) -> Any:
    return _or_pending(actions.set_member(session, actor, slug=slug, username=username, role=body.role))


@router.delete("/spaces/{slug}/members/{username}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, summary="Remove a user from a space",
               description="Removing an owner is a pending request (202) that another owner of the space or an "
               "admin approves.", responses=_PENDING)
def remove_member(slug: SlugPath, username: UsernamePath, session: SessionDep,
                  actor: Annotated[Actor, Depends(require_for("space.member.remove"))]) -> Response:
    pending = actions.remove_member(session, actor, slug=slug, username=username)
    if pending is not None:
        return _or_pending(pending)  # type: ignore[return-value]
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------------ separation of duties

@router.get("/governance/requests", response_model=GovernanceRequestsPublic,
            summary="Pending changes the caller may decide, and the caller's own requests")
def list_governance_requests(session: SessionDep,
                             actor: Annotated[Actor, Depends(require_for("governance.list"))]) -> GovernanceRequestsPublic:
    return actions.list_governance_requests(session, actor)


@router.post("/governance/requests/{request_id}/approve", response_model=GovernanceRequestPublic,
             summary="Approve a pending change: it takes effect, with the approver on record")
def approve_governance_request(request_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], session: SessionDep,
                               actor: Annotated[Actor, Depends(require_for("governance.approve"))]) -> GovernanceRequestPublic:
    return actions.approve_governance_request(session, actor, request_id=request_id)


@router.post("/governance/requests/{request_id}/refuse", response_model=GovernanceRequestPublic,
             summary="Refuse a pending change, with a reason")
def refuse_governance_request(request_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], body: GovernanceRefusal,
                              session: SessionDep,
                              actor: Annotated[Actor, Depends(require_for("governance.refuse"))]) -> GovernanceRequestPublic:
    return actions.refuse_governance_request(session, actor, request_id=request_id, reason=body.reason)
