"""Pure parts of the coverage ledger: merging ranges, finding gaps, catch-up, splitting days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from socwb.ledger import (
    STATUS_CAUGHT_UP,
    STATUS_NOT_SEARCHED,
    STATUS_OPEN_GAP,
    STATUS_SEARCHED,
    RuleRuns,
    SearchedRange,
    build_rule_ledger,
    clip,
    find_gaps,
    merge_windows,
    resolve_gaps,
    split_by_coverage,
)
from socwb.period import Period, parse_day
from socwb.rules.model import TimeWindow

BASE = datetime(2026, 11, 10, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


def at(hours: float) -> datetime:
    return BASE + timedelta(hours=hours)


def window(start: float, end: float) -> TimeWindow:
    return TimeWindow(at(start), at(end))


def searched(run_id: str, start: float, end: float, started: float, backfilled: bool = False):
    return SearchedRange(run_id, at(started), window(start, end), backfilled)


def test_merge_joins_overlapping_and_touching() -> None:
    merged = merge_windows([window(3, 4), window(0, 1), window(1, 2), window(0.5, 1.5)])

    assert merged == [window(0, 2), window(3, 4)]


def test_merge_drops_empty_and_keeps_contained() -> None:
    merged = merge_windows([window(0, 5), window(1, 2), window(6, 6)])

    assert merged == [window(0, 5)]


def test_clip_outside_returns_none() -> None:
    assert clip(window(0, 1), window(1, 2)) is None
    assert clip(window(0, 3), window(1, 2)) == window(1, 2)


def test_split_by_coverage_marks_pieces() -> None:
    pieces = split_by_coverage(window(0, 10), [window(2, 3), window(5, 12)])

    assert pieces == [
        (window(0, 2), False),
        (window(2, 3), True),
        (window(3, 5), False),
        (window(5, 10), True),
    ]


def test_contiguous_runs_have_no_gap() -> None:
    ranges = [searched("a", 0, 1, 1), searched("b", 1, 2, 2), searched("c", 2, 3, 3)]

    assert find_gaps(ranges) == []


def test_jump_ahead_is_gap_found_by_next_run() -> None:
    ranges = [searched("a", 0, 1, 1), searched("b", 3, 4, 4)]

    assert find_gaps(ranges) == [(window(1, 3), "b")]


def test_backfill_behind_frontier_adds_no_gap() -> None:
    ranges = [searched("a", 0, 1, 1), searched("b", 3, 4, 4), searched("fill", 1, 3, 5, True)]

    assert find_gaps(ranges) == [(window(1, 3), "b")]


def test_gaps_against_neighbours_outside_period() -> None:
    ranges = [searched("a", 2, 3, 3)]

    gaps = find_gaps(ranges, frontier=at(1), next_start=at(5))

    assert gaps[0] == (window(1, 2), "a")
    assert gaps[1][0] == window(3, 5)
    assert len(gaps) == 2


def test_time_after_newest_range_is_no_gap() -> None:
    assert find_gaps([searched("a", 0, 1, 1)], frontier=None, next_start=None) == []


def test_later_backfill_catches_gap_up() -> None:
    ranges = [searched("a", 0, 1, 1), searched("b", 3, 4, 4), searched("fill", 1, 3, 5, True)]

    resolved = resolve_gaps(find_gaps(ranges), ranges)

    assert len(resolved) == 1
    assert resolved[0].window == window(1, 3)
    assert resolved[0].is_caught_up
    assert resolved[0].caught_up_by == ("fill",)
    assert resolved[0].found_by == "b"


def test_partial_backfill_leaves_open_piece() -> None:
    ranges = [searched("a", 0, 1, 1), searched("b", 4, 5, 5), searched("fill", 2, 3, 6, True)]

    resolved = resolve_gaps(find_gaps(ranges), ranges)

    assert [(gap.window, gap.is_caught_up) for gap in resolved] == [
        (window(1, 2), False),
        (window(2, 3), True),
        (window(3, 4), False),
    ]


def test_rule_ledger_splits_gap_at_midnight() -> None:
    period = Period(date(2026, 11, 10), date(2026, 11, 11), UTC_ZONE)
    runs = RuleRuns(
        "rule_a",
        ranges=[searched("a", 20, 22, 22), searched("b", 26, 30, 30)],
        failed_starts=[at(23)],
    )

    first, second = build_rule_ledger(runs, period)

    assert first.day == date(2026, 11, 10)
    assert first.status == STATUS_OPEN_GAP
    assert [gap.window for gap in first.gaps] == [window(22, 24)]
    assert first.searched == [window(20, 22)]
    assert first.failed_runs == 1
    assert second.status == STATUS_OPEN_GAP
    assert [gap.window for gap in second.gaps] == [window(24, 26)]
    assert second.searched == [window(26, 30)]
    assert second.runs == 1


def test_rule_ledger_statuses_per_day() -> None:
    period = Period(date(2026, 11, 10), date(2026, 11, 12), UTC_ZONE)
    runs = RuleRuns(
        "rule_a",
        ranges=[
            searched("a", 0, 2, 2),
            searched("b", 5, 24, 24),
            searched("fill", 2, 5, 30, True),
            searched("c", 24, 30, 31),
        ],
    )

    days = build_rule_ledger(runs, period)

    assert [day.status for day in days] == [STATUS_CAUGHT_UP, STATUS_SEARCHED, STATUS_NOT_SEARCHED]
    assert days[0].backfilled_runs == 1
    assert days[0].searched == [window(0, 24)]
    assert days[0].searched_seconds == 24 * 3600


def test_days_follow_organisation_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    period = Period(date(2026, 11, 10), date(2026, 11, 10), berlin)
    runs = RuleRuns("rule_a", ranges=[searched("a", -1, 0, 0), searched("b", 22, 24, 24)])

    (day,) = build_rule_ledger(runs, period)

    # Midnight in Berlin is 23:00 UTC the evening before in November.
    assert day.searched == [window(-1, 0), window(22, 23)]
    assert [gap.window for gap in day.gaps] == [window(0, 22)]


def test_parse_day_names_bad_value() -> None:
    with pytest.raises(ValueError, match=r"'2026-13-01' for --from"):
        parse_day("2026-13-01", "--from")
    with pytest.raises(ValueError, match=r"'11/01/2026' for --to"):
        parse_day("11/01/2026", "--to")


def test_period_rejects_reversed_days() -> None:
    with pytest.raises(ValueError, match="lies before --from"):
        Period.parse("2026-11-10", "2026-11-09", UTC_ZONE)


def test_period_months_span_year_end() -> None:
    period = Period.parse("2026-12-30", "2027-02-01", UTC_ZONE)

    assert [month.label for month in period.months()] == ["2026-12", "2027-01", "2027-02"]
    assert len(list(period.days())) == 34
