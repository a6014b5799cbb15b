"""Use cases of accounts: the one door that the API, the web pages and the CLI go through.

Signing in (for an API token or a web session) and out, oneself and one's tokens, users, spaces and
their members. Each action takes the session, the acting person (``kb.actors.Actor``;
``kb.actors.SYSTEM`` for kb itself, ``None`` for an anonymous caller of an anonymous action) and
validated inputs; it checks the actor against its row of ``kb.permissions`` with ``authorize``
(the role gates live there and nowhere else), calls the services inside one transaction
(``kb.db.transaction``, the audit event in it), and returns the public schemas the surfaces render.
The per-object rules (an owner of *this* space, one's own token) stay in ``service``.

Some functions here are no actions but identification, done before any action: ``identify_by_token``
(the API's bearer tokens, and ``KB_TOKEN`` on the command line), ``identify_by_password`` (the CLI's
password prompt), ``identify_by_web_session`` (the web UI's cookie) and ``identify_by_username``
(``kb demo``'s bootstrap only). They have no row of the table: they decide who the actor is, not what
the actor may do.

Imports services, schemas and the foundation (kb.config, kb.db, kb.permissions, kb.ratelimit); never FastAPI,
never a surface (``api``, ``kb.web``, ``kb.cli``), never documents, social, search or experts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

from sqlmodel import Session

from kb import provenance
from kb.accounts import governance, service
from kb.accounts.models import ApiToken, GovernanceRequest, Space, User
from kb.accounts.schemas import (
    GovernanceRequestPublic, GovernanceRequestsPublic, MePublic, MembershipPublic, SpaceCreate, SpaceMember, SpacePublic, SpacesPublic, SpaceUpdate, TokenCreated,
    TokenPublic, TokensPublic, UserAdminPublic, UserCreate, UsersPublic, UserUpdate,
)
from kb.actors import SYSTEM, Actor, Channel, GlobalRole, SpaceRole
from kb.db import transaction
from kb.errors import ErrorCode, KbError
from kb.permissions import authorize

if TYPE_CHECKING:
    from kb.config import Settings
    from kb.ratelimit import HashGate, RateLimiter

# How many spaces the web UI's menus list (the viewer's navigation, not a page of results).
NAVIGATION_SPACES = 1000


# --------------------------------------------------------------------------------- public shapes

def _memberships(session: Session, user: User) -> list[MembershipPublic]:
    return [MembershipPublic(space=slug, role=role) for slug, role in service.memberships_of(session, user.id)]  # type: ignore[arg-type]


def _user_admin(session: Session, user: User) -> UserAdminPublic:
    return UserAdminPublic(
        username=user.username, display_name=user.display_name, global_role=user.global_role,
        is_active=user.is_active, created_at=user.created_at, email=user.email,
        memberships=_memberships(session, user),
    )


def _space(session: Session, space: Space) -> SpacePublic:
    members = [SpaceMember(username=u.username, display_name=u.display_name, role=role)
               for u, role in service.space_members(session, space.id)]  # type: ignore[arg-type]
    return SpacePublic(slug=space.slug, name=space.name, description=space.description,
                       four_eyes=space.four_eyes, public_community=space.public_community,
                       public_community_since=space.public_community_since, created_at=space.created_at,
                       members=members)


def who_decides(kind: str, target: str) -> str:
    """Who must decide a governance request of ``kind`` on ``target``, in words ("a second admin")."""
    return governance.deciders(kind, target)


def request_public(session: Session, actor: Actor, request: GovernanceRequest) -> GovernanceRequestPublic:
    """A governance request as its requester and deciders see it (also for kinds other domains register)."""
    return _request(session, actor, request)


def _request(session: Session, actor: Actor, request: GovernanceRequest) -> GovernanceRequestPublic:
    return GovernanceRequestPublic(
        id=request.id, kind=request.kind, target=request.target, change=request.change,  # type: ignore[arg-type]
        requested_by=service.username_of(session, request.requested_by) or "", requested_at=request.requested_at,
        status=request.status, decided_by=service.username_of(session, request.decided_by),
        decided_at=request.decided_at, reason=request.reason,
        may_decide=request.status == governance.PENDING and governance.entitled_to_decide(session, actor, request),
    )


def _token(token: ApiToken) -> TokenPublic:
    return TokenPublic.model_validate(token, from_attributes=True)


# ------------------------------------------------------------------------------------- signing in

@dataclass(frozen=True)
class SignInLimits:
    """The limits every password sign-in meets, whichever surface it comes through (issue 8).

    The surface builds it for each sign-in from what the app holds (``app.state.rate_limiter``,
    ``app.state.login_gate`` and ``app.state.settings``), so one count and one cap serve the API and
    the web UI alike.
    """

    limiter: RateLimiter
    gate: HashGate
    settings: Settings

    @property
    def per_ip(self) -> str:
        """``KB_RATE_LIMIT_LOGIN_IP``: sign-ins per client IP address."""
        return self.settings.rate_limit_login_ip

    @property
    def per_account(self) -> str:
        """``KB_RATE_LIMIT_LOGIN``: sign-ins per account name, successful or not."""
        return self.settings.rate_limit_login


@dataclass(frozen=True)
class ApiTokenWanted:
    """Sign in for a new API token, named ``name``."""

    name: str


@dataclass(frozen=True)
class WebSessionWanted:
    """Sign in for a web session lasting ``max_age_seconds`` (``KB_SESSION_MAX_AGE_SECONDS``)."""

    max_age_seconds: int


@dataclass(frozen=True)
class WebSessionStarted:
    """A new web session: the cookie value (shown once, stored hashed) and how long it lasts."""

    cookie: str
    max_age_seconds: int


def prepare_sign_in() -> None:
    """Make what a failed sign-in verifies against (``service.dummy_hash``) before the first sign-in: a
    server calls it as it starts, so the first unknown username answers as fast as every other."""
    service.dummy_hash()


@overload
def sign_in(session: Session, actor: Actor | None, *, username: str, password: str, client_ip: str,
            limits: SignInLimits, wanted: ApiTokenWanted) -> TokenCreated: ...
@overload
def sign_in(session: Session, actor: Actor | None, *, username: str, password: str, client_ip: str,
            limits: SignInLimits, wanted: WebSessionWanted) -> WebSessionStarted: ...
def sign_in(session: Session, actor: Actor | None, *, username: str, password: str, client_ip: str,
            limits: SignInLimits, wanted: ApiTokenWanted | WebSessionWanted) -> TokenCreated | WebSessionStarted:
    """A password sign-in, however it arrives (API token or web session), behind the same limits.

    Per client IP first (a client spraying many accounts is stopped without using up their accounts'
    budgets), then per account, then at most ``KB_LOGIN_MAX_CONCURRENT_HASHES`` hashes at once. The
    hash is checked outside any write transaction (on SQLite that holds the database's write lock);
    the credential is issued in one transaction with its audit event (``token.create`` by the user,
    or ``session.create``).

    Args:
        actor: whoever is already signed in, or None (anyone may sign in).
        client_ip: the caller's address as ``kb.http.client_ip`` gives it (the per-IP key).
        wanted: what to issue: an API token or a web session.

    Returns:
        The API token (shown once), or the web session's cookie.

    Raises:
        KbError RATE_LIMITED: past either limit (429 with Retry-After).
        KbError SERVICE_UNAVAILABLE: no hashing slot freed up in time (503 with Retry-After).
        KbError INVALID_CREDENTIALS: unknown user, wrong password or inactive account (service).
    """
    authorize(actor, "auth.login")
    limits.limiter.enforce(limits.per_ip, "login-ip", client_ip)
    limits.limiter.enforce(limits.per_account, "login-account", username.casefold())
    with limits.gate.slot():
        user = service.authenticate(session, username=username, password=password)
    if isinstance(wanted, WebSessionWanted):
        with transaction(session):
            _row, cookie = service.create_web_session(session, user=user, max_age_seconds=wanted.max_age_seconds)
        return WebSessionStarted(cookie=cookie, max_age_seconds=wanted.max_age_seconds)
    with transaction(session):
        token, raw = service.create_token(session, actor=service.actor_for(session, user, Channel.api), user=user,
                                          name=wanted.name)
    return TokenCreated(**_token(token).model_dump(), token=raw)


def sign_out(session: Session, actor: Actor, *, web_session_id: int) -> None:
    """End one of the actor's web sessions (``session.end``).

    Raises:
        KbError NOT_FOUND: no such session, or it is someone else's (service).
    """
    authorize(actor, "auth.logout")
    with transaction(session):
        service.end_web_session_by_id(session, actor=actor, web_session_id=web_session_id)


# ---------------------------------------------------------------------------------- identification

@dataclass(frozen=True)
class WebIdentity:
    """Who holds a web session cookie: the actor, the session (for sign-out and the CSRF check) and
    the spaces the navigation names (slug by id)."""

    actor: Actor
    web_session_id: int
    csrf_token: str
    spaces: dict[int, str]


def identify_by_token(session: Session, *, token: str, channel: Channel = Channel.api) -> Actor | None:
    """The actor an API token stands for, or None when it is unknown, expired or revoked (or its
    account deactivated).

    Args:
        channel: the door the token came through: ``api`` for a bearer header, ``cli`` for
            ``KB_TOKEN`` (or ``--token-file``) on the command line.

    Stamps the token's ``last_used_at`` when it is more than a minute old, in its own short
    transaction (bookkeeping, not an audited state change).
    """
    resolved = service.resolve_token(session, token)
    if resolved is None:
        return None
    actor, stale_token_id = resolved
    if stale_token_id is not None:
        with transaction(session):
            service.stamp_token_used(session, stale_token_id)
    return actor.via(channel)


def identify_by_password(session: Session, *, username: str, password: str, limits: SignInLimits,
                         channel: Channel = Channel.cli) -> Actor:
    """The person a CLI command acts as after a password prompt (issue 16: the CLI is a person too).

    Checked as a sign-in of the API or the web UI is (``service.authenticate``: argon2, one answer for
    an unknown username, a wrong password and a deactivated account), behind the same per-account limit
    (``KB_RATE_LIMIT_LOGIN``, counted in ``limits.limiter``: shared with the server only through
    ``KB_REDIS_URL``) and the cap on concurrent hashes. Issues no credential and records no event: the
    action the command then calls records its own, with ``channel`` on it.

    Raises:
        KbError INVALID_CREDENTIALS: unknown user, wrong password or deactivated account.
        KbError RATE_LIMITED: past the per-account limit.
        KbError SERVICE_UNAVAILABLE: no hashing slot freed up in time.
    """
    limits.limiter.enforce(limits.per_account, "login-account", username.casefold())
    with limits.gate.slot():
        user = service.authenticate(session, username=username, password=password)
    return service.actor_for(session, user, channel)


def identify_by_web_session(session: Session, *, cookie: str) -> WebIdentity | None:
    """Who holds the web session ``cookie``, or None when it is unknown, ended or expired."""
    resolved = service.resolve_web_session(session, cookie)
    if resolved is None:
        return None
    actor, web_session = resolved
    return WebIdentity(actor=actor, web_session_id=web_session.id, csrf_token=web_session.csrf_token,  # type: ignore[arg-type]
                       spaces=service.space_slugs(session, limit=NAVIGATION_SPACES))


def strangers_for_bootstrap(session: Session, known: dict[str, str]) -> list[str]:
    """The users ``kb demo`` did not make: what it checks before it acts in the names of its demo users
    (bootstrap only, as ``identify_by_username``; no person calls it). ``known`` maps the demo's usernames
    to their published passwords: a user of that name whose password is another (the organisation's own
    first admin, created by ``kb init --admin adam``) is a stranger too (the insider review of
    2026-12-07, F3)."""
    strangers = []
    for user in service.list_users(session, limit=1_000_000, offset=0)[0]:
        if user.username not in known or not service.password_is(user, known[user.username]):
            strangers.append(user.username)
    return strangers


def identify_by_username(session: Session, *, username: str, channel: Channel = Channel.system) -> Actor:
    """The actor named ``username``, without credentials: for kb's own bootstrap only (``kb demo``
    writes and approves its sample documents as their named authors and owners, channel ``system``).

    No surface uses it: the CLI authenticates the person it acts as (``identify_by_token``,
    ``identify_by_password``; issue 16). Raises KbError NOT_FOUND for an unknown username and
    FORBIDDEN for a deactivated account.
    """
    user = service.get_user(session, username)
    if not user.is_active:  # as a token or a web session of a deactivated account: nobody acts as them
        raise KbError(ErrorCode.FORBIDDEN, f"The account {username!r} is deactivated")
    return service.actor_for(session, user, channel)


# ---------------------------------------------------------------------------- oneself and tokens

def read_me(session: Session, actor: Actor) -> MePublic:
    """The signed-in user, with their roles per space."""
    authorize(actor, "me.read")
    user = service.get_user(session, actor.username)
    return MePublic(username=user.username, display_name=user.display_name, global_role=user.global_role,
                    is_active=user.is_active, created_at=user.created_at, email=user.email,
                    memberships=_memberships(session, user))


def list_tokens(session: Session, actor: Actor) -> TokensPublic:
    """The actor's own API tokens (never the tokens themselves: they are stored hashed)."""
    authorize(actor, "token.list")
    tokens = service.list_tokens(session, actor=actor)
    return TokensPublic(data=[_token(t) for t in tokens], count=len(tokens))


