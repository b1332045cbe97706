"""Monthly figures from alerts and histories on a real engine, checked against hand counts."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from socwb.alerts.history import Disposition
from socwb.alerts.workflow import AlertWorkflow
from socwb.commands.report import report
from socwb.reporting import MonthlyFigures, ReportMonth, SeverityCompliance, monthly_figures
from socwb.rules.model import Severity
from socwb.search import SearchBackend
from socwb.settings import Settings

from .conftest import ANALYST, AlertFactory

UTC_ZONE = ZoneInfo("UTC")
AS_OF = datetime(2026, 12, 1, 0, 10, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = at("2026-11-01T00:00:00")

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def november(backend: SearchBackend, namespace: str, make_alert: AlertFactory) -> None:
    """Write the month's alerts and their handling; see the expected figures below."""
    clock = Clock()
    workflow = AlertWorkflow(backend, namespace, clock=clock)

    def step(moment: str) -> None:
        clock.now = at(moment)

    # A1: High, acknowledged after 20 minutes, closed as a false positive after 1 hour.
    a1 = make_alert(created_at=at("2026-11-02T10:00:00"), rule_id="r_auth")
    step("2026-11-02T10:20:00")
    opened = workflow.acknowledge(ANALYST, workflow.open(ANALYST, a1.id))
    step("2026-11-02T11:00:00")
    workflow.close(ANALYST, opened, Disposition.FALSE_POSITIVE)

    # A2: Critical, acknowledged after 30 minutes (due after 15), closed after 2 hours.
    a2 = make_alert(
        created_at=at("2026-11-05T12:00:00"), severity=Severity.CRITICAL, rule_id="r_iam"
    )
    step("2026-11-05T12:30:00")
    opened = workflow.acknowledge(ANALYST, workflow.open(ANALYST, a2.id))
    step("2026-11-05T12:40:00")
    opened = workflow.start(ANALYST, opened)
    step("2026-11-05T14:00:00")
    workflow.close(ANALYST, opened, Disposition.TRUE_POSITIVE)

    # A3: High, closed as benign after 30 minutes without an acknowledgement.
    a3 = make_alert(created_at=at("2026-11-10T08:00:00"), rule_id="r_auth")
    step("2026-11-10T08:30:00")
    workflow.close(ANALYST, workflow.open(ANALYST, a3.id), Disposition.BENIGN)

    # A4: Medium, acknowledged only after the report time, so breached and unanswered.
    a4 = make_alert(created_at=at("2026-11-15T00:00:00"), severity=Severity.MEDIUM, rule_id="r_geo")
    step("2026-12-02T09:00:00")
    workflow.acknowledge(ANALYST, workflow.open(ANALYST, a4.id))

    # A5: High, created 10 minutes before midnight: not yet due at the report time.
    make_alert(created_at=at("2026-11-30T23:50:00"), rule_id="r_auth")

    # A9: Critical, acknowledged after 10 minutes, closed as false positive, reopened,
    # then closed as a true positive 2 hours after creation.
    a9 = make_alert(
        created_at=at("2026-11-20T10:00:00"), severity=Severity.CRITICAL, rule_id="r_iam"
    )
    step("2026-11-20T10:10:00")
    opened = workflow.acknowledge(ANALYST, workflow.open(ANALYST, a9.id))
    step("2026-11-20T10:40:00")
    opened = workflow.close(ANALYST, opened, Disposition.FALSE_POSITIVE)
    step("2026-11-20T11:00:00")
    opened = workflow.reopen(ANALYST, opened, "more events")
    step("2026-11-20T11:10:00")
    opened = workflow.acknowledge(ANALYST, opened)
    step("2026-11-20T12:00:00")
    workflow.close(ANALYST, opened, Disposition.TRUE_POSITIVE)

    # Left out: two canaries and an October alert.
    canary = make_alert(created_at=at("2026-11-03T09:00:00"), rule_id="selftest_heartbeat")
    step("2026-11-03T09:01:00")
    workflow.acknowledge(ANALYST, workflow.open(ANALYST, canary.id))
    make_alert(created_at=at("2026-11-04T09:00:00"), rule_id="r_auth", flags={"is_canary": True})
    make_alert(created_at=at("2026-10-31T23:59:00"), rule_id="r_auth")


@pytest.fixture
def figures(backend: SearchBackend, namespace: str, november: None) -> MonthlyFigures:
    month = ReportMonth.parse("2026-11", UTC_ZONE)
    return monthly_figures(backend, namespace, month, as_of=AS_OF)


def test_figures_count_month_without_canaries(figures: MonthlyFigures) -> None:
    assert figures.total_alerts == 6
    assert figures.excluded_canary_alerts == 2
    assert figures.by_severity == {"Critical": 2, "High": 3, "Medium": 1, "Low": 0}
    assert figures.by_rule == {"r_auth": 3, "r_geo": 1, "r_iam": 2}
    assert figures.noisiest_rules == [("r_auth", 3), ("r_iam", 2), ("r_geo", 1)]


