"""Run engine behaviour on a real engine: field mappings, catch-up windows, alert workflow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from socwb.alerts.model import AlertStatus
from socwb.checkpoints import RunRecord
from socwb.detection import Detector
from socwb.errors import AlertWorkflowError, RuleError
from socwb.rules.catalog import AUTH_FAILURE_SPIKE
from socwb.rules.model import TimeWindow, iso
from socwb.search import SearchBackend

from .conftest import TEST_SETTINGS, auth_failure, every, index_events, stored_alerts

MakeDetector = Callable[..., Detector]


def index_custom(backend: SearchBackend, index: str, user: str, count: int) -> None:
    """Write failures to an index without our templates, stamping event.ingested by hand."""
    start = datetime.now(UTC) - timedelta(minutes=6)
    operations: list[dict[str, object]] = []
    for moment in every(start, 20, count):
        event = auth_failure(user, moment, dataset="custom.auth")
        event["event"]["ingested"] = iso(datetime.now(UTC))  # type: ignore[index]
        operations.extend(({"index": {"_index": index}}, event))
    result, _ = backend.bulk(operations, refresh=True)
    assert result.errors == []


def test_text_mapped_group_field_uses_keyword_subfield(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    index_custom(provisioned, f"logs-custom-{namespace}", "user006", 11)
    start = datetime.now(UTC) - timedelta(minutes=6)
    ecs_events = [auth_failure("user011", moment) for moment in every(start, 20, 11)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", ecs_events)
    detector = make_detector()

    record = detector.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(detector)
    assert sorted(alert.entity_key for alert in alerts) == [
        "user.name=user006",
        "user.name=user011",
    ]
    assert {alert.count for alert in alerts} == {11}
    assert record.buckets == 2


def test_text_field_without_keyword_rejects_rule(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    index = f"logs-custom-{namespace}"
    mapping = {"mappings": {"properties": {"user": {"properties": {"name": {"type": "text"}}}}}}
    provisioned.request("PUT", f"/{index}", body=mapping)
    index_custom(provisioned, index, "user006", 11)
    detector = make_detector()

    with pytest.raises(RuleError, match="maps as 'text' without a keyword sub-field"):
        detector.run(AUTH_FAILURE_SPIKE)

    assert stored_alerts(detector) == []
    assert detector.checkpoints.load("auth_failure_spike") is None
    assert [run.outcome for run in detector.runs.list_runs("auth_failure_spike")] == ["failed"]


def test_catch_up_windows_are_contiguous_and_bounded(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    settings = TEST_SETTINGS.model_copy(
        update={"first_run_lookback": timedelta(minutes=10), "catch_up_chunk": timedelta(minutes=3)}
    )
    detector = make_detector(settings=settings)

    records = [detector.run(AUTH_FAILURE_SPIKE)]
    while records[-1].is_backfilled and len(records) < 10:
        records.append(detector.run(AUTH_FAILURE_SPIKE))

    assert len(records) == 4
    assert [record.is_backfilled for record in records] == [True, True, True, False]
    for previous, following in zip(records, records[1:], strict=False):
        assert previous.arrival_end == following.arrival_start
    for record in records:
        assert record.arrival_start is not None
        assert record.arrival_end is not None
        assert record.arrival_end - record.arrival_start <= timedelta(minutes=3)


def test_alert_status_follows_allowed_transitions(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = [auth_failure("user012", moment) for moment in every(start, 10, 11)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)
    detector = make_detector()
    detector.run(AUTH_FAILURE_SPIKE)
    alert = stored_alerts(detector)[0]
    now = datetime.now(UTC)

    for status in (AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS, AlertStatus.CLOSED):
        detector.alerts.set_status(alert.id, status, actor="analyst1", now=now)
    with pytest.raises(AlertWorkflowError, match="cannot move from 'closed' to 'in_progress'"):
        detector.alerts.set_status(alert.id, AlertStatus.IN_PROGRESS, actor="analyst1", now=now)

    stored = detector.alerts.get(alert.id)
    assert stored is not None
    assert stored.status is AlertStatus.CLOSED
    assert stored.status_changed_by == "analyst1"


def test_later_run_keeps_analyst_status(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=6)
    stream = f"logs-idp.okta-{namespace}"
    index_events(provisioned, stream, [auth_failure("user013", at) for at in every(start, 10, 11)])
    detector = make_detector()
    detector.run(AUTH_FAILURE_SPIKE)
    alert = stored_alerts(detector)[0]
    detector.alerts.set_status(
        alert.id, AlertStatus.ACKNOWLEDGED, actor="analyst1", now=datetime.now(UTC)
    )

    more = every(start + timedelta(seconds=115), 5, 4)
    index_events(provisioned, stream, [auth_failure("user013", moment) for moment in more])
    detector.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(detector)
    assert len(alerts) == 1
    assert alerts[0].status is AlertStatus.ACKNOWLEDGED
    assert alerts[0].count == 15


def test_activity_after_close_opens_follow_up(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=6)
    stream = f"logs-idp.okta-{namespace}"
    index_events(provisioned, stream, [auth_failure("user015", at) for at in every(start, 10, 11)])
    detector = make_detector()
    detector.run(AUTH_FAILURE_SPIKE)
    closed = stored_alerts(detector)[0]
    now = datetime.now(UTC)
    detector.alerts.set_status(closed.id, AlertStatus.CLOSED, actor="analyst1", now=now)

    more = every(start + timedelta(seconds=115), 5, 4)
    index_events(provisioned, stream, [auth_failure("user015", moment) for moment in more])
    first = make_detector().run(AUTH_FAILURE_SPIKE)
    replay = make_detector().run_range(AUTH_FAILURE_SPIKE, window_of_record(first))

    alerts = {alert.id: alert for alert in stored_alerts(detector)}
    assert len(alerts) == 2
    assert alerts[closed.id].status is AlertStatus.CLOSED
    assert alerts[closed.id].count == 11
    follow_up = next(alert for alert in alerts.values() if alert.id != closed.id)
    assert follow_up.status is AlertStatus.OPEN
    assert (first.alerts_created, replay.alerts_created, replay.alerts_updated) == (1, 0, 1)


def window_of_record(record: RunRecord) -> TimeWindow:
    assert record.arrival_start is not None
    assert record.arrival_end is not None
    return TimeWindow(record.arrival_start, record.arrival_end)