def create_token(session: Session, actor: Actor, *, username: str, name: str,
                 expires_in_days: int | None = None) -> TokenCreated:
    """Create an API token for ``username`` (oneself; kb itself for anyone); it is shown only once.

    Raises:
        KbError NOT_FOUND: no such user.
        KbError FORBIDDEN: a token for someone else (service).
        KbError CONFLICT: the account is deactivated (service).
    """
    authorize(actor, "token.create")
    with transaction(session):
        user = service.get_user(session, username)
        token, raw = service.create_token(session, actor=actor, user=user, name=name, expires_in_days=expires_in_days)
    return TokenCreated(**_token(token).model_dump(), token=raw)


def revoke_token(session: Session, actor: Actor, *, token_id: int) -> TokenPublic:
    """Revoke one of the actor's tokens (an admin may revoke anyone's).

    Raises:
        KbError NOT_FOUND: no such token, or someone else's (service).
        KbError CONFLICT: already revoked (service).
    """
    authorize(actor, "token.revoke")
    with transaction(session):
        token = service.revoke_token(session, actor=actor, token_id=token_id)
    return _token(token)


# ------------------------------------------------------------------------------------------ users

def list_users(session: Session, actor: Actor, *, limit: int, offset: int) -> UsersPublic:
    """A page of users, by username, as an admin sees them."""
    authorize(actor, "user.list")
    users, total = service.list_users(session, limit=limit, offset=offset)
    return UsersPublic(data=[_user_admin(session, u) for u in users], count=total)


