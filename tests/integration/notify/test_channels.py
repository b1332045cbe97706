"""Each channel kind against a local receiver or SMTP server; no engine needed."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from socwb.notify.channels import DeliveryError, build_channel
from socwb.notify.config import (
    ChannelConfig,
    NotificationSettings,
    PagerDutyChannelConfig,
    SmtpChannelConfig,
)
from socwb.notify.templates import Message, Notification, build_message

from .conftest import SmtpServer, WebhookReceiver, build_alert

PASSWORD = "smtp-pass-Zq81x"


def message_for_test() -> Message:
    alert = build_alert(created_at=datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    return build_message(alert, Notification.NEW, workbench_url="http://wb.test")


def channel_config(data: dict[str, object]) -> ChannelConfig:
    settings = NotificationSettings.model_validate({"channels": [data]})
    return settings.channels[0]


@pytest.mark.parametrize(
    ("kind", "key"),
    [("webhook", "alert_id"), ("slack", "blocks"), ("teams", "attachments")],
)
def test_http_channel_posts_to_configured_path(
    receiver: WebhookReceiver, kind: str, key: str
) -> None:
    config = channel_config({"kind": kind, "name": kind, "url": receiver.url("/exact/path")})

    build_channel(config).send(message_for_test())

    assert len(receiver.requests) == 1
    assert receiver.requests[0].path == "/exact/path"
    assert key in receiver.requests[0].body


def test_pagerduty_channel_sends_routing_key(receiver: WebhookReceiver) -> None:
    config = PagerDutyChannelConfig.model_validate(
        {"name": "pd", "routing_key": "RK123", "url": receiver.url("/v2/enqueue")}
    )
    receiver.statuses = [202]

    build_channel(config).send(message_for_test())

    body = receiver.requests[0].body
    assert body["routing_key"] == "RK123"
    assert body["event_action"] == "trigger"
    assert body["payload"]["severity"] == "critical"


def test_redirect_not_followed(receiver_factory: Callable[[], WebhookReceiver]) -> None:
    first, elsewhere = receiver_factory(), receiver_factory()
    first.statuses = [302]
    first.location = elsewhere.url("/elsewhere")
    config = channel_config({"kind": "webhook", "name": "hook", "url": first.url()})

    with pytest.raises(DeliveryError, match="returned HTTP 302") as caught:
        build_channel(config).send(message_for_test())

    assert caught.value.is_retryable is False
    assert len(first.requests) == 1
    assert elsewhere.requests == []


def test_smtp_channel_logs_no_password(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = SmtpChannelConfig.model_validate(
        {
            "name": "mail",
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "sender": "socwb@example.test",
            "recipients": ["a@example.test", "b@example.test"],
            "username": "socwb",
            "password": PASSWORD,
            "starttls": False,
        }
    )
    caplog.set_level(logging.DEBUG)

    build_channel(config).send(message_for_test())

    assert smtp_server.envelopes == [("socwb@example.test", ["a@example.test", "b@example.test"])]
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(config)


def test_smtp_server_down_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = SmtpChannelConfig.model_validate(
        {
            "name": "mail",
            "host": "127.0.0.1",
            "port": port,
            "sender": "socwb@example.test",
            "recipients": ["a@example.test"],
            "password": PASSWORD,
            "starttls": False,
        }
    )

    with pytest.raises(DeliveryError, match=f"SMTP server 127.0.0.1:{port} failed") as caught:
        build_channel(config).send(message_for_test())

    assert caught.value.is_retryable is True
    assert PASSWORD not in str(caught.value)
