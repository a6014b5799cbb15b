"""Web pages: insights into searches, questions and approvals, for owners and admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from kb.db import utcnow
from kb.documents import service as documents
from kb.errors import ErrorCode, KbError
from kb.search import service as search
from kb.social import service as social
from kb.web import render
from kb.web.common import (
    SessionDep,
    ViewerDep,
    WebRoute,
    page,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=WebRoute)


# ------------------------------------------------------------------------------------ insights

@router.get("/insights")
def insights_page(request: Request, session: SessionDep, who: ViewerDep,
                  days: Annotated[int, Query(ge=7, le=365)] = 30) -> Response:
    actor = signed_in(who)
    if not (actor.is_admin or who.owns_any()):
        raise KbError(ErrorCode.FORBIDDEN, "Insights are for space owners and admins")
    since = dt.datetime.combine(utcnow().date() - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC)
    volume = search.query_volume(session, days=days)
    searches = sum(total for _, total, _ in volume)
    zero = sum(z for _, _, z in volume)
    top_gaps = search.query_insights(session, days=days, top=10)
    gap_counts: dict[str, int] = {}
    for day in top_gaps:
        for item in day.top_zero_result_queries:
            gap_counts[item.query] = gap_counts.get(item.query, 0) + item.count
    helpful, feedback = social.helpfulness(session, since=since)
    questions = social.question_figures(session, since=since)
    overdue = documents.overdue_by_space(session)
    lead = documents.approval_lead_times(session, since=since)
    lead_by_space: dict[str, list[float]] = {}
    for space, hours in lead:
        lead_by_space.setdefault(space, []).append(hours)
    charts = {
        "volume": render.bars([(d.strftime("%d %b"), total) for d, total, _ in volume]),
        "zero_rate": render.bars([(d.strftime("%d %b"), round(100 * z / total, 1) if total else 0) for d, total, z in volume], "%"),
        "questions": render.bars([(w.strftime("%d %b"), asked) for w, asked, _ in questions.per_week]),
        "answered": render.bars([(w.strftime("%d %b"), answered) for w, _, answered in questions.per_week]),
        "overdue": render.bars([(space, n) for space, _, n in overdue]),
        "lead": render.bars([(space, round(social.median(h) or 0, 1)) for space, h in sorted(lead_by_space.items())], "h"),
    }
    figures = {
        "searches": searches, "zero_rate": round(100 * zero / searches, 1) if searches else None,
        "helpful_rate": round(100 * helpful / feedback, 1) if feedback else None, "feedback": feedback,
        "asked": questions.asked, "answered": questions.answered, "accepted": questions.accepted,
        "median_hours": round(questions.median_hours_to_answer, 1) if questions.median_hours_to_answer is not None else None,
        "overdue": sum(n for *_, n in overdue), "approved": sum(t for _, t, _ in overdue),
        "lead_median": round(social.median([h for _, h in lead]) or 0, 1) if lead else None, "approvals": len(lead),
    }
    gaps = sorted(gap_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return page(request, "insights.html", who, days=days, charts=charts, figures=figures, gaps=gaps, overdue=overdue)
