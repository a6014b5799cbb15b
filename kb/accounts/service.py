"""Rules of the accounts domain: users, spaces and their members, API tokens, web sessions.

Functions that change state take ``(session, *, actor, …)``; kb itself acts as the named
``kb.actors.SYSTEM`` (an admin of no space), recorded as ``system``. The role gate of each use case
(admin for users, signed in for tokens…) is ``kb.permissions``' row, applied once by
``kb.accounts.actions``; this module keeps the per-object rules: an owner of *this* space, one's
own token or web session, an admin never demoting themselves.
Functions never commit: ``kb.accounts.actions`` wraps them in ``kb.db.transaction``. Each state
change records exactly one audit event through ``kb.provenance.record``. Must not import FastAPI,
a surface or another domain but provenance.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session

from kb import provenance
from kb.accounts.commitments import safeguards, session_credential, standing, token_credential
from kb.accounts.models import ApiToken, Space, SpaceMembership, User, WebSession
from kb.accounts.names import display_name_key
from kb.accounts.schemas import SpaceCreate, SpaceUpdate, UserCreate, UserUpdate
from kb.actors import Actor, Channel, GlobalRole, SpaceRole
from kb.db import utcnow
from kb.errors import ErrorCode, KbError

TOKEN_PREFIX = "kb_"
LAST_USED_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """Verified when the username is unknown, so that a failed login takes as long either way.

    Made on first use, not at import: an argon2 hash costs about 0.1 CPU-s at the start of every process
    (each CLI command and a bulk import's parsing processes). A server makes it as it starts
    (``accounts.actions.prepare_sign_in``), so no sign-in is the one that waits for it.
    """
    return _hasher.hash("not-a-real-password-0")


def _with_request(detail: dict[str, object], request_id: int | None) -> dict[str, object]:
    """An applied change's audit payload, naming the governance request it carries out, if any."""
    return detail if request_id is None else {**detail, "request": request_id}


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# ----------------------------------------------------------------------------------------- users

def actor_for(session: Session, user: User, channel: Channel) -> Actor:
    """The ``Actor`` for ``user`` acting through ``channel``, with the roles they hold in each space."""
    rows = session.execute(
        select(SpaceMembership.space_id, SpaceMembership.role).where(SpaceMembership.user_id == user.id)
    ).all()
    return Actor(
        id=user.id,  # type: ignore[arg-type]
        username=user.username,
        display_name=user.display_name,
        global_role=GlobalRole(user.global_role),
        space_roles={space_id: SpaceRole(role) for space_id, role in rows},
        channel=channel,
    )


def users_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    """The users of ``ids`` (None left out) in one query, by id."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.execute(select(User).where(User.id.in_(wanted))).scalars()}  # type: ignore[union-attr]


def get_user(session: Session, username: str) -> User:
    """Raises: KbError NOT_FOUND."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No user named {username!r}")
    return user


def memberships_of(session: Session, user_id: int) -> list[tuple[str, SpaceRole]]:
    rows = session.execute(
        select(Space.slug, SpaceMembership.role)
        .join(Space, Space.id == SpaceMembership.space_id)
        .where(SpaceMembership.user_id == user_id)
        .order_by(Space.slug)
    ).all()
    return [(slug, SpaceRole(role)) for slug, role in rows]


def _require_distinct_display_name(session: Session, display_name: str, *, user_id: int | None = None) -> str:
    """The key of ``display_name``, refused when another user's name folds to the same key (issue 16).

    Raises:
        KbError VALIDATION_ERROR: the name has no visible character (only format characters).
        KbError DISPLAY_NAME_CONFUSABLE: another user's display name is confusable with it.
    """
    key = display_name_key(display_name)
    if not key:
        raise KbError(ErrorCode.VALIDATION_ERROR, "A display name needs at least one visible character")
    statement = select(User.username, User.display_name).where(User.display_name_key == key)
    if user_id is not None:
        statement = statement.where(User.id != user_id)
    taken = session.execute(statement).first()
    if taken is not None:
        raise KbError(ErrorCode.DISPLAY_NAME_CONFUSABLE,
                      f"The display name {display_name!r} cannot be told apart from {taken.display_name!r} "
                      f"(@{taken.username}): display names must be unique after Unicode confusable folding "
                      f"(UTS #39 skeleton, case and NFKC)",
                      {"rule": "display_name_unique_after_confusable_folding", "conflicts_with": taken.username})
    return key


