"""The alert workflow on a real engine: history entries, derived status, concurrency, roles."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from socwb.alerts.history import Action, Disposition, HistoryStore
from socwb.alerts.model import AlertStatus
from socwb.alerts.store import AlertStore
from socwb.alerts.workflow import AlertWorkflow, ConcurrentChangeError, OpenedAlert
from socwb.auth import PermissionDenied
from socwb.errors import AlertWorkflowError
from socwb.search import SearchBackend

from .conftest import ANALYST, NO_ROLE, SECOND_ANALYST, AlertFactory

NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


@pytest.fixture
def workflow(backend: SearchBackend, namespace: str) -> AlertWorkflow:
    return AlertWorkflow(backend, namespace, clock=lambda: NOW)


def stored_history(
    backend: SearchBackend, namespace: str, alert_id: str
) -> list[dict[str, object]]:
    store = HistoryStore(backend, namespace)
    backend.refresh(store.index)
    return [entry.model_dump(mode="json") for entry in store.entries(alert_id)]


def test_acknowledge_appends_entry_and_sets_status(
    workflow: AlertWorkflow, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    alert = make_alert()

    changed = workflow.acknowledge(ANALYST, workflow.open(ANALYST, alert.id), note="looking")

    assert stored_history(backend, namespace, alert.id) == [
        {
            "alert_id": alert.id,
            "seq": 1,
            "actor": "ana",
            "at": "2026-11-03T09:30:00.000Z",
            "action": "acknowledge",
            "from_status": "open",
            "to_status": "acknowledged",
            "note": "looking",
            "disposition": None,
            "assignee": None,
            "incident_id": None,
        }
    ]
    stored = AlertStore(backend, namespace).get(alert.id)
    assert stored is not None
    assert stored.status == AlertStatus.ACKNOWLEDGED
    assert stored.status_changed_by == "ana"
    assert stored.status_changed_at == NOW
    assert changed.state.acknowledged_by == "ana"
    assert changed.state.acknowledged_at == NOW


def test_history_entry_id_is_alert_id_and_seq(
    workflow: AlertWorkflow, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    alert = make_alert()

    workflow.acknowledge(ANALYST, workflow.open(ANALYST, alert.id))

    found = backend.get_document(HistoryStore(backend, namespace).index, f"{alert.id}-000001")
    assert found is not None
    assert found["_source"]["seq"] == 1


def test_second_change_from_same_version_is_rejected(
    workflow: AlertWorkflow, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    alert = make_alert()
    opened_by_ana = workflow.open(ANALYST, alert.id)
    opened_by_bob = workflow.open(SECOND_ANALYST, alert.id)
    workflow.acknowledge(ANALYST, opened_by_ana)

    with pytest.raises(ConcurrentChangeError, match="changed by ana at 2026-11-03T09:30:00.000Z"):
        workflow.add_note(SECOND_ANALYST, opened_by_bob, "my note")

    history = stored_history(backend, namespace, alert.id)
    assert len(history) == 1
    assert history[0]["actor"] == "ana"


def test_concurrent_changes_write_exactly_one_entry(
    workflow: AlertWorkflow, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    alert = make_alert()
    principals = [ANALYST, SECOND_ANALYST] * 3
    opened = [workflow.open(principal, alert.id) for principal in principals]
    barrier = threading.Barrier(len(principals))
    outcomes: list[str] = []

    def acknowledge(index: int) -> None:
        barrier.wait()
        try:
            workflow.acknowledge(principals[index], opened[index])
            outcomes.append("changed")
        except ConcurrentChangeError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=acknowledge, args=(i,)) for i in range(len(principals))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["changed"] + ["conflict"] * (len(principals) - 1)
    assert len(stored_history(backend, namespace, alert.id)) == 1
    reloaded = workflow.open(ANALYST, alert.id)
    assert reloaded.alert.status == AlertStatus.ACKNOWLEDGED


def test_detector_update_since_opening_is_no_conflict(
    workflow: AlertWorkflow, make_alert: AlertFactory, alert_store: AlertStore
) -> None:
    alert = make_alert()
    opened = workflow.open(ANALYST, alert.id)
    alert_store.update_many([alert.model_copy(update={"count": 99})])

    changed = workflow.acknowledge(ANALYST, opened)

    assert changed.alert.status == AlertStatus.ACKNOWLEDGED
    assert changed.alert.count == 99
    assert changed.seq_no > opened.seq_no


def test_full_lifecycle_derives_state(workflow: AlertWorkflow, make_alert: AlertFactory) -> None:
    alert = make_alert()

    opened = workflow.open(ANALYST, alert.id)
    opened = workflow.acknowledge(ANALYST, opened)
    opened = workflow.assign(ANALYST, opened, "bob")
    opened = workflow.start(SECOND_ANALYST, opened)
    opened = workflow.add_note(SECOND_ANALYST, opened, "checked the VPN logs")
    opened = workflow.link_incident(SECOND_ANALYST, opened, "INC-42")
    opened = workflow.close(SECOND_ANALYST, opened, Disposition.FALSE_POSITIVE, "test account")

    assert [entry.action for entry in opened.history] == [
        Action.ACKNOWLEDGE,
        Action.ASSIGN,
        Action.START,
        Action.NOTE,
        Action.LINK_INCIDENT,
        Action.CLOSE,
    ]
    assert [entry.seq for entry in opened.history] == [1, 2, 3, 4, 5, 6]
    assert opened.alert.status == AlertStatus.CLOSED
    assert opened.state.assignee == "bob"
    assert opened.state.disposition == Disposition.FALSE_POSITIVE
    assert opened.state.closed_by == "bob"
    assert opened.state.incident_ids == ("INC-42",)


def test_reopen_clears_disposition(workflow: AlertWorkflow, make_alert: AlertFactory) -> None:
    alert = make_alert()
    opened = workflow.close(ANALYST, workflow.open(ANALYST, alert.id), Disposition.BENIGN)

    reopened = workflow.reopen(ANALYST, opened, "new events from the same user")

    assert reopened.alert.status == AlertStatus.OPEN
    assert reopened.state.disposition is None
    assert reopened.state.closed_at is None
    assert reopened.state.first_response_at == NOW


def test_close_without_disposition_writes_nothing(
    workflow: AlertWorkflow, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    alert = make_alert()

    with pytest.raises(AlertWorkflowError, match="requires a disposition"):
        workflow.close(ANALYST, workflow.open(ANALYST, alert.id), None)

    assert stored_history(backend, namespace, alert.id) == []


def test_illegal_transition_writes_nothing(
    workflow: AlertWorkflow, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    alert = make_alert()

    with pytest.raises(AlertWorkflowError, match="cannot move from 'open' to 'in_progress'"):
        workflow.start(ANALYST, workflow.open(ANALYST, alert.id))

    assert stored_history(backend, namespace, alert.id) == []


def test_change_without_role_is_denied(
    workflow: AlertWorkflow, make_alert: AlertFactory, backend: SearchBackend, namespace: str
) -> None:
    alert = make_alert()
    opened = workflow.open(ANALYST, alert.id)

    with pytest.raises(PermissionDenied, match="'guest'"):
        workflow.acknowledge(NO_ROLE, opened)

    assert stored_history(backend, namespace, alert.id) == []


def test_assign_closed_alert_is_rejected(workflow: AlertWorkflow, make_alert: AlertFactory) -> None:
    alert = make_alert()
    opened = workflow.close(ANALYST, workflow.open(ANALYST, alert.id), Disposition.DUPLICATE)

    with pytest.raises(AlertWorkflowError, match="reopen it before assigning"):
        workflow.assign(ANALYST, opened, "bob")


def test_bulk_acknowledge_reports_each_alert(
    workflow: AlertWorkflow, make_alert: AlertFactory
) -> None:
    first = make_alert()
    second = make_alert()
    workflow.acknowledge(ANALYST, workflow.open(ANALYST, second.id))

    outcome = workflow.bulk_acknowledge(ANALYST, [first.id, second.id, "missing"])

    assert outcome.changed == [first.id]
    assert set(outcome.failed) == {second.id, "missing"}
    assert "cannot move from 'acknowledged'" in outcome.failed[second.id]
    assert "not found" in outcome.failed["missing"]


def test_open_unknown_alert_raises(workflow: AlertWorkflow, alert_store: AlertStore) -> None:
    with pytest.raises(AlertWorkflowError, match="not found"):
        workflow.open(ANALYST, "no-such-alert")


def test_stale_opened_version_is_kept_by_caller(
    workflow: AlertWorkflow, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    opened: OpenedAlert = workflow.open(ANALYST, alert.id)

    workflow.acknowledge(ANALYST, opened)

    assert opened.state.status == AlertStatus.OPEN
    assert opened.history == ()
    assert workflow.open(ANALYST, alert.id).state.last_seq == 1


def test_timestamps_are_utc(workflow: AlertWorkflow, make_alert: AlertFactory) -> None:
    alert = make_alert()

    opened = workflow.acknowledge(ANALYST, workflow.open(ANALYST, alert.id))

    assert opened.history[0].at.utcoffset() == timedelta(0)
