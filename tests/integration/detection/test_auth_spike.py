"""The authentication failure spike rule on a real engine: thresholds, late data, restarts."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from socwb.detection import Detector
from socwb.rules.catalog import AUTH_FAILURE_SPIKE
from socwb.search import SearchBackend

from .conftest import auth_failure, every, index_events, stored_alerts

MakeDetector = Callable[..., Detector]


def okta_stream(namespace: str) -> str:
    return f"logs-idp.okta-{namespace}"


def recent_start() -> datetime:
    """A minute-aligned time a few minutes ago, so every event is in the past."""
    return (datetime.now(UTC) - timedelta(minutes=8)).replace(second=0, microsecond=0)


def test_auth_spike_eleven_failures_alert_once(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = recent_start()
    events = [auth_failure("user001", moment) for moment in every(start, 15, 11)]
    index_events(provisioned, okta_stream(namespace), events)
    detector = make_detector()

    first = detector.run(AUTH_FAILURE_SPIKE)
    second = detector.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(detector, "auth_failure_spike")
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.entity_key == "user.name=user001"
    assert alert.count == 11
    assert alert.first_event == start
    assert alert.last_event == start + timedelta(seconds=150)
    assert alert.due_at - alert.created_at == timedelta(minutes=30)
    assert alert.severity.value == "High"
    assert len(alert.evidence.sample_ids) == 11
    assert alert.evidence.buckets["peak"] == 11
    assert (first.hits, first.buckets, first.alerts_created) == (11, 1, 1)
    assert (second.hits, second.alerts_created, second.alerts_updated) == (0, 0, 0)


def test_auth_spike_ten_failures_no_alert(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    events = [auth_failure("user001", moment) for moment in every(recent_start(), 15, 10)]
    index_events(provisioned, okta_stream(namespace), events)
    detector = make_detector()

    record = detector.run(AUTH_FAILURE_SPIKE)

    assert record.hits == 10
    assert record.buckets == 1
    assert stored_alerts(detector) == []


def test_auth_spike_straddling_five_minute_boundary_alerts(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    base = (datetime.now(UTC) - timedelta(minutes=12)).replace(second=0, microsecond=0)
    base -= timedelta(minutes=base.minute % 5)
    first_part = every(base + timedelta(minutes=3), 22, 6)  # 10:03:00 .. 10:04:50
    second_part = every(base + timedelta(minutes=5), 22.5, 5)  # 10:05:00 .. 10:06:30
    events = [auth_failure("user003", moment) for moment in first_part + second_part]
    index_events(provisioned, okta_stream(namespace), events)
    detector = make_detector()

    detector.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(detector)
    assert [alert.count for alert in alerts] == [11]
    assert alerts[0].first_event == base + timedelta(minutes=3)


def test_late_events_alert_once(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    detector = make_detector()
    detector.run(AUTH_FAILURE_SPIKE)
    old = datetime.now(UTC) - timedelta(minutes=20)
    events = [auth_failure("user001", moment) for moment in every(old, 15, 11)]

    index_events(provisioned, okta_stream(namespace), events)
    records = [detector.run(AUTH_FAILURE_SPIKE) for _ in range(3)]

    alerts = stored_alerts(detector)
    assert len(alerts) == 1
    assert alerts[0].count == 11
    assert not alerts[0].is_late
    assert [record.alerts_created for record in records] == [1, 0, 0]


def test_events_later_than_max_lateness_alert_flagged(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    detector = make_detector()
    detector.run(AUTH_FAILURE_SPIKE)
    old = datetime.now(UTC) - timedelta(hours=3)
    events = [auth_failure("user002", moment) for moment in every(old, 15, 11)]

    index_events(provisioned, okta_stream(namespace), events)
    record = detector.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(detector)
    assert len(alerts) == 1
    assert alerts[0].is_late
    assert record.late_events == 11


def test_day_old_burst_does_not_alert_again(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    events = [auth_failure("user008", moment) for moment in every(recent_start(), 20, 11)]
    index_events(provisioned, okta_stream(namespace), events)
    detector = make_detector()
    detector.run(AUTH_FAILURE_SPIKE)

    later = make_detector(clock=lambda: datetime.now(UTC) + timedelta(days=1))
    records = [later.run(AUTH_FAILURE_SPIKE) for _ in range(3)]

    assert [record.hits for record in records] == [0, 0, 0]
    assert len(stored_alerts(detector, "auth_failure_spike")) == 1


def test_restart_mid_burst_alerts_once(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = recent_start()
    before = [auth_failure("user002", moment) for moment in every(start, 20, 6)]
    after = [
        auth_failure("user002", moment)
        for moment in every(start + timedelta(minutes=3, seconds=10), 10, 5)
    ]
    index_events(provisioned, okta_stream(namespace), before)
    make_detector().run(AUTH_FAILURE_SPIKE)

    index_events(provisioned, okta_stream(namespace), after)
    restarted = make_detector()
    restarted.run(AUTH_FAILURE_SPIKE)
    restarted.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(restarted)
    assert [alert.count for alert in alerts] == [11]
    assert alerts[0].first_event == start


@pytest.mark.parametrize("zone", ["America/Chicago", "Asia/Kolkata"])
def test_host_time_zone_does_not_change_result(
    make_detector: MakeDetector,
    provisioned: SearchBackend,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    zone: str,
) -> None:
    start = datetime(2024, 1, 15, 17, 3, tzinfo=UTC)
    events = [auth_failure("user005", moment) for moment in every(start, 15, 11)]
    index_events(provisioned, okta_stream(namespace), events)
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        detector = make_detector()
        detector.run(AUTH_FAILURE_SPIKE)
    finally:
        monkeypatch.undo()
        time.tzset()

    alerts = stored_alerts(detector)
    assert len(alerts) == 1
    assert alerts[0].first_event == start
    assert alerts[0].last_event == datetime(2024, 1, 15, 17, 5, 30, tzinfo=UTC)
    assert alerts[0].is_late


def test_future_dated_events_are_counted_and_left_out(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    future = datetime.now(UTC) + timedelta(hours=2)
    events = [auth_failure("user010", moment) for moment in every(future, 5, 11)]
    index_events(provisioned, okta_stream(namespace), events)
    detector = make_detector()

    record = detector.run(AUTH_FAILURE_SPIKE)

    assert record.future_events == 11
    assert record.buckets == 0
    assert stored_alerts(detector) == []


def test_six_hundred_users_alert_once_each(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = recent_start()
    moments = every(start, 20, 11)
    events = [
        auth_failure(f"user{number}", moment) for number in range(100, 700) for moment in moments
    ]
    index_events(provisioned, okta_stream(namespace), events)
    detector = make_detector(settings=detector_settings_with_small_pages())

    first = detector.run(AUTH_FAILURE_SPIKE)
    second = detector.run(AUTH_FAILURE_SPIKE)
    replay = detector.run_range(AUTH_FAILURE_SPIKE, window_of(first))

    alerts = stored_alerts(detector)
    assert len(alerts) == 600
    assert len({alert.entity_key for alert in alerts}) == 600
    assert {alert.count for alert in alerts} == {11}
    assert (first.hits, first.buckets, first.alerts_created) == (6600, 600, 600)
    assert second.alerts_created == 0
    assert (replay.alerts_created, replay.alerts_updated) == (0, 600)


def detector_settings_with_small_pages() -> object:
    from .conftest import TEST_SETTINGS

    return TEST_SETTINGS.model_copy(update={"page_size": 250, "targets_per_query": 50})


def window_of(record: object) -> object:
    from socwb.checkpoints import RunRecord
    from socwb.rules.model import TimeWindow

    assert isinstance(record, RunRecord)
    assert record.arrival_start is not None
    assert record.arrival_end is not None
    return TimeWindow(record.arrival_start, record.arrival_end)