def read_user(session: Session, actor: Actor, *, username: str) -> UserAdminPublic:
    """One user as an admin sees them. Raises: KbError NOT_FOUND."""
    authorize(actor, "user.read")
    return _user_admin(session, service.get_user(session, username))


def create_user(session: Session, actor: Actor, *, data: UserCreate) -> UserAdminPublic | GovernanceRequestPublic:
    """Create a user (``user.create``); with the admin or moderator role, a reader account and a pending
    request for the role (``governance.request``), which a second admin approves.

    Raises:
        KbError ALREADY_EXISTS: the username is taken (service).
    """
    authorize(actor, "user.create")
    with transaction(session):
        if data.global_role is GlobalRole.reader or actor.system:
            user = service.create_user(session, actor=actor, data=data)
            return _user_admin(session, user)
        # An account that can decide (admin) or moderate needs a second admin (issue 16): it is created
        # as a reader and its role waits for approval, so no admin can make a sock puppet alone.
        user = service.create_user(session, actor=actor, data=data.model_copy(update={"global_role": GlobalRole.reader}))
        request = governance.role_request_for_new_user(session, actor=actor, user=user, role=data.global_role)
    return _request(session, actor, request)


def create_first_admin(session: Session, *, data: UserCreate) -> UserAdminPublic:
    """The bootstrap's one admin (``kb init --admin``): created by kb itself (``SYSTEM``, channel
    ``system``) while no active admin exists; every admin after it is a request a second admin approves.

    Raises:
        KbError CONFLICT: an active admin exists already (then ask them: ``kb user add --role admin``), in
            the database or by what the audit log committed to (a row changed outside kb).
        KbError ALREADY_EXISTS: the username is taken (service).
    """
    from sqlalchemy import select

    authorize(SYSTEM, "user.create")
    with transaction(session):
        # Checked in the transaction that creates the admin (the bootstrap is one operator's command).
        admin = session.execute(select(User.username).where(User.global_role == GlobalRole.admin.value,
                                                            User.is_active.is_(True)).limit(1)).scalar_one_or_none()  # type: ignore[attr-defined]
        if admin is not None:
            raise KbError(ErrorCode.CONFLICT, f"An active admin exists already ({admin}): the bootstrap is over; "
                          "a new admin is a request that a second admin approves (kb user add --role admin)")
        # The rows alone are not enough: an operator could mark every admin inactive in the database, run
        # the bootstrap, and mark them active again (the insider review of 2026-12-07, F3). The log's
        # standing of each person says who is an active admin by what kb recorded.
        logged = sorted(username for username, standing in provenance.committed_state(session).people.items()
                        if standing.value.get("global_role") == GlobalRole.admin.value and standing.value.get("active"))
        if logged:
            raise KbError(ErrorCode.CONFLICT, f"The audit log holds an active admin ({logged[0]}), whom the database "
                          "says is not one: it was changed outside kb (kb audit verify names the difference); the "
                          "bootstrap does not run over it", details={"rule": "bootstrap_over", "admin": logged[0]})
        user = service.create_user(session, actor=SYSTEM, data=data.model_copy(update={"global_role": GlobalRole.admin}))
        return _user_admin(session, user)


