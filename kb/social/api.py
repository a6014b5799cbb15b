"""HTTP routes of the social layer. Every response is labelled community content.

Each route declares its row of ``kb.permissions`` with ``require_for``, translates the request and
calls exactly one action of ``kb.social.actions``: no transactions, services or role checks here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from kb.actors import Actor
from kb.db import MAX_ROW_ID
from kb.http import PageDep, SessionDep, api_router_options, require_for
from kb.social import actions
from kb.social.schemas import (
    AnswerCreate, CommentCreate, CommentPublic, CommentsPublic, CommentUpdate, DuplicateClose, FeedbackCreate,
    FlagCreate, ModerationDecision, ModerationOutcome, ModerationQueuePublic, ProfilePublic, PromoteRequest,
    QuestionCreate, QuestionPublic, QuestionsPublic, RatingSet, RatingSummary, VoteSet, WholeNumber,
)

router = APIRouter(prefix="/api/v1", **api_router_options("community"))
Id = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
DocSlug = Annotated[str, Path(max_length=120)]


class AcceptRequest(BaseModel):
    answer_id: Annotated[int, WholeNumber, Field(ge=1, le=MAX_ROW_ID)]


def _rules(request: Request) -> actions.Rules:
    return actions.Rules.of(request.app.state.settings, request.app.state.rate_limiter)


@router.get("/documents/{slug}/comments", response_model=CommentsPublic, summary="Comments on a document (community)")
def list_comments(slug: DocSlug, request: Request, session: SessionDep,
                  actor: Annotated[Actor, Depends(require_for("comment.list"))]) -> CommentsPublic:
    return actions.list_comments(session, actor, slug=slug, rules=_rules(request))


@router.post("/documents/{slug}/comments", status_code=status.HTTP_201_CREATED, response_model=CommentPublic,
             summary="Comment on a document's approved version")
def create_comment(slug: DocSlug, body: CommentCreate, request: Request, session: SessionDep,
                   actor: Annotated[Actor, Depends(require_for("comment.create"))]) -> CommentPublic:
    return actions.create_comment(session, actor, slug=slug, data=body, rules=_rules(request))


@router.patch("/comments/{comment_id}", response_model=CommentPublic, summary="Edit your comment (within the edit window)")
def edit_comment(comment_id: Id, body: CommentUpdate, request: Request, session: SessionDep,
                 actor: Annotated[Actor, Depends(require_for("comment.edit"))]) -> CommentPublic:
    return actions.edit_comment(session, actor, comment_id=comment_id, body_md=body.body_md, rules=_rules(request))


@router.delete("/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Delete a comment (a tombstone stays)")
def delete_comment(comment_id: Id, session: SessionDep,
                   actor: Annotated[Actor, Depends(require_for("comment.delete"))]) -> Response:
    actions.delete_comment(session, actor, comment_id=comment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/documents/{slug}/rating", response_model=RatingSummary, summary="Average rating of a document (community)")
def get_rating(slug: DocSlug, session: SessionDep,
               actor: Annotated[Actor, Depends(require_for("rating.read"))]) -> RatingSummary:
    return actions.get_rating(session, actor, slug=slug)


@router.put("/documents/{slug}/rating", response_model=RatingSummary, summary="Rate a document 1–5 (replaces your rating)")
def set_rating(slug: DocSlug, body: RatingSet, session: SessionDep,
               actor: Annotated[Actor, Depends(require_for("rating.set"))]) -> RatingSummary:
    return actions.set_rating(session, actor, slug=slug, stars=body.stars)


@router.post("/feedback", status_code=status.HTTP_201_CREATED, response_model=dict,
             summary="'Did this answer your question?' on a search hit")
def give_feedback(body: FeedbackCreate, session: SessionDep,
                  actor: Annotated[Actor, Depends(require_for("feedback.give"))]) -> dict:
    return actions.give_feedback(session, actor, data=body)


@router.get("/questions", response_model=QuestionsPublic, summary="Questions, unanswered first (community)")
def list_questions(session: SessionDep, actor: Annotated[Actor, Depends(require_for("question.list"))], page: PageDep,
                   unanswered: Annotated[bool, Query(description="Only questions without answers")] = False) -> QuestionsPublic:
    return actions.list_questions(session, actor, unanswered=unanswered, limit=page.limit, offset=page.offset)


@router.post("/questions", status_code=status.HTTP_201_CREATED, response_model=QuestionPublic, summary="Ask a question")
def ask(body: QuestionCreate, request: Request, session: SessionDep,
        actor: Annotated[Actor, Depends(require_for("question.create"))]) -> QuestionPublic:
    return actions.ask_question(session, actor, data=body, rules=_rules(request))


@router.get("/questions/{question_id}", response_model=QuestionPublic, summary="A question with its answers")
def get_question(question_id: Id, session: SessionDep,
                 actor: Annotated[Actor, Depends(require_for("question.read"))]) -> QuestionPublic:
    return actions.get_question(session, actor, question_id=question_id)


@router.post("/questions/{question_id}/answers", status_code=status.HTTP_201_CREATED, response_model=QuestionPublic,
             summary="Answer a question")
def answer(question_id: Id, body: AnswerCreate, request: Request, session: SessionDep,
           actor: Annotated[Actor, Depends(require_for("answer.create"))]) -> QuestionPublic:
    return actions.answer_question(session, actor, question_id=question_id, data=body, rules=_rules(request))


@router.put("/{kind}/{post_id}/vote", response_model=dict, summary="Vote +1 or −1 on a question or answer (not your own)")
def vote(kind: Literal["questions", "answers"], post_id: Id, body: VoteSet, session: SessionDep,
         actor: Annotated[Actor, Depends(require_for("vote.cast"))]) -> dict:
    return actions.cast_vote(session, actor, kind="question" if kind == "questions" else "answer", post_id=post_id,
                             value=body.value)


@router.post("/questions/{question_id}/accept", response_model=QuestionPublic, summary="Accept an answer (asker or space owner)")
def accept(question_id: Id, body: AcceptRequest, session: SessionDep,
           actor: Annotated[Actor, Depends(require_for("question.accept"))]) -> QuestionPublic:
    return actions.accept_answer(session, actor, question_id=question_id, answer_id=body.answer_id)


@router.post("/questions/{question_id}/close", response_model=QuestionPublic, summary="Close as a duplicate of another question")
def close(question_id: Id, body: DuplicateClose, session: SessionDep,
          actor: Annotated[Actor, Depends(require_for("question.close"))]) -> QuestionPublic:
    return actions.close_question(session, actor, question_id=question_id, duplicate_of=body.duplicate_of)


@router.post("/questions/{question_id}/promote", status_code=status.HTTP_201_CREATED, response_model=dict,
             summary="Promote the accepted answer into a draft document (space owners)")
def promote(question_id: Id, body: PromoteRequest, session: SessionDep,
            actor: Annotated[Actor, Depends(require_for("question.promote"))]) -> dict:
    return actions.promote_answer(session, actor, question_id=question_id, data=body)


@router.post("/flags", status_code=status.HTTP_201_CREATED, response_model=dict,
             summary="Flag a comment, question, answer or document (spam, offensive, wrong, outdated, other)")
def create_flag(body: FlagCreate, request: Request, session: SessionDep,
                actor: Annotated[Actor, Depends(require_for("flag.create"))]) -> dict:
    return actions.create_flag(session, actor, data=body, rules=_rules(request))


@router.get("/moderation/queue", response_model=ModerationQueuePublic,
            summary="Flagged posts waiting for a moderator: one entry per post with all its flags")
def moderation_queue(session: SessionDep,
                     actor: Annotated[Actor, Depends(require_for("moderation.queue"))]) -> ModerationQueuePublic:
    return actions.moderation_queue(session, actor)


@router.post("/moderation/{kind}/{target_id}", response_model=ModerationOutcome,
             summary="Hide, dismiss or restore a post, with a reason: one decision for all its open flags")
def moderate(kind: Literal["comment", "question", "answer", "document"], target_id: Annotated[str, Path(max_length=120)],
             body: ModerationDecision, session: SessionDep,
             actor: Annotated[Actor, Depends(require_for("moderation.decide"))]) -> ModerationOutcome:
    return actions.moderate(session, actor, kind=kind, target_id=target_id, decision=body)


@router.get("/people/{username}", response_model=ProfilePublic, summary="A colleague's profile and reputation")
def person(username: Annotated[str, Path(max_length=64)], session: SessionDep,
           actor: Annotated[Actor, Depends(require_for("person.read"))]) -> ProfilePublic:
    return actions.read_person(session, actor, username=username)
