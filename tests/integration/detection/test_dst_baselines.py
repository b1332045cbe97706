"""Hourly baselines across daylight saving changes on the real node.

The organisation works in Europe/Oslo, whose clocks went back at
2015-10-25T01:00Z and forward at 2016-03-27T01:00Z. History buckets are UTC
hours of the engine's date histogram, so steady volume never looks like a
doubled or missing hour, and a real jump is compared with a baseline of equal
one-hour buckets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from socwb.detection import Detector
from socwb.rules.catalog import AUTH_VOLUME_ANOMALY
from socwb.search import SearchBackend
from socwb.settings import OrganisationSettings

from .conftest import every, index_events, stored_alerts
from .test_anomaly_rules import login

MakeDetector = Callable[..., Detector]

OSLO = OrganisationSettings(timezone="Europe/Oslo")
AUTUMN_START = datetime(2015, 10, 24, 22, tzinfo=UTC)
SPRING_START = datetime(2016, 3, 26, 22, tzinfo=UTC)
STEADY_HOURS = 6


def twice_per_minute(user: str, start: datetime, hours: int) -> list[dict[str, object]]:
    return [login(user, moment) for moment in every(start, 30, hours * 120)]


@pytest.mark.parametrize("start", [AUTUMN_START, SPRING_START], ids=["autumn", "spring"])
def test_steady_logins_across_dst_change_no_alert(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector, start: datetime
) -> None:
    index_events(
        provisioned,
        f"logs-idp.okta-{namespace}",
        twice_per_minute("user009", start, STEADY_HOURS),
    )
    detector = make_detector(organisation=OSLO)

    record = detector.run(AUTH_VOLUME_ANOMALY)

    assert record.hits == STEADY_HOURS * 120
    assert record.buckets == 1
    assert stored_alerts(detector, AUTH_VOLUME_ANOMALY.id) == []


@pytest.mark.parametrize("start", [AUTUMN_START, SPRING_START], ids=["autumn", "spring"])
def test_jump_after_dst_change_uses_hour_buckets(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector, start: datetime
) -> None:
    jump_start = start + timedelta(hours=STEADY_HOURS)
    events = twice_per_minute("user010", start, STEADY_HOURS)
    events += [login("user010", moment) for moment in every(jump_start, 7.5, 480)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)
    detector = make_detector(organisation=OSLO)

    detector.run(AUTH_VOLUME_ANOMALY)

    alerts = stored_alerts(detector, AUTH_VOLUME_ANOMALY.id)
    assert len(alerts) == 1
    buckets = alerts[0].evidence.buckets
    # The episode starts in the slot 03:00Z-04:00Z, whose history is the five
    # UTC hours before it, 120 logins each. Local Oslo hours would merge 00:00Z
    # and 01:00Z in autumn into one bucket of 240: four buckets, mean 150.
    assert buckets["history_buckets"] == STEADY_HOURS - 1, buckets
    assert buckets["baseline"] == 120.0, buckets
    assert buckets["limit"] == 360.0, buckets
    assert buckets["current"] == 480.0, buckets