def update_user(session: Session, actor: Actor, *, username: str,
                data: UserUpdate) -> UserAdminPublic | GovernanceRequestPublic:
    """Change a user's display name, global role or active flag (``user.update``); a change of global
    role becomes a pending request that a second admin approves (issue 16).

    Raises:
        KbError NOT_FOUND: no such user (service).
        KbError CONFLICT: an admin changing their own role or deactivating themselves (service).
    """
    authorize(actor, "user.update")
    with transaction(session):
        request = governance.user_update_request(session, actor=actor, username=username, data=data)
        if request is not None:
            return _request(session, actor, request)
        user = service.update_user(session, actor=actor, username=username, data=data)
    return _user_admin(session, user)


# ----------------------------------------------------------------------------------------- spaces

def list_spaces(session: Session, actor: Actor, *, limit: int, offset: int) -> SpacesPublic:
    """A page of spaces, by slug, with their members."""
    authorize(actor, "space.list")
    spaces, total = service.list_spaces(session, limit=limit, offset=offset)
    return SpacesPublic(data=[_space(session, s) for s in spaces], count=total)


def read_space(session: Session, actor: Actor, *, slug: str) -> SpacePublic:
    """One space with its members. Raises: KbError NOT_FOUND."""
    authorize(actor, "space.read")
    return _space(session, service.get_space(session, slug))


