"""Figures about curated documents for the insights page: overdue reviews, approval lead times.

Plain aggregate reads, no per-object rule (the insights action decides who may see them). Must not
import the actions or api, the other sibling modules, social, search, experts or the web framework.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlmodel import Session

from kb.accounts.models import Space
from kb.documents.models import Document, Version, VersionState
from kb.validity import today


def overdue_by_space(session: Session, on: dt.date | None = None) -> list[tuple[str, int, int]]:
    """Per space: (slug, approved documents, of them overdue for review), every space listed."""
    day = on or today()
    figures: dict[str, list[int]] = {slug: [0, 0] for slug in session.execute(select(Space.slug)).scalars()}
    approved = session.execute(
        select(Space.slug, Version.review_by).join(Document, Document.space_id == Space.id)
        .join(Version, (Version.id == Document.current_version_id) & (Version.document_id == Document.id))
        .where(Version.state == VersionState.approved)
    ).all()
    for slug, review_by in approved:
        figures[slug][0] += 1
        figures[slug][1] += review_by is not None and review_by < day
    return [(slug, total, overdue) for slug, (total, overdue) in sorted(figures.items())]


def approval_lead_times(session: Session, *, since: dt.datetime) -> list[tuple[str, float]]:
    """Approvals since ``since``: (space slug, hours from submission to approval), oldest first."""
    rows = session.execute(
        select(Space.slug, Version.submitted_at, Version.approved_at).join(Document, Document.id == Version.document_id)
        .join(Space, Space.id == Document.space_id)
        .where(Version.approved_at.is_not(None), Version.approved_at >= since, Version.submitted_at.is_not(None))  # type: ignore[union-attr]
        .order_by(Version.approved_at)
    ).all()
    return [(slug, max(0.0, (approved - submitted).total_seconds() / 3600)) for slug, submitted, approved in rows]
