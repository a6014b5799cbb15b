"""The validity rule, written once: what "currently valid" means for a version and for its passages.

A version is valid on day D when ``valid_from <= D < valid_until``; a missing end is open (no
``valid_from``: valid since always; no ``valid_until``: valid for ever). On its ``valid_until`` day a
version has *expired*. Days are UTC dates. The search indexes store the two ends as day numbers
(``date.toordinal()``, open ends as ``NO_START`` and ``NO_END``) and each engine turns the rule into
two range clauses with ``index_bounds``; the database-side re-check, the provenance cards and the
public read API call ``valid_on``. Issue 15: this rule had six copies (documents, search re-check,
the filters' Python twin, tantivy, whoosh and the faiss mask).

Imports nothing from kb.
"""

from __future__ import annotations

import datetime as dt

NO_START = 0
NO_END = 10**7  # a day number past any real date


def today() -> dt.date:
    """Today in UTC: the day every validity decision is taken on unless one is given."""
    return dt.datetime.now(dt.UTC).date()


def day_number(value: dt.date | None, default: int) -> int:
    """A date as the day number the indexes store; ``default`` (NO_START or NO_END) for an open end."""
    return value.toordinal() if value else default


def valid_on_day(from_day: int, until_day: int, day: int) -> bool:
    """The rule on day numbers: valid from ``from_day`` (inclusive) until ``until_day`` (exclusive)."""
    return from_day <= day < until_day


def valid_on(valid_from: dt.date | None, valid_until: dt.date | None, on: dt.date | None = None) -> bool:
    """Whether a version with these ends is valid on ``on`` (default: today, UTC)."""
    day = (on or today()).toordinal()
    return valid_on_day(day_number(valid_from, NO_START), day_number(valid_until, NO_END), day)


def expired(valid_until: dt.date | None, on: dt.date | None = None) -> bool:
    """Whether the validity has ended by ``on``: the ``valid_until`` day itself is no longer valid."""
    return valid_until is not None and valid_until <= (on or today())


def index_bounds(day: int) -> tuple[int, int]:
    """The rule as two inclusive range bounds for an index: ``(latest from_day, earliest until_day)``.

    A passage is admitted on ``day`` when ``from_day <= latest`` and ``until_day >= earliest``,
    which is ``valid_on_day`` written as the ranges tantivy, whoosh and the faiss mask apply.
    """
    return day, day + 1
