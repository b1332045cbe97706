"""The workbench in a real headless Chromium against the running app and a live engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socwb.alerts.history import HistoryStore
from socwb.search import SearchBackend
from socwb.tuning import SuppressionStore

from .conftest import (
    ANALYST,
    CHROMIUM,
    CHROMIUM_MISSING,
    PASSWORD,
    REVIEWER,
    AlertFactory,
    ScreenshotTaker,
    User,
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

SIGN_IN_HINT = "Sign in on the Home page to see alerts and reports."
SETTLE_DELAY_MS = 300


def settle(page: Page) -> None:
    """Wait until the app has no script run in progress.

    A widget change starts its rerun only after the browser sends the new value,
    so the short delay keeps the check from seeing the state before that rerun.
    """
    page.wait_for_timeout(SETTLE_DELAY_MS)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator('[data-testid="stApp"]')).to_be_visible()
    settle(page)


def go_to(page: Page, label: str, heading: str | None = None) -> None:
    """Follow a sidebar link, which keeps the Streamlit session, unlike a new page load."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=label).click()
    expect(page.get_by_role("heading", name=heading or label, level=1)).to_be_visible()
    settle(page)


def sign_in(page: Page, user: User) -> None:
    go_to(page, "Home", heading="soc-workbench")
    page.get_by_label("User name").fill(user.name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text(f"Welcome, {user.name}.")).to_be_visible()
    settle(page)


def sign_out(page: Page) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    expect(page.get_by_text(SIGN_IN_HINT)).to_be_visible()
    settle(page)


def click_button(page: Page, label: str) -> None:
    """Click an `st.button`, leaving out the "Open" toggles of multiselects that share its role."""
    page.locator('[data-testid="stButton"]').get_by_role("button", name=label, exact=True).click()


def fill_and_commit(page: Page, label: str, text: str) -> None:
    """Type into a text input or text area and leave it, which sends the value to the app."""
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press("Tab")
    settle(page)


def test_analyst_acknowledges_alert_from_queue(
    page: Page,
    app_url: str,
    make_alert: AlertFactory,
    backend: SearchBackend,
    namespace: str,
    screenshot: ScreenshotTaker,
) -> None:
    alert = make_alert()
    label = f"{alert.rule_id} {alert.entity_key} ({alert.id[:8]})"
    open_app(page, app_url)
    screenshot("home")

    sign_in(page, ANALYST)
    screenshot("signed-in")
    go_to(page, "Alert queue")
    screenshot("queue")

    expect(page.get_by_text("1 alerts match; showing 1 from #1.")).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(1)
    expect(page.get_by_role("combobox", name="Open alert")).to_have_value(label)

    click_button(page, "Open")
    expect(page.get_by_role("heading", name="Alert detail", level=1)).to_be_visible()
    settle(page)
    expect(page.get_by_text(f"on {alert.entity_key}")).to_be_visible()
    screenshot("detail")

    click_button(page, "Acknowledge")
    expect(page.get_by_text("Acknowledged.", exact=True)).to_be_visible()
    settle(page)
    screenshot("acknowledged")

    entries = HistoryStore(backend, namespace).entries(alert.id)
    assert len(entries) == 1
    assert entries[0].action.value == "acknowledge"
    assert entries[0].actor == ANALYST.name
    assert entries[0].to_status.value == "acknowledged"
    status_metric = page.locator('[data-testid="stMetric"]').filter(has_text="Status")
    expect(status_metric).to_contain_text("acknowledged")


def test_reviewer_approves_analyst_proposal(
    page: Page,
    app_url: str,
    make_alert: AlertFactory,
    backend: SearchBackend,
    namespace: str,
    screenshot: ScreenshotTaker,
) -> None:
    alert = make_alert(user="svc_backup")
    condition = alert.entity[0]
    store = SuppressionStore(backend, namespace)
    open_app(page, app_url)
    screenshot("home")

    # The alert detail page has no control to propose a suppression, so the
    # proposal is made on the Suppressions page from the alert's rule and entity.
    sign_in(page, ANALYST)
    screenshot("signed-in-analyst")
    go_to(page, "Suppressions")
    fill_and_commit(page, "Rule ids, comma-separated", alert.rule_id)
    fill_and_commit(
        page, "Entity conditions, one field=value per line", f"{condition.field}={condition.value}"
    )
    fill_and_commit(
        page, "Justification", "nightly backup job logs in with a fixed service account"
    )
    screenshot("proposal-form")
    click_button(page, "Propose")
    expect(page.get_by_text("Proposed; a reviewer other than you must approve it.")).to_be_visible()
    settle(page)
    screenshot("proposed")

    proposals = store.list_all()
    assert len(proposals) == 1
    proposal = proposals[0]
    assert proposal.state.value == "proposed"
    assert proposal.proposed_by == ANALYST.name
    assert proposal.rule_ids == [alert.rule_id]
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)

    sign_out(page)
    screenshot("signed-out")
    sign_in(page, REVIEWER)
    screenshot("signed-in-reviewer")
    go_to(page, "Suppressions")
    expect(page.get_by_role("combobox", name="Suppression")).to_have_value(
        f"{proposal.id[:8]} [proposed] proposer: {ANALYST.name}"
    )
    screenshot("review")
    click_button(page, "Approve")
    expect(page.get_by_text("Approve: done.", exact=True)).to_be_visible()
    settle(page)
    screenshot("approved")

    decided = store.get(proposal.id)
    assert decided.state.value == "approved"
    assert decided.decided_by == REVIEWER.name
    assert [item.id for item in store.active(datetime.now(UTC))] == [proposal.id]


def test_monthly_report_html_download(
    page: Page,
    app_url: str,
    make_alert: AlertFactory,
    tmp_path: Path,
    screenshot: ScreenshotTaker,
) -> None:
    first_of_this_month = datetime.now(UTC).replace(day=1, hour=12, minute=0, second=0)
    created_at = (first_of_this_month - timedelta(days=1)).replace(day=5)
    month = created_at.strftime("%Y-%m")
    make_alert(created_at=created_at)
    open_app(page, app_url)
    screenshot("home")

    sign_in(page, ANALYST)
    screenshot("signed-in")
    go_to(page, "Monthly report")
    fill_and_commit(page, "Month (YYYY-MM)", month)
    total = page.locator('[data-testid="stMetric"]').filter(has_text="Total alerts")
    expect(total).to_contain_text("1")
    screenshot("report")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="HTML", exact=True).click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    assert download.suggested_filename == f"socwb-report-{month}.html"
    assert saved.is_file()
    assert f"<title>Monthly alert report {month} (UTC)</title>" in saved.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("path", "title"),
    [
        pytest.param("Alert_queue", "Alert queue", id="queue"),
        pytest.param("Alert_detail", "Alert detail", id="detail"),
        pytest.param("Monthly_report", "Monthly report", id="report"),
        pytest.param("Suppressions", "Suppressions", id="suppressions"),
    ],
)
def test_page_without_sign_in_shows_no_data(
    page: Page,
    app_url: str,
    make_alert: AlertFactory,
    screenshot: ScreenshotTaker,
    path: str,
    title: str,
) -> None:
    alert = make_alert()

    open_app(page, f"{app_url}/{path}?alert={alert.id}")
    screenshot("page")

    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(page.get_by_text(SIGN_IN_HINT)).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(0)
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)
    body = page.locator("body").inner_text()
    assert alert.id[:8] not in body
    assert alert.entity_key not in body
