"""Volume anomaly rules on the real node: a jump above 3 times the baseline alerts once.

The rules read stored baselines. Six days of history at one UTC hour span five
days and one hour, so the tests shorten the warm-up's minimum span to three days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from socwb.detection import Detector, DetectorSettings
from socwb.rules.catalog import AUTH_VOLUME_ANOMALY, EGRESS_ANOMALY
from socwb.rules.model import TimeWindow, iso
from socwb.search import SearchBackend

from .conftest import every, history_hours, index_events, login, stored_alerts

MakeDetector = Callable[..., Detector]
MIB = 1024 * 1024
SETTINGS = DetectorSettings(
    ingest_delay=timedelta(0),
    first_run_lookback=timedelta(minutes=10),
    catch_up_chunk=timedelta(hours=1),
    baseline_min_span=timedelta(days=3),
)


def export(service: str, moment: datetime, size: int) -> dict[str, Any]:
    return {
        "@timestamp": iso(moment),
        "event": {"kind": "event", "action": "data-export", "dataset": "app.app_json"},
        "service": {"name": service},
        "socwb": {"data": {"bytes": size}},
    }


def logins(user: str, hours: list[datetime], per_hour: int) -> list[dict[str, Any]]:
    return [login(user, moment) for hour in hours for moment in every(hour, 60, per_hour)]


def test_auth_volume_five_times_baseline_alerts(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    now = datetime.now(UTC)
    events = logins("carol", history_hours(now, 6), 10)
    events += [login("carol", moment) for moment in every(now - timedelta(minutes=30), 20, 50)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)

    make_detector(settings=SETTINGS).run(AUTH_VOLUME_ANOMALY)

    alerts = stored_alerts(make_detector(), "auth_volume_anomaly")
    assert len(alerts) == 1
    buckets = alerts[0].evidence.buckets
    assert alerts[0].entity_key == "user.name=carol"
    assert buckets["baseline"] == 10.0
    assert buckets["history_buckets"] == 6
    assert buckets["limit"] == 30.0
    assert buckets["current"] == 50.0
    assert buckets["ratio"] == 5.0
    assert buckets["window_seconds"] == 3600.0
    assert buckets["baseline_window_days"] == 28.0
    assert buckets["baseline_granularity"] == "overall"
    assert buckets["baseline_data_points"] == 6


def test_auth_volume_twice_baseline_stays_quiet(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    now = datetime.now(UTC)
    events = logins("dave", history_hours(now, 6), 10)
    events += [login("dave", moment) for moment in every(now - timedelta(minutes=30), 60, 20)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)

    record = make_detector(settings=SETTINGS).run(AUTH_VOLUME_ANOMALY)

    assert record.buckets == 1
    assert stored_alerts(make_detector(), "auth_volume_anomaly") == []


def test_auth_volume_short_history_stays_quiet(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    now = datetime.now(UTC)
    events = logins("erin", history_hours(now, 3), 10)
    events += [login("erin", moment) for moment in every(now - timedelta(minutes=30), 20, 50)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)

    record = make_detector(settings=SETTINGS).run(AUTH_VOLUME_ANOMALY)

    assert record.buckets == 1
    assert stored_alerts(make_detector(), "auth_volume_anomaly") == []


def test_auth_volume_second_run_adds_nothing(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    now = datetime.now(UTC)
    events = logins("frank", history_hours(now, 6), 10)
    events += [login("frank", moment) for moment in every(now - timedelta(minutes=30), 20, 50)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)
    detector = make_detector(settings=SETTINGS)
    detector.run(AUTH_VOLUME_ANOMALY)

    arrival = TimeWindow(now - timedelta(hours=1), datetime.now(UTC))
    second = detector.run_range(AUTH_VOLUME_ANOMALY, arrival)

    assert second.alerts_created == 0
    assert second.alerts_updated == 1
    assert len(stored_alerts(detector, "auth_volume_anomaly")) == 1


def test_egress_five_times_baseline_alerts(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    now = datetime.now(UTC)
    hours = history_hours(now, 6)
    events = [export("report-export", hour, 200 * MIB) for hour in hours]
    burst = every(now - timedelta(minutes=30), 60, 5)
    events += [export("report-export", moment, 200 * MIB) for moment in burst]
    index_events(provisioned, f"logs-app.app_json-{namespace}", events)

    make_detector(settings=SETTINGS).run(EGRESS_ANOMALY)

    alerts = stored_alerts(make_detector(), "egress_anomaly")
    assert len(alerts) == 1
    buckets = alerts[0].evidence.buckets
    assert alerts[0].entity_key == "service.name=report-export"
    assert buckets["baseline"] == 200.0 * MIB
    assert buckets["current"] == 1000.0 * MIB
    assert buckets["ratio"] == 5.0
