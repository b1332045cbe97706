"""The alert queue on a real engine: order by due time, filters and paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socwb.alerts.history import Disposition
from socwb.alerts.workflow import AlertWorkflow, QueueFilter, list_queue, list_rule_ids
from socwb.auth import PermissionDenied
from socwb.rules.model import Severity
from socwb.search import SearchBackend

from .conftest import ANALYST, NO_ROLE, AlertFactory

START = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def test_queue_orders_by_due_time(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory
) -> None:
    medium = make_alert(created_at=START, severity=Severity.MEDIUM)
    critical = make_alert(created_at=START + timedelta(minutes=30), severity=Severity.CRITICAL)
    high = make_alert(created_at=START, severity=Severity.HIGH)

    page = list_queue(backend, namespace, ANALYST, QueueFilter())

    assert [alert.id for alert in page.alerts] == [critical.id, high.id, medium.id]
    assert page.total == 3


def test_queue_hides_closed_alerts(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory
) -> None:
    open_alert = make_alert(created_at=START)
    closed = make_alert(created_at=START)
    workflow = AlertWorkflow(backend, namespace)
    workflow.close(ANALYST, workflow.open(ANALYST, closed.id), Disposition.BENIGN)

    page = list_queue(backend, namespace, ANALYST, QueueFilter())

    assert [alert.id for alert in page.alerts] == [open_alert.id]


def test_queue_filters_severity_rule_entity_time(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory
) -> None:
    expected = make_alert(
        created_at=START, severity=Severity.CRITICAL, rule_id="iam_change", user="Carol"
    )
    make_alert(created_at=START, severity=Severity.HIGH, rule_id="iam_change", user="carol")
    make_alert(created_at=START, severity=Severity.CRITICAL, rule_id="malware", user="carol")
    make_alert(created_at=START, severity=Severity.CRITICAL, rule_id="iam_change", user="dave")
    make_alert(
        created_at=START - timedelta(days=2),
        severity=Severity.CRITICAL,
        rule_id="iam_change",
        user="carol",
    )
    queue_filter = QueueFilter(
        severities=("Critical",),
        rule_ids=("iam_change",),
        entity="carol",
        created_from=START - timedelta(hours=1),
        created_to=START + timedelta(hours=1),
    )

    page = list_queue(backend, namespace, ANALYST, queue_filter)

    assert [alert.id for alert in page.alerts] == [expected.id]


def test_queue_pages_with_offset(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory
) -> None:
    alerts = [make_alert(created_at=START + timedelta(minutes=i)) for i in range(5)]

    first = list_queue(backend, namespace, ANALYST, QueueFilter(), offset=0, size=2)
    third = list_queue(backend, namespace, ANALYST, QueueFilter(), offset=4, size=2)

    assert [alert.id for alert in first.alerts] == [alerts[0].id, alerts[1].id]
    assert [alert.id for alert in third.alerts] == [alerts[4].id]
    assert third.total == 5


def test_queue_without_index_is_empty(backend: SearchBackend, namespace: str) -> None:
    page = list_queue(backend, namespace, ANALYST, QueueFilter())

    assert page.alerts == []
    assert page.total == 0


def test_queue_rejects_page_beyond_window(backend: SearchBackend, namespace: str) -> None:
    with pytest.raises(ValueError, match="outside the first 10000 alerts"):
        list_queue(backend, namespace, ANALYST, QueueFilter(), offset=9_990, size=50)


def test_queue_requires_a_role(backend: SearchBackend, namespace: str) -> None:
    with pytest.raises(PermissionDenied):
        list_queue(backend, namespace, NO_ROLE, QueueFilter())


def test_rule_ids_lists_rules_with_alerts(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory
) -> None:
    make_alert(rule_id="malware")
    make_alert(rule_id="iam_change")

    assert list_rule_ids(backend, namespace, ANALYST) == ["iam_change", "malware"]
