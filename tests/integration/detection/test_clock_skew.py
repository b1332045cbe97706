"""The clock-skew rule on the real node: one Medium alert per skewed host and episode."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from socwb.detection import Detector
from socwb.rules.catalog import CLOCK_SKEW
from socwb.rules.model import iso
from socwb.search import SearchBackend

from .conftest import index_events, stored_alerts

MakeDetector = Callable[..., Detector]


def app_event(host: str, moment: datetime) -> dict[str, Any]:
    return {
        "@timestamp": iso(moment),
        "event": {"kind": "event", "action": "login", "dataset": "app.app_json"},
        "host": {"name": host},
    }


def events_at(host: str, offset: timedelta, count: int = 5) -> list[dict[str, Any]]:
    """Return events of a host dated `offset` from now (negative: in the past)."""
    now = datetime.now(UTC)
    return [app_event(host, now + offset + timedelta(seconds=index)) for index in range(count)]


def test_clock_behind_alerts_once(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    events = events_at("slow-01", -timedelta(minutes=20)) + events_at("good-01", -timedelta(0))
    index_events(provisioned, f"logs-app.app_json-{namespace}", events)

    make_detector().run(CLOCK_SKEW)

    alerts = stored_alerts(make_detector(), "clock_skew")
    assert [alert.entity_key for alert in alerts] == ["host.name=slow-01"]
    assert alerts[0].severity == "Medium"
    buckets = alerts[0].evidence.buckets
    assert buckets["source"] == "app"
    assert 1190 <= buckets["median_delay_seconds"] <= 1230
    assert "late" in buckets["reason"]


def test_clock_ahead_alerts(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    index_events(
        provisioned, f"logs-app.app_json-{namespace}", events_at("fast-01", timedelta(minutes=10))
    )

    make_detector().run(CLOCK_SKEW)

    alerts = stored_alerts(make_detector(), "clock_skew")
    assert [alert.entity_key for alert in alerts] == ["host.name=fast-01"]
    assert alerts[0].evidence.buckets["median_delay_seconds"] < -500
    assert "ahead" in alerts[0].evidence.buckets["reason"]


def test_clock_within_bound_stays_quiet(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    events = events_at("near-01", -timedelta(minutes=4))
    events += events_at("near-02", timedelta(minutes=4))
    index_events(provisioned, f"logs-app.app_json-{namespace}", events)

    record = make_detector().run(CLOCK_SKEW)

    assert record.outcome == "succeeded"
    assert stored_alerts(make_detector(), "clock_skew") == []


def test_backfill_of_old_events_stays_quiet(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    index_events(
        provisioned, f"logs-app.app_json-{namespace}", events_at("archive-01", -timedelta(days=3))
    )

    make_detector().run(CLOCK_SKEW)

    assert stored_alerts(make_detector(), "clock_skew") == []


def test_skew_in_next_run_extends_alert(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    stream = f"logs-app.app_json-{namespace}"
    index_events(provisioned, stream, events_at("slow-02", -timedelta(minutes=30)))
    make_detector().run(CLOCK_SKEW)

    index_events(provisioned, stream, events_at("slow-02", -timedelta(minutes=30)))
    second = make_detector().run(CLOCK_SKEW)

    assert second.alerts_created == 0
    assert second.alerts_updated == 1
    assert len(stored_alerts(make_detector(), "clock_skew")) == 1
