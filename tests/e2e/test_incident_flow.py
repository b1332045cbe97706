"""The Incidents and Admin pages in a real headless Chromium: the incident flow, no sign-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from socwb.alerts.history import HistoryStore
from socwb.auth import Principal, Role
from socwb.incidents import IncidentService, IncidentStatus
from socwb.rules.model import Severity
from socwb.search import SearchBackend

from .conftest import ANALYST, CHROMIUM, CHROMIUM_MISSING, AlertFactory, ScreenshotTaker
from .test_browser import (
    SIGN_IN_HINT,
    click_button,
    fill_and_commit,
    go_to,
    open_app,
    settle,
    sign_in,
)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is missing; pip install playwright"
)
Page = sync_api.Page
expect = sync_api.expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.node,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING),
]

TITLE = "Credential stuffing on the VPN"


def test_analyst_works_incident_to_closed_export(
    page: Page,
    app_url: str,
    make_alert: AlertFactory,
    backend: SearchBackend,
    namespace: str,
    tmp_path: Path,
    screenshot: ScreenshotTaker,
) -> None:
    alert = make_alert(user="mallory")
    open_app(page, app_url)
    sign_in(page, ANALYST)
    go_to(page, "Incidents")
    screenshot("list")

    page.locator('[data-testid="stExpander"]').get_by_text("New incident").click()
    fill_and_commit(page, "Title", TITLE)
    fill_and_commit(page, "First note", "many failures from one address range")
    click_button(page, "Create incident")
    expect(page.get_by_text("Created incident inc-")).to_be_visible()
    settle(page)
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    screenshot("created")

    fill_and_commit(page, "Alert id to link", alert.id)
    click_button(page, "Link alert")
    expect(page.get_by_text("Alert linked.", exact=True)).to_be_visible()
    settle(page)
    fill_and_commit(page, "Note", "blocked 203.0.113.0/24 at the edge")
    click_button(page, "Add note")
    expect(page.get_by_text("Note added.", exact=True)).to_be_visible()
    settle(page)
    fill_and_commit(page, "Closing note (the outcome)", "contained, passwords reset")
    click_button(page, "Close incident")
    expect(page.get_by_text("Incident closed.", exact=True)).to_be_visible()
    settle(page)
    status_metric = page.locator('[data-testid="stMetric"]').filter(has_text="Status")
    expect(status_metric).to_contain_text("closed")
    screenshot("closed")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export Markdown", exact=True).click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    markdown = saved.read_text(encoding="utf-8")

    reader = Principal("reader", frozenset({Role.AUDITOR}))
    incident = IncidentService(backend, namespace).list_page(reader).incidents[0]
    assert incident.title == TITLE
    assert incident.status == IncidentStatus.CLOSED
    assert incident.alert_ids == (alert.id,)
    assert [entry.action.value for entry in incident.timeline] == [
        "create",
        "link_alert",
        "note",
        "change_status",
    ]
    assert {entry.actor for entry in incident.timeline} == {ANALYST.name}
    link_entries = HistoryStore(backend, namespace).entries(alert.id)
    assert [entry.incident_id for entry in link_entries] == [incident.id]
    assert download.suggested_filename == f"{incident.id}.md"
    assert markdown.startswith(f"# {TITLE} ({incident.id})")
    assert f"| {alert.id} |" in markdown
    assert "- Status: closed" in markdown
    assert "contained, passwords reset" in markdown


@pytest.mark.parametrize(
    ("path", "title"),
    [
        pytest.param("Incidents", "Incidents", id="incidents"),
        pytest.param("Admin", "Admin", id="admin"),
    ],
)
def test_page_without_sign_in_hides_incidents(
    page: Page,
    app_url: str,
    backend: SearchBackend,
    namespace: str,
    screenshot: ScreenshotTaker,
    path: str,
    title: str,
) -> None:
    analyst = Principal(ANALYST.name, frozenset({ANALYST.role}))
    IncidentService(backend, namespace).create(analyst, TITLE, Severity.HIGH)

    open_app(page, f"{app_url}/{path}")
    screenshot("page")

    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(page.get_by_text(SIGN_IN_HINT)).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(0)
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)
    assert TITLE not in page.locator("body").inner_text()
