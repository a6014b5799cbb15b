"""The validity rule (kb/validity.py), written once and read by every place that filters on it."""

from __future__ import annotations

import datetime as dt

from kb.validity import NO_END, NO_START, day_number, expired, index_bounds, valid_on, valid_on_day

D = dt.date(2027, 3, 10)


def test_the_rule_at_its_edges() -> None:
    assert valid_on(None, None, D)
    assert valid_on(D, None, D)  # valid from that day on
    assert not valid_on(D + dt.timedelta(days=1), None, D)
    assert not valid_on(None, D, D)  # the valid_until day itself is no longer valid
    assert valid_on(None, D + dt.timedelta(days=1), D)
    assert expired(D, D) and not expired(D + dt.timedelta(days=1), D) and not expired(None, D)


def test_index_bounds_are_the_rule_as_two_ranges() -> None:
    day = D.toordinal()
    latest_start, earliest_end = index_bounds(day)
    for start in (NO_START, day - 1, day, day + 1):
        for end in (day - 1, day, day + 1, day + 2, NO_END):
            as_ranges = start <= latest_start and end >= earliest_end
            assert as_ranges == valid_on_day(start, end, day), (start, end)


def test_dates_and_day_numbers_agree() -> None:
    for start in (None, D - dt.timedelta(days=3), D, D + dt.timedelta(days=1)):
        for end in (None, D, D + dt.timedelta(days=1)):
            by_days = valid_on_day(day_number(start, NO_START), day_number(end, NO_END), D.toordinal())
            assert by_days == valid_on(start, end, D)
