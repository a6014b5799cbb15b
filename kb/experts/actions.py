"""Use cases of expert location: the one door that the API, the web pages and the CLI go through.

Finding experts (``expert.find``), a person's profile (``expert.profile``), declaring one's expertise
(``expertise.update``), asking an expert (``expert.ask``), one's inbox (``inbox.read``) and the
experts suggested for a question (``question.experts``). Each action checks the actor against its row
of ``kb.permissions`` with ``authorize``, calls the services of ``kb.experts.service`` (which keep the
per-object rules: nobody asks themselves or someone who opted out; the asker is never suggested for
their own question) in one transaction where state changes. Asking an expert's webhook call
(KB_EXPERT_WEBHOOK_URL, HMAC-signed with KB_SECRET_KEY) goes through the notifications outbox, written
in the request's transaction (kb.notifications).

Surfaces translate their input, call an action and render its result. Must not import FastAPI, the
web UI or the API modules.
"""

from __future__ import annotations

from sqlmodel import Session

from kb.actors import Actor
from kb.config import Settings
from kb.db import transaction
from kb.experts import service
from kb.experts.models import ExpertRequest
from kb.experts.schemas import ExpertProfilePublic, ExpertResults, Inbox, InboxItem
from kb.permissions import authorize
from kb.ratelimit import RateLimiter
from kb.search.indexer import SearchIndexes

SUGGESTED_FOR_A_QUESTION = 5


def find_experts(session: Session, actor: Actor, *, indexes: SearchIndexes, settings: Settings, query: str,
                 space: str | None = None, exclude_me: bool = False, limit: int = 10) -> ExpertResults:
    """The colleagues who know about ``query``, best first, with the evidence (weights: KB_EXPERT_WEIGHTS).

    Raises:
        KbError NOT_AUTHENTICATED: nobody is signed in.
        KbError BAD_REQUEST: the query is empty (service).
        KbError NOT_FOUND: no space ``space`` (service).
    """
    authorize(actor, "expert.find")
    hits = service.find_experts(session, indexes, actor=actor, query=query, space=space, exclude_me=exclude_me,
                                limit=limit, weights=settings.expert_weights)
    return ExpertResults(query=query, data=hits)


def experts_for_question(session: Session, actor: Actor, *, indexes: SearchIndexes, settings: Settings,
                         question_id: int) -> ExpertResults:
    """The experts suggested for a question (never its asker nor the actor), labelled with its title.

    Raises:
        KbError NOT_FOUND: no question ``question_id`` the actor may see (service).
    """
    authorize(actor, "question.experts")
    title, hits = service.experts_for_question(session, indexes, actor=actor, question_id=question_id,
                                               limit=SUGGESTED_FOR_A_QUESTION, weights=settings.expert_weights)
    return ExpertResults(query=title, data=hits)


def expert_profile(session: Session, actor: Actor, *, username: str) -> ExpertProfilePublic:
    """A person's expertise profile: what they authored, answered and declared.

    Raises:
        KbError NOT_FOUND: no user ``username`` (service).
    """
    authorize(actor, "expert.profile")
    return ExpertProfilePublic(**service.expert_profile(session, username=username))  # type: ignore[arg-type]


def update_expertise(session: Session, actor: Actor, *, declared_skills: list[str] | None = None,
                     opted_out: bool | None = None) -> ExpertProfilePublic:
    """Declare one's own skills (self-declared, counted less) or opt out of suggestions; audited as ``profile.update``."""
    authorize(actor, "expertise.update")
    with transaction(session):
        service.update_profile(session, actor=actor, declared_skills=declared_skills, opted_out=opted_out)
    return ExpertProfilePublic(**service.expert_profile(session, username=actor.username))  # type: ignore[arg-type]


def _inbox_item(request: ExpertRequest, sender: str, read: bool) -> InboxItem:
    return InboxItem(id=request.id, from_user=sender, question_id=request.question_id, message=request.message,  # type: ignore[arg-type]
                     created_at=request.created_at, read=read)


def ask_expert(session: Session, actor: Actor, *, settings: Settings, username: str, question_id: int | None = None,
               message: str = "", limiter: RateLimiter | None = None) -> InboxItem:
    """Ask an expert: a request in their inbox (audited as ``expert.ask``) and, with KB_EXPERT_WEBHOOK_URL set,
    the signed webhook call in the outbox of the same transaction (issue 17).

    The notifications worker makes the call, with retries and backoff, and writes what became of it on
    the request (``webhook_status``: ``pending``, ``retrying: …``, ``sent`` or ``failed: …``); without a
    URL the request says ``not_configured``.

    Raises:
        KbError NOT_FOUND: no user ``username``, or no question ``question_id`` the actor may see (service).
        KbError CONFLICT: the actor asks themselves, the expert opted out, or the same request is still
            unread in their inbox (service).
        KbError VALIDATION_ERROR: neither a message nor a question (service).
        KbError RATE_LIMITED: past the posting quota (``KB_RATE_LIMIT_POSTING``, as a comment or a question:
            each request is a notice to a colleague, and a webhook call where one is set), with Retry-After.
    """
    authorize(actor, "expert.ask")
    if limiter is not None:
        limiter.enforce(settings.rate_limit_posting, "post", actor.username)
    with transaction(session):
        request = service.ask_expert(session, actor=actor, username=username, question_id=question_id, message=message,
                                     webhook_configured=bool(settings.expert_webhook_url))
    return _inbox_item(request, actor.username, read=False)


def inbox(session: Session, actor: Actor) -> Inbox:
    """The requests colleagues sent the actor as an expert, newest first."""
    authorize(actor, "inbox.read")
    data = [_inbox_item(request, sender, read=request.read_at is not None)
            for request, sender in service.inbox(session, actor=actor)]
    return Inbox(data=data, count=len(data))
