"""Web pages: Experts: finding people, profiles, asking an expert.

Each page calls the actions of ``kb.experts.actions`` (the same door as the API and the CLI: the same
permission rows, the same rules, the same webhook). Must not import the API modules.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from kb.db import MAX_ROW_ID
from kb.experts import actions
from kb.experts.schemas import AskExpert, ProfileUpdate
from kb.web.common import page_router, Csrf, SessionDep, ViewerDep, back, checked, page, signed_in

router = page_router()
Username = Annotated[str, PathParam(max_length=64)]


# ------------------------------------------------------------------------------------- experts

@router.get("/experts")
def experts_page(request: Request, session: SessionDep, who: ViewerDep,
                 q: Annotated[str, Query(max_length=500)] = "") -> Response:
    actor = signed_in(who)
    hits = []
    if q.strip():
        hits = actions.find_experts(session, actor, indexes=request.app.state.search, settings=request.app.state.settings,
                                    query=q, limit=10).data
    return page(request, "experts.html", who, q=q, hits=hits)


@router.get("/people/{username}")
def person_page(request: Request, session: SessionDep, who: ViewerDep, username: Username) -> Response:
    actor = signed_in(who)
    profile = actions.expert_profile(session, actor, username=username)
    me = username == actor.username
    inbox = actions.inbox(session, actor).data if me else []
    return page(request, "person.html", who, profile=profile, me=me, inbox=inbox)


@router.post("/people/{username}/ask")
def ask_person(request: Request, session: SessionDep, who: ViewerDep, username: Username,
               message: Annotated[str, Form(max_length=2000)], csrf: Csrf = None,
               question_id: Annotated[int | None, Form(ge=1, le=MAX_ROW_ID)] = None) -> Response:
    actor = checked(who, csrf)
    body = AskExpert(question_id=question_id, message=message)
    actions.ask_expert(session, actor, settings=request.app.state.settings, username=username,
                       question_id=body.question_id, message=body.message, limiter=request.app.state.rate_limiter)
    return back(f"/people/{quote(username)}", "asked-expert")


@router.post("/me/profile")
def save_profile(session: SessionDep, who: ViewerDep, skills: Annotated[str, Form(max_length=1000)] = "",
                 opted_out: Annotated[str, Form(max_length=3)] = "", csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    # The API's wire shape and its checks (at most 30 skills of 60 characters): a bad list is a 422 page.
    body = ProfileUpdate(declared_skills=[s for s in skills.split(",") if s.strip()], opted_out=opted_out == "yes")
    actions.update_expertise(session, actor, declared_skills=body.declared_skills, opted_out=body.opted_out)
    return back(f"/people/{quote(actor.username)}", "profile")
