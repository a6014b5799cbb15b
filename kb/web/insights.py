"""Web pages: insights into searches, questions and approvals, for owners and admins.

The page calls the ``insights.read`` actions (``kb.search.actions.insights_overview`` and, for what citizens
pick on "what applies to me", ``situation_insights``), which decide
who may see it and gathers the figures; the page only draws them. Must not import the API modules.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from kb.search import actions as search
from kb.web import render
from kb.web.common import page_router, SessionDep, ViewerDep, page, signed_in

router = page_router()


# ------------------------------------------------------------------------------------ insights

@router.get("/insights")
def insights_page(request: Request, session: SessionDep, who: ViewerDep,
                  days: Annotated[int, Query(ge=7, le=365)] = 30) -> Response:
    actor = signed_in(who)
    found = search.insights_overview(session, actor, days=days)
    situations = search.situation_insights(session, actor, days=days)
    charts = {
        "volume": render.bars([(d.strftime("%d %b"), total) for d, total, _ in found.volume]),
        "no_answer_rate": render.bars([(d.strftime("%d %b"), round(100 * z / total, 1) if total else 0)
                                  for d, total, z in found.volume], "%"),
        "questions": render.bars([(w.strftime("%d %b"), asked) for w, asked, _ in found.questions_per_week]),
        "answered": render.bars([(w.strftime("%d %b"), answered) for w, _, answered in found.questions_per_week]),
        "overdue": render.bars([(space, n) for space, _, n in found.overdue]),
        "lead": render.bars(found.lead_by_space, "h"),
    }
    return page(request, "insights.html", who, days=days, charts=charts, figures=found.figures, gaps=found.gaps,
                overdue=found.overdue, situations=situations)
