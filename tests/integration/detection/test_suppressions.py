"""Suppressions applied by the detector on a real engine: stored suppressed, counted, audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from socwb.alerts.model import AlertStatus
from socwb.alerts.workflow import QueueFilter, list_queue
from socwb.auth import Principal, Role
from socwb.detection import Detector
from socwb.errors import AlertWorkflowError
from socwb.rules.catalog import AUTH_FAILURE_SPIKE, LOG_SOURCE_STOPPED
from socwb.search import SearchBackend
from socwb.suppression_filter import list_suppressed, suppressed_totals
from socwb.tuning import FieldCondition, Suppression, SuppressionStore

from .conftest import auth_failure, every, index_events, real_clock, stored_alerts
from .test_silence import fixed_clock, host_event, relaxed_gap_settings, small_catalogue

MakeDetector = Callable[..., Detector]

ANALYST = Principal("ana", frozenset({Role.ANALYST}))
REVIEWER = Principal("rita", frozenset({Role.REVIEWER}))
JUSTIFICATION = "nightly backup job retries its login with a stale password"


def okta_stream(namespace: str) -> str:
    return f"logs-idp.okta-{namespace}"


def recent_start() -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=8)).replace(second=0, microsecond=0)


def propose(
    backend: SearchBackend,
    namespace: str,
    user: str,
    *,
    proposed_at: datetime,
    expires_at: datetime,
) -> Suppression:
    return SuppressionStore(backend, namespace).propose(
        ANALYST,
        rule_ids=[AUTH_FAILURE_SPIKE.id],
        conditions=[FieldCondition(field="user.name", value=user)],
        justification=JUSTIFICATION,
        expires_at=expires_at,
        now=proposed_at,
    )


def approve(backend: SearchBackend, namespace: str, proposal: Suppression, at: datetime) -> None:
    SuppressionStore(backend, namespace).approve(REVIEWER, proposal.id, now=at)


def index_bursts(backend: SearchBackend, namespace: str, users: list[str], start: datetime) -> None:
    events = [auth_failure(user, moment) for user in users for moment in every(start, 15, 11)]
    index_events(backend, okta_stream(namespace), events)


def queued_ids(backend: SearchBackend, namespace: str) -> set[str]:
    page = list_queue(backend, namespace, ANALYST, QueueFilter())
    return {alert.id for alert in page.alerts}


def test_active_suppression_stores_alert_suppressed(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    now = datetime.now(UTC)
    proposal = propose(
        provisioned, namespace, "svc_backup", proposed_at=now, expires_at=now + timedelta(days=7)
    )
    approve(provisioned, namespace, proposal, now)
    index_bursts(provisioned, namespace, ["svc_backup", "user001"], recent_start())
    detector = make_detector()

    record = detector.run(AUTH_FAILURE_SPIKE)

    alerts = {alert.entity_key: alert for alert in stored_alerts(detector)}
    suppressed = alerts["user.name=svc_backup"]
    raised = alerts["user.name=user001"]
    assert len(alerts) == 2
    assert suppressed.status is AlertStatus.SUPPRESSED
    assert suppressed.suppression_id == proposal.id
    assert suppressed.count == 11
    assert raised.status is AlertStatus.OPEN
    assert raised.suppression_id is None
    assert record.alerts_created == 1
    assert record.suppressed == 1
    assert record.suppressed_by == {proposal.id: 1}
    stored_record = detector.runs.list_runs(AUTH_FAILURE_SPIKE.id)[0]
    assert stored_record.suppressed == 1
    assert stored_record.suppressed_by == {proposal.id: 1}
    assert queued_ids(provisioned, namespace) == {raised.id}
    assert [alert.id for alert in list_suppressed(provisioned, namespace)] == [suppressed.id]
    assert [a.id for a in list_suppressed(provisioned, namespace, proposal.id)] == [suppressed.id]
    assert suppressed_totals(provisioned, namespace) == {proposal.id: 1}


def test_suppressed_alert_rerun_writes_nothing_new(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    now = datetime.now(UTC)
    proposal = propose(
        provisioned, namespace, "svc_backup", proposed_at=now, expires_at=now + timedelta(days=7)
    )
    approve(provisioned, namespace, proposal, now)
    start = recent_start()
    index_bursts(provisioned, namespace, ["svc_backup"], start)
    detector = make_detector()
    detector.run(AUTH_FAILURE_SPIKE)

    # More failures of the same episode: they extend the suppressed alert.
    index_bursts(provisioned, namespace, ["svc_backup"], start + timedelta(minutes=3))
    second = detector.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(detector)
    assert len(alerts) == 1
    assert alerts[0].status is AlertStatus.SUPPRESSED
    assert alerts[0].count == 22
    assert second.alerts_created == 0
    assert second.suppressed == 0
    assert second.alerts_updated == 1
    assert queued_ids(provisioned, namespace) == set()


def test_unapproved_suppression_does_nothing(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    now = datetime.now(UTC)
    propose(
        provisioned, namespace, "svc_backup", proposed_at=now, expires_at=now + timedelta(days=7)
    )
    index_bursts(provisioned, namespace, ["svc_backup"], recent_start())
    detector = make_detector()

    record = detector.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(detector)
    assert len(alerts) == 1
    assert alerts[0].status is AlertStatus.OPEN
    assert record.suppressed == 0
    assert record.suppressed_by == {}
    assert queued_ids(provisioned, namespace) == {alerts[0].id}


def test_expired_suppression_does_nothing(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    proposal = propose(
        provisioned, namespace, "svc_backup", proposed_at=past, expires_at=past + timedelta(days=1)
    )
    approve(provisioned, namespace, proposal, past)
    index_bursts(provisioned, namespace, ["svc_backup"], recent_start())
    detector = make_detector()

    record = detector.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(detector)
    assert len(alerts) == 1
    assert alerts[0].status is AlertStatus.OPEN
    assert record.suppressed == 0
    assert suppressed_totals(provisioned, namespace) == {}


def test_activity_after_expiry_raises_new_alert(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    now = datetime.now(UTC)
    proposal = propose(
        provisioned,
        namespace,
        "svc_backup",
        proposed_at=now - timedelta(hours=1),
        expires_at=now + timedelta(minutes=2),
    )
    approve(provisioned, namespace, proposal, now - timedelta(hours=1))
    start = recent_start()
    index_bursts(provisioned, namespace, ["svc_backup"], start)
    make_detector().run(AUTH_FAILURE_SPIKE)

    # The same episode goes on; the detector now runs after the expiry.
    index_bursts(provisioned, namespace, ["svc_backup"], start + timedelta(minutes=3))
    later = make_detector(clock=real_clock(timedelta(minutes=4)))
    record = later.run(AUTH_FAILURE_SPIKE)

    alerts = stored_alerts(later, AUTH_FAILURE_SPIKE.id)
    statuses = sorted(alert.status.value for alert in alerts)
    opened = [alert for alert in alerts if alert.status is AlertStatus.OPEN]
    assert statuses == ["open", "suppressed"]
    assert record.alerts_created == 1
    assert record.suppressed == 0
    assert queued_ids(provisioned, namespace) == {opened[0].id}
    assert suppressed_totals(provisioned, namespace) == {proposal.id: 1}


def test_suppressed_alert_status_cannot_change(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    now = datetime.now(UTC)
    proposal = propose(
        provisioned, namespace, "svc_backup", proposed_at=now, expires_at=now + timedelta(days=7)
    )
    approve(provisioned, namespace, proposal, now)
    index_bursts(provisioned, namespace, ["svc_backup"], recent_start())
    detector = make_detector()
    detector.run(AUTH_FAILURE_SPIKE)
    alert = stored_alerts(detector)[0]

    with pytest.raises(AlertWorkflowError, match="cannot move from 'suppressed' to 'closed'"):
        detector.alerts.set_status(alert.id, AlertStatus.CLOSED, actor="ana", now=now)

    assert detector.alerts.get(alert.id).status is AlertStatus.SUPPRESSED  # type: ignore[union-attr]


def test_silence_alert_of_suppressed_source_stored_suppressed(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = datetime.now(UTC).replace(microsecond=0)
    proposal = SuppressionStore(provisioned, namespace).propose(
        ANALYST,
        rule_ids=[LOG_SOURCE_STOPPED.id],
        conditions=[FieldCondition(field="source", value="vulnscan")],
        justification="the scanner is decommissioned until its replacement arrives",
        expires_at=start + timedelta(days=7),
        now=start,
    )
    approve(provisioned, namespace, proposal, start)
    catalogue = small_catalogue({})
    index_events(provisioned, f"logs-edr.sentinelone-{namespace}", [host_event("web-01")])
    make_detector(clock=fixed_clock(start), catalogue=catalogue).run(LOG_SOURCE_STOPPED)
    later = make_detector(
        clock=fixed_clock(start + timedelta(minutes=61)),
        catalogue=catalogue,
        settings=relaxed_gap_settings(),
    )

    record = later.run(LOG_SOURCE_STOPPED)

    alerts = {alert.entity_key: alert for alert in stored_alerts(later, LOG_SOURCE_STOPPED.id)}
    assert sorted(alerts) == ["source=edr", "source=vulnscan"]
    assert alerts["source=vulnscan"].status is AlertStatus.SUPPRESSED
    assert alerts["source=vulnscan"].suppression_id == proposal.id
    assert alerts["source=edr"].status is AlertStatus.OPEN
    assert record.alerts_created == 1
    assert record.suppressed == 1
    assert record.suppressed_by == {proposal.id: 1}
