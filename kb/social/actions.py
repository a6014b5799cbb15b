"""Use cases of the social layer: the one door that the API, the web pages and the CLI go through.

One action per community row of ``kb.permissions.PERMISSIONS`` (comments, ratings, feedback, flags,
questions and answers, votes, promotion, moderation, people). Each takes the session, the acting
person and validated input; it checks the actor against its row with ``authorize``, charges the
posting quota where it applies, calls ``kb.social.service`` inside one transaction (the audit event
in it) and returns the public schema the surfaces render. The per-object rules (only the author
edits, the asker or an owner of the question's space accepts, never a vote on one's own post,
hidden content is seen by its author and the moderators) stay in the service, written once.

Must not import FastAPI, the web UI, search or experts, nor ``kb.documents`` internals (only what
``kb.documents`` re-exports).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlmodel import Session

from kb import documents
from kb.accounts import service as accounts
from kb.accounts.models import User
from kb.actors import Actor
from kb.config import Settings
from kb.db import transaction
from kb.permissions import authorize
from kb.ratelimit import RateLimiter
from kb.social import moderation, service
from kb.social.models import Comment, Question
from kb.social.schemas import (
    AnswerCreate, AnswerPublic, Author, CommentCreate, CommentPublic, CommentsPublic, FeedbackCreate, FlagCreate,
    ModerationDecision, ModerationNotice, ModerationOutcome, ModerationQueuePublic, MyQuestions, ProfilePublic, PromoteRequest,
    QuestionCreate, QuestionPublic, QuestionSummary, QuestionsPublic, RatingSummary,
)

PostKind = Literal["question", "answer"]
TargetKind = Literal["comment", "question", "answer", "document"]


@dataclass(frozen=True)
class Rules:
    """The community's settings: the hiding threshold and edit window, and the per-user posting quota.

    ``Rules()`` charges no quota (kb itself, tests); a surface serving people builds it with ``of``.
    """

    limits: service.Limits = field(default_factory=service.Limits)
    limiter: RateLimiter | None = None
    posting: str = ""

    @classmethod
    def of(cls, settings: Settings, limiter: RateLimiter | None) -> Rules:
        """The rules a running app applies: ``KB_FLAGS_TO_HIDE``, ``KB_COMMENT_EDIT_MINUTES``, ``KB_RATE_LIMIT_POSTING``."""
        return cls(limits=service.Limits(flags_to_hide=settings.flags_to_hide, comment_edit_minutes=settings.comment_edit_minutes),
                   limiter=limiter, posting=settings.rate_limit_posting)

    def charge_post(self, actor: Actor) -> None:
        """Count one post (comment, question, answer) against ``actor``'s quota.

        Raises:
            KbError RATE_LIMITED: past the quota (with Retry-After).
        """
        if self.limiter is not None:
            self.limiter.enforce(self.posting, "post", actor.username)


# ------------------------------------------------------------------------------- presentation

class _People:
    """Authors of one response, each looked up (with reputation) once."""

    def __init__(self, session: Session) -> None:
        self.session, self.cache = session, {}

    def __call__(self, user_id: int) -> Author | None:
        if user_id not in self.cache:
            user = self.session.get(User, user_id)
            self.cache[user_id] = Author(username=user.username, display_name=user.display_name,
                                         reputation=service.reputation(self.session, user_id)) if user else None
        return self.cache[user_id]


def _comment(item: Comment, slug: str, current: int, edits: int, people: _People, actor: Actor,
             notice: ModerationNotice | None = None, limits: service.Limits | None = None) -> CommentPublic:
    state = "deleted" if item.deleted_at else "hidden" if item.hidden else "visible"
    shown = state != "deleted" and service.may_see(actor, item)
    until = service.editable_until(actor, item, limits) if limits is not None else None
    return CommentPublic(id=item.id, document=slug, on_version=item.version_number, current_version=current,  # type: ignore[arg-type]
                         parent_id=item.parent_id, author=people(item.author_id) if state != "deleted" else None,
                         body_html=item.body_html if shown else None, created_at=item.created_at,
                         edited_at=item.edited_at, edits=edits, state=state,
                         moderation=notice if state == "hidden" else None,
                         editable_until=until, body_md=item.body_md if until else None)


def _question(session: Session, question: Question, actor: Actor) -> QuestionPublic:
    people = _People(session)
    visible = [a for a in service.answers_of(session, question.id) if service.may_see(actor, a)]  # type: ignore[arg-type]
    answer_scores = service.scores(session, "answer", [a.id for a in visible])  # type: ignore[misc]
    answer_notices = moderation.notices(session, actor=actor, kind="answer", posts=visible)  # type: ignore[arg-type]
    linked = json.loads(question.linked_document_ids)
    slugs = [p.document.slug for p in documents.published(session, linked)] if linked else []
    promoted = None
    if question.promoted_document_id:  # shown to whoever may see the document, in review too (issue 17)
        promoted = documents.promoted_document(session, actor=actor, document_id=question.promoted_document_id)
    space = accounts.get_space_by_id(session, question.space_id).slug if question.space_id is not None else None
    return QuestionPublic(
        id=question.id, title=question.title, body_html=question.body_html, tags=json.loads(question.tags),  # type: ignore[arg-type]
        documents=slugs, space=space, author=people(question.author_id), created_at=question.created_at,
        score=service.scores(session, "question", [question.id]).get(question.id, 0),  # type: ignore[list-item,arg-type]
        answers=[AnswerPublic(id=a.id, author=people(a.author_id), body_html=a.body_html, created_at=a.created_at,  # type: ignore[arg-type]
                              score=answer_scores.get(a.id, 0), accepted=a.id == question.accepted_answer_id,  # type: ignore[arg-type]
                              hidden=a.hidden, moderation=answer_notices.get(a.id)) for a in visible],  # type: ignore[arg-type]
        accepted_answer_id=question.accepted_answer_id, duplicate_of=question.duplicate_of_id, promoted_to=promoted,
        promoted=question.promoted_document_id is not None,
        hidden=question.hidden,
        moderation=moderation.notices(session, actor=actor, kind="question", posts=[question]).get(question.id),  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------------------ comments

def list_comments(session: Session, actor: Actor, *, slug: str, rules: Rules | None = None) -> CommentsPublic:
    """A document's comments, threaded by ``parent_id``; deleted ones as tombstones, hidden ones without text
    unless the actor wrote them or moderates. With ``rules``, the actor's own comments say until when
    they may edit them (``editable_until``, with their Markdown).

    Raises:
        KbError NOT_FOUND: no document ``slug``, or one the actor may not see (the same answer).
    """
    authorize(actor, "comment.list")
    thread = service.comments_of(session, actor=actor, slug=slug)
    edits = service.edit_counts(session, [c.id for c in thread.comments])  # type: ignore[misc]
    people = _People(session)
    notices = moderation.notices(session, actor=actor, kind="comment", posts=thread.comments)  # type: ignore[arg-type]
    data = [_comment(c, slug, thread.current_version, edits.get(c.id, 0), people, actor, notices.get(c.id),  # type: ignore[arg-type]
                     rules.limits if rules else None) for c in thread.comments]
    space = accounts.get_space_by_id(session, thread.space_id)
    return CommentsPublic(data=data, count=len(data),
                          public_since=space.public_community_since if space.public_community else None)


def create_comment(session: Session, actor: Actor, *, slug: str, data: CommentCreate, rules: Rules) -> CommentPublic:
    """Comment on the approved version of a document (a reply when ``data.parent_id`` is set).

    Raises:
        KbError RATE_LIMITED: past the posting quota.
        KbError NOT_FOUND: no document, no approved version, or no such parent comment on it (service).
        KbError VALIDATION_ERROR / CONFLICT: too many links for a new account, or the same text twice (service).
    """
    authorize(actor, "comment.create")
    rules.charge_post(actor)
    with transaction(session):
        item = service.comment(session, actor=actor, slug=slug, data=data)
    return _comment(item, slug, item.version_number, 0, _People(session), actor)


def edit_comment(session: Session, actor: Actor, *, comment_id: int, body_md: str, rules: Rules) -> CommentPublic:
    """The author edits a comment within the edit window; the previous text is kept.

    Raises:
        KbError NOT_FOUND / FORBIDDEN / CONFLICT: no such comment, not the author, deleted or past the window (service).
    """
    authorize(actor, "comment.edit")
    with transaction(session):
        item = service.edit_comment(session, actor=actor, comment_id=comment_id, body_md=body_md, limits=rules.limits)
    current = documents.published(session, [item.document_id])
    return _comment(item, current[0].document.slug if current else "", current[0].version.number if current else 0,
                    service.edit_counts(session, [item.id]).get(item.id, 0), _People(session), actor,  # type: ignore[list-item,arg-type]
                    moderation.notices(session, actor=actor, kind="comment", posts=[item]).get(item.id))  # type: ignore[arg-type,list-item]


def delete_comment(session: Session, actor: Actor, *, comment_id: int) -> None:
    """The author or a moderator deletes a comment; a tombstone stays so the thread keeps its shape.

    Raises:
        KbError NOT_FOUND / FORBIDDEN / CONFLICT: no such comment, neither author nor moderator, deleted already (service).
    """
    authorize(actor, "comment.delete")
    with transaction(session):
        service.delete_comment(session, actor=actor, comment_id=comment_id)


# ------------------------------------------------------------------------------ ratings, feedback

def get_rating(session: Session, actor: Actor, *, slug: str) -> RatingSummary:
    """A document's average rating, how many rated it, and the actor's own rating.

    Raises:
        KbError NOT_FOUND: no document ``slug``, or one the actor may not see (the same answer).
    """
    authorize(actor, "rating.read")
    document = documents.visible_document(session, actor=actor, slug=slug)
    average, count, mine = service.rating_summary(session, [document.id], actor.id)[document.id]  # type: ignore[list-item,index]
    return RatingSummary(document=slug, average=average, count=count, mine=mine)


def set_rating(session: Session, actor: Actor, *, slug: str, stars: int) -> RatingSummary:
    """Rate a document 1–5 (replaces the actor's previous rating); returns the new summary.

    Raises:
        KbError NOT_FOUND: no document, or none approved (service).
    """
    authorize(actor, "rating.set")
    with transaction(session):
        service.rate(session, actor=actor, slug=slug, stars=stars)
    return get_rating(session, actor, slug=slug)


def give_feedback(session: Session, actor: Actor, *, data: FeedbackCreate) -> dict[str, Any]:
    """"Did this answer your question?" on a search hit, kept for the insights.

    Raises:
        KbError NOT_FOUND: no document, or none approved (service).
    """
    authorize(actor, "feedback.give")
    with transaction(session):
        item = service.feedback(session, actor=actor, data=data)
    return {"id": item.id, "helpful": item.helpful}


def create_flag(session: Session, actor: Actor, *, data: FlagCreate, rules: Rules) -> dict[str, Any]:
    """Flag a comment, question, answer or document. Community content is hidden automatically after
    ``flags_to_hide`` distinct open flags, awaiting a moderator; a document flagged wrong or outdated
    goes to its owners' review queue.

    Raises:
        KbError NOT_FOUND / ALREADY_EXISTS: no such target (or hidden from the actor), or flagged by the actor already.
    """
    authorize(actor, "flag.create")
    with transaction(session):
        item = moderation.flag(session, actor=actor, data=data, limits=rules.limits)
    return {"id": item.id, "status": item.status}


# ---------------------------------------------------------------------------- questions, answers

def list_questions(session: Session, actor: Actor, *, limit: int, offset: int, unanswered: bool = False,
                   answered: bool = False) -> QuestionsPublic:
    """Questions newest first: only unanswered ones, only answered ones, or all with the unanswered first;
    ``count`` is the number of such questions (for paging)."""
    authorize(actor, "question.list")
    questions, counts, total = service.list_questions(session, unanswered=unanswered, answered=answered,
                                                      limit=limit, offset=offset)
    question_scores = service.scores(session, "question", [q.id for q in questions])  # type: ignore[misc]
    data = [QuestionSummary(id=q.id, title=q.title, tags=json.loads(q.tags), answers=counts.get(q.id, 0),  # type: ignore[arg-type]
                            score=question_scores.get(q.id, 0), accepted=q.accepted_answer_id is not None,  # type: ignore[arg-type]
                            created_at=q.created_at) for q in questions]
    return QuestionsPublic(data=data, count=total)


def my_questions(session: Session, actor: Actor) -> MyQuestions:
    """The questions the actor asked and those they answered, newest first (issue 17: my work)."""
    authorize(actor, "me.work")
    asked, answered, counts = service.questions_of(session, actor.id)  # type: ignore[arg-type]
    question_scores = service.scores(session, "question", [q.id for q in asked + answered])  # type: ignore[misc]

    def summary(q: Question) -> QuestionSummary:
        return QuestionSummary(id=q.id, title=q.title, tags=json.loads(q.tags), answers=counts.get(q.id, 0),  # type: ignore[arg-type]
                               score=question_scores.get(q.id, 0), accepted=q.accepted_answer_id is not None,  # type: ignore[arg-type]
                               created_at=q.created_at)
    return MyQuestions(asked=[summary(q) for q in asked], answered=[summary(q) for q in answered])


def get_question(session: Session, actor: Actor, *, question_id: int) -> QuestionPublic:
    """A question with the answers the actor may see.

    Raises:
        KbError NOT_FOUND: no such question, or hidden from the actor (service).
    """
    authorize(actor, "question.read")
    return _question(session, service.get_question(session, actor=actor, question_id=question_id), actor)


@dataclass(frozen=True)
class QuestionView:
    """A question as its page shows it: the question, and whether the actor may accept an answer."""

    question: QuestionPublic
    may_accept: bool


def view_question(session: Session, actor: Actor, *, question_id: int) -> QuestionView:
    """``get_question`` with what the page offers the actor (accepting an answer: the asker or a space owner).

    Raises:
        KbError NOT_FOUND: no such question, or hidden from the actor (service).
    """
    authorize(actor, "question.read")
    question = service.get_question(session, actor=actor, question_id=question_id)
    return QuestionView(question=_question(session, question, actor), may_accept=service.may_accept(actor, question))


def ask_question(session: Session, actor: Actor, *, data: QuestionCreate, rules: Rules) -> QuestionPublic:
    """Ask a question, optionally in a space and linked to documents.

    Raises:
        KbError RATE_LIMITED: past the posting quota.
        KbError NOT_FOUND: no such space or linked document (service).
        KbError VALIDATION_ERROR / CONFLICT: too many links for a new account, or the same text twice (service).
    """
    authorize(actor, "question.create")
    rules.charge_post(actor)
    with transaction(session):
        question = service.ask(session, actor=actor, data=data)
    return _question(session, question, actor)


def answer_question(session: Session, actor: Actor, *, question_id: int, data: AnswerCreate, rules: Rules) -> QuestionPublic:
    """Answer a question; returns the question with its answers.

    Raises:
        KbError RATE_LIMITED: past the posting quota.
        KbError NOT_FOUND / CONFLICT: no such question, or it is closed as a duplicate (service).
        KbError VALIDATION_ERROR / CONFLICT: too many links for a new account, or the same text twice (service).
    """
    authorize(actor, "answer.create")
    rules.charge_post(actor)
    with transaction(session):
        service.answer(session, actor=actor, question_id=question_id, data=data)
    return get_question(session, actor, question_id=question_id)


def cast_vote(session: Session, actor: Actor, *, kind: PostKind, post_id: int, value: int) -> dict[str, Any]:
    """Vote +1 or −1 on a question or an answer (a second vote replaces the first); returns the new score.

    Raises:
        KbError NOT_FOUND / FORBIDDEN: no such post, or the actor's own (service).
    """
    authorize(actor, "vote.cast")
    with transaction(session):
        service.vote(session, actor=actor, kind=kind, post_id=post_id, value=value)
    return {"kind": kind, "id": post_id, "score": service.scores(session, kind, [post_id]).get(post_id, 0), "mine": value}


def accept_answer(session: Session, actor: Actor, *, question_id: int, answer_id: int) -> QuestionPublic:
    """The asker or an owner of the question's space accepts an answer.

    Raises:
        KbError NOT_FOUND / FORBIDDEN: no such question or answer to it, or the actor may not accept (service).
    """
    authorize(actor, "question.accept")
    with transaction(session):
        question = service.accept(session, actor=actor, question_id=question_id, answer_id=answer_id)
    return _question(session, question, actor)


def close_question(session: Session, actor: Actor, *, question_id: int, duplicate_of: int) -> QuestionPublic:
    """Close a question as a duplicate of another (the asker, an owner of its space or a moderator).

    Raises:
        KbError NOT_FOUND / FORBIDDEN / CONFLICT: no such question, the actor may not close it, or itself (service).
    """
    authorize(actor, "question.close")
    with transaction(session):
        question = service.close_duplicate(session, actor=actor, question_id=question_id, duplicate_of=duplicate_of)
    return _question(session, question, actor)


def promote_answer(session: Session, actor: Actor, *, question_id: int, data: PromoteRequest) -> dict[str, Any]:
    """A space owner turns the accepted answer into a curated document submitted for review (another owner
    approves it), in the question's space and titled from the question unless ``data`` says otherwise.

    Raises:
        KbError FORBIDDEN: the actor owns no space, or not the space (documents).
        KbError CONFLICT: no accepted answer, or promoted already (service).
        KbError VALIDATION_ERROR: no space named for a question in none (service).
        KbError ALREADY_EXISTS: the slug is taken (documents).
    """
    authorize(actor, "question.promote")
    with transaction(session):
        slug = service.promote(session, actor=actor, question_id=question_id, data=data)
    return {"document": slug, "state": "in_review", "source_kind": "promoted_answer"}


# ------------------------------------------------------------------------------ people, moderation

def read_person(session: Session, actor: Actor, *, username: str) -> ProfilePublic:
    """A colleague's community profile and reputation.

    Raises:
        KbError NOT_FOUND: no such user.
    """
    authorize(actor, "person.read")
    return ProfilePublic(**service.profile(session, username=username))


def moderation_queue(session: Session, actor: Actor) -> ModerationQueuePublic:
    """One entry per flagged post: every open flag and its reason, the post in its thread and its state,
    the decisions open now; the post reported first comes first."""
    authorize(actor, "moderation.queue")
    data = moderation.moderation_queue(session)
    return ModerationQueuePublic(data=data, count=len(data))


def moderate(session: Session, actor: Actor, *, kind: TargetKind, target_id: str,
             decision: ModerationDecision) -> ModerationOutcome:
    """Hide, dismiss or restore one post, with a reason: one decision resolves all its open flags
    (docs/moderation.md; a document's flags can only be dismissed).

    Raises:
        KbError NOT_FOUND: no such post or document (moderation).
        KbError CONFLICT: the decision table refuses it from the post's state, or other flags are open
            than ``decision.flag_ids`` (moderation).
    """
    authorize(actor, "moderation.decide")
    with transaction(session):
        return moderation.moderate(session, actor=actor, kind=kind, target_id=target_id, decision=decision)
