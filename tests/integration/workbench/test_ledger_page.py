"""The coverage ledger page with AppTest against the real engine."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from socwb.checkpoints import RunRecord, RunStore
from socwb.search import SearchBackend

from .test_pages import page, signed_in, state
from .test_pages import services as services  # noqa: F401 - the pages' services fixture

PAGE = "pages/6_Coverage_ledger.py"
DAY = date(2026, 11, 2)

pytestmark = pytest.mark.node


def write_runs(backend: SearchBackend, namespace: str) -> None:
    """Write runs of two rules on DAY: `skipper` skips 01:00 to 02:00, `steady` skips nothing."""
    store = RunStore(backend, namespace)
    store.ensure_index()
    for rule_id, start, end in (("skipper", 0, 1), ("skipper", 2, 3), ("steady", 0, 3)):
        store.write(
            RunRecord(
                run_id=f"{rule_id}-{start}",
                rule_id=rule_id,
                started_at=datetime(2026, 11, 2, end, tzinfo=UTC),
                arrival_start=datetime(2026, 11, 2, start, tzinfo=UTC),
                arrival_end=datetime(2026, 11, 2, end, tzinfo=UTC),
            )
        )


def test_page_without_session_shows_no_ledger(services: object) -> None:
    app = page(PAGE).run()

    assert not app.exception
    assert "Sign in on the Home page" in app.warning[0].value
    assert len(app.dataframe) == 0


def test_open_gap_stands_out(services: object, backend: SearchBackend, namespace: str) -> None:
    write_runs(backend, namespace)
    app = signed_in(services, PAGE).run()

    app.date_input(key=state.LEDGER_FROM).set_value(DAY)
    app.date_input(key=state.LEDGER_TO).set_value(DAY).run()

    assert not app.exception
    table = app.dataframe[0].value
    statuses = dict(zip(table["rule_id"], table["status"], strict=True))
    assert statuses == {"skipper": "open gap", "steady": "searched"}
    assert "Open gaps on 1 rule-days" in app.error[0].value
    gaps = app.dataframe[1].value
    assert gaps["start"].tolist() == ["2026-11-02T01:00:00.000Z"]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Rule-days: open gap"] == "1"