def create_user(session: Session, *, actor: Actor, data: UserCreate) -> User:
    """Create a user (the caller has checked the ``user.create`` row).

    Raises:
        KbError ALREADY_EXISTS: the username is taken.
        KbError DISPLAY_NAME_CONFUSABLE: another user's display name is confusable with this one.
    """
    if session.execute(select(User.id).where(User.username == data.username)).first():
        raise KbError(ErrorCode.ALREADY_EXISTS, f"The username {data.username!r} is taken")
    user = User(
        username=data.username,
        display_name=data.display_name,
        display_name_key=_require_distinct_display_name(session, data.display_name),
        email=data.email,
        password_hash=hash_password(data.password) if data.password else None,
        global_role=data.global_role,
    )
    session.add(user)
    session.flush()
    provenance.record(session, actor, "user.create", ("user", user.username),
                      {"global_role": data.global_role.value, "has_password": data.password is not None,
                       "standing": standing(user)})
    return user


def update_user(session: Session, *, actor: Actor, username: str, data: UserUpdate,
                request_id: int | None = None) -> User:
    """Change a user's display name, global role or active flag (the caller has checked ``user.update``).

    Raises:
        KbError NOT_FOUND: no such user.
        KbError CONFLICT: the actor changes their own role or deactivates themselves.
        KbError DISPLAY_NAME_CONFUSABLE: another user's display name is confusable with the new one.
    """
    user = get_user(session, username)
    if data.display_name is not None and data.display_name != user.display_name:
        user.display_name_key = _require_distinct_display_name(session, data.display_name, user_id=user.id)
    changes: dict[str, dict[str, object]] = {}
    for field in ("display_name", "global_role", "is_active"):
        new = getattr(data, field)
        old = getattr(user, field)
        if new is not None and new != old:
            changes[field] = {"from": str(old) if field == "global_role" else old,
                              "to": str(new) if field == "global_role" else new}
            setattr(user, field, new)
    if user.id == actor.id and ("global_role" in changes or "is_active" in changes):
        raise KbError(ErrorCode.CONFLICT, "Admins cannot change their own role or deactivate themselves")
    if not changes:
        return user
    session.add(user)
    provenance.record(session, actor, "user.update", ("user", user.username),
                      _with_request({"changes": changes, "standing": standing(user)}, request_id))
    return user


def list_users(session: Session, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = session.execute(select(func.count()).select_from(User)).scalar_one()
    users = session.execute(select(User).order_by(User.username).limit(limit).offset(offset)).scalars().all()
    return list(users), total


def password_is(user: User, password: str) -> bool:
    """Whether ``password`` is the user's, whatever the account's state (no sign-in: ``kb demo``'s check
    that a demo-named user is its own)."""
    if not user.password_hash:
        return False
    try:
        return bool(_hasher.verify(user.password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, *, username: str, password: str) -> User:
    """Check a username and password.

    Raises:
        KbError INVALID_CREDENTIALS: unknown user, no password, wrong password or inactive account
            (one message for all, so the answer is no oracle of which usernames exist).
    """
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    dummy = dummy_hash()
    stored = user.password_hash if user is not None and user.password_hash else dummy
    try:
        _hasher.verify(stored, password)
        verified = stored is not dummy
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified or user is None or not user.is_active:
        raise KbError(ErrorCode.INVALID_CREDENTIALS, "Unknown username or wrong password")
    return user


# ---------------------------------------------------------------------------------------- tokens

def create_token(
    session: Session, *, actor: Actor, user: User, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; return the row and the token, which is never stored.

    Raises:
        KbError FORBIDDEN: the actor creates a token for someone else.
    """
    if actor.id != user.id and not actor.system:
        raise KbError(ErrorCode.FORBIDDEN, "You can only create tokens for yourself")
    if not user.is_active:
        raise KbError(ErrorCode.CONFLICT, f"The account {user.username!r} is deactivated")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        user_id=user.id,  # type: ignore[arg-type]
        name=name,
        prefix=raw[:10],
        token_hash=_digest(raw),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    provenance.record(session, actor, "token.create", ("token", token.id),
                      {"user": user.username, "name": name, "prefix": token.prefix,
                       "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                       "credential": token_credential(token)})
    return token, raw


def list_tokens(session: Session, *, actor: Actor) -> list[ApiToken]:
    return list(session.execute(
        select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.id)
    ).scalars())


def revoke_token(session: Session, *, actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the actor's tokens (an admin may revoke anyone's).

    Raises:
        KbError NOT_FOUND: no such token, or it is someone else's (no existence oracle).
        KbError CONFLICT: already revoked.
    """
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and not actor.is_admin):
        raise KbError(ErrorCode.NOT_FOUND, f"No token {token_id}")
    if token.revoked_at is not None:
        raise KbError(ErrorCode.CONFLICT, f"Token {token_id} is already revoked")
    token.revoked_at = utcnow()
    session.add(token)
    provenance.record(session, actor, "token.revoke", ("token", token.id),
                      {"prefix": token.prefix, "credential": token_credential(token)})
    return token


def resolve_token(session: Session, raw: str) -> tuple[Actor, int | None] | None:
    """The actor a bearer token stands for, or None when it is unknown, expired or revoked.

    Returns:
        ``(actor, token_id)`` where ``token_id`` is set when the token's ``last_used_at`` is more
        than a minute old and should be stamped with ``stamp_token_used`` (bookkeeping, not an
        audited state change; at most one write a minute per token).
    """
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == _digest(raw))
    ).first()
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now) or not user.is_active:
        return None
    stale = token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION
    return actor_for(session, user, Channel.api), token.id if stale else None


