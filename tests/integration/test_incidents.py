"""Incidents on the real node: create, link alerts, notes, close, history and Markdown export."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from socwb.alerts.history import Action, HistoryStore
from socwb.alerts.model import Alert, EntityValue
from socwb.alerts.store import AlertStore
from socwb.auth import PermissionDenied, Principal, Role
from socwb.errors import AlertWorkflowError
from socwb.incidents import (
    IncidentConflictError,
    IncidentService,
    IncidentStatus,
    export_markdown,
)
from socwb.notify.config import WebhookChannelConfig
from socwb.rules.model import Severity
from socwb.search import SearchBackend

pytestmark = pytest.mark.node

ANALYST = Principal("ana", frozenset({Role.ANALYST}))
SECOND_ANALYST = Principal("bob", frozenset({Role.ANALYST}))
NO_ROLE = Principal("guest", frozenset())


def build_alert(user: str, rule_id: str = "auth_failure_spike") -> Alert:
    created = datetime.now(UTC) - timedelta(minutes=5)
    return Alert(
        id=uuid.uuid4().hex,
        rule_id=rule_id,
        rule_name=rule_id.replace("_", " "),
        severity=Severity.HIGH,
        created_at=created,
        due_at=created + timedelta(hours=1),
        updated_at=created,
        last_seen=created,
        entity=[EntityValue(field="user.name", value=user)],
        entity_key=f"user.name={user}",
        first_event=created,
        last_event=created,
        count=11,
        criteria=["CC7.2"],
        policy_clause="Authentication failure spike",
        run_id="run-test",
    )


@pytest.fixture
def two_alerts(backend: SearchBackend, namespace: str) -> list[Alert]:
    store = AlertStore(backend, namespace)
    store.ensure_index()
    alerts = [build_alert("alice"), build_alert("bob", rule_id="new_login_location")]
    assert store.create_many(alerts) == []
    store.refresh()
    return alerts


@pytest.fixture
def service(backend: SearchBackend, namespace: str) -> IncidentService:
    return IncidentService(backend, namespace)


def test_incident_lifecycle(service: IncidentService, two_alerts: list[Alert]) -> None:
    incident = service.create(ANALYST, "Credential stuffing", Severity.HIGH, owner="ana")
    incident = service.link_alert(ANALYST, incident, two_alerts[0].id)
    incident = service.link_alert(ANALYST, incident, two_alerts[1].id, note="same source")
    incident = service.add_note(ANALYST, incident, "blocked 203.0.113.9 at the edge")
    incident = service.close(ANALYST, incident, "contained, passwords reset")

    stored = service.open(ANALYST, incident.id)

    assert stored == incident
    assert stored.status == IncidentStatus.CLOSED
    assert stored.alert_ids == (two_alerts[0].id, two_alerts[1].id)
    assert stored.owner == "ana"
    assert stored.closed_at is not None
    assert [entry.note for entry in stored.notes] == [
        "same source",
        "blocked 203.0.113.9 at the edge",
        "contained, passwords reset",
    ]
    assert [entry.seq for entry in stored.timeline] == [1, 2, 3, 4, 5]


def test_link_recorded_in_alert_history(
    backend: SearchBackend, namespace: str, service: IncidentService, two_alerts: list[Alert]
) -> None:
    incident = service.create(ANALYST, "Stuffing", Severity.HIGH)

    service.link_alert(ANALYST, incident, two_alerts[0].id)

    entries = HistoryStore(backend, namespace).entries(two_alerts[0].id)
    assert [entry.action for entry in entries] == [Action.LINK_INCIDENT]
    assert entries[0].incident_id == incident.id


def test_history_is_append_only(
    backend: SearchBackend, service: IncidentService, two_alerts: list[Alert]
) -> None:
    incident = service.create(ANALYST, "Stuffing", Severity.HIGH)
    opened_by_bob = service.open(SECOND_ANALYST, incident.id)
    service.add_note(ANALYST, incident, "first note")

    with pytest.raises(IncidentConflictError, match="was changed since you opened it"):
        service.add_note(SECOND_ANALYST, opened_by_bob, "stale note")

    stored = service.open(ANALYST, incident.id)
    assert [entry.note for entry in stored.notes] == ["first note"]
    assert backend.count(service.index) == 2


def test_close_requires_note(service: IncidentService) -> None:
    incident = service.create(ANALYST, "Stuffing", Severity.HIGH)

    with pytest.raises(AlertWorkflowError, match="requires a note"):
        service.close(ANALYST, incident, " ")


def test_closed_incident_cannot_be_contained(service: IncidentService) -> None:
    incident = service.close(ANALYST, service.create(ANALYST, "X", Severity.LOW), "duplicate")

    with pytest.raises(AlertWorkflowError, match="cannot move from 'closed' to 'contained'"):
        service.change_status(ANALYST, incident, IncidentStatus.CONTAINED)


def test_link_unknown_alert_rejected(service: IncidentService, two_alerts: list[Alert]) -> None:
    incident = service.create(ANALYST, "Stuffing", Severity.HIGH)

    with pytest.raises(AlertWorkflowError, match="not found"):
        service.link_alert(ANALYST, incident, "no-such-alert")


def test_create_without_role_denied(service: IncidentService) -> None:
    with pytest.raises(PermissionDenied):
        service.create(NO_ROLE, "Stuffing", Severity.HIGH)


def test_markdown_export_lists_linked_alerts(
    service: IncidentService, two_alerts: list[Alert]
) -> None:
    incident = service.create(ANALYST, "Credential | stuffing", Severity.CRITICAL, owner="ana")
    for alert in two_alerts:
        incident = service.link_alert(ANALYST, incident, alert.id)
    incident = service.add_note(ANALYST, incident, "reset passwords")

    markdown = export_markdown(incident, service.linked_alerts(incident))

    assert markdown.startswith(f"# Credential \\| stuffing ({incident.id})\n")
    assert "- Severity: Critical" in markdown
    assert "- Owner: ana" in markdown
    for alert in two_alerts:
        assert f"| {alert.id} | {alert.rule_name} | High | {alert.entity_key} | open |" in markdown
        assert f"linked alert {alert.id}" in markdown
    assert "ana: reset passwords" in markdown


# Outbound webhook -------------------------------------------------------------------------


@pytest.fixture
def received() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            length = int(self.headers.get("Content-Length", "0"))
            bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/incident-hook", bodies
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_webhook_off_by_default(service: IncidentService) -> None:
    assert service.webhook is None


def test_webhook_posts_created_and_closed(
    backend: SearchBackend, namespace: str, received: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = received
    webhook = WebhookChannelConfig.model_validate({"name": "tracker", "url": url})
    service = IncidentService(backend, namespace, webhook=webhook)

    incident = service.create(ANALYST, "Stuffing", Severity.HIGH)
    service.close(ANALYST, incident, "false alarm")

    assert [body["event"] for body in bodies] == ["incident.created", "incident.closed"]
    assert bodies[1]["incident_id"] == incident.id
    assert bodies[1]["status"] == "closed"
