"""Notification settings validation, secret masking, backoff and escalation times."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from socwb.commands.notify import load_notification_settings
from socwb.errors import ConfigurationError
from socwb.notify.channels import redact_url
from socwb.notify.config import NotificationSettings
from socwb.notify.dispatcher import (
    backoff_delay,
    escalation_time,
    severities_at_or_above,
)
from socwb.notify.records import delivery_id, next_round, result_id
from socwb.notify.templates import Notification
from socwb.rules.model import Severity

from .test_templates import make_alert

SECRET_URL = "https://hooks.slack.example/services/T000/B000/XXsecretXX"


def test_redact_url_hides_path_and_credentials() -> None:
    assert redact_url(SECRET_URL) == "https://hooks.slack.example/…"
    assert redact_url("http://user:pw@127.0.0.1:8080/x?token=1") == "http://127.0.0.1:8080/…"


def test_settings_repr_masks_secrets() -> None:
    settings = NotificationSettings.model_validate(
        {
            "channels": [
                {"kind": "slack", "name": "soc", "url": SECRET_URL},
                {
                    "kind": "smtp",
                    "name": "mail",
                    "host": "smtp.example.test",
                    "sender": "a@example.test",
                    "recipients": ["b@example.test"],
                    "password": "pw-Secret-123",
                },
                {"kind": "pagerduty", "name": "pd", "routing_key": "RK-secret"},
            ],
            "notify_channels": ["soc", "mail"],
            "escalation_channels": ["pd"],
        }
    )

    rendered = repr(settings) + json.dumps(settings.model_dump(mode="json"))

    assert "XXsecretXX" not in rendered
    assert "pw-Secret-123" not in rendered
    assert "RK-secret" not in rendered


def test_settings_reject_unknown_channel_name() -> None:
    with pytest.raises(ValidationError, match="unknown channel pager"):
        NotificationSettings.model_validate({"notify_channels": ["pager"]})


def test_settings_reject_duplicate_channel_names() -> None:
    channel = {"kind": "webhook", "name": "hook", "url": "http://127.0.0.1:1/x"}
    with pytest.raises(ValidationError, match="channel names must be unique: hook"):
        NotificationSettings.model_validate({"channels": [channel, channel]})


def test_settings_reject_non_http_url() -> None:
    channel = {"kind": "webhook", "name": "hook", "url": "file:///etc/passwd"}
    with pytest.raises(ValidationError, match="use an http:// or https:// URL"):
        NotificationSettings.model_validate({"channels": [channel]})


def test_settings_default_escalation_share_is_half() -> None:
    assert NotificationSettings().escalate_after == 0.5


def test_load_settings_error_hides_url(tmp_path: Path) -> None:
    config = tmp_path / "notify.json"
    channel = {"kind": "webhook", "name": "hook", "url": SECRET_URL, "timeout": -1}
    config.write_text(json.dumps({"channels": [channel]}), encoding="utf-8")

    with pytest.raises(ConfigurationError, match="channels.0.webhook.timeout") as caught:
        load_notification_settings(config)

    assert "XXsecretXX" not in str(caught.value)


def test_backoff_doubles_and_is_capped() -> None:
    delays = [backoff_delay(attempt, 1.0, 30.0) for attempt in range(1, 8)]

    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_severities_at_or_above_high() -> None:
    assert severities_at_or_above(Severity.HIGH) == [Severity.HIGH, Severity.CRITICAL]


def test_escalation_time_is_half_of_fifteen_minutes() -> None:
    alert = make_alert()

    moment = escalation_time(alert, 0.5)

    assert moment == datetime(2026, 12, 4, 10, 7, 30, tzinfo=UTC)
    assert moment - alert.created_at == timedelta(minutes=7, seconds=30)


def record_rounds(*outcomes: str | None) -> dict[str, dict[str, str]]:
    """Return stored records of rounds 1.. with these results (None: claimed, no result)."""
    found: dict[str, dict[str, str]] = {}
    for number, outcome in enumerate(outcomes, start=1):
        claim_id = delivery_id("a1", Notification.NEW, "hook", number)
        found[claim_id] = {"record": "claim"}
        if outcome is not None:
            found[result_id(claim_id)] = {"record": "result", "outcome": outcome}
    return found


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        pytest.param((), 1, id="never-claimed"),
        pytest.param(("delivered",), None, id="delivered"),
        pytest.param((None,), None, id="claimed-without-result"),
        pytest.param(("failed",), 2, id="failed-once"),
        pytest.param(("failed", "delivered"), None, id="delivered-in-round-2"),
        pytest.param(("failed", "failed", "failed"), None, id="rounds-exhausted"),
    ],
)
def test_next_round(outcomes: tuple[str | None, ...], expected: int | None) -> None:
    found = record_rounds(*outcomes)

    assert next_round(found, "a1", Notification.NEW, "hook", max_rounds=3) == expected


def test_delivery_id_ends_with_round() -> None:
    assert delivery_id("a1", Notification.ESCALATION, "oncall", 2) == "a1-escalation-oncall/2"
