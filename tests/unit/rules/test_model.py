"""Rule validation, time windows and the alert status workflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from socwb.alerts.model import ALLOWED_TRANSITIONS, AlertStatus, alert_id, check_transition
from socwb.errors import AlertWorkflowError, RuleError
from socwb.rules.catalog import AUTH_FAILURE_SPIKE, builtin_rules, get_rule
from socwb.rules.model import Rule, Severity, ThresholdSpec, TimeWindow, iso

POLICY_RULES = {
    "auth_failure_spike": (Severity.HIGH, timedelta(minutes=30)),
    "iam_policy_change": (Severity.CRITICAL, timedelta(minutes=15)),
    "firewall_rule_change": (Severity.HIGH, timedelta(hours=1)),
    "new_admin_account": (Severity.HIGH, timedelta(hours=1)),
    "log_source_stopped": (Severity.HIGH, timedelta(hours=1)),
    "vulnerability_critical": (Severity.HIGH, timedelta(hours=4)),
    "malware_detected": (Severity.CRITICAL, timedelta(minutes=15)),
}


@pytest.mark.parametrize("rule_id", sorted(POLICY_RULES))
def test_builtin_rule_severity_and_response_time(rule_id: str) -> None:
    rule = get_rule(rule_id)

    assert (rule.severity, rule.response_time) == POLICY_RULES[rule_id]
    assert "CC7.2" in rule.criteria


def test_builtin_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in builtin_rules()]

    assert len(ids) == len(set(ids))


def test_get_rule_unknown_id_lists_known_ids() -> None:
    with pytest.raises(RuleError, match="unknown rule id 'nope': use one of auth_failure_spike"):
        get_rule("nope")


def test_rule_without_cc72_is_rejected() -> None:
    fields = AUTH_FAILURE_SPIKE.model_dump()
    fields["criteria"] = ["CC6.1"]

    with pytest.raises(ValidationError, match="CC7.2"):
        Rule.model_validate(fields)


def test_rule_with_unknown_key_is_rejected() -> None:
    fields = AUTH_FAILURE_SPIKE.model_dump()
    fields["treshold"] = 5

    with pytest.raises(ValidationError, match="treshold"):
        Rule.model_validate(fields)


def test_cardinality_needs_metric_field() -> None:
    with pytest.raises(ValidationError, match="metric_field"):
        ThresholdSpec(group_by=["source.ip"], metric="cardinality", threshold=10)


def test_time_window_rejects_naive_and_offset_times() -> None:
    naive = datetime(2024, 1, 15, 17, 0)
    chicago = datetime(2024, 1, 15, 11, 0, tzinfo=timezone(timedelta(hours=-6)))
    utc = datetime(2024, 1, 15, 17, 0, tzinfo=UTC)

    with pytest.raises(ValueError, match="timezone-aware UTC"):
        TimeWindow(naive, utc)
    with pytest.raises(ValueError, match="timezone-aware UTC"):
        TimeWindow(chicago, utc)
    with pytest.raises(ValueError, match="before its start"):
        TimeWindow(utc, utc - timedelta(seconds=1))


def test_iso_converts_offsets_to_utc() -> None:
    chicago = datetime(2024, 1, 15, 11, 6, tzinfo=timezone(timedelta(hours=-6)))

    assert iso(chicago) == "2024-01-15T17:06:00.000Z"


ALLOWED = [(current, new) for current, targets in ALLOWED_TRANSITIONS.items() for new in targets]
FORBIDDEN = [
    (current, new)
    for current in AlertStatus
    for new in AlertStatus
    if new not in ALLOWED_TRANSITIONS[current]
]


@pytest.mark.parametrize(("current", "new"), ALLOWED, ids=lambda status: status.value)
def test_allowed_transition_passes(current: AlertStatus, new: AlertStatus) -> None:
    check_transition(current, new)


@pytest.mark.parametrize(("current", "new"), FORBIDDEN, ids=lambda status: status.value)
def test_forbidden_transition_raises(current: AlertStatus, new: AlertStatus) -> None:
    with pytest.raises(AlertWorkflowError, match=f"cannot move from '{current.value}'"):
        check_transition(current, new)


def test_every_status_can_be_closed_or_is_closed() -> None:
    # A suppressed alert is an audit record that never enters the workflow.
    for status in AlertStatus:
        if status not in (AlertStatus.CLOSED, AlertStatus.SUPPRESSED):
            assert AlertStatus.CLOSED in ALLOWED_TRANSITIONS[status]


def test_alert_id_is_deterministic_and_distinct() -> None:
    start = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

    first = alert_id("auth_failure_spike", "user.name=alice", start)
    again = alert_id("auth_failure_spike", "user.name=alice", start)
    other = alert_id("auth_failure_spike", "user.name=bob", start)

    assert first == again
    assert first != other
    assert len(first) == 64
