"""HTTP routes of expert location.

Each route declares its row of ``kb.permissions`` (``require_for``), translates the HTTP input and
calls one action of ``kb.experts.actions``. No transactions, no service calls, no permission checks
of its own; the webhook of "ask an expert" is the action's side effect, not the route's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from kb.actors import Actor
from kb.db import MAX_ROW_ID
from kb.experts import actions
from kb.experts.schemas import AskExpert, ExpertProfilePublic, ExpertResults, Inbox, InboxItem, ProfileUpdate
from kb.http import SessionDep, api_router_options, require_for

router = APIRouter(prefix="/api/v1", **api_router_options("experts"))
Username = Annotated[str, Path(max_length=64)]


@router.get("/experts", response_model=ExpertResults, summary="Find the colleagues who know, with the evidence")
def find_experts(
    request: Request, session: SessionDep,
    actor: Annotated[Actor, Depends(require_for("expert.find"))],
    q: Annotated[str, Query(max_length=500)],
    space: Annotated[str | None, Query(max_length=64)] = None,
    exclude_me: bool = False,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> ExpertResults:
    return actions.find_experts(session, actor, indexes=request.app.state.search, settings=request.app.state.settings,
                                query=q, space=space, exclude_me=exclude_me, limit=limit)


@router.get("/questions/{question_id}/experts", response_model=ExpertResults, summary="Experts suggested for a question")
def suggest_for_question(
    question_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], request: Request, session: SessionDep,
    actor: Annotated[Actor, Depends(require_for("question.experts"))],
) -> ExpertResults:
    return actions.experts_for_question(session, actor, indexes=request.app.state.search,
                                        settings=request.app.state.settings, question_id=question_id)


@router.get("/experts/people/{username}", response_model=ExpertProfilePublic, summary="A person's expertise profile")
def profile(username: Username, session: SessionDep,
            actor: Annotated[Actor, Depends(require_for("expert.profile"))]) -> ExpertProfilePublic:
    return actions.expert_profile(session, actor, username=username)


@router.patch("/me/expertise", response_model=ExpertProfilePublic, summary="Declare skills (self-declared) or opt out of suggestions")
def update_expertise(body: ProfileUpdate, session: SessionDep,
                     actor: Annotated[Actor, Depends(require_for("expertise.update"))]) -> ExpertProfilePublic:
    return actions.update_expertise(session, actor, declared_skills=body.declared_skills, opted_out=body.opted_out)


@router.post("/experts/{username}/ask", status_code=status.HTTP_201_CREATED, response_model=InboxItem,
             summary="Ask an expert: a request in their inbox, and the configured webhook")
def ask(username: Username, body: AskExpert, request: Request, session: SessionDep,
        actor: Annotated[Actor, Depends(require_for("expert.ask"))]) -> InboxItem:
    return actions.ask_expert(session, actor, settings=request.app.state.settings, username=username,
                              question_id=body.question_id, message=body.message, limiter=request.app.state.rate_limiter)


@router.get("/me/inbox", response_model=Inbox, summary="Requests colleagues sent you as an expert")
def my_inbox(session: SessionDep, actor: Annotated[Actor, Depends(require_for("inbox.read"))]) -> Inbox:
    return actions.inbox(session, actor)
