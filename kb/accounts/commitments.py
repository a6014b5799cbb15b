"""What the audit log commits to about a space's safeguards and a person's standing: the one
definition, used when an event is recorded and when ``kb audit verify`` re-derives it from the
database (issue 16).

A space's **safeguards** are ``{id, name, four_eyes, public_community, members}`` (``id`` which row the
slug is, since documents name their space by id: swapped outside kb, a space's pages would move under
another's owners and safeguards; the name is the organisation's label on public cards) — ``members`` the sorted
``[user id, role]`` pairs of its contributors and owners, who may write and approve — and, while its
community is public, ``public_community_since``: /public serves only comments written since, so
moving it back would publish comments their authors wrote as internal (the insider review of
2026-12-07, F5; safeguards recorded before migration 0024 lack it, and the upgrade commits to it). A user's
**standing** is ``{id, global_role, active, display_name, password}``: which row the username is, the
name every card shows beside it, and a digest of the password hash. An API token's or a web session's
**credential** is its user, a digest of its stored hash, when it expires and whether it is revoked (the
last two since the insider review of 2026-12-07, F3: a revocation undone outside kb gave an old token
back its powers; older credentials lack them and are compared without). Every event that changes either carries it, as it is
after the change, under ``safeguards`` or ``standing``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from kb.accounts.models import ApiToken, Space, SpaceMembership, User, WebSession


def safeguards(session: Session, space: Space) -> dict[str, Any]:
    """The ``safeguards`` of ``space`` as stored now (flushed rows)."""
    rows = session.execute(select(SpaceMembership.user_id, SpaceMembership.role)
                           .where(SpaceMembership.space_id == space.id)).all()
    members = sorted([int(user_id), str(getattr(role, "value", role))] for user_id, role in rows
                     if str(getattr(role, "value", role)) != "reader")
    since = space.public_community_since
    return {"id": space.id, "name": space.name, "four_eyes": bool(space.four_eyes), "public_community": bool(space.public_community),
            "members": members,
            **({"public_community_since": _utc(since) if since is not None else None}
               if space.public_community or since is not None else {})}


def _utc(moment: datetime) -> str:
    """A moment as the log holds it: UTC, ISO 8601 without an offset (as ``approved_at`` in a version's)."""
    return (moment.astimezone(UTC) if moment.tzinfo is not None else moment).replace(tzinfo=None).isoformat()


def standing(user: User) -> dict[str, Any]:
    """The ``standing`` of ``user``: who the row is (id), their global role, whether the account is active,
    their display name, and a digest of their password hash (a password set outside kb lets one sign in
    as them)."""
    return {"id": user.id, "global_role": str(getattr(user.global_role, "value", user.global_role)),
            "active": bool(user.is_active), "display_name": user.display_name,
            "password": hashlib.sha256((user.password_hash or "").encode("utf-8")).hexdigest()}


CREDENTIAL_ADDED_LATER = frozenset({"expires_at", "revoked"})
"""Members of a credential that events before the insider review of 2026-12-07 lack (compared only where present)."""


def token_credential(token: "ApiToken") -> dict[str, Any]:
    """The ``credential`` of an API token as its row is now: ``token.create`` commits to it, ``token.revoke``
    to it revoked, so a revocation undone outside kb, or an expiry moved, is named."""
    return credential(token.token_hash, user=token.user_id, expires_at=_utc(token.expires_at) if token.expires_at else None,
                      revoked=token.revoked_at is not None)


def session_credential(web_session: "WebSession") -> dict[str, Any]:
    """The ``credential`` of a web session as its row is now (``session.create``, ``session.end``)."""
    return credential(web_session.token_hash, session=web_session.id, user=web_session.user_id,
                      expires_at=_utc(web_session.expires_at), revoked=web_session.revoked_at is not None)


def credential(token_hash: str, **who: Any) -> dict[str, Any]:
    """The ``credential`` of an API token or a web session: who it is for and a digest of its stored hash.

    A token or session row that no ``token.create`` / ``session.create`` commits to was planted: with it
    one acts as its user through the API or the web, under their name.
    """
    return {**who, "digest": hashlib.sha256(token_hash.encode("ascii")).hexdigest()}
