"""The coverage ledger on a real node: run records written exactly, and real detect run windows."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from socwb.auth import PermissionDenied, Principal, Role
from socwb.checkpoints import RunRecord, RunStore
from socwb.commands.detect import detect
from socwb.commands.ledger import ledger
from socwb.ledger import (
    STATUS_CAUGHT_UP,
    STATUS_OPEN_GAP,
    STATUS_SEARCHED,
    LedgerDay,
    coverage_ledger,
    coverage_ledger_for,
)
from socwb.period import Period
from socwb.provisioning import apply_assets
from socwb.rules.model import TimeWindow
from socwb.search import SearchBackend
from socwb.settings import Settings

pytestmark = pytest.mark.node

DAY = date(2026, 11, 2)
MIDNIGHT = datetime(2026, 11, 2, tzinfo=UTC)
PERIOD = Period(DAY, DAY, ZoneInfo("UTC"))


def at(hours: float) -> datetime:
    return MIDNIGHT + timedelta(hours=hours)


def record(
    rule_id: str,
    start: float,
    end: float,
    *,
    started: float | None = None,
    backfilled: bool = False,
    outcome: str = "succeeded",
) -> RunRecord:
    return RunRecord(
        run_id=f"{rule_id}-{uuid.uuid4().hex[:8]}",
        rule_id=rule_id,
        started_at=at(end if started is None else started),
        finished_at=at(end if started is None else started),
        arrival_start=at(start),
        arrival_end=at(end),
        is_backfilled=backfilled,
        outcome=outcome,  # type: ignore[arg-type]
    )


def one_day(days: list[LedgerDay], rule_id: str) -> LedgerDay:
    matching = [day for day in days if day.rule_id == rule_id]
    assert len(matching) == 1, f"expected one day of {rule_id}, got {matching}"
    return matching[0]


@pytest.fixture
def runs(backend: SearchBackend, namespace: str) -> RunStore:
    store = RunStore(backend, namespace)
    store.ensure_index()
    return store


def test_contiguous_runs_searched_without_gap(
    runs: RunStore, backend: SearchBackend, namespace: str
) -> None:
    runs.write(record("steady", 0, 0.25))
    runs.write(record("steady", 0.25, 0.5))
    runs.write(record("steady", 0.5, 0.5, started=0.4, outcome="failed"))

    day = one_day(coverage_ledger(backend, namespace, PERIOD), "steady")

    assert day.status == STATUS_SEARCHED
    assert day.searched == [TimeWindow(at(0), at(0.5))]
    assert day.gaps == []
    assert day.runs == 2
    assert day.failed_runs == 1


def test_skipped_range_is_open_gap(runs: RunStore, backend: SearchBackend, namespace: str) -> None:
    runs.write(record("skipper", 0, 1))
    later = record("skipper", 2, 3)
    runs.write(later)

    day = one_day(coverage_ledger(backend, namespace, PERIOD), "skipper")

    assert day.status == STATUS_OPEN_GAP
    assert [gap.window for gap in day.gaps] == [TimeWindow(at(1), at(2))]
    assert day.gaps[0].found_by == later.run_id
    assert not day.gaps[0].is_caught_up


def test_backfill_marks_gap_caught_up(
    runs: RunStore, backend: SearchBackend, namespace: str
) -> None:
    runs.write(record("healed", 0, 1))
    runs.write(record("healed", 2, 3))
    backfill = record("healed", 1, 2, started=4, backfilled=True)
    runs.write(backfill)

    day = one_day(coverage_ledger(backend, namespace, PERIOD), "healed")

    assert day.status == STATUS_CAUGHT_UP
    assert day.gaps[0].window == TimeWindow(at(1), at(2))
    assert day.gaps[0].caught_up_by == (backfill.run_id,)
    assert day.backfilled_runs == 1
    assert day.searched == [TimeWindow(at(0), at(3))]


def test_gap_reaching_over_period_edges(
    runs: RunStore, backend: SearchBackend, namespace: str
) -> None:
    runs.write(record("edges", -3, -1))
    runs.write(record("edges", 1, 5))
    runs.write(record("edges", 50, 51))

    day = one_day(coverage_ledger(backend, namespace, PERIOD), "edges")

    assert [gap.window for gap in day.gaps] == [
        TimeWindow(at(0), at(1)),
        TimeWindow(at(5), at(24)),
    ]
    assert day.status == STATUS_OPEN_GAP


def test_ledger_command_exports_and_fails_on_open_gap(runs: RunStore, settings: Settings) -> None:
    runs.write(record("skipper", 0, 1))
    runs.write(record("skipper", 2, 3))
    runs.write(record("steady", 0, 1))

    as_json = CliRunner().invoke(
        ledger, ["--from", "2026-11-02", "--to", "2026-11-02", "--format", "json"], obj=settings
    )
    as_csv = CliRunner().invoke(
        ledger, ["--from", "2026-11-02", "--to", "2026-11-02"], obj=settings
    )

    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout)
    by_rule = {item["rule_id"]: item for item in document}
    assert by_rule["skipper"]["gaps"][0]["start"] == "2026-11-02T01:00:00.000Z"
    assert by_rule["skipper"]["gaps"][0]["caught_up"] is False
    assert by_rule["steady"]["status"] == STATUS_SEARCHED
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {row["rule_id"]: row["status"] for row in rows} == {
        "skipper": STATUS_OPEN_GAP,
        "steady": STATUS_SEARCHED,
    }


def test_ledger_for_user_needs_report_permission(backend: SearchBackend, namespace: str) -> None:
    guest = Principal("guest", frozenset())

    with pytest.raises(PermissionDenied, match="'guest' \\(no role\\) may not view_reports"):
        coverage_ledger_for(guest, backend, namespace, PERIOD)
    analyst_days = coverage_ledger_for(
        Principal("ana", frozenset({Role.ANALYST})), backend, namespace, PERIOD
    )

    assert analyst_days == []


def test_ledger_command_rejects_bad_date(settings: Settings) -> None:
    result = CliRunner().invoke(
        ledger, ["--from", "2026-02-30", "--to", "2026-03-01"], obj=settings
    )

    assert result.exit_code == 2
    assert "invalid date '2026-02-30' for --from" in result.output


def test_detect_run_windows_gap_then_backfill(
    backend: SearchBackend, namespace: str, settings: Settings
) -> None:
    apply_assets(backend, namespace)
    rule = "auth_failure_spike"

    def detect_run(start: str, end: str) -> None:
        arguments = ["run", "--rule", rule, "--from", start, "--to", end]
        result = CliRunner().invoke(detect, arguments, obj=settings)
        assert result.exit_code == 0, result.output

    detect_run("2026-11-02T08:00:00Z", "2026-11-02T09:00:00Z")
    detect_run("2026-11-02T10:00:00Z", "2026-11-02T11:00:00Z")
    before = one_day(coverage_ledger(backend, namespace, PERIOD), rule)
    detect_run("2026-11-02T09:00:00Z", "2026-11-02T10:00:00Z")
    after = one_day(coverage_ledger(backend, namespace, PERIOD), rule)

    assert before.status == STATUS_OPEN_GAP
    assert [gap.window for gap in before.gaps] == [TimeWindow(at(9), at(10))]
    assert after.status == STATUS_CAUGHT_UP
    assert after.gaps[0].window == TimeWindow(at(9), at(10))
    assert len(after.gaps[0].caught_up_by) == 1
    assert after.searched == [TimeWindow(at(8), at(11))]
    assert after.runs == 3
