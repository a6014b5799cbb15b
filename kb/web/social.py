"""Web pages: Questions and answers, and moderation."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import ValidationError

from kb.db import MAX_ROW_ID
from kb.documents import api as documents_api
from kb.errors import ErrorCode, KbError
from kb.experts import api as experts_api
from kb.http import Page
from kb.social import api as social_api
from kb.social import service as social
from kb.social.schemas import (
    AnswerCreate,
    CommentCreate,
    FeedbackCreate,
    FlagCreate,
    ModerationDecision,
    PromoteRequest,
    QuestionCreate,
    RatingSet,
    VoteSet,
)
from kb.web.common import (
    Csrf,
    SessionDep,
    ViewerDep,
    WebRoute,
    back,
    checked,
    describe_invalid,
    local_path,
    page,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=WebRoute)


# ----------------------------------------------------------------------------------- questions

QUESTIONS_PER_PAGE = 20


@router.get("/questions")
def questions_page(request: Request, session: SessionDep, who: ViewerDep,
                   page_number: Annotated[int, Query(alias="page", ge=1, le=1000)] = 1) -> Response:
    actor = signed_in(who)
    pager = Page(limit=QUESTIONS_PER_PAGE, offset=(page_number - 1) * QUESTIONS_PER_PAGE)
    unanswered = social_api.list_questions(session, actor, pager, unanswered=True)
    recent, counts, answered = social.list_questions(session, unanswered=False, answered=True,
                                                     limit=pager.limit, offset=pager.offset)
    scores = social.scores(session, "question", [q.id for q in recent])  # type: ignore[misc]
    more = max(unanswered.count, answered) > page_number * QUESTIONS_PER_PAGE
    return page(request, "questions.html", who, unanswered=unanswered.data, recent=recent, counts=counts, scores=scores,
                page_number=page_number, more=more)


@router.get("/questions/ask")
def ask_form(request: Request, who: ViewerDep, q: Annotated[str, Query(max_length=300)] = "") -> Response:
    signed_in(who)
    return page(request, "ask.html", who, values={"title": q, "body_md": "", "tags": "", "space": ""},
                spaces=sorted(who.spaces.values()), error=None)


@router.post("/questions")
def ask(request: Request, session: SessionDep, who: ViewerDep, title: Annotated[str, Form(max_length=300)],
        body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None,
        tags: Annotated[str, Form(max_length=500)] = "", space: Annotated[str, Form(max_length=64)] = "") -> Response:
    actor = checked(who, csrf)
    values = {"title": title, "body_md": body_md, "tags": tags, "space": space}
    try:
        data = QuestionCreate(title=title, body_md=body_md, tags=[t.strip() for t in tags.split(",") if t.strip()],
                              space=space or None)
        question = social_api.ask(data, request, session, actor)
    except (KbError, ValidationError) as error:
        message = error.message if isinstance(error, KbError) else describe_invalid(error)
        status_code = error.code.status if isinstance(error, KbError) else 422
        return page(request, "ask.html", who, status_code=status_code, values=values, spaces=sorted(who.spaces.values()),
                    error=message)
    return back(f"/questions/{question.id}", "asked")


@router.get("/questions/{question_id}")
def question_page(request: Request, session: SessionDep, who: ViewerDep,
                  question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]) -> Response:
    actor = signed_in(who)
    question = social_api.get_question(question_id, session, actor)
    suggested = []
    if not question.answers:
        suggested = experts_api.suggest_for_question(question_id, request, session, actor).data
    can_accept = social.may_accept(actor, social.get_question(session, actor=actor, question_id=question_id))
    return page(request, "question.html", who, question=question, suggested=suggested, can_accept=can_accept,
                owned=who.owned_spaces())


@router.post("/questions/{question_id}/answers")
def post_answer(request: Request, session: SessionDep, who: ViewerDep,
                question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    social_api.answer(question_id, AnswerCreate(body_md=body_md), request, session, actor)
    return back(f"/questions/{question_id}", "answered")


@router.post("/votes/{kind}/{post_id}")
def post_vote(session: SessionDep, who: ViewerDep, kind: Annotated[str, PathParam(pattern="^(questions|answers)$")],
              post_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)], value: Annotated[int, Form(ge=-1, le=1)],
              question: Annotated[int, Form(ge=1, le=MAX_ROW_ID)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    social_api.vote(kind, post_id, VoteSet(value=value), session, actor)  # type: ignore[arg-type]
    return back(f"/questions/{question}", "voted")


@router.post("/questions/{question_id}/accept")
def post_accept(session: SessionDep, who: ViewerDep, question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                answer_id: Annotated[int, Form(ge=1, le=MAX_ROW_ID)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    social_api.accept(question_id, social_api.AcceptRequest(answer_id=answer_id), session, actor)
    return back(f"/questions/{question_id}", "accepted")


@router.post("/questions/{question_id}/promote")
def post_promote(session: SessionDep, who: ViewerDep, question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                 space: Annotated[str, Form(max_length=64)], slug: Annotated[str, Form(max_length=120)],
                 csrf: Csrf = None, audience: Annotated[str, Form(pattern="^(internal|public)$")] = "internal") -> Response:
    actor = checked(who, csrf)
    result = social_api.promote(question_id, PromoteRequest(space=space, slug=slug, audience=audience), session, actor)  # type: ignore[arg-type]
    return back(f"/d/{quote(str(result['document']))}", "promoted")



# ---------------------------------------------------------------------------------- moderation

@router.get("/moderation")
def moderation_page(request: Request, session: SessionDep, who: ViewerDep) -> Response:
    actor = signed_in(who)
    if not actor.is_moderator:
        raise KbError(ErrorCode.FORBIDDEN, "The moderation queue is for moderators")
    flags = social_api.moderation_queue(session, actor).data
    return page(request, "moderation.html", who, flags=flags)


@router.post("/moderation/{kind}/{target_id}")
def moderate(session: SessionDep, who: ViewerDep, kind: Annotated[str, PathParam(pattern="^(comment|question|answer|document)$")],
             target_id: Annotated[str, PathParam(max_length=120)], action: Annotated[str, Form(pattern="^(hide|restore|dismiss)$")],
             reason: Annotated[str, Form(max_length=1000)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    if not actor.is_moderator:
        raise KbError(ErrorCode.FORBIDDEN, "Moderation is for moderators")
    social_api.moderate(kind, target_id, ModerationDecision(action=action, reason=reason), session, actor)  # type: ignore[arg-type]
    return back("/moderation", "moderated")


# ------------------------------------------------------------------- on documents: comments, ratings, flags, feedback

@router.post("/d/{slug}/comments")
def post_comment(request: Request, session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
                 body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None,
                 parent_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None) -> Response:
    actor = checked(who, csrf)
    social_api.create_comment(slug, CommentCreate(body_md=body_md, parent_id=parent_id), request, session, actor)
    return back(f"/d/{quote(slug)}#comments", "commented")


@router.post("/d/{slug}/rating")
def post_rating(session: SessionDep, who: ViewerDep, slug: Annotated[str, documents_api.DocSlugPath],
                stars: Annotated[int, Form(ge=1, le=5)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    social_api.set_rating(slug, RatingSet(stars=stars), session, actor)
    return back(f"/d/{quote(slug)}", "rated")


@router.post("/flags")
def post_flag(request: Request, session: SessionDep, who: ViewerDep,
              target: Annotated[str, Form(pattern="^(comment|question|answer|document)$")],
              target_id: Annotated[str, Form(max_length=120)], reason: Annotated[str, Form(max_length=20)],
              csrf: Csrf = None, note: Annotated[str, Form(max_length=1000)] = "",
              next: Annotated[str | None, Form(max_length=500)] = None) -> Response:  # noqa: A002
    actor = checked(who, csrf)
    social_api.create_flag(FlagCreate(target=target, target_id=target_id, reason=reason, note=note),  # type: ignore[arg-type]
                           request, session, actor)
    return back(local_path(next), "flagged")


@router.post("/feedback")
def give_feedback(session: SessionDep, who: ViewerDep, document: Annotated[str, Form(max_length=120)],
                  helpful: Annotated[str, Form(pattern="^(yes|no)$")], csrf: Csrf = None,
                  query: Annotated[str, Form(max_length=500)] = "") -> Response:
    actor = checked(who, csrf)
    social_api.give_feedback(FeedbackCreate(document=document, query=query, helpful=helpful == "yes"), session, actor)
    return back("/search?" + urlencode({"q": query}) if query else "/", "feedback")
