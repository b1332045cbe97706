"""The coverage ledger page in a real headless Chromium: an open gap is shown as an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socwb.checkpoints import RunRecord, RunStore
from socwb.search import SearchBackend

from .conftest import ANALYST, CHROMIUM, CHROMIUM_MISSING, ScreenshotTaker
from .test_browser import expect, go_to, open_app, sign_in, sync_api

Page = sync_api.Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.node,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=CHROMIUM_MISSING),
]


def test_analyst_sees_open_gap(
    page: Page,
    app_url: str,
    backend: SearchBackend,
    namespace: str,
    screenshot: ScreenshotTaker,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    store = RunStore(backend, namespace)
    store.ensure_index()
    for number, (start, end) in enumerate(((3, 2), (1, 0))):
        store.write(
            RunRecord(
                run_id=f"run-{number}",
                rule_id="auth_failure_spike",
                started_at=now - timedelta(hours=end),
                arrival_start=now - timedelta(hours=start),
                arrival_end=now - timedelta(hours=end),
            )
        )
    open_app(page, app_url)

    sign_in(page, ANALYST)
    go_to(page, "Coverage ledger")
    screenshot("ledger")

    expect(page.get_by_text("Open gaps on 1 rule-days")).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(2)
    open_metric = page.locator('[data-testid="stMetric"]').filter(has_text="open gap")
    expect(open_metric).to_contain_text("1")