def create_space(session: Session, actor: Actor, *, data: SpaceCreate, four_eyes_default: bool,
                 owners: Sequence[str] = ()) -> SpacePublic:
    """Create a space (``space.create``), with its first owners if named, all in one transaction.

    Args:
        four_eyes_default: ``KB_FOUR_EYES_DEFAULT``, used when ``data.four_eyes`` is not given.
        owners: usernames made owners of the new space (``space.member.set`` each); the CLI names them.

    Raises:
        KbError ALREADY_EXISTS: the slug is taken (service).
        KbError NOT_FOUND: an owner named is no user (nothing is created then).

    A person (not ``SYSTEM``) who asks for four eyes off or a public community gets the space with
    both safeguards up and a pending ``space.update`` request that a second admin approves. Four eyes
    off by ``four_eyes_default`` (``KB_FOUR_EYES_DEFAULT=false``, no ``four_eyes`` given) is asked for
    the same way: a setting of the operator's is not a second admin (the insider review of 2026-12-07, F4).
    """
    authorize(actor, "space.create")
    if owners:
        authorize(actor, "space.member.set")
    # A person asking for a space without four eyes, or with its community public, gets the safe space
    # now and the lowering as a pending request, as for a change of an existing space (issue 16).
    four_eyes = four_eyes_default if data.four_eyes is None else data.four_eyes
    lowered = SpaceUpdate(four_eyes=False if four_eyes is False else None,
                          public_community=True if data.public_community else None)
    if actor.system or (lowered.four_eyes is None and lowered.public_community is None):
        lowered = None
    else:
        data = data.model_copy(update={"four_eyes": True, "public_community": False})
    with transaction(session):
        space = service.create_space(session, actor=actor, data=data, four_eyes_default=four_eyes_default)
        for username in owners:
            service.set_membership(session, actor=actor, slug=space.slug, username=username, role=SpaceRole.owner)
        if lowered is not None:
            governance.space_update_request(session, actor=actor, slug=space.slug, data=lowered)
    return _space(session, space)


