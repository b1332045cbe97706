"""Stored baseline computation without an engine: profile, warm-up, window and limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socwb.alerts.model import EntityValue
from socwb.baselines import (
    BaselineOptions,
    StoredBaseline,
    baseline_id,
    compute_baseline,
    hour_of_week,
    window_end_for,
)
from socwb.rules.catalog import AUTH_VOLUME_ANOMALY, RESOURCE_ANOMALY
from socwb.rules.model import BaselineSpec, to_epoch_millis

# A Monday, so hour of the week 0 is midnight of this day.
WINDOW_END = datetime(2025, 3, 24, tzinfo=UTC)
COMPUTED_AT = WINDOW_END + timedelta(hours=2)
ENTITY = [EntityValue(field="user.name", value="ann")]
OPTIONS = BaselineOptions(window=timedelta(days=28), min_span=timedelta(days=7))


def bucket(moment: datetime, amount: float) -> tuple[int, float]:
    return to_epoch_millis(moment), amount


def compute(buckets: list[tuple[int, float]], options: BaselineOptions = OPTIONS) -> StoredBaseline:
    return compute_baseline(
        AUTH_VOLUME_ANOMALY,
        ENTITY,
        buckets,
        window_end=WINDOW_END,
        options=options,
        computed_at=COMPUTED_AT,
    )


def weekly_buckets(weeks: int, monday_nine: float, other: float) -> list[tuple[int, float]]:
    """Return a Monday 09:00 and a Wednesday 15:00 bucket in each of the `weeks` last weeks."""
    buckets = []
    for week in range(1, weeks + 1):
        monday = WINDOW_END - timedelta(weeks=week)
        buckets.append(bucket(monday + timedelta(hours=9), monday_nine))
        buckets.append(bucket(monday + timedelta(days=2, hours=15), other))
    return buckets


def test_compute_counts_active_buckets_only() -> None:
    buckets = weekly_buckets(3, 30.0, 6.0) + [bucket(WINDOW_END - timedelta(days=1), 0.0)]

    baseline = compute(buckets)

    assert baseline.data_points == 6
    assert baseline.total == 108.0
    assert baseline.mean == 18.0


def test_compute_ignores_buckets_outside_window() -> None:
    inside = weekly_buckets(1, 10.0, 10.0)
    outside = [
        bucket(WINDOW_END, 500.0),
        bucket(WINDOW_END - timedelta(days=28, hours=1), 500.0),
    ]

    baseline = compute(inside + outside)

    assert baseline.data_points == 2
    assert baseline.mean == 10.0
    assert baseline.window_start == WINDOW_END - timedelta(days=28)


def test_compute_records_span_and_warm_up() -> None:
    baseline = compute(weekly_buckets(3, 10.0, 10.0))

    assert baseline.first_bucket == datetime(2025, 3, 3, 9, tzinfo=UTC)
    assert baseline.last_bucket == datetime(2025, 3, 19, 15, tzinfo=UTC)
    assert baseline.data_span_seconds == int(timedelta(days=16, hours=7).total_seconds())
    assert baseline.min_span_seconds == 7 * 86400
    assert baseline.is_warm is True
    assert baseline.computed_at == COMPUTED_AT


def test_compute_short_span_is_warming_up() -> None:
    baseline = compute(weekly_buckets(3, 10.0, 10.0), BaselineOptions(min_span=timedelta(days=17)))

    assert baseline.is_warm is False


def test_compute_too_few_buckets_is_warming_up() -> None:
    spec = AUTH_VOLUME_ANOMALY.spec
    assert isinstance(spec, BaselineSpec)
    buckets = [
        bucket(WINDOW_END - timedelta(days=20), 5.0),
        bucket(WINDOW_END - timedelta(days=1), 5.0),
    ]

    baseline = compute(buckets)

    assert spec.min_history_buckets > 2
    assert baseline.data_span_seconds >= 7 * 86400
    assert baseline.is_warm is False


def test_compute_without_history_is_warming_up() -> None:
    baseline = compute([])

    assert baseline.data_points == 0
    assert baseline.mean == 0.0
    assert baseline.first_bucket is None
    assert baseline.is_warm is False


def test_hour_of_week_profile_needs_two_samples() -> None:
    baseline = compute(weekly_buckets(3, 30.0, 6.0) + [bucket(WINDOW_END - timedelta(hours=1), 6)])
    monday_nine = WINDOW_END + timedelta(hours=9)
    sunday_late = WINDOW_END + timedelta(days=6, hours=23)

    assert baseline.hour_of_week[str(hour_of_week(monday_nine))].samples == 3
    assert baseline.value_at(monday_nine) == (30.0, "hour_of_week")
    assert baseline.value_at(sunday_late) == (baseline.mean, "overall")
    assert baseline.hour_of_day["9"].mean == 30.0


def test_baseline_limit_is_factor_or_floor() -> None:
    spec = AUTH_VOLUME_ANOMALY.spec
    assert isinstance(spec, BaselineSpec)
    baseline = compute(weekly_buckets(3, 30.0, 2.0))

    busy = baseline.baseline_at(WINDOW_END + timedelta(hours=9), spec)
    quiet = baseline.baseline_at(WINDOW_END + timedelta(days=2, hours=15), spec)

    assert busy.limit == 90.0
    assert quiet.limit == spec.min_sum


def test_baseline_limit_none_while_warming_up() -> None:
    spec = AUTH_VOLUME_ANOMALY.spec
    assert isinstance(spec, BaselineSpec)
    baseline = compute(weekly_buckets(1, 30.0, 2.0))

    assert baseline.is_warm is False
    assert baseline.baseline_at(WINDOW_END, spec).limit is None


def test_is_current_detects_changed_settings() -> None:
    spec = AUTH_VOLUME_ANOMALY.spec
    other_spec = RESOURCE_ANOMALY.spec
    assert isinstance(spec, BaselineSpec)
    assert isinstance(other_spec, BaselineSpec)
    baseline = compute(weekly_buckets(2, 10.0, 10.0))

    assert baseline.is_current(OPTIONS, spec)
    assert not baseline.is_current(BaselineOptions(window=timedelta(days=14)), spec)
    assert not baseline.is_current(BaselineOptions(min_span=timedelta(days=1)), spec)
    assert not baseline.is_current(OPTIONS, other_spec)


@pytest.mark.parametrize(
    ("slot", "end"),
    [
        pytest.param(datetime(2025, 3, 24, 0, 0, tzinfo=UTC), WINDOW_END, id="midnight"),
        pytest.param(datetime(2025, 3, 24, 23, 0, tzinfo=UTC), WINDOW_END, id="last-hour"),
        pytest.param(
            datetime(2025, 3, 23, 23, 0, tzinfo=UTC),
            WINDOW_END - timedelta(days=1),
            id="day-before",
        ),
    ],
)
def test_window_end_is_day_boundary(slot: datetime, end: datetime) -> None:
    assert window_end_for(slot, OPTIONS) == end


def test_baseline_id_depends_on_window_end() -> None:
    first = baseline_id("auth_volume_anomaly", "user.name=ann", WINDOW_END)
    again = baseline_id("auth_volume_anomaly", "user.name=ann", WINDOW_END)
    next_day = baseline_id("auth_volume_anomaly", "user.name=ann", WINDOW_END + timedelta(days=1))

    assert first == again
    assert first != next_day
    assert len(first) == 64


def test_document_has_iso_times() -> None:
    document = compute(weekly_buckets(2, 10.0, 10.0)).to_document()

    assert document["window_end"] == "2025-03-24T00:00:00.000Z"
    assert document["computed_at"] == "2025-03-24T02:00:00.000Z"
    assert StoredBaseline.model_validate(document).window_end == WINDOW_END
