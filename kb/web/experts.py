"""Web pages: Experts: finding people, profiles, asking an expert."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from kb.db import MAX_ROW_ID
from kb.experts import api as experts_api
from kb.experts import service as experts
from kb.experts.schemas import AskExpert, ProfileUpdate
from kb.web.common import (
    Csrf,
    SessionDep,
    ViewerDep,
    WebRoute,
    back,
    checked,
    page,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=WebRoute)


# ------------------------------------------------------------------------------------- experts

@router.get("/experts")
def experts_page(request: Request, session: SessionDep, who: ViewerDep,
                 q: Annotated[str, Query(max_length=500)] = "") -> Response:
    actor = signed_in(who)
    hits = []
    if q.strip():
        hits = experts.find_experts(session, request.app.state.search, actor=actor, query=q, limit=10,
                                    weights=request.app.state.settings.expert_weights)
    return page(request, "experts.html", who, q=q, hits=hits)


@router.get("/people/{username}")
def person_page(request: Request, session: SessionDep, who: ViewerDep, username: Annotated[str, PathParam(max_length=64)]) -> Response:
    actor = signed_in(who)
    profile = experts.expert_profile(session, username=username)
    inbox = []
    if username == actor.username:
        inbox = experts_api.my_inbox(session, actor).data
    return page(request, "person.html", who, profile=profile, me=username == actor.username, inbox=inbox)


@router.post("/people/{username}/ask")
def ask_person(request: Request, session: SessionDep, who: ViewerDep, username: Annotated[str, PathParam(max_length=64)],
               message: Annotated[str, Form(max_length=2000)], csrf: Csrf = None,
               question_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None) -> Response:
    actor = checked(who, csrf)
    experts_api.ask(username, AskExpert(question_id=question_id, message=message), request, session, actor)
    return back(f"/people/{quote(username)}", "asked-expert")


@router.post("/me/profile")
def save_profile(session: SessionDep, who: ViewerDep, skills: Annotated[str, Form(max_length=1000)] = "",
                 opted_out: Annotated[str, Form(max_length=3)] = "", csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    # The API's route and its checks (at most 30 skills of 60 characters): a bad list is a 422 page.
    experts_api.update_expertise(ProfileUpdate(declared_skills=[s for s in skills.split(",") if s.strip()],
                                               opted_out=opted_out == "yes"), session, actor)
    return back(f"/people/{quote(actor.username)}", "profile")
