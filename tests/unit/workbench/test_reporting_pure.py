"""Monthly figures as a pure function of alerts and history entries, and their formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from socwb.alerts.history import Action, Disposition, HistoryEntry
from socwb.alerts.model import Alert, AlertStatus, EntityValue
from socwb.reporting import (
    ReportMonth,
    compute_monthly_figures,
    format_duration,
    format_rate,
    is_canary,
    to_csv,
)
from socwb.rules.model import Severity

UTC_ZONE = ZoneInfo("UTC")
CREATED = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
NOVEMBER = ReportMonth.parse("2026-11", UTC_ZONE)


def alert(alert_id: str, *, rule_id: str = "r_auth", flags: dict[str, bool] | None = None) -> Alert:
    return Alert(
        id=alert_id,
        rule_id=rule_id,
        rule_name=rule_id,
        severity=Severity.HIGH,
        created_at=CREATED,
        due_at=CREATED + timedelta(hours=1),
        updated_at=CREATED,
        last_seen=CREATED,
        entity=[EntityValue(field="user.name", value="alice")],
        entity_key="user.name=alice",
        first_event=CREATED,
        last_event=CREATED,
        count=1,
        criteria=["CC7.2"],
        policy_clause="",
        flags=flags or {},
        run_id="run",
    )


def close(alert_id: str, minutes: int, disposition: Disposition) -> HistoryEntry:
    return HistoryEntry(
        alert_id=alert_id,
        seq=1,
        actor="ana",
        at=CREATED + timedelta(minutes=minutes),
        action=Action.CLOSE,
        from_status=AlertStatus.OPEN,
        to_status=AlertStatus.CLOSED,
        disposition=disposition,
    )


def test_canary_by_rule_prefix_and_flag() -> None:
    assert is_canary(alert("a", rule_id="selftest_probe"))
    assert is_canary(alert("b", flags={"is_canary": True}))
    assert not is_canary(alert("c", flags={"is_escalation": True}))


def test_figures_ignore_entries_after_report_time() -> None:
    late = close("a", 60 * 24 * 40, Disposition.FALSE_POSITIVE)

    figures = compute_monthly_figures(NOVEMBER, [alert("a")], {"a": [late]}, as_of=AS_OF)

    assert figures.closed_alerts == 0
    assert figures.acknowledged_alerts == 0
    assert figures.due_compliance[1].breached == 1


def test_figures_rate_and_times() -> None:
    alerts = [alert("a"), alert("b"), alert("c", rule_id="selftest_x")]
    histories = {
        "a": [close("a", 30, Disposition.FALSE_POSITIVE)],
        "b": [close("b", 90, Disposition.TRUE_POSITIVE)],
        "c": [close("c", 1, Disposition.FALSE_POSITIVE)],
    }

    figures = compute_monthly_figures(NOVEMBER, alerts, histories, as_of=AS_OF)

    assert figures.total_alerts == 2
    assert figures.false_positive_rate == 0.5
    assert figures.mean_time_to_acknowledge == 60 * 60
    assert figures.mean_time_to_close == 60 * 60
    assert figures.due_compliance[1].met == 1
    assert figures.due_compliance[1].breached == 1


def test_figures_leave_out_suppressed_alerts() -> None:
    suppressed = alert("s").model_copy(
        update={"status": AlertStatus.SUPPRESSED, "suppression_id": "s-backup"}
    )

    figures = compute_monthly_figures(NOVEMBER, [alert("a"), suppressed], {}, as_of=AS_OF)

    assert figures.total_alerts == 1
    assert figures.by_rule == {"r_auth": 1}
    assert figures.excluded_canary_alerts == 0
    assert figures.due_compliance[1].breached == 1


def test_csv_has_header_and_summary_rows() -> None:
    figures = compute_monthly_figures(NOVEMBER, [], {}, as_of=AS_OF)

    lines = to_csv(figures).splitlines()

    assert lines[0] == "section,key,metric,value"
    assert "summary,,total_alerts,0" in lines
    assert "summary,,false_positive_rate," in lines


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "November", ""])
def test_report_month_rejects_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="use YYYY-MM"):
        ReportMonth.parse(text, UTC_ZONE)


def test_report_month_december_ends_in_january() -> None:
    month = ReportMonth.parse("2026-12", UTC_ZONE)

    assert month.end == datetime(2027, 1, 1, tzinfo=UTC_ZONE)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(None, "n/a"), (0, "0h 00m 00s"), (3723.4, "1h 02m 03s"), (90000, "25h 00m 00s")],
)
def test_format_duration(seconds: float | None, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_format_rate() -> None:
    assert format_rate(0.25) == "25.0 %"
    assert format_rate(None) == "n/a"
