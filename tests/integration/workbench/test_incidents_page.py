"""The Incidents page with AppTest against the real engine: list, open, note, close, roles."""

from __future__ import annotations

from typing import Any

import pytest

from socwb.auth import Principal, Role
from socwb.incidents import IncidentService, IncidentStatus
from socwb.rules.model import Severity
from socwb.search import SearchBackend

from .conftest import ANALYST, SECOND_ANALYST, AlertFactory
from .test_pages import PASSWORD, all_text, page, services, session_for, state

__all__ = ["services"]

PAGE = "pages/7_Incidents.py"
AUDITOR = Principal("audrey", frozenset({Role.AUDITOR}))
WORK_BUTTONS = (
    state.INCIDENT_CREATE,
    state.INCIDENT_LINK_ALERT,
    state.INCIDENT_ADD_NOTE,
    state.INCIDENT_CLOSE,
)


@pytest.fixture
def incidents(backend: SearchBackend, namespace: str, services: Any) -> IncidentService:
    services.users.add(AUDITOR.name, PASSWORD, [Role.AUDITOR])
    return IncidentService(backend, namespace)


def opened_as(services: Any, user: Principal, incident_id: str) -> Any:
    """Run the page as `user` and open the incident through the list's selection."""
    app = session_for(services, user, PAGE).run()
    choice = app.selectbox(key=state.INCIDENT_CHOICE)
    label = next(option for option in choice.options if incident_id in option)
    choice.set_value(label).run()
    app.button(key=state.INCIDENT_OPEN).click().run()
    return app


def test_page_without_session_shows_no_incidents(services: Any, incidents: IncidentService) -> None:
    incidents.create(ANALYST, "Stuffing", Severity.HIGH)

    app = page(PAGE).run()

    assert not app.exception
    assert "Sign in on the Home page" in app.warning[0].value
    assert len(app.dataframe) == 0


def test_analyst_creates_incident(services: Any, incidents: IncidentService) -> None:
    app = session_for(services, ANALYST, PAGE).run()

    app.text_input(key=state.INCIDENT_NEW_TITLE).input("Credential stuffing on VPN")
    app.selectbox(key=state.INCIDENT_NEW_SEVERITY).set_value("High")
    app.text_area(key=state.INCIDENT_NEW_NOTE).input("many failures from one range")
    app.button(key=state.INCIDENT_CREATE).click().run()

    assert not app.exception
    listing = incidents.list_page(ANALYST)
    assert listing.total == 1
    created = listing.incidents[0]
    assert created.title == "Credential stuffing on VPN"
    assert created.severity == Severity.HIGH
    assert created.created_by == "ana"
    assert f"Created incident {created.id}." in all_text(app)
    assert app.dataframe[0].value["id"].tolist() == [created.id]


def test_opened_incident_shows_alerts_and_history(
    services: Any, incidents: IncidentService, make_alert: AlertFactory
) -> None:
    alert = make_alert(user="mallory")
    incident = incidents.create(ANALYST, "Stuffing", Severity.HIGH)
    incident = incidents.link_alert(ANALYST, incident, alert.id)

    app = opened_as(services, ANALYST, incident.id)

    assert not app.exception
    tables = [element.value for element in app.dataframe]
    linked = next(table for table in tables if "entity" in table.columns)
    history = next(table for table in tables if "seq" in table.columns)
    assert linked["id"].tolist() == [alert.id]
    assert linked["entity"].tolist() == ["user.name=mallory"]
    assert history["action"].tolist() == ["create", "link_alert"]
    assert history["actor"].tolist() == ["ana", "ana"]
    assert [metric.value for metric in app.metric][:2] == ["open", "High"]


def test_analyst_adds_note_and_closes(services: Any, incidents: IncidentService) -> None:
    incident = incidents.create(ANALYST, "Stuffing", Severity.HIGH)
    app = opened_as(services, ANALYST, incident.id)

    app.text_area(key=state.INCIDENT_NOTE).input("blocked 203.0.113.0/24 at the edge")
    app.button(key=state.INCIDENT_ADD_NOTE).click().run()
    app.text_input(key=state.INCIDENT_CLOSE_NOTE).input("contained, passwords reset")
    app.button(key=state.INCIDENT_CLOSE).click().run()

    assert not app.exception
    stored = incidents.open(ANALYST, incident.id)
    assert [entry.action.value for entry in stored.timeline] == ["create", "note", "change_status"]
    assert [entry.actor for entry in stored.timeline] == ["ana", "ana", "ana"]
    assert stored.timeline[1].note == "blocked 203.0.113.0/24 at the edge"
    assert stored.status == IncidentStatus.CLOSED
    assert "Incident closed." in all_text(app)
    assert not any(button.key == state.INCIDENT_CLOSE for button in app.button)


def test_stale_note_reports_conflict(services: Any, incidents: IncidentService) -> None:
    incident = incidents.create(ANALYST, "Stuffing", Severity.HIGH)
    app = opened_as(services, ANALYST, incident.id)
    incidents.add_note(SECOND_ANALYST, incident, "bob's note")

    app.text_area(key=state.INCIDENT_NOTE).input("ana's note")
    app.button(key=state.INCIDENT_ADD_NOTE).click().run()

    assert "changed since you opened it" in app.error[0].value
    notes = [entry.note for entry in incidents.open(ANALYST, incident.id).notes]
    assert notes == ["bob's note"]


def test_auditor_reads_without_controls(
    services: Any, incidents: IncidentService, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    incident = incidents.create(ANALYST, "Stuffing", Severity.HIGH)
    incidents.link_alert(ANALYST, incident, alert.id)

    app = opened_as(services, AUDITOR, incident.id)

    assert not app.exception
    keys = {button.key for button in app.button}
    assert keys.isdisjoint(WORK_BUTTONS)
    assert state.INCIDENT_NOTE not in {area.key for area in app.text_area}
    tables = [element.value for element in app.dataframe]
    linked = next(table for table in tables if "entity" in table.columns)
    assert linked["id"].tolist() == [alert.id]
    assert len(incidents.open(ANALYST, incident.id).timeline) == 2
