"""Message text and channel payloads, built without any network or engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from socwb.alerts.model import Alert, EntityValue, Evidence
from socwb.notify.channels import (
    email_message,
    pagerduty_payload,
    slack_payload,
    teams_payload,
    webhook_payload,
)
from socwb.notify.templates import MAX_VALUE_LENGTH, Notification, alert_link, build_message, clean
from socwb.rules.model import Severity

CREATED = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
WORKBENCH_URL = "https://soc.example.test/"
RAW_EVENT = "Failed password for root from 203.0.113.9 port 22"


def make_alert(user: str = "alice", severity: Severity = Severity.CRITICAL) -> Alert:
    return Alert(
        id="a" * 64,
        rule_id="malware_detected",
        rule_name="Malware detected",
        severity=severity,
        created_at=CREATED,
        due_at=CREATED + timedelta(minutes=15),
        updated_at=CREATED,
        last_seen=CREATED,
        entity=[EntityValue(field="user.name", value=user)],
        entity_key=f"user.name={user}",
        first_event=CREATED,
        last_event=CREATED,
        count=1,
        evidence=Evidence(buckets={"event.original": RAW_EVENT}, query=RAW_EVENT),
        criteria=["CC7.2"],
        policy_clause="Malware",
        run_id="run-1",
    )


def test_message_states_rule_severity_entity_due_and_link() -> None:
    message = build_message(make_alert(), Notification.NEW, workbench_url=WORKBENCH_URL)

    assert message.subject == "[Critical] Malware detected: user.name=alice"
    assert "Rule: Malware detected (malware_detected)" in message.text
    assert "Severity: Critical" in message.text
    assert "Entity: user.name=alice" in message.text
    assert "Due: 2026-12-04T10:15:00.000Z" in message.text
    assert f"Link: https://soc.example.test/Alert_detail?alert={'a' * 64}" in message.text


def test_escalation_message_states_waiting_time() -> None:
    now = CREATED + timedelta(minutes=8)

    message = build_message(
        make_alert(), Notification.ESCALATION, workbench_url=WORKBENCH_URL, now=now
    )

    assert message.subject.startswith("ESCALATION [Critical]")
    assert ("Waiting", "8 min since creation") in message.facts
    assert ("Status", "open, not acknowledged") in message.facts


def test_message_flattens_control_characters() -> None:
    alert = make_alert(user="eve\r\nBcc: victim@example.test")

    message = build_message(alert, Notification.NEW, workbench_url=WORKBENCH_URL)

    assert "\r" not in message.subject
    assert "\n" not in message.subject
    assert message.entity == "user.name=eve Bcc: victim@example.test"


def test_clean_cuts_long_values() -> None:
    assert len(clean("x" * 1000)) == MAX_VALUE_LENGTH


def test_alert_link_quotes_id() -> None:
    assert alert_link("http://wb:8501", "a/b") == "http://wb:8501/Alert_detail?alert=a%2Fb"


@pytest.mark.parametrize(
    "render",
    [
        pytest.param(lambda m: json.dumps(webhook_payload(m)), id="webhook"),
        pytest.param(lambda m: json.dumps(slack_payload(m)), id="slack"),
        pytest.param(lambda m: json.dumps(teams_payload(m)), id="teams"),
        pytest.param(lambda m: json.dumps(pagerduty_payload(m, "routing")), id="pagerduty"),
        pytest.param(lambda m: email_message(m, "a@x.test", ["b@x.test"]).as_string(), id="email"),
    ],
)
def test_payload_excludes_raw_event(render: object) -> None:
    message = build_message(make_alert(), Notification.NEW, workbench_url=WORKBENCH_URL)

    body = render(message)  # type: ignore[operator]

    assert "event.original" not in body
    assert RAW_EVENT not in body
    assert "Malware detected" in body


def test_slack_payload_escapes_mentions() -> None:
    alert = make_alert(user="<!channel>")

    payload = slack_payload(build_message(alert, Notification.NEW, workbench_url=WORKBENCH_URL))

    rendered = json.dumps(payload)
    assert "<!channel>" not in rendered
    assert "&lt;!channel&gt;" in rendered


def test_teams_payload_is_adaptive_card() -> None:
    message = build_message(make_alert(), Notification.NEW, workbench_url=WORKBENCH_URL)

    payload = teams_payload(message)

    attachment = payload["attachments"][0]
    assert payload["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"
    assert attachment["content"]["actions"][0]["url"] == message.link


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (Severity.CRITICAL, "critical"),
        (Severity.HIGH, "error"),
        (Severity.MEDIUM, "warning"),
        (Severity.LOW, "info"),
    ],
)
def test_pagerduty_payload_maps_severity(severity: Severity, expected: str) -> None:
    message = build_message(
        make_alert(severity=severity), Notification.NEW, workbench_url="http://w"
    )

    payload = pagerduty_payload(message, "R0UT1NG")

    assert payload["event_action"] == "trigger"
    assert payload["routing_key"] == "R0UT1NG"
    assert payload["dedup_key"] == "a" * 64
    assert payload["payload"]["severity"] == expected
    assert payload["payload"]["timestamp"] == "2026-12-04T10:00:00.000Z"
