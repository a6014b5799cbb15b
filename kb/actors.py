"""Who is acting: roles, route access levels and the ``Actor`` handed to every service.

Owns the role vocabulary and which roles each route access level admits (the source of
docs/permissions.md). Services receive an ``Actor``, never an HTTP request. Imports nothing from
kb domains and nothing from FastAPI.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class Role(StrEnum):
    """The five roles. ``contributor`` and ``owner`` are held per space; the others globally."""

    reader = "reader"
    contributor = "contributor"
    owner = "owner"
    moderator = "moderator"
    admin = "admin"


class GlobalRole(StrEnum):
    """The role a user holds everywhere. Every signed-in user reads internal content."""

    reader = "reader"
    moderator = "moderator"
    admin = "admin"


class SpaceRole(StrEnum):
    """The role a user holds in one space."""

    reader = "reader"
    contributor = "contributor"
    owner = "owner"


ANONYMOUS = "anonymous"


class Channel(StrEnum):
    """Through which door an actor acts; every audit event records it (issue 16)."""

    api = "api"
    web = "web"
    cli = "cli"
    system = "system"


class Access(StrEnum):
    """The permission a route declares. Space-scoped levels are checked again, per space, by services."""

    anonymous = "anonymous"
    signed_in = "signed_in"
    contributor = "contributor"
    owner = "owner"
    owner_or_admin = "owner_or_admin"
    moderator = "moderator"
    admin = "admin"

    @property
    def admitted(self) -> frozenset[str]:
        """The roles (and ``anonymous``) that pass this route's gate."""
        return _ADMITTED[self]

    @property
    def space_scoped(self) -> bool:
        """Whether the role must be held in the space the request concerns."""
        return self in (Access.contributor, Access.owner, Access.owner_or_admin)


_SIGNED_IN = frozenset(role.value for role in Role)
_ADMITTED: dict[Access, frozenset[str]] = {
    Access.anonymous: _SIGNED_IN | {ANONYMOUS},
    Access.signed_in: _SIGNED_IN,
    Access.contributor: frozenset({Role.contributor, Role.owner}),
    Access.owner: frozenset({Role.owner}),
    Access.owner_or_admin: frozenset({Role.owner, Role.admin}),
    Access.moderator: frozenset({Role.moderator, Role.admin}),
    Access.admin: frozenset({Role.admin}),
}


@dataclass(frozen=True)
class Actor:
    """A signed-in user as services see them: identity, global role and per-space roles."""

    id: int
    username: str
    display_name: str
    global_role: GlobalRole
    space_roles: dict[int, SpaceRole] = field(default_factory=dict)
    system: bool = False
    """True only for ``SYSTEM``: kb itself acting (migrations, ``kb init``, ``kb demo``)."""
    channel: Channel = Channel.api
    """The door the actor came through: set by whoever identifies them (token: api, web session: web,
    the CLI's authentication: cli, bootstrap: system) and recorded on every audit event."""

    def via(self, channel: Channel) -> "Actor":
        """This actor acting through ``channel``."""
        return replace(self, channel=channel)

    @property
    def roles(self) -> frozenset[str]:
        """Every role this actor holds somewhere (owner implies contributor)."""
        held = {Role.reader.value, self.global_role.value}
        for role in self.space_roles.values():
            held.add(role.value)
            if role is SpaceRole.owner:
                held.add(Role.contributor.value)
        return frozenset(held)

    @property
    def is_admin(self) -> bool:
        return self.global_role is GlobalRole.admin

    @property
    def is_moderator(self) -> bool:
        return self.global_role in (GlobalRole.moderator, GlobalRole.admin)

    def owns(self, space_id: int) -> bool:
        return self.space_roles.get(space_id) is SpaceRole.owner

    def contributes_to(self, space_id: int) -> bool:
        return self.space_roles.get(space_id) in (SpaceRole.contributor, SpaceRole.owner)


SYSTEM_ACTOR_NAME = "system"

SYSTEM = Actor(id=0, username=SYSTEM_ACTOR_NAME, display_name="kb (system)", global_role=GlobalRole.admin, system=True,
               channel=Channel.system)
"""kb itself, named: bootstrap (``kb init``, ``kb demo``), migrations, the attestations kb records
itself (``version.publish``, ``audit.baseline``) and the operator's read-only commands (``kb audit
verify``, ``kb export-prov``). Every CLI command that changes state authenticates a person (issue 16).

It holds the admin role, so it may create users and spaces and grant roles, and every event it
causes is recorded as ``system``. It is no member of any space, so it can neither write nor approve
a document: curated knowledge always has a named person behind it. There is no "no actor": every
service takes an ``Actor`` and decides by its roles alone (issue 15).
"""
