"""The incident list on the real node: order, paging, folded state and role checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from socwb.auth import PermissionDenied, Principal, Role
from socwb.incidents import IncidentService, IncidentStatus
from socwb.rules.model import Severity
from socwb.search import SearchBackend

pytestmark = pytest.mark.node

ANALYST = Principal("ana", frozenset({Role.ANALYST}))
AUDITOR = Principal("audrey", frozenset({Role.AUDITOR}))
NO_ROLE = Principal("guest", frozenset())


@pytest.fixture
def service(backend: SearchBackend, namespace: str) -> IncidentService:
    # One second per call, so creation times differ and the newest-first order is defined.
    seconds = count()

    def clock() -> datetime:
        return datetime(2026, 12, 1, 9, 0, tzinfo=UTC) + timedelta(seconds=next(seconds))

    return IncidentService(backend, namespace, clock=clock)


def test_list_without_index_is_empty(service: IncidentService) -> None:
    listing = service.list_page(ANALYST)

    assert listing.incidents == []
    assert listing.total == 0


def test_list_newest_first_with_folded_state(service: IncidentService) -> None:
    first = service.create(ANALYST, "Phishing wave", Severity.MEDIUM)
    second = service.create(ANALYST, "Stuffing", Severity.HIGH)
    service.close(ANALYST, first, "users warned, links blocked")

    listing = service.list_page(AUDITOR)

    assert [item.id for item in listing.incidents] == [second.id, first.id]
    assert [item.status for item in listing.incidents] == [
        IncidentStatus.OPEN,
        IncidentStatus.CLOSED,
    ]
    assert [len(item.timeline) for item in listing.incidents] == [1, 2]
    assert listing.total == 2


def test_list_pages_by_offset(service: IncidentService) -> None:
    created = [service.create(ANALYST, f"Incident {number}", Severity.LOW) for number in range(5)]

    first_page = service.list_page(ANALYST, offset=0, size=2)
    last_page = service.list_page(ANALYST, offset=4, size=2)

    assert [item.id for item in first_page.incidents] == [created[4].id, created[3].id]
    assert [item.id for item in last_page.incidents] == [created[0].id]
    assert first_page.total == 5
    assert last_page.offset == 4


def test_list_rejects_page_beyond_window(service: IncidentService) -> None:
    with pytest.raises(ValueError, match="outside the first 10000 incidents"):
        service.list_page(ANALYST, offset=9_990, size=50)


def test_list_rejects_user_without_role(service: IncidentService) -> None:
    with pytest.raises(PermissionDenied, match="may not view_alerts"):
        service.list_page(NO_ROLE)


def test_auditor_cannot_change_incident(service: IncidentService) -> None:
    incident = service.create(ANALYST, "Stuffing", Severity.HIGH)

    with pytest.raises(PermissionDenied, match="may not work_alerts"):
        service.add_note(AUDITOR, incident, "an auditor's note")
    with pytest.raises(PermissionDenied, match="may not work_alerts"):
        service.close(AUDITOR, incident, "closed by an auditor")
    with pytest.raises(PermissionDenied, match="may not work_alerts"):
        service.create(AUDITOR, "New", Severity.LOW)

    assert len(service.open(AUDITOR, incident.id).timeline) == 1
