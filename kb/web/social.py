"""Web pages of the social layer: questions and answers, moderation, and what readers add to a document
(comments, ratings, flags, feedback).

Each page checks who is looking (``signed_in``, or ``checked`` with the CSRF token for a form post),
calls one action of ``kb.social.actions`` and renders its result; the action decides who may do what.
Imports actions, schemas and ``kb.web.common``; never an ``api`` module, a service or a role check.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import ValidationError

from kb.db import MAX_ROW_ID
from kb.errors import KbError
from kb.experts import actions as experts
from kb.search import actions as search
from kb.notifications import actions as notifications
from kb.notifications.models import WatchKind
from kb.social import actions
from kb.social.schemas import AnswerCreate, CommentCreate, CommentUpdate, FeedbackCreate, FlagCreate, ModerationDecision
from kb.social.schemas import PromoteRequest, QuestionCreate, RatingSet, VoteSet
from kb.web.common import page_router, Csrf, SessionDep, ViewerDep, back, checked, local_path, page
from kb.web.common import signed_in
from kb.web.forms import refusal

router = page_router()
DocSlug = Annotated[str, PathParam(max_length=120)]


def _rules(request: Request) -> actions.Rules:
    return actions.Rules.of(request.app.state.settings, request.app.state.rate_limiter)


# ----------------------------------------------------------------------------------- questions

QUESTIONS_PER_PAGE = 20


@router.get("/questions")
def questions_page(request: Request, session: SessionDep, who: ViewerDep,
                   page_number: Annotated[int, Query(alias="page", ge=1, le=1000)] = 1) -> Response:
    actor = signed_in(who)
    offset = (page_number - 1) * QUESTIONS_PER_PAGE
    unanswered = actions.list_questions(session, actor, unanswered=True, limit=QUESTIONS_PER_PAGE, offset=offset)
    answered = actions.list_questions(session, actor, answered=True, limit=QUESTIONS_PER_PAGE, offset=offset)
    more = max(unanswered.count, answered.count) > page_number * QUESTIONS_PER_PAGE
    return page(request, "questions.html", who, unanswered=unanswered.data, recent=answered.data,
                page_number=page_number, more=more)


@router.get("/questions/ask")
def ask_form(request: Request, who: ViewerDep, q: Annotated[str, Query(max_length=300)] = "") -> Response:
    signed_in(who)
    return page(request, "ask.html", who, values={"title": q, "body_md": "", "tags": "", "space": ""},
                spaces=sorted(who.spaces.values()), error=None, errors={})


@router.post("/questions")
def ask(request: Request, session: SessionDep, who: ViewerDep, title: Annotated[str, Form(max_length=300)],
        body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None,
        tags: Annotated[str, Form(max_length=500)] = "", space: Annotated[str, Form(max_length=64)] = "") -> Response:
    actor = checked(who, csrf)
    values = {"title": title, "body_md": body_md, "tags": tags, "space": space}
    try:
        data = QuestionCreate(title=title, body_md=body_md, tags=[t.strip() for t in tags.split(",") if t.strip()],
                              space=space or None)
        question = actions.ask_question(session, actor, data=data, rules=_rules(request))
    except (KbError, ValidationError) as error:  # the form again, with what was typed and the message at its field
        status_code, message, errors = refusal(error, ("title", "body_md", "tags", "space"))
        return page(request, "ask.html", who, status_code=status_code, values=values, spaces=sorted(who.spaces.values()),
                    error=message, errors=errors)
    return back(f"/questions/{question.id}", "asked")


@router.get("/questions/similar")
def similar_questions(request: Request, session: SessionDep, who: ViewerDep,
                      q: Annotated[str, Query(max_length=300)] = "") -> Response:
    """Questions and documents like the title being typed, as a fragment the ask form's script shows
    (GET /api/v1/questions/similar is its JSON twin); the form works without it."""
    actor = signed_in(who)
    found = search.similar_questions(session, actor, indexes=request.app.state.search, query=q) if q.strip() else None
    return page(request, "similar.html", who, found=found)


@router.get("/questions/{question_id}")
def question_page(request: Request, session: SessionDep, who: ViewerDep,
                  question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]) -> Response:
    actor = signed_in(who)
    view = actions.view_question(session, actor, question_id=question_id)
    suggested = []
    if not view.question.answers:
        suggested = experts.experts_for_question(session, actor, indexes=request.app.state.search,
                                                 settings=request.app.state.settings, question_id=question_id).data
    watching = notifications.is_watching(session, actor, kind=WatchKind.question, target=str(question_id))
    return page(request, "question.html", who, question=view.question, suggested=suggested, can_accept=view.may_accept,
                owned=who.owned_spaces(), watching=watching)


@router.post("/questions/{question_id}/answers")
def post_answer(request: Request, session: SessionDep, who: ViewerDep,
                question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    actions.answer_question(session, actor, question_id=question_id, data=AnswerCreate(body_md=body_md), rules=_rules(request))
    return back(f"/questions/{question_id}", "answered")


@router.post("/votes/{kind}/{post_id}")
def post_vote(session: SessionDep, who: ViewerDep, kind: Annotated[str, PathParam(pattern="^(questions|answers)$")],
              post_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)], value: Annotated[int, Form(ge=-1, le=1)],
              question: Annotated[int, Form(ge=1, le=MAX_ROW_ID)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    vote = VoteSet(value=value)  # type: ignore[arg-type]
    actions.cast_vote(session, actor, kind="question" if kind == "questions" else "answer", post_id=post_id, value=vote.value)
    return back(f"/questions/{question}", "voted")


@router.post("/questions/{question_id}/accept")
def post_accept(session: SessionDep, who: ViewerDep, question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                answer_id: Annotated[int, Form(ge=1, le=MAX_ROW_ID)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    actions.accept_answer(session, actor, question_id=question_id, answer_id=answer_id)
    return back(f"/questions/{question_id}", "accepted")


@router.post("/questions/{question_id}/promote")
def post_promote(session: SessionDep, who: ViewerDep, question_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                 csrf: Csrf = None, space: Annotated[str, Form(max_length=64)] = "", slug: Annotated[str, Form(max_length=120)] = "",
                 title: Annotated[str, Form(max_length=300)] = "",
                 audience: Annotated[str, Form(pattern="^(internal|public)$")] = "internal") -> Response:
    actor = checked(who, csrf)
    result = actions.promote_answer(session, actor, question_id=question_id, data=PromoteRequest(
        space=space or None, slug=slug.strip() or None, title=title.strip() or None, audience=audience))  # type: ignore[arg-type]
    return back(f"/d/{quote(str(result['document']))}", "promoted")



# ---------------------------------------------------------------------------------- moderation

@router.get("/moderation")
def moderation_page(request: Request, session: SessionDep, who: ViewerDep) -> Response:
    items = actions.moderation_queue(session, signed_in(who)).data
    return page(request, "moderation.html", who, items=items)


@router.post("/moderation/{kind}/{target_id}")
def moderate(session: SessionDep, who: ViewerDep, kind: Annotated[str, PathParam(pattern="^(comment|question|answer|document)$")],
             target_id: Annotated[str, PathParam(max_length=120)], action: Annotated[str, Form(pattern="^(hide|restore|dismiss)$")],
             reason: Annotated[str, Form(max_length=1000)], csrf: Csrf = None,
             flag_ids: Annotated[list[int] | None, Form(max_length=1000)] = None) -> Response:
    """One decision for the post: the form carries the flags the moderator saw (refused if others arrived)."""
    actor = checked(who, csrf)
    actions.moderate(session, actor, kind=kind, target_id=target_id,  # type: ignore[arg-type]
                     decision=ModerationDecision(action=action, reason=reason, flag_ids=flag_ids))  # type: ignore[arg-type]
    return back("/moderation", "moderated")


# ------------------------------------------------------------------- on documents: comments, ratings, flags, feedback

@router.post("/d/{slug}/comments")
def post_comment(request: Request, session: SessionDep, who: ViewerDep, slug: DocSlug,
                 body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None,
                 parent_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None) -> Response:
    actor = checked(who, csrf)
    item = actions.create_comment(session, actor, slug=slug, data=CommentCreate(body_md=body_md, parent_id=parent_id),
                                  rules=_rules(request))
    return back(f"/d/{quote(slug)}#comment-{item.id}", "commented")


@router.post("/comments/{comment_id}/edit")
def post_comment_edit(request: Request, session: SessionDep, who: ViewerDep,
                      comment_id: Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)],
                      body_md: Annotated[str, Form(max_length=20_000)], csrf: Csrf = None) -> Response:
    """The author edits their comment within the edit window (the page offers it only then)."""
    actor = checked(who, csrf)
    item = actions.edit_comment(session, actor, comment_id=comment_id, body_md=CommentUpdate(body_md=body_md).body_md,
                                rules=_rules(request))
    return back(f"/d/{quote(item.document)}#comment-{comment_id}", "comment_edited")


@router.post("/d/{slug}/rating")
def post_rating(session: SessionDep, who: ViewerDep, slug: DocSlug,
                stars: Annotated[int, Form(ge=1, le=5)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    actions.set_rating(session, actor, slug=slug, stars=RatingSet(stars=stars).stars)
    return back(f"/d/{quote(slug)}", "rated")


@router.post("/flags")
def post_flag(request: Request, session: SessionDep, who: ViewerDep,
              target: Annotated[str, Form(pattern="^(comment|question|answer|document)$")],
              target_id: Annotated[str, Form(max_length=120)], reason: Annotated[str, Form(max_length=20)],
              csrf: Csrf = None, note: Annotated[str, Form(max_length=1000)] = "",
              next: Annotated[str | None, Form(max_length=500)] = None) -> Response:  # noqa: A002
    actor = checked(who, csrf)
    actions.create_flag(session, actor, data=FlagCreate(target=target, target_id=target_id, reason=reason, note=note),  # type: ignore[arg-type]
                        rules=_rules(request))
    return back(local_path(next), "flagged")


@router.post("/feedback")
def give_feedback(session: SessionDep, who: ViewerDep, document: Annotated[str, Form(max_length=120)],
                  helpful: Annotated[str, Form(pattern="^(yes|no)$")], csrf: Csrf = None,
                  query: Annotated[str, Form(max_length=500)] = "") -> Response:
    actor = checked(who, csrf)
    actions.give_feedback(session, actor, data=FeedbackCreate(document=document, query=query, helpful=helpful == "yes"))
    return back("/search?" + urlencode({"q": query}) if query else "/", "feedback")

