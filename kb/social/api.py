"""HTTP routes of the social layer. Every response is labelled community content."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from kb import documents
from kb.accounts.models import User
from kb.actors import Access, Actor
from kb.db import MAX_ROW_ID, transaction
from kb.http import PageDep, SessionDep, api_router_options, require
from kb.social import service
from kb.social.models import Answer, Comment, Question
from kb.social.schemas import (
    AnswerCreate, AnswerPublic, Author, CommentCreate, CommentPublic, CommentsPublic, CommentUpdate, DuplicateClose,
    FeedbackCreate, FlagCreate, FlagPublic, FlagsPublic, ModerationDecision, ProfilePublic, PromoteRequest,
    QuestionCreate, QuestionPublic, QuestionSummary, QuestionsPublic, RatingSet, RatingSummary, VoteSet,
)

router = APIRouter(prefix="/api/v1", **api_router_options("community"))
Signed = Annotated[Actor, Depends(require(Access.signed_in))]
Id = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
DocSlug = Annotated[str, Path(max_length=120)]


class AcceptRequest(BaseModel):
    answer_id: Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


def _limits(request: Request) -> service.Limits:
    settings = request.app.state.settings
    return service.Limits(flags_to_hide=settings.flags_to_hide, comment_edit_minutes=settings.comment_edit_minutes)


def _quota(request: Request, actor: Actor) -> None:
    """Per-user posting quota (comments, questions, answers): 429 with Retry-After past it."""
    request.app.state.rate_limiter.enforce(request.app.state.settings.rate_limit_posting, "post", actor.username)


class _People:
    """Authors of one response, each looked up (with reputation) once."""

    def __init__(self, session) -> None:  # noqa: ANN001
        self.session, self.cache = session, {}

    def __call__(self, user_id: int) -> Author | None:
        if user_id not in self.cache:
            user = self.session.get(User, user_id)
            self.cache[user_id] = Author(username=user.username, display_name=user.display_name,
                                        reputation=service.reputation(self.session, user_id)) if user else None
        return self.cache[user_id]


def _comment(item: Comment, slug: str, current: int, edits: int, people: _People, actor: Actor) -> CommentPublic:
    state = "deleted" if item.deleted_at else "hidden" if item.hidden else "visible"
    shown = state == "visible" or (state == "hidden" and (actor.is_moderator or item.author_id == actor.id))
    return CommentPublic(id=item.id, document=slug, on_version=item.version_number, current_version=current,  # type: ignore[arg-type]
                         parent_id=item.parent_id, author=people(item.author_id) if state != "deleted" else None,
                         body_html=item.body_html if shown else None, created_at=item.created_at,
                         edited_at=item.edited_at, edits=edits, state=state)


@router.get("/documents/{slug}/comments", response_model=CommentsPublic, summary="Comments on a document (community)")
def list_comments(slug: DocSlug, session: SessionDep, actor: Signed) -> CommentsPublic:
    items, current = service.comments_of(session, slug=slug)
    edits = service.edit_counts(session, [c.id for c in items])  # type: ignore[misc]
    people = _People(session)
    data = [_comment(c, slug, current, edits.get(c.id, 0), people, actor) for c in items]
    return CommentsPublic(data=data, count=len(data))


@router.post("/documents/{slug}/comments", status_code=status.HTTP_201_CREATED, response_model=CommentPublic,
             summary="Comment on a document's approved version")
def create_comment(slug: DocSlug, body: CommentCreate, request: Request, session: SessionDep, actor: Signed) -> CommentPublic:
    _quota(request, actor)
    with transaction(session):
        item = service.comment(session, actor=actor, slug=slug, data=body)
    return _comment(item, slug, item.version_number, 0, _People(session), actor)


@router.patch("/comments/{comment_id}", response_model=CommentPublic, summary="Edit your comment (within the edit window)")
def edit_comment(comment_id: Id, body: CommentUpdate, request: Request, session: SessionDep, actor: Signed) -> CommentPublic:
    with transaction(session):
        item = service.edit_comment(session, actor=actor, comment_id=comment_id, body_md=body.body_md, limits=_limits(request))
    slug = documents.published(session, [item.document_id])
    return _comment(item, slug[0].document.slug if slug else "", slug[0].version.number if slug else 0,
                    service.edit_counts(session, [item.id]).get(item.id, 0), _People(session), actor)  # type: ignore[list-item]


@router.delete("/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Delete a comment (a tombstone stays)")
def delete_comment(comment_id: Id, session: SessionDep, actor: Signed) -> Response:
    with transaction(session):
        service.delete_comment(session, actor=actor, comment_id=comment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _rating(session, slug: str, actor: Actor) -> RatingSummary:  # noqa: ANN001
    document = documents.get_document(session, slug)
    average, count, mine = service.rating_summary(session, [document.id], actor.id)[document.id]  # type: ignore[list-item,index]
    return RatingSummary(document=slug, average=average, count=count, mine=mine)


@router.get("/documents/{slug}/rating", response_model=RatingSummary, summary="Average rating of a document (community)")
def get_rating(slug: DocSlug, session: SessionDep, actor: Signed) -> RatingSummary:
    return _rating(session, slug, actor)


@router.put("/documents/{slug}/rating", response_model=RatingSummary, summary="Rate a document 1–5 (replaces your rating)")
def set_rating(slug: DocSlug, body: RatingSet, session: SessionDep, actor: Signed) -> RatingSummary:
    with transaction(session):
        service.rate(session, actor=actor, slug=slug, stars=body.stars)
    return _rating(session, slug, actor)


@router.post("/feedback", status_code=status.HTTP_201_CREATED, response_model=dict,
             summary="'Did this answer your question?' on a search hit")
def give_feedback(body: FeedbackCreate, session: SessionDep, actor: Signed) -> dict:
    with transaction(session):
        item = service.feedback(session, actor=actor, data=body)
    return {"id": item.id, "helpful": item.helpful}


def _question(session, question: Question, actor: Actor) -> QuestionPublic:  # noqa: ANN001
    people = _People(session)
    answers = service.answers_of(session, question.id)  # type: ignore[arg-type]
    answer_scores = service.scores(session, "answer", [a.id for a in answers])  # type: ignore[misc]
    moderator = actor.is_moderator
    visible = [a for a in answers if not a.hidden or moderator or a.author_id == actor.id]
    linked = json.loads(question.linked_document_ids)
    slugs = [p.document.slug for p in documents.published(session, linked)] if linked else []
    promoted = None
    if question.promoted_document_id:
        approved = documents.published(session, [question.promoted_document_id])
        promoted = approved[0].document.slug if approved else None
    space = None
    if question.space_id is not None:
        from kb.accounts import service as accounts

        space = accounts.get_space_by_id(session, question.space_id).slug
    return QuestionPublic(
        id=question.id, title=question.title, body_html=question.body_html, tags=json.loads(question.tags),  # type: ignore[arg-type]
        documents=slugs, space=space, author=people(question.author_id), created_at=question.created_at,
        score=service.scores(session, "question", [question.id]).get(question.id, 0),  # type: ignore[list-item,arg-type]
        answers=[AnswerPublic(id=a.id, author=people(a.author_id), body_html=a.body_html if not a.hidden or moderator or a.author_id == actor.id else None,  # type: ignore[arg-type]
                              created_at=a.created_at, score=answer_scores.get(a.id, 0), accepted=a.id == question.accepted_answer_id,  # type: ignore[arg-type]
                              hidden=a.hidden) for a in visible],
        accepted_answer_id=question.accepted_answer_id, duplicate_of=question.duplicate_of_id, promoted_to=promoted,
        hidden=question.hidden,
    )


@router.get("/questions", response_model=QuestionsPublic, summary="Questions, unanswered first (community)")
def list_questions(session: SessionDep, actor: Signed, page: PageDep,
                   unanswered: Annotated[bool, Query(description="Only questions without answers")] = False) -> QuestionsPublic:
    questions, counts, total = service.list_questions(session, unanswered=unanswered, limit=page.limit, offset=page.offset)
    question_scores = service.scores(session, "question", [q.id for q in questions])  # type: ignore[misc]
    data = [QuestionSummary(id=q.id, title=q.title, tags=json.loads(q.tags), answers=counts.get(q.id, 0),  # type: ignore[arg-type]
                            score=question_scores.get(q.id, 0), accepted=q.accepted_answer_id is not None,  # type: ignore[arg-type]
                            created_at=q.created_at) for q in questions]
    return QuestionsPublic(data=data, count=total)


@router.post("/questions", status_code=status.HTTP_201_CREATED, response_model=QuestionPublic, summary="Ask a question")
def ask(body: QuestionCreate, request: Request, session: SessionDep, actor: Signed) -> QuestionPublic:
    _quota(request, actor)
    with transaction(session):
        question = service.ask(session, actor=actor, data=body)
    return _question(session, question, actor)


@router.get("/questions/{question_id}", response_model=QuestionPublic, summary="A question with its answers")
def get_question(question_id: Id, session: SessionDep, actor: Signed) -> QuestionPublic:
    return _question(session, service.get_question(session, actor=actor, question_id=question_id), actor)


@router.post("/questions/{question_id}/answers", status_code=status.HTTP_201_CREATED, response_model=QuestionPublic,
             summary="Answer a question")
def answer(question_id: Id, body: AnswerCreate, request: Request, session: SessionDep, actor: Signed) -> QuestionPublic:
    _quota(request, actor)
    with transaction(session):
        service.answer(session, actor=actor, question_id=question_id, data=body)
    return _question(session, service.get_question(session, actor=actor, question_id=question_id), actor)


@router.put("/{kind}/{post_id}/vote", response_model=dict, summary="Vote +1 or −1 on a question or answer (not your own)")
def vote(kind: Literal["questions", "answers"], post_id: Id, body: VoteSet, session: SessionDep, actor: Signed) -> dict:
    singular = kind[:-1]
    with transaction(session):
        service.vote(session, actor=actor, kind=singular, post_id=post_id, value=body.value)
    return {"kind": singular, "id": post_id, "score": service.scores(session, singular, [post_id]).get(post_id, 0), "mine": body.value}


@router.post("/questions/{question_id}/accept", response_model=QuestionPublic, summary="Accept an answer (asker or space owner)")
def accept(question_id: Id, body: AcceptRequest, session: SessionDep, actor: Signed) -> QuestionPublic:
    with transaction(session):
        question = service.accept(session, actor=actor, question_id=question_id, answer_id=body.answer_id)
    return _question(session, question, actor)


@router.post("/questions/{question_id}/close", response_model=QuestionPublic, summary="Close as a duplicate of another question")
def close(question_id: Id, body: DuplicateClose, session: SessionDep, actor: Signed) -> QuestionPublic:
    with transaction(session):
        question = service.close_duplicate(session, actor=actor, question_id=question_id, duplicate_of=body.duplicate_of)
    return _question(session, question, actor)


@router.post("/questions/{question_id}/promote", status_code=status.HTTP_201_CREATED, response_model=dict,
             summary="Promote the accepted answer into a draft document (space owners)")
def promote(question_id: Id, body: PromoteRequest, session: SessionDep,
            actor: Annotated[Actor, Depends(require(Access.owner))]) -> dict:
    with transaction(session):
        slug = service.promote(session, actor=actor, question_id=question_id, data=body)
    return {"document": slug, "state": "draft", "source_kind": "promoted_answer"}


@router.post("/flags", status_code=status.HTTP_201_CREATED, response_model=dict,
             summary="Flag a comment, question, answer or document (spam, offensive, wrong, outdated, other)")
def create_flag(body: FlagCreate, request: Request, session: SessionDep, actor: Signed) -> dict:
    with transaction(session):
        item = service.flag(session, actor=actor, data=body, limits=_limits(request))
    return {"id": item.id, "status": item.status}


def _excerpt(session, kind: str, target_id: int) -> tuple[str, bool, str]:  # noqa: ANN001
    if kind == "document":
        found = documents.published(session, [target_id])
        return (found[0].document.slug if found else str(target_id)), False, (found[0].version.title if found else "")
    model = {"comment": Comment, "question": Question, "answer": Answer}[kind]
    item = session.get(model, target_id)
    text = (getattr(item, "title", None) or item.body_md) if item else ""
    return str(target_id), bool(item and item.hidden), text[:200]


@router.get("/moderation/queue", response_model=FlagsPublic, summary="Flagged items waiting for a moderator")
def moderation_queue(session: SessionDep, actor: Annotated[Actor, Depends(require(Access.moderator))]) -> FlagsPublic:
    flags = service.moderation_queue(session, actor=actor)
    data = []
    for item in flags:
        key, hidden, excerpt = _excerpt(session, item.target_kind, item.target_id)
        user = session.get(User, item.user_id)
        data.append(FlagPublic(id=item.id, target=item.target_kind, target_id=key, reason=item.reason, note=item.note,  # type: ignore[arg-type]
                               status=item.status, flagged_by=user.username if user else "?", created_at=item.created_at,
                               target_hidden=hidden, target_excerpt=excerpt))
    return FlagsPublic(data=data, count=len(data))


@router.post("/moderation/{kind}/{target_id}", response_model=dict, summary="Hide, restore or dismiss, with a reason")
def moderate(kind: Literal["comment", "question", "answer", "document"], target_id: Annotated[str, Path(max_length=120)],
             body: ModerationDecision, session: SessionDep,
             actor: Annotated[Actor, Depends(require(Access.moderator))]) -> dict:
    with transaction(session):
        service.moderate(session, actor=actor, kind=kind, target_id=target_id, decision=body)
    return {"target": kind, "target_id": target_id, "action": body.action}


@router.get("/people/{username}", response_model=ProfilePublic, summary="A colleague's profile and reputation")
def person(username: Annotated[str, Path(max_length=64)], session: SessionDep, actor: Signed) -> ProfilePublic:
    return ProfilePublic(**service.profile(session, username=username))
