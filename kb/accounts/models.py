"""Tables of the accounts domain. Wire shapes live in schemas.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kb.actors import GlobalRole, SpaceRole
from kb.db import UTCDateTime, utcnow


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("display_name_key", name="uq_user_display_name_key"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), unique=True, nullable=False, index=True))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    # The display name's UTS #39 confusables skeleton (kb.accounts.names): unique, so no two people
    # can be shown under names a reader cannot tell apart (issue 16).
    display_name_key: str = Field(sa_column=Column(String(1000), nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    password_hash: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    global_role: GlobalRole = Field(default=GlobalRole.reader, sa_column=Column(String(16), nullable=False))
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Space(SQLModel, table=True):
    """A knowledge area: it groups documents and names their owners."""

    __tablename__ = "space"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(64), unique=True, nullable=False, index=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = ""
    four_eyes: bool = True
    public_community: bool = False
    # When the space last opted in: /public serves only comments written at or after it, whose authors
    # were told at the time that they would be shown publicly (issue 16). None while not opted in.
    public_community_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class SpaceMembership(SQLModel, table=True):
    __tablename__ = "space_membership"
    __table_args__ = (UniqueConstraint("space_id", "user_id", name="uq_space_membership"),)

    id: int | None = Field(default=None, primary_key=True)
    space_id: int = Field(foreign_key="space.id", index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    role: SpaceRole = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class ApiToken(SQLModel, table=True):
    """An API token. Only its SHA-256 is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class WebSession(SQLModel, table=True):
    """A signed-in browser session (the cookie holds the secret; only its SHA-256 is stored)."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    csrf_token: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class GovernanceRequest(SQLModel, table=True):
    """A change to a safeguard or a role that waits for a second person (issue 16, separation of duties).

    ``kind`` names the action the change applies when approved (``space.update``, ``space.member.set``,
    ``space.member.remove``, ``user.update``); ``target`` is the space's slug or the user's username;
    ``change`` the action's input. The rules of who may approve are in ``kb.accounts.governance``.
    """

    __tablename__ = "governance_request"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    target: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    change: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # type: ignore[type-arg]
    requested_by: int = Field(foreign_key="user_account.id", index=True)
    requested_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    status: str = Field(default="pending", sa_column=Column(String(16), nullable=False, index=True))
    decided_by: int | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
