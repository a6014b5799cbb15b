"""Separation of duties (issue 16): changes that need a second person, as governance requests.

A change that lowers a space's safeguards (four-eyes off, public community on), makes or unmakes an
owner, or changes a global role is not applied by the person who asks for it: it becomes a
``GovernanceRequest`` that a second entitled person approves (docs/governance.md). kb itself
(``SYSTEM``: the bootstrap, ``kb init --admin`` and ``kb demo``) still acts at once.

Sits on ``kb.accounts.service``: an approved request is applied through the same service functions
as an immediate change, with the approver as their actor. A domain above the accounts (the taxonomy's
merges) adds its own kinds with ``register``: who may decide them and how an approved one is applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from kb import provenance
from kb.accounts.models import GovernanceRequest, Space, SpaceMembership, User
from kb.accounts.schemas import SpaceUpdate, UserUpdate
from kb.accounts.service import (
    require_owner_or_admin, get_space, get_user, remove_membership, set_membership, update_space, update_user,
)
from kb.actors import Actor, GlobalRole, SpaceRole
from kb.db import is_postgresql, utcnow
from kb.errors import ErrorCode, KbError

SPACE_KINDS = frozenset({"space.update", "space.member.set", "space.member.remove"})
PENDING, APPROVED, REFUSED = "pending", "approved", "refused"
SELF_APPROVAL_RULE = "separation_of_duties"


@dataclass(frozen=True)
class Kind:
    """A kind of request that a domain above the accounts defines (``register``)."""

    entitled: Callable[[Session, Actor, GovernanceRequest], bool]
    """Whether a person (never the requester: checked before) may decide a request of this kind."""
    apply: Callable[[Session, Actor, GovernanceRequest], None]
    """Apply an approved request's change with the approver as actor (its event carries the request id)."""
    deciders: str
    """Who may decide, in words: "an admin or an owner of a space whose approved pages name it"."""


_KINDS: dict[str, Kind] = {}


def register(kind: str, *, entitled: Callable[[Session, Actor, GovernanceRequest], bool],
             apply: Callable[[Session, Actor, GovernanceRequest], None], deciders: str) -> None:
    """Add a kind of request defined by a domain above the accounts (called when its module is imported)."""
    _KINDS[kind] = Kind(entitled=entitled, apply=apply, deciders=deciders)


def deciders(kind: str, target: str) -> str:
    """Who must decide a request of ``kind`` on ``target``, in words ("a second admin")."""
    if kind in _KINDS:
        return _KINDS[kind].deciders
    return f"a second owner of {target} or an admin" if kind in SPACE_KINDS else "a second admin"


def open_request(session: Session, *, actor: Actor, kind: str, target: str, change: dict[str, object]) -> GovernanceRequest:
    """A new pending request of a registered kind, recorded as ``governance.request``.

    Raises:
        KbError CONFLICT: the same change of the same target is waiting already.
    """
    if kind not in _KINDS:
        raise RuntimeError(f"Bug: no governance kind {kind!r} is registered")
    return _open(session, actor=actor, kind=kind, target=target, change=change)


def lowers_safeguard(space: Space, data: SpaceUpdate) -> bool:
    """Whether ``data`` switches four-eyes off or the public community on in ``space``."""
    return ((data.four_eyes is False and space.four_eyes)
            or (data.public_community is True and not space.public_community))


def space_update_request(session: Session, *, actor: Actor, slug: str, data: SpaceUpdate) -> GovernanceRequest | None:
    """Open a request for ``data`` when it lowers a safeguard and a person asks; None: apply it now.

    Raises:
        KbError NOT_FOUND, FORBIDDEN: as ``update_space``.
    """
    space = get_space(session, slug)
    require_owner_or_admin(actor, space, "change it")
    if actor.system or not lowers_safeguard(space, data):
        return None
    return _open(session, actor=actor, kind="space.update", target=space.slug,
                 change=data.model_dump(mode="json", exclude_none=True))


