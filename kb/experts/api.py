"""HTTP routes of expert location."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from kb.actors import Access, Actor
from kb.db import MAX_ROW_ID, transaction
from kb.experts import service
from kb.experts.schemas import AskExpert, ExpertProfilePublic, ExpertResults, Inbox, InboxItem, ProfileUpdate
from kb.http import SessionDep, api_router_options, require
from kb.social import service as social

router = APIRouter(prefix="/api/v1", **api_router_options("experts"))
Signed = Annotated[Actor, Depends(require(Access.signed_in))]
Username = Annotated[str, Path(max_length=64)]


@router.get("/experts", response_model=ExpertResults, summary="Find the colleagues who know, with the evidence")
def find_experts(
    request: Request, session: SessionDep, actor: Signed,
    q: Annotated[str, Query(max_length=500)],
    space: Annotated[str | None, Query(max_length=64)] = None,
    exclude_me: bool = False,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> ExpertResults:
    hits = service.find_experts(session, request.app.state.search, actor=actor, query=q, space=space,
                                exclude_me=exclude_me, limit=limit, weights=request.app.state.settings.expert_weights)
    return ExpertResults(query=q, data=hits)


@router.get("/questions/{question_id}/experts", response_model=ExpertResults, summary="Experts suggested for a question")
def suggest_for_question(question_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)], request: Request, session: SessionDep,
                         actor: Signed) -> ExpertResults:
    question = social.get_question(session, actor=actor, question_id=question_id)
    text = f"{question.title} {question.body_md}"[:500]
    hits = service.find_experts(session, request.app.state.search, actor=actor, query=text, exclude_me=True, limit=5,
                                weights=request.app.state.settings.expert_weights)
    hits = [h for h in hits if h.username != _asker(session, question.author_id)]
    return ExpertResults(query=question.title, data=hits)


def _asker(session, user_id: int) -> str:  # noqa: ANN001
    from kb.accounts.models import User

    user = session.get(User, user_id)
    return user.username if user else ""


@router.get("/experts/people/{username}", response_model=ExpertProfilePublic, summary="A person's expertise profile")
def profile(username: Username, session: SessionDep, actor: Signed) -> ExpertProfilePublic:
    return ExpertProfilePublic(**service.expert_profile(session, username=username))


@router.patch("/me/expertise", response_model=ExpertProfilePublic, summary="Declare skills (self-declared) or opt out of suggestions")
def update_expertise(body: ProfileUpdate, session: SessionDep, actor: Signed) -> ExpertProfilePublic:
    with transaction(session):
        service.update_profile(session, actor=actor, declared_skills=body.declared_skills, opted_out=body.opted_out)
    return ExpertProfilePublic(**service.expert_profile(session, username=actor.username))


@router.post("/experts/{username}/ask", status_code=status.HTTP_201_CREATED, response_model=InboxItem,
             summary="Ask an expert: a request in their inbox, and the configured webhook")
def ask(username: Username, body: AskExpert, request: Request, session: SessionDep, actor: Signed) -> InboxItem:
    with transaction(session):
        item = service.ask_expert(session, actor=actor, username=username, question_id=body.question_id, message=body.message)
    settings = request.app.state.settings
    if settings.expert_webhook_url:
        service.call_webhook(settings.expert_webhook_url, settings.secret_key,
                             service.webhook_payload(item, username, actor.username))
    return InboxItem(id=item.id, from_user=actor.username, question_id=item.question_id, message=item.message,  # type: ignore[arg-type]
                     created_at=item.created_at, read=False)


@router.get("/me/inbox", response_model=Inbox, summary="Requests colleagues sent you as an expert")
def my_inbox(session: SessionDep, actor: Signed) -> Inbox:
    rows = service.inbox(session, actor=actor)
    data = [InboxItem(id=r.id, from_user=sender, question_id=r.question_id, message=r.message,  # type: ignore[arg-type]
                      created_at=r.created_at, read=r.read_at is not None) for r, sender in rows]
    return Inbox(data=data, count=len(data))
