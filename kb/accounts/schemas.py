"""Wire shapes of the accounts domain: what clients send and what they see."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from kb.actors import SYSTEM_ACTOR_NAME, GlobalRole, SpaceRole


def _not_reserved(username: str) -> str:
    """No person may be called ``system``: the audit log names kb itself so (kb.actors.SYSTEM)."""
    if username == SYSTEM_ACTOR_NAME:
        raise ValueError(f"the username {SYSTEM_ACTOR_NAME!r} is reserved: the audit log names kb itself so")
    return username


Username = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$"), AfterValidator(_not_reserved)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=256)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(Strict):
    username: Username
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    email: Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    password: Password | None = None
    global_role: GlobalRole = GlobalRole.reader


class UserUpdate(Strict):
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)] | None = None
    global_role: GlobalRole | None = None
    is_active: bool | None = None


class MembershipPublic(BaseModel):
    space: str
    role: SpaceRole


class UserPublic(BaseModel):
    """A colleague as other employees see them (no email, no credentials)."""

    username: str
    display_name: str
    global_role: GlobalRole
    is_active: bool
    created_at: datetime


class UserAdminPublic(UserPublic):
    """A user as an admin sees them."""

    email: str | None
    memberships: list[MembershipPublic]


class UsersPublic(BaseModel):
    data: list[UserAdminPublic]
    count: int


class MePublic(UserPublic):
    email: str | None
    memberships: list[MembershipPublic]


class SpaceCreate(Strict):
    slug: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    four_eyes: bool | None = Field(None, description="Require approval by someone other than the author. Empty: KB_FOUR_EYES_DEFAULT.")
    public_community: bool = Field(False, description="Show the community comments and ratings of this space's public documents on /public")


class SpaceUpdate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    four_eyes: bool | None = None
    public_community: bool | None = None


class SpaceMember(BaseModel):
    username: str
    display_name: str
    role: SpaceRole


class SpacePublic(BaseModel):
    slug: str
    name: str
    description: str
    four_eyes: bool
    public_community: bool
    public_community_since: datetime | None = Field(
        None, description="When the space opted in to public community content; only comments written since are shown on /public")
    created_at: datetime
    members: list[SpaceMember]


class SpacesPublic(BaseModel):
    data: list[SpacePublic]
    count: int


class MembershipSet(Strict):
    role: SpaceRole


class TokenCreate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The token itself. It is shown only this once; store it now.")


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


class Credentials(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    token_name: Annotated[str, StringConstraints(min_length=1, max_length=100)] = "login"


class GovernanceRequestPublic(BaseModel):
    """A change that waits for a second person's approval (issue 16); see docs/governance.md."""

    id: int
    kind: str = Field(description="The action the change applies: space.update, space.member.set, space.member.remove or user.update")
    target: str = Field(description="The space's slug or the user's username")
    change: dict[str, Any] = Field(description="What the action will be given when approved")
    requested_by: str
    requested_at: datetime
    status: str = Field(description="pending, approved or refused")
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    may_decide: bool = Field(False, description="Whether the caller may approve or refuse it")


class GovernanceRequestsPublic(BaseModel):
    data: list[GovernanceRequestPublic]
    count: int


class GovernanceRefusal(Strict):
    reason: str = Field(min_length=1, max_length=1000, description="Why the change is refused (kept on record)")
