"""Scope of the silence alerts that the ElastAlert benchmark scores."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from socwb.alerts.model import Alert, EntityValue, new_alert
from socwb.rules.catalog import IAM_POLICY_CHANGE, LOG_SOURCE_STOPPED
from socwb.rules.model import Rule

sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))

from elastalert_compare import count_silence_alerts, is_in_flatline_scope  # noqa: E402

NOW = datetime(2025, 3, 19, 15, 0, tzinfo=UTC)


def alert(rule: Rule, **entity: str) -> Alert:
    values = [
        EntityValue(field=field.replace("_", "."), value=value) for field, value in entity.items()
    ]
    return new_alert(
        rule,
        values,
        id_time=NOW,
        first_event=NOW,
        last_event=NOW,
        now=NOW,
        run_id="run-1",
    )


def test_scope_keeps_application_silence() -> None:
    assert is_in_flatline_scope(alert(LOG_SOURCE_STOPPED, source="app", host_name="web-03"))
    assert is_in_flatline_scope(alert(LOG_SOURCE_STOPPED, source="app"))


def test_scope_keeps_alert_without_source() -> None:
    assert is_in_flatline_scope(alert(LOG_SOURCE_STOPPED, host_name="web-03"))


def test_scope_drops_other_source_silence() -> None:
    assert not is_in_flatline_scope(alert(LOG_SOURCE_STOPPED, source="edr", host_name="web-03"))
    assert not is_in_flatline_scope(alert(LOG_SOURCE_STOPPED, source="network"))


def test_scope_keeps_other_rules() -> None:
    assert is_in_flatline_scope(alert(IAM_POLICY_CHANGE, source="edr"))


def test_silence_count_per_source() -> None:
    alerts = [
        alert(LOG_SOURCE_STOPPED, source="edr", host_name="ws-01"),
        alert(LOG_SOURCE_STOPPED, source="edr", host_name="ws-02"),
        alert(LOG_SOURCE_STOPPED, source="app", host_name="web-03"),
        alert(LOG_SOURCE_STOPPED, host_name="web-03"),
        alert(IAM_POLICY_CHANGE, source="cloud"),
    ]

    counts = count_silence_alerts(alerts)

    assert counts == {"": 1, "app": 1, "edr": 2}
