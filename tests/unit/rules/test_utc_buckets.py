"""Hourly UTC buckets and baselines across daylight saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from socwb.rules.catalog import DATA_EXPORT_ABOVE_BASELINE
from socwb.rules.evaluate import (
    Point,
    baseline_threshold,
    find_episodes,
    hourly_utc_buckets,
)
from socwb.rules.model import BaselineSpec, TimeWindow, to_epoch_millis

OSLO = ZoneInfo("Europe/Oslo")
HOUR = timedelta(hours=1)


def twice_per_minute(start: datetime, end: datetime) -> list[Point]:
    """One event every 30 seconds in `[start, end)`, each with amount 1."""
    points = []
    moment = start
    while moment < end:
        points.append(Point(to_epoch_millis(moment), 1, amount=1.0))
        moment += timedelta(seconds=30)
    return points


def test_autumn_change_gives_six_equal_buckets() -> None:
    start = datetime(2015, 10, 24, 22, tzinfo=UTC)
    end = datetime(2015, 10, 25, 4, tzinfo=UTC)

    buckets = hourly_utc_buckets(twice_per_minute(start, end), TimeWindow(start, end))

    assert [bucket.count for bucket in buckets] == [120] * 6
    assert [bucket.length for bucket in buckets] == [HOUR] * 6
    assert [bucket.rate_per_hour for bucket in buckets] == [120.0] * 6
    # 00:00Z and 01:00Z are both 02:00 on the Oslo wall clock, yet stay two buckets.
    local_hours = [bucket.start.astimezone(OSLO).hour for bucket in buckets]
    assert local_hours == [0, 1, 2, 2, 3, 4]


def test_spring_change_leaves_no_empty_bucket() -> None:
    start = datetime(2016, 3, 26, 22, tzinfo=UTC)
    end = datetime(2016, 3, 27, 4, tzinfo=UTC)

    buckets = hourly_utc_buckets(twice_per_minute(start, end), TimeWindow(start, end))

    assert [bucket.count for bucket in buckets] == [120] * 6
    # The Oslo wall clock skips 02:00, but no UTC bucket is empty.
    local_hours = [bucket.start.astimezone(OSLO).hour for bucket in buckets]
    assert local_hours == [23, 0, 1, 3, 4, 5]


def test_partial_edge_buckets_use_real_length() -> None:
    start = datetime(2015, 10, 24, 22, 30, tzinfo=UTC)
    end = datetime(2015, 10, 25, 0, 15, tzinfo=UTC)

    buckets = hourly_utc_buckets(twice_per_minute(start, end), TimeWindow(start, end))

    assert [bucket.start for bucket in buckets] == [
        start,
        start + timedelta(minutes=30),
        start + timedelta(minutes=90),
    ]
    assert [bucket.length for bucket in buckets] == [
        timedelta(minutes=30),
        HOUR,
        timedelta(minutes=15),
    ]
    assert [bucket.rate_per_hour for bucket in buckets] == [120.0] * 3


def test_points_outside_window_are_ignored() -> None:
    start = datetime(2015, 10, 25, 0, tzinfo=UTC)
    points = twice_per_minute(start - HOUR, start + 2 * HOUR)

    buckets = hourly_utc_buckets(points, TimeWindow(start, start + HOUR))

    assert [bucket.count for bucket in buckets] == [120]


def test_even_volume_across_autumn_change_raises_no_anomaly() -> None:
    # Every event has amount 1, so window sums are event counts. The baseline
    # is the same user at the same rate during the 14 days before.
    spec = DATA_EXPORT_ABOVE_BASELINE.spec
    assert isinstance(spec, BaselineSpec)
    rule = DATA_EXPORT_ABOVE_BASELINE.model_copy(
        update={"spec": spec.model_copy(update={"min_sum": 0.0})}
    )
    start = datetime(2015, 10, 24, 22, tzinfo=UTC)
    end = datetime(2015, 10, 25, 4, tzinfo=UTC)
    history_window = TimeWindow(start - timedelta(days=14), start)
    history = twice_per_minute(history_window.start, history_window.end)
    sums = [float(bucket.count) for bucket in hourly_utc_buckets(history, history_window)]
    assert isinstance(rule.spec, BaselineSpec)

    limit = baseline_threshold(sums, rule.spec)
    episodes = find_episodes(twice_per_minute(start, end), rule, limit)

    assert limit == 360.0
    assert episodes == []
