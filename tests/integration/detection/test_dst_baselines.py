"""Stored hourly baselines across daylight saving changes on the real node.

The organisation works in Europe/Oslo, whose clocks went back at
2015-10-25T01:00Z and forward at 2016-03-27T01:00Z. Baseline buckets are UTC
hours of the engine's date histogram, so steady volume across the change never
looks like a doubled or a missing hour, and a real jump the day after is
compared with a mean of equal one-hour buckets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from socwb.detection import Detector
from socwb.rules.catalog import AUTH_VOLUME_ANOMALY
from socwb.search import SearchBackend
from socwb.settings import DetectorSettings, OrganisationSettings

from .conftest import every, index_events, stored_alerts
from .test_anomaly_rules import login
from .test_stored_baselines import stored_baselines

MakeDetector = Callable[..., Detector]

OSLO = OrganisationSettings(timezone="Europe/Oslo")
AUTUMN_CHANGE_DAY = datetime(2015, 10, 25, tzinfo=UTC)
SPRING_CHANGE_DAY = datetime(2016, 3, 27, tzinfo=UTC)
HISTORY_DAYS = 5
PER_HOUR = 60

# Five days of history complete a three-day warm-up.
SETTINGS = DetectorSettings(
    ingest_delay=timedelta(0),
    first_run_lookback=timedelta(minutes=10),
    catch_up_chunk=timedelta(hours=1),
    baseline_min_span=timedelta(days=3),
)


def steady_history(user: str, change_day: datetime) -> list[dict[str, object]]:
    """Return one login a minute over the days around the change, up to the next midnight UTC."""
    start = change_day - timedelta(days=HISTORY_DAYS - 1)
    return [login(user, moment) for moment in every(start, 60, HISTORY_DAYS * 24 * PER_HOUR)]


@pytest.mark.parametrize(
    "change_day", [AUTUMN_CHANGE_DAY, SPRING_CHANGE_DAY], ids=["autumn", "spring"]
)
def test_steady_logins_across_dst_change_no_alert(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector, change_day: datetime
) -> None:
    next_day = change_day + timedelta(days=1)
    events = steady_history("user009", change_day)
    events += [login("user009", moment) for moment in every(next_day, 60, 6 * PER_HOUR)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)
    detector = make_detector(organisation=OSLO, settings=SETTINGS)

    record = detector.run(AUTH_VOLUME_ANOMALY)

    assert record.hits == len(events)
    assert stored_alerts(detector, AUTH_VOLUME_ANOMALY.id) == []
    baselines = stored_baselines(provisioned, namespace, AUTH_VOLUME_ANOMALY.id)
    after_change = [baseline for baseline in baselines if baseline.window_end == next_day]
    assert len(after_change) == 1, baselines
    assert after_change[0].is_warm
    # Each day's baseline averages whole UTC hours of 60 logins, also over the change.
    means = {baseline.mean for baseline in baselines if baseline.data_points}
    assert means == {float(PER_HOUR)}


@pytest.mark.parametrize(
    "change_day", [AUTUMN_CHANGE_DAY, SPRING_CHANGE_DAY], ids=["autumn", "spring"]
)
def test_jump_after_dst_change_uses_hour_buckets(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector, change_day: datetime
) -> None:
    jump_start = change_day + timedelta(days=1, hours=3)
    events = steady_history("user010", change_day)
    events += [login("user010", moment) for moment in every(jump_start, 15, 4 * PER_HOUR)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)
    detector = make_detector(organisation=OSLO, settings=SETTINGS)

    detector.run(AUTH_VOLUME_ANOMALY)

    alerts = stored_alerts(detector, AUTH_VOLUME_ANOMALY.id)
    assert len(alerts) == 1
    buckets = alerts[0].evidence.buckets
    # Every UTC hour of the history contains 60 logins. Buckets in local Oslo time
    # would merge two UTC hours into one in autumn and drop one in spring, so the
    # mean of the active buckets would not be exactly 60.
    assert buckets["baseline"] == float(PER_HOUR), buckets
    assert buckets["current"] == float(4 * PER_HOUR), buckets
    assert buckets["ratio"] == 4.0, buckets
