"""Figures of the social layer for the insights page: "did this help" answers, questions asked and
answered, time to the first answer. Reads only; imports the social models, nothing of other domains.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from kb.social.models import Answer, HitFeedback, Question

def median(values: list[float]) -> float | None:
    """The median, or None for no values (``statistics.median`` raises on an empty list)."""
    return statistics.median(values) if values else None


def helpfulness(session: Session, *, since: dt.datetime) -> tuple[int, int]:
    """"Did this answer your question?" since ``since``: (yes, answers given)."""
    rows = session.execute(select(HitFeedback.helpful, func.count()).where(HitFeedback.at >= since)
                           .group_by(HitFeedback.helpful)).all()
    counts = {bool(helpful): n for helpful, n in rows}
    return counts.get(True, 0), sum(counts.values())


@dataclass(frozen=True)
class QuestionFigures:
    asked: int
    answered: int
    accepted: int
    median_hours_to_answer: float | None
    per_week: list[tuple[dt.date, int, int]]  # (week start, asked, of them answered)


def question_figures(session: Session, *, since: dt.datetime) -> QuestionFigures:
    """Questions asked since ``since``, how many got an answer, and the median time to the first answer."""
    first_answer = (select(Answer.question_id, func.min(Answer.created_at).label("first"))
                    .where(Answer.hidden.is_(False)).group_by(Answer.question_id).subquery())  # type: ignore[attr-defined]
    rows = session.execute(
        select(Question.created_at, first_answer.c.first, Question.accepted_answer_id)
        .outerjoin(first_answer, first_answer.c.question_id == Question.id)
        .where(Question.created_at >= since, Question.hidden.is_(False))  # type: ignore[attr-defined]
    ).all()
    waits = [(first - asked).total_seconds() / 3600 for asked, first, _ in rows if first is not None]
    weeks: dict[dt.date, list[int]] = {}
    for asked, first, _ in rows:
        week = asked.date() - dt.timedelta(days=asked.weekday())
        entry = weeks.setdefault(week, [0, 0])
        entry[0] += 1
        entry[1] += first is not None
    return QuestionFigures(asked=len(rows), answered=len(waits), accepted=sum(1 for *_, a in rows if a is not None),
                           median_hours_to_answer=median(waits),
                           per_week=[(week, asked, answered) for week, (asked, answered) in sorted(weeks.items())])
