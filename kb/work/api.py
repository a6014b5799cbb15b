"""HTTP route of "my work": ``GET /api/v1/me/work`` calls ``kb.work.actions.my_work``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from kb.actors import Actor
from kb.http import SessionDep, api_router_options, require_for
from kb.work import actions
from kb.work.schemas import MyWork

router = APIRouter(prefix="/api/v1", **api_router_options("work"))


@router.get("/me/work", response_model=MyWork,
            summary="My work: drafts, in review, rejected with the reason, promoted answers waiting, my questions and answers, what I watch")
def my_work(session: SessionDep, actor: Annotated[Actor, Depends(require_for("me.work"))]) -> MyWork:
    return actions.my_work(session, actor)
