"""Stored baselines on the real node: documents, warm-up, the 3x condition and its floor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socwb.baselines import StoredBaseline, baselines_index
from socwb.detection import Detector, DetectorSettings
from socwb.rules.catalog import API_ENDPOINT_VOLUME_ANOMALY, AUTH_VOLUME_ANOMALY, RESOURCE_ANOMALY
from socwb.rules.model import iso
from socwb.search import SearchBackend

from .conftest import every, history_hours, index_events, login, normalize, stored_alerts

MakeDetector = Callable[..., Detector]

# History of six days at one UTC hour spans five days and one hour, so a
# three-day minimum span completes the warm-up.
SETTINGS = DetectorSettings(
    ingest_delay=timedelta(0),
    first_run_lookback=timedelta(minutes=10),
    catch_up_chunk=timedelta(hours=1),
    baseline_min_span=timedelta(days=3),
)


def logins_with_burst(user: str, now: datetime, per_hour: int, burst: int) -> list[dict[str, Any]]:
    """Return `per_hour` logins in the same hour of six past days, then `burst` in 30 minutes."""
    events = []
    for hour in history_hours(now, 6):
        events += [login(user, moment) for moment in every(hour, 60, per_hour)]
    step = 1800 / burst
    events += [login(user, moment) for moment in every(now - timedelta(minutes=30), step, burst)]
    return events


def stored_baselines(backend: SearchBackend, namespace: str, rule_id: str) -> list[StoredBaseline]:
    """Return the stored baselines of a rule, latest window end first."""
    index = baselines_index(namespace)
    backend.refresh(index)
    body = {
        "size": 100,
        "query": {"term": {"rule_id": rule_id}},
        "sort": [{"window_end": "desc"}],
    }
    hits = backend.search(index, body)["hits"]["hits"]
    return [StoredBaseline.model_validate(hit["_source"]) for hit in hits]


def test_baseline_document_records_computation(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    now = datetime.now(UTC)
    index_events(provisioned, f"logs-idp.okta-{namespace}", logins_with_burst("ann", now, 10, 50))

    make_detector(settings=SETTINGS).run(AUTH_VOLUME_ANOMALY)

    latest = stored_baselines(provisioned, namespace, "auth_volume_anomaly")[0]
    assert latest.entity_key == "user.name=ann"
    assert latest.data_points == 6
    assert latest.is_warm is True
    assert latest.mean == 10.0
    assert latest.window_seconds == 28 * 86400
    assert latest.window_end - latest.window_start == timedelta(days=28)
    assert latest.min_span_seconds == 3 * 86400
    assert latest.data_span_seconds == 5 * 86400 + 3600
    assert now - timedelta(minutes=5) < latest.computed_at <= datetime.now(UTC)


def test_warm_up_without_history_stays_quiet(
    provisioned: SearchBackend,
    namespace: str,
    make_detector: MakeDetector,
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = datetime.now(UTC)
    burst = [login("newcomer", moment) for moment in every(now - timedelta(minutes=30), 20, 80)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", burst)

    with caplog.at_level(logging.INFO, logger="socwb.baseline_evaluation"):
        record = make_detector(settings=SETTINGS).run(AUTH_VOLUME_ANOMALY)

    assert record.buckets == 1
    assert stored_alerts(make_detector(), "auth_volume_anomaly") == []
    baselines = stored_baselines(provisioned, namespace, "auth_volume_anomaly")
    assert baselines
    assert all(baseline.is_warm is False for baseline in baselines)
    assert all(baseline.data_points == 0 for baseline in baselines)
    warming = [line for line in caplog.messages if "baseline warming up" in line]
    assert warming
    assert "entity=user.name=newcomer" in warming[0]


def test_warm_up_short_span_stays_quiet(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    now = datetime.now(UTC)
    index_events(provisioned, f"logs-idp.okta-{namespace}", logins_with_burst("cleo", now, 10, 50))
    settings = SETTINGS.model_copy(update={"baseline_min_span": timedelta(days=10)})

    make_detector(settings=settings).run(AUTH_VOLUME_ANOMALY)

    assert stored_alerts(make_detector(), "auth_volume_anomaly") == []
    assert stored_baselines(provisioned, namespace, "auth_volume_anomaly")[0].is_warm is False


@pytest.mark.parametrize(
    ("per_hour", "burst", "expected_alerts"),
    [
        pytest.param(10, 31, 1, id="3.1x-alerts"),
        pytest.param(10, 30, 0, id="3.0x-quiet"),
        pytest.param(10, 29, 0, id="2.9x-quiet"),
        pytest.param(2, 10, 0, id="5x-below-floor-quiet"),
        pytest.param(2, 21, 1, id="10.5x-above-floor-alerts"),
    ],
)
def test_three_times_baseline_and_floor(
    provisioned: SearchBackend,
    namespace: str,
    make_detector: MakeDetector,
    per_hour: int,
    burst: int,
    expected_alerts: int,
) -> None:
    now = datetime.now(UTC)
    events = logins_with_burst("dana", now, per_hour, burst)
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)

    make_detector(settings=SETTINGS).run(AUTH_VOLUME_ANOMALY)

    alerts = stored_alerts(make_detector(), "auth_volume_anomaly")
    assert len(alerts) == expected_alerts
    for alert in alerts:
        assert alert.evidence.buckets["current"] == float(burst)


def host_metric(host: str, moment: datetime, cpu: float) -> dict[str, Any]:
    """A host metric document as a metric shipper writes it, run through its normalizer."""
    record = {
        "@timestamp": iso(moment),
        "event": {"kind": "metric", "dataset": "metrics.host", "module": "socwb"},
        "metricset": {"name": "host", "period": 300000},
        "host": {
            "name": host,
            "cpu": {"usage": cpu},
            "network": {"ingress": {"bytes": 5_000_000}, "egress": {"bytes": 4_000_000}},
        },
        "system": {"memory": {"used": {"pct": 0.5}}},
        "service": {"name": "worker"},
    }
    return normalize("host_metrics", record)


def cpu_series(host: str, now: datetime, usual: float, current: float) -> list[dict[str, Any]]:
    """Return 5-minute samples at `usual` in one hour of six past days, then one hour at `current`.

    The hour at `current` starts 58 minutes before now.
    """
    events = [
        host_metric(host, moment, usual)
        for hour in history_hours(now, 6)
        for moment in every(hour, 300, 12)
    ]
    start = now - timedelta(minutes=58)
    events += [host_metric(host, moment, current) for moment in every(start, 300, 12)]
    return events


def test_resource_anomaly_on_host_metrics(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    now = datetime.now(UTC)
    events = cpu_series("worker-09", now, 0.2, 0.9) + cpu_series("worker-10", now, 0.2, 0.5)
    index_events(provisioned, f"logs-metrics.host_metrics-{namespace}", events)

    make_detector(settings=SETTINGS).run(RESOURCE_ANOMALY)

    alerts = stored_alerts(make_detector(), "resource_anomaly")
    assert [alert.entity_key for alert in alerts] == ["host.name=worker-09"]
    buckets = alerts[0].evidence.buckets
    assert buckets["baseline"] == pytest.approx(2.4)
    assert buckets["current"] == pytest.approx(10.8)
    assert buckets["ratio"] == 4.5
    assert alerts[0].severity == "Medium"


def api_call(user: str, action: str, moment: datetime) -> dict[str, Any]:
    """A CloudTrail API call as the cloudtrail normalizer emits it."""
    return {
        "@timestamp": iso(moment),
        "event": {
            "kind": "event",
            "category": ["configuration"],
            "type": ["info"],
            "action": action,
            "provider": "s3.amazonaws.com",
            "dataset": "cloud.aws_cloudtrail",
        },
        "user": {"name": user},
    }


def test_api_endpoint_anomaly_groups_by_operation(
    provisioned: SearchBackend, namespace: str, make_detector: MakeDetector
) -> None:
    now = datetime.now(UTC)
    events = []
    for hour in history_hours(now, 6):
        events += [api_call(f"user{index % 5}", "ListBuckets", hour) for index in range(20)]
        events += [api_call(f"user{index % 5}", "GetObject", hour) for index in range(60)]
    burst = every(now - timedelta(minutes=30), 10, 150)
    events += [
        api_call(f"user{index % 50}", "ListBuckets", moment) for index, moment in enumerate(burst)
    ]
    events += [
        api_call("user1", "GetObject", moment)
        for moment in every(now - timedelta(minutes=30), 10, 150)
    ]
    index_events(provisioned, f"logs-cloud.aws_cloudtrail-{namespace}", events)

    make_detector(settings=SETTINGS).run(API_ENDPOINT_VOLUME_ANOMALY)

    alerts = stored_alerts(make_detector(), "api_endpoint_volume_anomaly")
    keys = [alert.entity_key for alert in alerts]
    assert keys == ["event.provider=s3.amazonaws.com event.action=ListBuckets"]
    assert alerts[0].evidence.buckets["baseline"] == 20.0
    assert alerts[0].evidence.buckets["current"] == 150.0