def update_space(session: Session, actor: Actor, *, slug: str,
                 data: SpaceUpdate) -> SpacePublic | GovernanceRequestPublic:
    """Change a space's name, description, four-eyes rule or public community flag; a change that
    lowers a safeguard (four-eyes off, public community on) becomes a pending request (issue 16).

    Raises:
        KbError NOT_FOUND: no such space (service).
        KbError FORBIDDEN: the actor owns another space, not this one (service).
    """
    authorize(actor, "space.update")
    with transaction(session):
        request = governance.space_update_request(session, actor=actor, slug=slug, data=data)
        if request is not None:
            return _request(session, actor, request)
        space = service.update_space(session, actor=actor, slug=slug, data=data)
    return _space(session, space)


def set_member(session: Session, actor: Actor, *, slug: str, username: str,
               role: SpaceRole) -> SpacePublic | GovernanceRequestPublic:
    """Grant ``username`` the ``role`` in the space, replacing any role they had there; making or
    unmaking an owner becomes a pending request (issue 16).

    Raises:
        KbError NOT_FOUND: no such space or user (service).
        KbError FORBIDDEN: the actor owns another space, not this one (service).
    """
    authorize(actor, "space.member.set")
    with transaction(session):
        request = governance.membership_request(session, actor=actor, slug=slug, username=username, role=role)
        if request is not None:
            return _request(session, actor, request)
        service.set_membership(session, actor=actor, slug=slug, username=username, role=role)
    return _space(session, service.get_space(session, slug))


def remove_member(session: Session, actor: Actor, *, slug: str, username: str) -> GovernanceRequestPublic | None:
    """Remove ``username`` from the space; removing an owner becomes a pending request (issue 16).

    Raises:
        KbError NOT_FOUND: no such space or user, or they are no member (service).
        KbError FORBIDDEN: the actor owns another space, not this one (service).
    """
    authorize(actor, "space.member.remove")
    with transaction(session):
        request = governance.membership_request(session, actor=actor, slug=slug, username=username, role=None)
        if request is not None:
            return _request(session, actor, request)
        service.remove_membership(session, actor=actor, slug=slug, username=username)
    return None


# ------------------------------------------------------------------- separation of duties (issue 16)

def list_governance_requests(session: Session, actor: Actor) -> GovernanceRequestsPublic:
    """The pending requests the actor may decide, and the actor's own requests, newest first."""
    authorize(actor, "governance.list")
    requests = governance.list_requests(session, actor=actor)
    return GovernanceRequestsPublic(data=[_request(session, actor, r) for r in requests], count=len(requests))


def approve_governance_request(session: Session, actor: Actor, *, request_id: int) -> GovernanceRequestPublic:
    """Approve a pending request: its change takes effect, recorded with the approver as actor.

    Raises:
        KbError NOT_FOUND: no such request (service).
        KbError CONFLICT: the actor made the request (``separation_of_duties``; service).
        KbError FORBIDDEN: the actor is neither an owner of the space nor an admin (service).
        KbError ILLEGAL_TRANSITION: the request was decided already (service).
    """
    authorize(actor, "governance.approve")
    with transaction(session):
        request = governance.approve_request(session, actor=actor, request_id=request_id)
    return _request(session, actor, request)


def refuse_governance_request(session: Session, actor: Actor, *, request_id: int, reason: str) -> GovernanceRequestPublic:
    """Refuse a pending request, with a reason kept on record; nothing changes.

    Raises: as ``approve_governance_request``.
    """
    authorize(actor, "governance.refuse")
    with transaction(session):
        request = governance.refuse_request(session, actor=actor, request_id=request_id, reason=reason)
    return _request(session, actor, request)
