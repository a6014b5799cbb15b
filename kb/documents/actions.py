"""Use cases of curated documents: the one door that the API, the web pages and the CLI go through.

Each action takes the session, the acting person (``kb.actors.Actor``; ``kb.actors.SYSTEM`` for kb
itself) and a validated input; it checks the actor against its row of ``kb.permissions`` with
``authorize``, calls the domain's services inside one transaction (``kb.db.transaction``: one per user
action, the audit event in it), performs the side effects, and returns what the surfaces render. The
per-object rules (an owner of *this* space, never one's own version) stay in the services, written
once. Surfaces translate their input, call one action and render its result; they never open a
transaction or call a service that changes state themselves (docs/architecture.md).
"""

from __future__ import annotations

from sqlmodel import Session

from kb.actors import Actor
from kb.db import transaction
from kb.documents import service
from kb.documents.schemas import VersionPublic
from kb.permissions import authorize


def approve(session: Session, actor: Actor, *, slug: str, number: int, comment: str | None = None) -> VersionPublic:
    """Approve a version in review: it becomes the version everyone sees; the previous one is superseded.

    Raises:
        KbError FORBIDDEN: the actor owns no space, or not this document's (service).
        KbError FOUR_EYES: the actor wrote or contributed to the version in a four-eyes space (service).
        KbError ILLEGAL_TRANSITION: the version is not in review (service).
    """
    authorize(actor, "version.approve")
    with transaction(session):
        service.approve(session, actor=actor, slug=slug, number=number, comment=comment)
    document, version = service.get_version(session, actor=actor, slug=slug, number=number)
    return service.version_public(session, document, version)
