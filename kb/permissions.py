"""The one table of permissions: which roles may attempt each action, on every surface.

Every use case of kb is an *action* with a dotted name (the same vocabulary as the audit log where
the action changes state). The action itself, in its domain's ``actions`` module, starts with
``authorize(actor, "name")``; an API route declares the same row with ``kb.http.require_for("name")``;
the web pages and the CLI call the action, so they are refused exactly alike. This table is the only
place a role gate is written: docs/permissions.md is generated from it and the role-matrix test
(tests/test_permission_matrix.py) drives every row through the API, the web pages and the CLI.

Space-scoped levels (``contributor``, ``owner``, ``owner_or_admin``) admit a role held in *some*
space; the domain service then checks the space the request concerns (an owner of one space is no
owner of another). That per-object rule lives once, in the service.

Imports nothing from kb domains and nothing from FastAPI.
"""

from __future__ import annotations

from kb.actors import ANONYMOUS, Access, Actor
from kb.errors import ErrorCode, KbError

PERMISSIONS: dict[str, Access] = {
    # system
    "system.health": Access.anonymous,
    # accounts: signing in, oneself, tokens
    "auth.login": Access.anonymous,
    "auth.logout": Access.signed_in,
    "me.read": Access.signed_in,
    "me.work": Access.signed_in,
    "token.list": Access.signed_in,
    "token.create": Access.signed_in,
    "token.revoke": Access.signed_in,
    # accounts: users and spaces
    "user.list": Access.admin,
    "user.read": Access.admin,
    "user.create": Access.admin,
    "user.update": Access.admin,
    "space.list": Access.signed_in,
    "space.read": Access.signed_in,
    "space.create": Access.admin,
    "space.update": Access.owner_or_admin,
    "space.member.set": Access.owner_or_admin,
    "space.member.remove": Access.owner_or_admin,
    # separation of duties: changes waiting for a second person (issue 16)
    "governance.list": Access.signed_in,
    "governance.approve": Access.owner_or_admin,
    "governance.refuse": Access.owner_or_admin,
    # curated documents
    "document.list": Access.signed_in,
    "document.read": Access.signed_in,
    "document.history": Access.signed_in,
    "document.diff": Access.signed_in,
    "document.provenance": Access.signed_in,
    "document.file": Access.signed_in,
    "document.create": Access.contributor,
    "document.import": Access.contributor,
    "version.read": Access.signed_in,
    "version.edit": Access.contributor,
    "version.submit": Access.contributor,
    "version.approve": Access.owner,
    "version.reject": Access.owner,
    "document.retire": Access.owner,
    "review.queue": Access.owner,
    "report.dismiss": Access.owner,
    # taxonomy (issue 20): owners of any space and admins maintain it
    "taxonomy.read": Access.signed_in,
    "taxonomy.export": Access.signed_in,
    "taxonomy.import": Access.owner_or_admin,
    "concept_scheme.create": Access.owner_or_admin,
    "concept.create": Access.owner_or_admin,
    "concept.update": Access.owner_or_admin,
    "concept.merge": Access.owner_or_admin,
    "concept.deprecate": Access.owner_or_admin,
    "concept.delete": Access.owner_or_admin,
    # community
    "comment.list": Access.signed_in,
    "comment.create": Access.signed_in,
    "comment.edit": Access.signed_in,
    "comment.delete": Access.signed_in,
    "rating.read": Access.signed_in,
    "rating.set": Access.signed_in,
    "feedback.give": Access.signed_in,
    "flag.create": Access.signed_in,
    "question.list": Access.signed_in,
    "question.read": Access.signed_in,
    "question.create": Access.signed_in,
    "question.close": Access.signed_in,
    "question.accept": Access.signed_in,
    "question.promote": Access.owner,
    "question.similar": Access.signed_in,
    "answer.create": Access.signed_in,
    "vote.cast": Access.signed_in,
    "person.read": Access.signed_in,
    "moderation.queue": Access.moderator,
    "moderation.decide": Access.moderator,
    "public.community": Access.anonymous,
    # search
    "search.query": Access.signed_in,
    "search.public": Access.anonymous,
    "search.explore": Access.anonymous,  # what applies to me (issue 20)
    "public.document": Access.anonymous,
    "insights.read": Access.owner_or_admin,
    # experts
    "expert.find": Access.signed_in,
    "expert.profile": Access.signed_in,
    "expert.ask": Access.signed_in,
    "expertise.update": Access.signed_in,
    "inbox.read": Access.signed_in,
    "question.experts": Access.signed_in,
    # notifications (issue 17)
    "notification.list": Access.signed_in,
    "notification.read": Access.signed_in,
    "watch.list": Access.signed_in,
    "watch.add": Access.signed_in,
    "watch.remove": Access.signed_in,
    "notify.preference": Access.signed_in,
    # audit log
    "audit.list": Access.admin,
    "audit.verify": Access.admin,
    "transparency.head": Access.anonymous,  # the audit log's signed tree head (issue 16)
    "transparency.proof": Access.anonymous,  # inclusion and consistency proofs: hashes only, no event
    "transparency.receipt": Access.anonymous,  # a public document's receipt (404 as the document itself)
}


def access_of(action: str) -> Access:
    """The access level of ``action``.

    Raises:
        KeyError: ``action`` has no row (a bug: every action is in the table).
    """
    try:
        return PERMISSIONS[action]
    except KeyError:
        raise KeyError(f"Bug: the action {action!r} has no row in kb.permissions.PERMISSIONS") from None


def admits(actor: Actor | None, access: Access) -> bool:
    """Whether ``actor`` (``None``: anonymous) holds a role that ``access`` admits."""
    return access is Access.anonymous or (actor is not None and bool(actor.roles & access.admitted))


def may(actor: Actor | None, action: str) -> bool:
    """Whether ``actor`` passes the gate of ``action``: what the web navigation offers (no refusal)."""
    return admits(actor, access_of(action))


def gate(actor: Actor | None, access: Access) -> Actor | None:
    """Refuse ``actor`` unless ``access`` admits them: 401 for nobody, 403 for a role it does not admit.

    The one refusal every surface gives: ``authorize`` applies it per action, ``kb.http.require`` per
    route (with the same level, from the same row).
    """
    if admits(actor, access):
        return actor
    if actor is None:
        raise KbError(ErrorCode.NOT_AUTHENTICATED, "Sign in to do this")
    needed = " or ".join(sorted(access.admitted - {ANONYMOUS}))
    raise KbError(ErrorCode.FORBIDDEN, f"This action needs the role {needed}")


def authorize(actor: Actor | None, action: str) -> Actor | None:
    """Let ``actor`` attempt ``action``, or refuse: the gate every surface meets, written once.

    Args:
        actor: who acts; ``None`` for an anonymous caller (admitted only to anonymous actions).
        action: a name from ``PERMISSIONS``.

    Returns:
        The actor, unchanged.

    Raises:
        KbError NOT_AUTHENTICATED: nobody is signed in and the action needs someone.
        KbError FORBIDDEN: the actor holds no role the action admits.
    """
    return gate(actor, access_of(action))