def test_figures_false_positive_rate(figures: MonthlyFigures) -> None:
    # Closed: A1 (false positive), A2, A3, A9 (false positive, then reopened: true positive).
    assert figures.closed_alerts == 4
    assert figures.false_positive_alerts == 1
    assert figures.false_positive_rate == 0.25


def test_figures_time_to_acknowledge_and_close(figures: MonthlyFigures) -> None:
    # First responses: 20, 30, 30 and 10 minutes; A4's response came after the report time.
    assert figures.acknowledged_alerts == 4
    assert figures.mean_time_to_acknowledge == (1200 + 1800 + 1800 + 600) / 4
    assert figures.median_time_to_acknowledge == (1200 + 1800) / 2
    # Last closes: 1 hour, 2 hours, 30 minutes, 2 hours.
    assert figures.mean_time_to_close == (3600 + 7200 + 1800 + 7200) / 4


def test_figures_due_compliance_per_severity(figures: MonthlyFigures) -> None:
    assert figures.due_compliance == [
        SeverityCompliance(severity="Critical", total=2, met=1, breached=1, pending=0, rate=0.5),
        SeverityCompliance(severity="High", total=3, met=2, breached=0, pending=1, rate=1.0),
        SeverityCompliance(severity="Medium", total=1, met=0, breached=1, pending=0, rate=0.0),
        SeverityCompliance(severity="Low", total=0, met=0, breached=0, pending=0, rate=None),
    ]


def test_figures_period_is_utc_month(figures: MonthlyFigures) -> None:
    assert figures.month == "2026-11"
    assert figures.period_start == at("2026-11-01T00:00:00")
    assert figures.period_end == at("2026-12-01T00:00:00")


def test_figures_in_berlin_month_move_boundary(
    backend: SearchBackend, namespace: str, november: None
) -> None:
    month = ReportMonth.parse("2026-11", ZoneInfo("Europe/Berlin"))

    figures = monthly_figures(backend, namespace, month, as_of=AS_OF)

    # 2026-10-31T23:59Z is November in Berlin; 2026-11-30T23:50Z is December there.
    assert figures.total_alerts == 6
    assert figures.by_rule == {"r_auth": 3, "r_geo": 1, "r_iam": 2}
    assert figures.period_start == at("2026-10-31T23:00:00")


def test_figures_of_empty_namespace(backend: SearchBackend, namespace: str) -> None:
    month = ReportMonth.parse("2026-11", UTC_ZONE)

    figures = monthly_figures(backend, namespace, month, as_of=AS_OF)

    assert figures.total_alerts == 0
    assert figures.false_positive_rate is None
    assert figures.mean_time_to_acknowledge is None


@pytest.mark.parametrize("suffix", ["html", "csv", "json"])
def test_report_command_writes_format(
    settings: Settings, november: None, tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"report.{suffix}"

    result = CliRunner().invoke(report, ["--month", "2026-11", "--out", str(out)], obj=settings)

    assert result.exit_code == 0, result.output
    assert "2026-11: 6 alerts" in result.output
    assert out.stat().st_size > 0


def test_report_json_has_figures(settings: Settings, november: None, tmp_path: Path) -> None:
    out = tmp_path / "report.out"
    arguments = ["--month", "2026-11", "--out", str(out), "--format", "json"]

    CliRunner().invoke(report, arguments, obj=settings)

    document = json.loads(out.read_text())
    assert document["total_alerts"] == 6
    assert document["by_severity"]["Critical"] == 2


def test_report_csv_is_long_format(settings: Settings, november: None, tmp_path: Path) -> None:
    out = tmp_path / "report.csv"

    CliRunner().invoke(report, ["--month", "2026-11", "--out", str(out)], obj=settings)

    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    values = {(row["section"], row["key"], row["metric"]): row["value"] for row in rows}
    assert values[("summary", "", "total_alerts")] == "6"
    assert values[("due_compliance", "Critical", "breached")] == "1"
    assert values[("by_rule", "r_iam", "alerts")] == "2"


def test_report_html_loads_nothing_from_network(
    settings: Settings, november: None, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"

    CliRunner().invoke(report, ["--month", "2026-11", "--out", str(out)], obj=settings)

    page = out.read_text()
    assert "<script src" not in page
    assert "<link" not in page
    assert page.count("Plotly.newPlot") == 3
    assert "25.0 %" in page


def test_report_command_rejects_bad_month(settings: Settings, tmp_path: Path) -> None:
    arguments = ["--month", "2026-13", "--out", str(tmp_path / "r.html")]

    result = CliRunner().invoke(report, arguments, obj=settings)

    assert result.exit_code == 2
    assert "use YYYY-MM" in result.output


def test_report_time_is_not_naive() -> None:
    month = ReportMonth.parse("2026-02", UTC_ZONE)

    assert month.end - month.start == timedelta(days=28)