def membership_request(session: Session, *, actor: Actor, slug: str, username: str,
                       role: SpaceRole | None) -> GovernanceRequest | None:
    """Open a request when the change makes or unmakes an owner (``role`` None: a removal); None: apply now.

    Raises:
        KbError NOT_FOUND, FORBIDDEN: as ``set_membership`` and ``remove_membership``.
    """
    space = get_space(session, slug)
    require_owner_or_admin(actor, space, "grant roles in it" if role is not None else "remove members")
    user = get_user(session, username)
    previous = session.execute(
        select(SpaceMembership.role).where(SpaceMembership.space_id == space.id, SpaceMembership.user_id == user.id)
    ).scalar_one_or_none()
    if role is None and previous is None:
        raise KbError(ErrorCode.NOT_FOUND, f"{username!r} is not a member of {slug!r}")
    was_owner = previous is not None and SpaceRole(previous) is SpaceRole.owner
    if actor.system or was_owner == (role is SpaceRole.owner):
        return None
    if role is None:
        return _open(session, actor=actor, kind="space.member.remove", target=space.slug, change={"user": user.username})
    return _open(session, actor=actor, kind="space.member.set", target=space.slug,
                 change={"user": user.username, "role": role.value})


def user_update_request(session: Session, *, actor: Actor, username: str, data: UserUpdate) -> GovernanceRequest | None:
    """Open a request when ``data`` changes the user's global role; None: apply it now.

    Raises:
        KbError NOT_FOUND: no such user.
        KbError CONFLICT: an admin changing their own role.
    """
    user = get_user(session, username)
    if actor.system or data.global_role is None or data.global_role == user.global_role:
        return None
    if user.id == actor.id:
        raise KbError(ErrorCode.CONFLICT, "Admins cannot change their own role or deactivate themselves")
    return _open(session, actor=actor, kind="user.update", target=user.username,
                 change=data.model_dump(mode="json", exclude_none=True))


def role_request_for_new_user(session: Session, *, actor: Actor, user: User, role: GlobalRole) -> GovernanceRequest:
    """The request that gives a just-created account its admin or moderator role."""
    return _open(session, actor=actor, kind="user.update", target=user.username, change={"global_role": role.value})


def _open(session: Session, *, actor: Actor, kind: str, target: str, change: dict[str, object]) -> GovernanceRequest:
    """A new pending request, recorded; refused while the same change waits already (one to decide, not several).

    Raises:
        KbError CONFLICT: a pending request of the same kind asks for the same change of the same target.
    """
    waiting = session.execute(select(GovernanceRequest).where(
        GovernanceRequest.kind == kind, GovernanceRequest.target == target, GovernanceRequest.status == PENDING,
    )).scalars().all()
    for other in waiting:
        if other.change == change:
            raise KbError(ErrorCode.CONFLICT, f"Request {other.id} asks for the same change and is waiting for a "
                          "second person: it needs no second request", details={"rule": "duplicate_request",
                                                                                  "request": other.id})
    request = GovernanceRequest(kind=kind, target=target, change=change, requested_by=actor.id)
    session.add(request)
    session.flush()
    provenance.record(session, actor, "governance.request", ("governance_request", request.id),
                      {"kind": kind, "target": target, "change": change})
    return request


def get_request(session: Session, request_id: int, *, lock: bool = False) -> GovernanceRequest:
    """Raises: KbError NOT_FOUND.

    With ``lock``, the row is locked on PostgreSQL until the transaction ends, so that two deciders
    at once cannot both see it pending and apply its change twice (SQLite writers are serial already).
    """
    request = session.get(GovernanceRequest, request_id, with_for_update=lock and is_postgresql(session),
                          populate_existing=lock)
    if request is None:
        raise KbError(ErrorCode.NOT_FOUND, f"No governance request {request_id}")
    return request


def entitled_to_decide(session: Session, actor: Actor, request: GovernanceRequest) -> bool:
    """Whether ``actor`` may approve or refuse ``request``: never its requester; for a space, another
    owner of it or an admin; for a global role, an admin."""
    if actor.id == request.requested_by:
        return False
    if request.kind in _KINDS:
        return _KINDS[request.kind].entitled(session, actor, request)
    if request.kind in SPACE_KINDS:
        space = session.execute(select(Space).where(Space.slug == request.target)).scalar_one_or_none()
        return actor.is_admin or (space is not None and actor.owns(space.id))  # type: ignore[arg-type]
    return actor.is_admin


