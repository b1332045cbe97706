"""Log source silence, monitoring gaps, and runs that fail or die before their checkpoint."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socwb.catalogue import Catalogue
from socwb.checkpoints import RunRecord
from socwb.detection import Detector
from socwb.errors import SearchUnavailableError
from socwb.rules.catalog import AUTH_FAILURE_SPIKE, LOG_SOURCE_STOPPED
from socwb.rules.model import TimeWindow, from_epoch_millis, iso
from socwb.search import SearchBackend
from socwb.search.opensearch import OpenSearchBackend, build_opensearch_client
from socwb.search.retry import RetryPolicy
from socwb.settings import SearchSettings

from .conftest import auth_failure, every, index_events, stored_alerts

MakeDetector = Callable[..., Detector]


def small_catalogue(host_silence: dict[str, int]) -> Catalogue:
    """Two sources: edr with per-host silence limits, and vulnscan."""
    log_types = [{"key": "any", "title": "Any event", "all_of": [{"event.kind": ["event"]}]}]
    return Catalogue.model_validate(
        {
            "sources": [
                {
                    "key": "edr",
                    "title": "Endpoint security",
                    "criteria": ["CC7.1"],
                    "formats": ["sentinelone"],
                    "log_types": log_types,
                    "retention_days": 90,
                    "max_silence_seconds": 3600,
                    "host_max_silence_seconds": host_silence,
                },
                {
                    "key": "vulnscan",
                    "title": "Vulnerability scanner",
                    "criteria": ["CC7.1"],
                    "formats": ["nessus"],
                    "log_types": log_types,
                    "retention_days": 365,
                    "max_silence_seconds": 3600,
                },
            ],
            "deadletter": {"dataset": "socwb.deadletter", "retention_days": 365},
        }
    )


def host_event(host: str, action: str = "heartbeat") -> dict[str, Any]:
    return {
        "@timestamp": iso(datetime.now(UTC)),
        "event": {"kind": "event", "category": ["host"], "action": action},
        "host": {"name": host},
    }


def last_ingested(backend: SearchBackend, namespace: str, host: str) -> datetime:
    body = {
        "size": 0,
        "query": {"term": {"host.name": host}},
        "aggs": {"last": {"max": {"field": "event.ingested"}}},
    }
    response = backend.search(f"logs-edr.*-{namespace}", body)
    return from_epoch_millis(response["aggregations"]["last"]["value"])


def fixed_clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def closed_port_backend(reference: SearchBackend) -> SearchBackend:
    """A backend for a loopback port where nothing listens, with retries off."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = SearchSettings(urls=[f"http://127.0.0.1:{port}"], max_retries=0)
    policy = RetryPolicy(max_retries=0, initial_delay=0.01, max_delay=0.01)
    return OpenSearchBackend(build_opensearch_client(settings), reference.info, policy)


