"""Fixtures for workbench tests: alerts written to the test's namespace, and principals."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socwb.alerts.model import Alert, EntityValue
from socwb.alerts.store import AlertStore
from socwb.auth import Principal, Role
from socwb.rules.model import Severity
from socwb.search import SearchBackend

RESPONSE_TIMES = {
    Severity.CRITICAL: timedelta(minutes=15),
    Severity.HIGH: timedelta(hours=1),
    Severity.MEDIUM: timedelta(hours=4),
    Severity.LOW: timedelta(hours=24),
}

ANALYST = Principal("ana", frozenset({Role.ANALYST}))
SECOND_ANALYST = Principal("bob", frozenset({Role.ANALYST}))
REVIEWER = Principal("rita", frozenset({Role.REVIEWER}))
NO_ROLE = Principal("guest", frozenset())


def build_alert(
    *,
    created_at: datetime,
    severity: Severity = Severity.HIGH,
    rule_id: str = "auth_failure_spike",
    user: str = "alice",
    flags: dict[str, bool] | None = None,
    due_at: datetime | None = None,
) -> Alert:
    """Return an alert with a random id, due after its severity's response time."""
    entity = [EntityValue(field="user.name", value=user)]
    return Alert(
        id=uuid.uuid4().hex,
        rule_id=rule_id,
        rule_name=rule_id.replace("_", " "),
        severity=severity,
        created_at=created_at,
        due_at=due_at or created_at + RESPONSE_TIMES[severity],
        updated_at=created_at,
        last_seen=created_at,
        entity=entity,
        entity_key=f"user.name={user}",
        first_event=created_at - timedelta(minutes=5),
        last_event=created_at,
        count=12,
        criteria=["CC7.2"],
        policy_clause="Authentication failure spike",
        flags=flags or {},
        run_id="run-test",
    )


AlertFactory = Callable[..., Alert]


@pytest.fixture
def alert_store(backend: SearchBackend, namespace: str) -> AlertStore:
    """The alert store of this test's namespace, with its index created."""
    store = AlertStore(backend, namespace)
    store.ensure_index()
    return store


@pytest.fixture
def make_alert(alert_store: AlertStore) -> AlertFactory:
    """Write an alert to the test's namespace and return it; arguments as `build_alert`."""

    def create(**arguments: Any) -> Alert:
        arguments.setdefault("created_at", datetime.now(UTC) - timedelta(minutes=10))
        alert = build_alert(**arguments)
        assert alert_store.create_many([alert]) == []
        alert_store.refresh()
        return alert

    return create
