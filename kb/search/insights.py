"""Insights for space owners and admins: the query log's search gaps, and the figures of the insights page.

A search gap is a search with no good answer: no hit cleared the relevance bar (``QueryLog.answered``
false, issue 17), which includes searches with no result at all (the only gaps logged before kb
judged answers). Owns the reading of ``QueryLog`` (searches per day, unanswered searches, the top queries) and the
gathering of the insights page's figures from search, the community (``kb.social``) and curated
documents (through what ``kb.documents`` re-exports). Pure reads: no transaction, no permission
check (the ``insights.read`` action in ``kb.search.actions`` decides who may see them), no
rendering (the web page draws the charts). Must not import FastAPI, the web UI or ``kb.experts``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from kb import documents
from kb.db import utcnow
from kb.search.models import QueryLog
from kb.search.schemas import QueryCount, QueryDay
from kb.social import insights as social

GAPS_SHOWN = 10


def query_insights(session: Session, *, days: int = 14, top: int = 10, on: dt.date | None = None) -> list[QueryDay]:
    """Per day, newest first: searches, zero-result searches, top queries and top zero-result queries."""
    end = on or utcnow().date()
    start = dt.datetime.combine(end - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC)
    rows = session.execute(select(QueryLog.at, QueryLog.query, QueryLog.result_count, QueryLog.answered)
                           .where(QueryLog.at >= start).order_by(QueryLog.at)).all()
    per_day: dict[dt.date, list[tuple[str, int, bool]]] = {}
    for at, query, count, answered in rows:
        per_day.setdefault(at.date(), []).append((query.casefold(), count, unanswered(count, answered)))
    result = []
    for day in sorted(per_day, reverse=True):
        entries = per_day[day]
        all_queries = Counter(q for q, _, _ in entries)
        zero = Counter(q for q, c, _ in entries if c == 0)
        gaps = Counter(q for q, _, gap in entries if gap)
        result.append(QueryDay(day=day, searches=len(entries), zero_result=sum(zero.values()), no_answer=sum(gaps.values()),
                               top_queries=[QueryCount(query=q, count=n) for q, n in all_queries.most_common(top)],
                               top_zero_result_queries=[QueryCount(query=q, count=n) for q, n in zero.most_common(top)],
                               top_no_answer_queries=[QueryCount(query=q, count=n) for q, n in gaps.most_common(top)]))
    return result


def unanswered(result_count: int, answered: bool | None) -> bool:
    """Whether a logged search found no good answer (``answered`` None: logged before the bar; no result then)."""
    return answered is False or (answered is None and result_count == 0)


def query_volume(session: Session, *, days: int = 30, on: dt.date | None = None) -> list[tuple[dt.date, int, int]]:
    """Per day, oldest first, every day of the window: (day, searches, searches with no good answer)."""
    end = on or utcnow().date()
    first = end - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    counts: dict[dt.date, list[int]] = {first + dt.timedelta(days=i): [0, 0] for i in range(days)}
    for at, result_count, answered in session.execute(select(QueryLog.at, QueryLog.result_count, QueryLog.answered)
                                                      .where(QueryLog.at >= start)):
        day = counts.get(at.date())
        if day is not None:
            day[0] += 1
            day[1] += unanswered(result_count, answered)
    return [(day, total, zero) for day, (total, zero) in counts.items()]


@dataclass(frozen=True)
class Overview:
    """The insights page's data, drawn by the page: series for the charts, key figures, the gaps.

    ``volume``: (day, searches, searches with no good answer), every day of the window, oldest first.
    ``questions_per_week``: (week start, asked, of them answered). ``overdue``: (space, approved
    documents, overdue for review). ``lead_by_space``: (space, median approval lead time in hours).
    ``figures``: the key figures by name (None where there is nothing to divide by). ``gaps``: the
    top queries with no good answer with how often they were asked, most asked first.
    """

    days: int
    volume: list[tuple[dt.date, int, int]]
    questions_per_week: list[tuple[dt.date, int, int]]
    overdue: list[tuple[str, int, int]]
    lead_by_space: list[tuple[str, float]]
    figures: dict[str, float | int | None]
    gaps: list[tuple[str, int]]


def _rounded(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def overview(session: Session, *, days: int) -> Overview:
    """Searches, search gaps, helpfulness, questions and approvals over the last ``days`` days (UTC)."""
    since = dt.datetime.combine(utcnow().date() - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC)
    volume = query_volume(session, days=days)
    searches = sum(total for _, total, _ in volume)
    zero = sum(z for _, _, z in volume)
    gap_counts: dict[str, int] = {}
    for day in query_insights(session, days=days, top=GAPS_SHOWN):
        for item in day.top_no_answer_queries:
            gap_counts[item.query] = gap_counts.get(item.query, 0) + item.count
    helpful, feedback = social.helpfulness(session, since=since)
    questions = social.question_figures(session, since=since)
    overdue = documents.overdue_by_space(session)
    lead = documents.approval_lead_times(session, since=since)
    lead_hours: dict[str, list[float]] = {}
    for space, hours in lead:
        lead_hours.setdefault(space, []).append(hours)
    figures: dict[str, float | int | None] = {
        "searches": searches, "no_answer_rate": round(100 * zero / searches, 1) if searches else None,
        "helpful_rate": round(100 * helpful / feedback, 1) if feedback else None, "feedback": feedback,
        "asked": questions.asked, "answered": questions.answered, "accepted": questions.accepted,
        "median_hours": _rounded(questions.median_hours_to_answer),
        "overdue": sum(n for *_, n in overdue), "approved": sum(t for _, t, _ in overdue),
        "lead_median": round(social.median([h for _, h in lead]) or 0, 1) if lead else None, "approvals": len(lead),
    }
    return Overview(
        days=days, volume=volume, questions_per_week=questions.per_week, overdue=overdue,
        lead_by_space=[(space, round(social.median(hours) or 0, 1)) for space, hours in sorted(lead_hours.items())],
        figures=figures, gaps=sorted(gap_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:GAPS_SHOWN],
    )