def test_stopped_host_alerts_and_restarted_host_does_not(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    stream = f"logs-edr.sentinelone-{namespace}"
    catalogue = small_catalogue({"db-02": 60, "app-03": 60})
    index_events(provisioned, stream, [host_event("db-02"), host_event("db-02", "agent-stopped")])
    time.sleep(2)
    restart = [host_event("app-03", "agent-stopped"), host_event("app-03", "agent-started")]
    index_events(provisioned, stream, [*restart, host_event("app-03")])
    db_last = last_ingested(provisioned, namespace, "db-02")
    app_last = last_ingested(provisioned, namespace, "app-03")
    check_time = db_last + timedelta(seconds=61)
    assert check_time < app_last + timedelta(seconds=60)

    detector = make_detector(clock=fixed_clock(check_time), catalogue=catalogue)
    first = detector.run(LOG_SOURCE_STOPPED)
    later = make_detector(clock=fixed_clock(check_time), catalogue=catalogue)
    second = later.run(LOG_SOURCE_STOPPED)

    alerts = stored_alerts(detector, "log_source_stopped")
    assert [alert.entity_key for alert in alerts] == ["source=edr host.name=db-02"]
    assert alerts[0].first_event == db_last
    assert (first.alerts_created, second.alerts_created, second.alerts_updated) == (1, 0, 1)


def test_source_that_never_sent_alerts_once(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    catalogue = small_catalogue({})
    start = datetime.now(UTC).replace(microsecond=0)
    index_events(provisioned, f"logs-edr.sentinelone-{namespace}", [host_event("web-01")])
    make_detector(clock=fixed_clock(start), catalogue=catalogue).run(LOG_SOURCE_STOPPED)

    later = make_detector(
        clock=fixed_clock(start + timedelta(minutes=61)),
        catalogue=catalogue,
        settings=relaxed_gap_settings(),
    )
    later.run(LOG_SOURCE_STOPPED)
    later.run(LOG_SOURCE_STOPPED)

    alerts = {alert.entity_key: alert for alert in stored_alerts(later, "log_source_stopped")}
    assert sorted(alerts) == ["source=edr", "source=vulnscan"]
    assert alerts["source=vulnscan"].first_event == start
    assert alerts["source=vulnscan"].evidence.buckets["has_never_sent"] is True
    assert alerts["source=edr"].evidence.buckets["has_never_sent"] is False


def relaxed_gap_settings() -> Any:
    from .conftest import TEST_SETTINGS

    return TEST_SETTINGS.model_copy(update={"degraded_after": timedelta(days=1)})


def test_failed_query_raises_no_silence_alert(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    catalogue = small_catalogue({})
    start = datetime.now(UTC).replace(microsecond=0)
    index_events(provisioned, f"logs-edr.sentinelone-{namespace}", [host_event("web-01")])
    make_detector(clock=fixed_clock(start), catalogue=catalogue).run(LOG_SOURCE_STOPPED)
    unreachable = closed_port_backend(provisioned)

    offline = Detector(
        unreachable,
        namespace,
        clock=fixed_clock(start + timedelta(hours=2)),
        catalogue=catalogue,
    )
    with pytest.raises(SearchUnavailableError):
        offline.run(LOG_SOURCE_STOPPED)
    unreachable.close()
    index_events(provisioned, f"logs-edr.sentinelone-{namespace}", [host_event("web-01")])
    recovered = make_detector(clock=fixed_clock(start + timedelta(minutes=10)), catalogue=catalogue)
    recovered.run(LOG_SOURCE_STOPPED)

    assert stored_alerts(recovered, "log_source_stopped") == []
    degraded = stored_alerts(recovered, "monitoring_degraded")
    assert [alert.entity_key for alert in degraded] == ["rule.id=log_source_stopped"]
    assert degraded[0].first_event == start
    assert degraded[0].severity.value == "High"


def test_run_killed_before_checkpoint_alerts_once_on_rerun(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=8)).replace(second=0, microsecond=0)
    events = [
        auth_failure(f"user{number}", moment)
        for number in range(20)
        for moment in every(start, 10, 12)
    ]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)

    def crash(record: RunRecord) -> None:
        raise KeyboardInterrupt(f"process killed after storing alerts of run {record.run_id}")

    with pytest.raises(KeyboardInterrupt):
        make_detector(after_store=crash).run(AUTH_FAILURE_SPIKE)
    assert len(stored_alerts(make_detector(), "auth_failure_spike")) == 20
    assert make_detector().checkpoints.load("auth_failure_spike") is None
    rerun = make_detector().run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(make_detector(), "auth_failure_spike")
    assert len(alerts) == 20
    assert {alert.count for alert in alerts} == {12}
    assert (rerun.alerts_created, rerun.alerts_updated) == (0, 20)


def timed_event(host: str, moment: datetime) -> dict[str, Any]:
    return {
        "@timestamp": iso(moment),
        "event": {"kind": "event", "category": ["host"], "action": "heartbeat"},
        "host": {"name": host},
    }


def test_backfill_finds_past_host_gap_once(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    stream = f"logs-edr.sentinelone-{namespace}"
    catalogue = small_catalogue({})
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    steady = [timed_event("db-02", moment) for moment in every(start, 600, 48)]
    gapped = every(start, 600, 6) + every(start + timedelta(hours=4), 600, 24)
    events = [*steady, *(timed_event("app-03", moment) for moment in gapped)]
    index_events(provisioned, stream, events)
    window = TimeWindow(start, start + timedelta(hours=8))

    detector = make_detector(catalogue=catalogue)
    first = detector.run_range(LOG_SOURCE_STOPPED, window)
    second = make_detector(catalogue=catalogue).run_range(LOG_SOURCE_STOPPED, window)

    alerts = stored_alerts(detector, "log_source_stopped")
    assert [alert.entity_key for alert in alerts] == ["source=edr host.name=app-03"]
    assert alerts[0].first_event == start + timedelta(minutes=50)
    assert alerts[0].last_event == start + timedelta(hours=4)
    assert alerts[0].is_backfilled is True
    assert alerts[0].evidence.buckets["silence_seconds"] == 3 * 3600 + 600
    assert (first.alerts_created, second.alerts_created, second.alerts_updated) == (1, 0, 1)


def test_backfill_ignores_gaps_within_allowance(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    stream = f"logs-edr.sentinelone-{namespace}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    moments = every(start, 3000, 10)
    index_events(provisioned, stream, [timed_event("db-02", moment) for moment in moments])
    window = TimeWindow(start, start + timedelta(hours=10))

    record = make_detector(catalogue=small_catalogue({})).run_range(LOG_SOURCE_STOPPED, window)

    assert record.alerts_created == 0
    assert record.is_backfilled is True