def _require_decider(session: Session, actor: Actor, request: GovernanceRequest) -> None:
    if request.status != PENDING:
        raise KbError(ErrorCode.ILLEGAL_TRANSITION,
                      f"Governance request {request.id} is {request.status}; only a pending request can be decided")
    if actor.id == request.requested_by:
        raise KbError(ErrorCode.CONFLICT,
                      f"Separation of duties: the requester cannot approve or refuse their own request {request.id}; "
                      f"a second person must decide it",
                      {"rule": SELF_APPROVAL_RULE, "request": request.id})
    if not entitled_to_decide(session, actor, request):
        who = (_KINDS[request.kind].deciders if request.kind in _KINDS else
               f"an owner of the space {request.target!r} or an admin" if request.kind in SPACE_KINDS else "an admin")
        raise KbError(ErrorCode.FORBIDDEN, f"Only {who} other than the requester may decide request {request.id}")


def _require_recorded(session: Session, request: GovernanceRequest) -> None:
    """The request is one kb recorded: a ``governance.request`` event by its requester asks for exactly this.

    A row inserted or edited in the database (issue 16's insider, with a forged requester) has no such
    event: approving it would apply a change nobody asked for through kb.

    Raises:
        KbError CONFLICT: no event, or the row differs from it.
    """
    events = provenance.list_events(session, action="governance.request", object_type="governance_request",
                                    object_id=str(request.id), limit=2)
    asked = json.loads(events[0].payload) if len(events) == 1 else None
    requester = session.get(User, request.requested_by)
    if (asked != {"kind": request.kind, "target": request.target, "change": request.change}
            or requester is None or events[0].actor_name != requester.username):
        raise KbError(ErrorCode.CONFLICT, f"Request {request.id} is not the one recorded in the audit log (it was "
                      "written or changed outside kb): it cannot be approved", details={"rule": "unrecorded_request"})


def approve_request(session: Session, *, actor: Actor, request_id: int) -> GovernanceRequest:
    """Approve a pending request and apply its change, recorded with the approver as actor.

    Records ``governance.approve`` and then the change's own event (``space.update``…) with the
    request's id in its payload.

    Raises:
        KbError NOT_FOUND: no such request.
        KbError ILLEGAL_TRANSITION: it is no longer pending.
        KbError CONFLICT: the actor requested it (separation of duties).
        KbError FORBIDDEN: the actor is not entitled to decide it.
    """
    request = get_request(session, request_id, lock=True)
    _require_decider(session, actor, request)
    _require_recorded(session, request)
    request.status, request.decided_by, request.decided_at = APPROVED, actor.id, utcnow()
    session.add(request)
    provenance.record(session, actor, "governance.approve", ("governance_request", request.id),
                      {"kind": request.kind, "target": request.target, "change": request.change})
    change = dict(request.change)
    if request.kind == "space.update":
        update_space(session, actor=actor, slug=request.target, data=SpaceUpdate(**change), request_id=request.id)
    elif request.kind == "space.member.set":
        set_membership(session, actor=actor, slug=request.target, username=str(change["user"]),
                       role=SpaceRole(change["role"]), request_id=request.id)
    elif request.kind == "space.member.remove":
        remove_membership(session, actor=actor, slug=request.target, username=str(change["user"]), request_id=request.id)
    elif request.kind == "user.update":
        update_user(session, actor=actor, username=request.target, data=UserUpdate(**change), request_id=request.id)
    elif request.kind in _KINDS:
        _KINDS[request.kind].apply(session, actor, request)
    else:
        raise RuntimeError(f"Bug: governance request {request.id} has the unknown kind {request.kind!r}")
    return request


def refuse_request(session: Session, *, actor: Actor, request_id: int, reason: str) -> GovernanceRequest:
    """Refuse a pending request (``governance.refuse``, with the reason); nothing changes.

    Raises: as ``approve_request``.
    """
    request = get_request(session, request_id, lock=True)
    _require_decider(session, actor, request)
    request.status, request.decided_by, request.decided_at, request.reason = REFUSED, actor.id, utcnow(), reason
    session.add(request)
    provenance.record(session, actor, "governance.refuse", ("governance_request", request.id),
                      {"kind": request.kind, "target": request.target, "reason": reason})
    return request


def list_requests(session: Session, *, actor: Actor, limit: int = 200) -> list[GovernanceRequest]:
    """The pending requests ``actor`` may decide, and their own requests (newest first)."""
    rows = session.execute(
        select(GovernanceRequest)
        .where((GovernanceRequest.status == PENDING) | (GovernanceRequest.requested_by == actor.id))
        .order_by(GovernanceRequest.id.desc())  # type: ignore[union-attr]
    ).scalars()
    return [r for r in rows if r.requested_by == actor.id or entitled_to_decide(session, actor, r)][:limit]
