"""The rule table: which audit event tells whom what (issue 17). One entry per action, nothing else decides.

``on_record`` is installed as a record hook (``kb.db.Database.record_hooks``) by the composition root,
so every event that ``kb.provenance.record`` appends, on any surface, passes here inside the
transaction that records it: the notifications and their outbox rows commit or roll back with the
change. Each rule returns ``(user_id, Notice)`` pairs, the most specific first (the author of a
version hears "approved", not "a document you watch changed"); ``service.notify`` keeps one per
person and never tells the actor of their own act. Recipients come from the tables the events name.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import select
from sqlmodel import Session

from kb.accounts.models import Space, User
from kb.actors import GlobalRole
from kb.config import Settings
from kb.documents.models import Document, ReviewRequest, Version
from kb.events import Recorded
from kb.experts.models import ExpertRequest
from kb.notifications import outbox
from kb.notifications.models import Channel, WatchKind
from kb.notifications.service import Notice, batch_audience, notify, notify_batch, space_owners, tags, watchers
from kb.social.models import Answer, Comment, Question

Pairs = list[tuple[int, Notice]]
Rule = Callable[[Session, Recorded], Pairs]


def _document(session: Session, slug: str) -> Document | None:
    return session.execute(select(Document).where(Document.slug == slug)).scalar_one_or_none()


def _who(session: Session, event: Recorded) -> str:
    """The person who acted as cards name them: display name and the stable @username beside it (issue 16)."""
    user = session.get(User, event.actor_id) if event.actor_id else None
    return f"{user.display_name} (@{user.username})" if user is not None else event.actor_name


def _title(session: Session, document: Document) -> str:
    """A document as people know it: the title of its served version, else of its newest, else its slug."""
    version = session.get(Version, document.current_version_id) if document.current_version_id else None
    version = version if version is not None and version.document_id == document.id else None
    version = version or session.execute(select(Version).where(Version.document_id == document.id)
                                         .order_by(Version.number.desc()).limit(1)).scalar_one_or_none()  # type: ignore[attr-defined]
    return version.title if version is not None else document.slug


def _version(session: Session, document: Document, number: object) -> Version | None:
    if not isinstance(number, int):
        return None
    return session.execute(select(Version).where(Version.document_id == document.id, Version.number == number)).scalar_one_or_none()


def _document_and_version(session: Session, slug: str, number: object) -> tuple[Document | None, Version | None]:
    """The document of ``slug`` and its version ``number`` (None when there is no such version), in one query."""
    row = session.execute(select(Document, Version).where(Document.slug == slug).outerjoin(
        Version, (Version.document_id == Document.id) & (Version.number == (number if isinstance(number, int) else -1)))).first()
    return (row[0], row[1]) if row is not None else (None, None)


def _submitted(session: Session, event: Recorded) -> tuple[Document | None, Version | None]:
    """The document and version a ``version.submit`` names: as the submitting transaction holds them
    (``Recorded.rows``), else read (``_document_and_version``)."""
    number = event.detail.get("version")
    document = next((row for row in event.rows if isinstance(row, Document) and row.slug == event.object_id), None)
    version = next((row for row in event.rows if isinstance(row, Version) and document is not None
                    and row.document_id == document.id and row.number == number), None)
    if document is not None and version is not None:
        return document, version
    return _document_and_version(session, event.object_id, number)


def _document_watchers(session: Session, document: Document, version: Version | None, notice: Notice) -> Pairs:
    space = session.get(Space, document.space_id)
    people = watchers(session, WatchKind.document, [document.slug])
    people += watchers(session, WatchKind.space, [space.slug] if space else [])
    people += watchers(session, WatchKind.tag, tags(version.tags) if version else [])
    return [(user_id, notice) for user_id in people]


def review_requested(session: Session, event: Recorded) -> Pairs:
    document, version = _submitted(session, event)
    if document is None:
        return []
    title = version.title if version else document.slug
    notice = Notice("review_requested", f"Review requested: {title} (version {event.detail.get('version')})",
                    f"{_who(session, event)} submitted it for review.", f"/review/{document.slug}/{event.detail.get('version')}")
    return [(owner, notice) for owner in space_owners(session, document.space_id)]


def submitted_in_batch(session: Session, settings: Settings, event: Recorded, batch: str) -> None:
    """A submission of a bulk import (``batch`` in the event): the space's owners hear of the batch once,
    counted and listed (``notify_batch``), not of each of its files (``batch_audience`` says who)."""
    number = event.detail.get("version")
    document, version = _submitted(session, event)
    if document is None:
        return
    item = f"{version.title if version else document.slug} (version {number})"
    audience = batch_audience(session, settings, batch, document.space_id, actor_name=lambda: _who(session, event),
                              skip_user=event.actor_id)
    notify_batch(session, audience, batch=batch, item=item, link="/review", event_seq=event.seq)


def version_decided(session: Session, event: Recorded) -> Pairs:
    number = event.detail.get("version")
    document, version = _document_and_version(session, event.object_id, number)
    if document is None:
        return []
    title = version.title if version else document.slug
    link = f"/d/{document.slug}/v/{number}"
    if event.action == "version.approve":
        comment = event.detail.get("comment") or ""
        mine = Notice("version_approved", f"Approved: {title} (version {number})",
                      f"{_who(session, event)} approved it." + (f"\n\n{comment}" if comment else ""), link)
        watched = Notice("document_changed", f"New approved version: {title} (version {number})",
                         f"{_who(session, event)} approved it.", link)
    else:
        reason = event.detail.get("reason") or ""
        mine = Notice("version_rejected", f"Rejected: {title} (version {number})",
                      f"{_who(session, event)} rejected it. Reason: {reason}\n\nYour text is in a new draft, version "
                      f"{event.detail.get('new_draft')}.", f"/d/{document.slug}/v/{event.detail.get('new_draft')}")
        watched = None
    authors = [version.author_id, version.submitted_by_id] if version else [document.owner_id]
    pairs = [(author, mine) for author in authors if author is not None]
    if watched is not None:
        pairs += _document_watchers(session, document, version, watched)
    return pairs


def report_dismissed(session: Session, event: Recorded) -> Pairs:
    """The reader whose report (wrong, outdated) an owner dismissed hears who did and why."""
    report_id = event.detail.get("report")
    report = session.get(ReviewRequest, report_id) if isinstance(report_id, int) else None
    document = _document(session, event.object_id)
    if report is None or document is None:
        return []
    title = _title(session, document)
    return [(report.requested_by_id, Notice(
        "report_dismissed", f"Your report on {title} was dismissed",
        f"You reported it {event.detail.get('report_reason') or ''}. {_who(session, event)} found the report unfounded. "
        f"Reason: {event.detail.get('reason') or ''}\n\nIf the facts change, you may report it again.", f"/d/{document.slug}"))]


def answer_created(session: Session, event: Recorded) -> Pairs:
    answer = session.get(Answer, int(event.object_id))
    question = session.get(Question, answer.question_id) if answer else None
    if question is None or answer is None or answer.hidden:
        return []
    link = f"/questions/{question.id}#answer-{answer.id}"
    mine = Notice("question_answered", f"Your question has an answer: {question.title}",
                  f"{_who(session, event)} answered.", link)
    watched = Notice("watched_question_answered", f"New answer: {question.title}", f"{_who(session, event)} answered.", link)
    pairs = [(question.author_id, mine)]
    people = watchers(session, WatchKind.question, [str(question.id)]) + watchers(session, WatchKind.tag, tags(question.tags))
    return pairs + [(user_id, watched) for user_id in people]


def answer_accepted(session: Session, event: Recorded) -> Pairs:
    question = session.get(Question, int(event.object_id))
    answer = session.get(Answer, event.detail.get("answer")) if isinstance(event.detail.get("answer"), int) else None
    if question is None or answer is None:
        return []
    return [(answer.author_id, Notice("answer_accepted", f"Your answer was accepted: {question.title}",
                                      f"{_who(session, event)} accepted it.", f"/questions/{question.id}#answer-{answer.id}"))]


def comment_created(session: Session, event: Recorded) -> Pairs:
    item = session.get(Comment, int(event.object_id))
    if item is None or item.hidden:
        return []
    document = session.get(Document, item.document_id)
    if document is None:
        return []
    link = f"/d/{document.slug}#comment-{item.id}"
    pairs: Pairs = []
    if item.parent_id is not None:
        parent = session.get(Comment, item.parent_id)
        if parent is not None:
            pairs.append((parent.author_id, Notice("comment_reply", f"A reply to your comment on {_title(session, document)}",
                                                   f"{_who(session, event)} replied.", link)))
    version = _version(session, document, item.version_number)
    on_mine = Notice("comment_on_document", f"A comment on your document {_title(session, document)}",
                     f"{_who(session, event)} commented on version {item.version_number}.", link)
    pairs += [(person, on_mine) for person in (document.owner_id, version.author_id if version else None) if person]
    watched = Notice("watched_document_comment", f"A comment on {_title(session, document)}", f"{_who(session, event)} commented.", link)
    pairs += [(person, watched) for person in watchers(session, WatchKind.document, [document.slug])]
    return pairs


def content_flagged(session: Session, event: Recorded) -> Pairs:
    reason = event.detail.get("reason", "")
    if event.object_type == "document" and event.detail.get("status") == "review_requested":
        document = _document(session, event.object_id)
        if document is None:
            return []
        notice = Notice("review_requested", f"{_title(session, document)} was flagged {reason}: please review it",
                        f"{_who(session, event)} flagged it as {reason}.", f"/d/{document.slug}")
        return [(owner, notice) for owner in space_owners(session, document.space_id)]
    hidden = " (now hidden, pending moderation)" if event.detail.get("auto_hidden") else ""
    notice = Notice("content_flagged", f"Flagged {event.object_type} {event.object_id}: {reason}{hidden}",
                    f"{_who(session, event)} flagged it.", "/moderation")
    moderators = session.execute(select(User.id).where(User.global_role == GlobalRole.moderator.value)).scalars()
    return [(moderator, notice) for moderator in moderators]


def question_created(session: Session, event: Recorded) -> Pairs:
    question = session.get(Question, int(event.object_id))
    if question is None:
        return []
    space = session.get(Space, question.space_id) if question.space_id else None
    notice = Notice("watched_new_question", f"New question: {question.title}", f"{_who(session, event)} asked.",
                    f"/questions/{question.id}")
    people = watchers(session, WatchKind.tag, tags(question.tags))
    people += watchers(session, WatchKind.space, [space.slug] if space else [])
    return [(user_id, notice) for user_id in people]


def expert_asked(session: Session, event: Recorded) -> Pairs:
    request_id = event.detail.get("request")
    request = session.get(ExpertRequest, request_id) if isinstance(request_id, int) else None
    if request is None:
        return []
    about = f" about question {request.question_id}" if request.question_id else ""
    return [(request.to_user_id, Notice("expert_asked", f"{_who(session, event)} asks for your expertise{about}",
                                        request.message, f"/people/{event.object_id}"))]


RULES: dict[str, Rule] = {
    "version.submit": review_requested,
    "version.approve": version_decided,
    "version.reject": version_decided,
    "report.dismiss": report_dismissed,
    "answer.create": answer_created,
    "answer.accept": answer_accepted,
    "comment.create": comment_created,
    "flag.create": content_flagged,
    "question.create": question_created,
    "expert.ask": expert_asked,
}
"""Audit action -> rule. docs/notifications.md lists the same table (a test keeps the two equal)."""


def expert_webhook_body(session: Session, request: ExpertRequest, expert: str, asker: str) -> str:
    """The ask-an-expert webhook's JSON body (unchanged from before the outbox: receivers verify it as it was)."""
    return json.dumps({"event": "expert.ask", "request": request.id, "expert": expert, "from": asker,
                       "question": request.question_id, "message": request.message,
                       "at": request.created_at.isoformat()}, sort_keys=True)


def make_hook(settings: Settings) -> Callable[[Session, Recorded], None]:
    """The record hook for ``settings``: notifications for each event, and the expert webhook for ``expert.ask``."""

    def on_record(session: Session, event: Recorded) -> None:
        rule = RULES.get(event.action)
        if rule is None:
            return
        key = f"event-{event.seq}"
        batch = event.detail.get("batch") if event.action == "version.submit" else None
        if isinstance(batch, str) and batch:
            submitted_in_batch(session, settings, event, batch)
            return
        notify(session, settings, rule(session, event), key_prefix=key, skip_user=event.actor_id, event_seq=event.seq)
        if event.action == "expert.ask" and settings.expert_webhook_url:
            request = session.get(ExpertRequest, event.detail.get("request"))
            if request is not None:
                outbox.enqueue(session, key=f"{key}:webhook", channel=Channel.webhook, recipient=settings.expert_webhook_url,
                               body=expert_webhook_body(session, request, event.object_id, event.actor_name),
                               source=("expert_request", request.id))  # type: ignore[arg-type]

    return on_record