def stamp_token_used(session: Session, token_id: int) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))


# ---------------------------------------------------------------------------------- web sessions

def create_web_session(session: Session, *, user: User, max_age_seconds: int) -> tuple[WebSession, str]:
    """Sign ``user`` in for the web UI; return the row and the cookie value (never stored)."""
    raw = secrets.token_urlsafe(32)
    web_session = WebSession(
        user_id=user.id,  # type: ignore[arg-type]
        token_hash=_digest(raw),
        csrf_token=secrets.token_urlsafe(24),
        expires_at=utcnow() + timedelta(seconds=max_age_seconds),
    )
    session.add(web_session)
    session.flush()
    provenance.record(session, actor_for(session, user, Channel.web), "session.create", ("user", user.username),
                      {"credential": session_credential(web_session)})
    return web_session, raw


def resolve_web_session(session: Session, raw: str) -> tuple[Actor, WebSession] | None:
    row = session.execute(
        select(WebSession, User).join(User, User.id == WebSession.user_id).where(WebSession.token_hash == _digest(raw))
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        return None
    web_session, user = row
    if web_session.revoked_at is not None or web_session.expires_at <= utcnow() or not user.is_active:
        return None
    return actor_for(session, user, Channel.web), web_session


def end_web_session(session: Session, *, actor: Actor, web_session: WebSession) -> None:
    """End ``web_session``, the actor's own.

    Raises:
        KbError NOT_FOUND: the session is someone else's (no existence oracle).
    """
    if web_session.user_id != actor.id:
        raise KbError(ErrorCode.NOT_FOUND, "No such web session")
    web_session.revoked_at = utcnow()
    session.add(web_session)
    provenance.record(session, actor, "session.end", ("user", actor.username),
                      {"credential": session_credential(web_session)})


def end_web_session_by_id(session: Session, *, actor: Actor, web_session_id: int) -> None:
    """End the actor's web session number ``web_session_id``.

    Raises:
        KbError NOT_FOUND: no such session, or it is someone else's.
    """
    web_session = session.get(WebSession, web_session_id)
    if web_session is None:
        raise KbError(ErrorCode.NOT_FOUND, "No such web session")
    end_web_session(session, actor=actor, web_session=web_session)


# ---------------------------------------------------------------------------------------- spaces

_SPACE_BY_SLUG = select(Space).where(Space.slug == bindparam("slug"))
"""Built once: building a statement costs more than running it on SQLite (a bulk import reads it for every file)."""


def get_space(session: Session, slug: str) -> Space:
    """Raises: KbError NOT_FOUND."""
    space = session.execute(_SPACE_BY_SLUG, {"slug": slug}).scalar_one_or_none()
    if space is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No space {slug!r}")
    return space


def get_space_by_id(session: Session, space_id: int) -> Space:
    space = session.get(Space, space_id)
    if space is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No space {space_id}")
    return space


def space_slugs(session: Session, *, limit: int) -> dict[int, str]:
    """Space id → slug, by slug: what every signed-in web page's navigation and forms need, in one
    narrow query (no rows loaded, no count)."""
    rows = session.execute(select(Space.id, Space.slug).order_by(Space.slug).limit(limit)).all()
    return {space_id: slug for space_id, slug in rows}


def list_spaces(session: Session, *, limit: int, offset: int) -> tuple[list[Space], int]:
    total = session.execute(select(func.count()).select_from(Space)).scalar_one()
    spaces = session.execute(select(Space).order_by(Space.slug).limit(limit).offset(offset)).scalars().all()
    return list(spaces), total


_FIRST_OWNER = (select(User.id).join(SpaceMembership, SpaceMembership.user_id == User.id)
                .where(SpaceMembership.space_id == bindparam("space_id"), SpaceMembership.role == SpaceRole.owner.value)
                .order_by(User.username).limit(1))
"""Built once, as ``_SPACE_BY_SLUG``: a bulk import asks it for every file it creates."""


def first_owner(session: Session, space_id: int) -> int | None:
    """The id of the space's owner first by username (``space_members``' order), or None without one."""
    return session.execute(_FIRST_OWNER, {"space_id": space_id}).scalar_one_or_none()


def space_members(session: Session, space_id: int) -> list[tuple[User, SpaceRole]]:
    rows = session.execute(
        select(User, SpaceMembership.role)
        .join(SpaceMembership, SpaceMembership.user_id == User.id)
        .where(SpaceMembership.space_id == space_id)
        .order_by(User.username)
    ).all()
    return [(user, SpaceRole(role)) for user, role in rows]


def create_space(session: Session, *, actor: Actor, data: SpaceCreate, four_eyes_default: bool) -> Space:
    """Create a space (the caller has checked the ``space.create`` row).

    Raises:
        KbError ALREADY_EXISTS: the slug is taken.
    """
    if session.execute(select(Space.id).where(Space.slug == data.slug)).first():
        raise KbError(ErrorCode.ALREADY_EXISTS, f"The space {data.slug!r} exists already")
    four_eyes = four_eyes_default if data.four_eyes is None else data.four_eyes
    space = Space(slug=data.slug, name=data.name, description=data.description, four_eyes=four_eyes,
                  public_community=data.public_community,
                  public_community_since=utcnow() if data.public_community else None)
    session.add(space)
    session.flush()
    provenance.record(session, actor, "space.create", ("space", space.slug),
                      {"name": space.name, "four_eyes": four_eyes, "safeguards": safeguards(session, space)})
    return space


def require_owner_or_admin(actor: Actor, space: Space, what: str) -> None:
    if not actor.is_admin and not actor.owns(space.id):  # type: ignore[arg-type]
        raise KbError(ErrorCode.FORBIDDEN, f"Only an owner of the space {space.slug!r} or an admin may {what}")


def update_space(session: Session, *, actor: Actor, slug: str, data: SpaceUpdate,
                 request_id: int | None = None) -> Space:
    space = get_space(session, slug)
    require_owner_or_admin(actor, space, "change it")
    changes: dict[str, dict[str, object]] = {}
    for field in ("name", "description", "four_eyes", "public_community"):
        new = getattr(data, field)
        if new is not None and new != getattr(space, field):
            changes[field] = {"from": getattr(space, field), "to": new}
            setattr(space, field, new)
    if "public_community" in changes:
        # The opt-in covers only comments written from now on (issue 16); opting out forgets it, so
        # opting in again starts afresh.
        space.public_community_since = utcnow() if space.public_community else None
    if changes:
        session.add(space)
        provenance.record(session, actor, "space.update", ("space", space.slug),
                          _with_request({"changes": changes, "safeguards": safeguards(session, space)}, request_id))
    return space


def set_membership(session: Session, *, actor: Actor, slug: str, username: str, role: SpaceRole,
                   request_id: int | None = None) -> SpaceMembership:
    """Grant ``username`` the ``role`` in the space (replacing any role they had there)."""
    space = get_space(session, slug)
    require_owner_or_admin(actor, space, "grant roles in it")
    user = get_user(session, username)
    membership = session.execute(
        select(SpaceMembership).where(SpaceMembership.space_id == space.id, SpaceMembership.user_id == user.id)
    ).scalar_one_or_none()
    previous = SpaceRole(membership.role) if membership else None
    if previous is role:
        return membership  # type: ignore[return-value]
    if membership is None:
        membership = SpaceMembership(space_id=space.id, user_id=user.id, role=role)  # type: ignore[arg-type]
    else:
        membership.role = role
    session.add(membership)
    session.flush()
    provenance.record(session, actor, "space.member.set", ("space", space.slug),
                      _with_request({"user": user.username, "role": role.value,
                                     "previous": previous.value if previous else None,
                                     "safeguards": safeguards(session, space)}, request_id))
    return membership


def remove_membership(session: Session, *, actor: Actor, slug: str, username: str,
                      request_id: int | None = None) -> None:
    space = get_space(session, slug)
    require_owner_or_admin(actor, space, "remove members")
    user = get_user(session, username)
    membership = session.execute(
        select(SpaceMembership).where(SpaceMembership.space_id == space.id, SpaceMembership.user_id == user.id)
    ).scalar_one_or_none()
    if membership is None:
        raise KbError(ErrorCode.NOT_FOUND, f"{username!r} is not a member of {slug!r}")
    session.delete(membership)
    session.flush()
    provenance.record(session, actor, "space.member.remove", ("space", space.slug),
                      _with_request({"user": user.username, "previous": SpaceRole(membership.role).value,
                                     "safeguards": safeguards(session, space)}, request_id))




def username_of(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.username if user is not None else None
