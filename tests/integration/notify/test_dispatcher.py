"""The dispatcher on the real node, delivering to a local webhook receiver and SMTP server."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from socwb.alerts.history import Disposition
from socwb.alerts.model import AlertStatus
from socwb.alerts.store import AlertStore
from socwb.alerts.workflow import AlertWorkflow
from socwb.auth import Principal, Role
from socwb.notify.config import NotificationSettings
from socwb.notify.dispatcher import CycleReport, Dispatcher
from socwb.notify.records import DeliveryRecords
from socwb.rules.model import Severity
from socwb.search import SearchBackend

from .conftest import RAW_EVENT, AlertFactory, SmtpServer, WebhookReceiver, build_alert

pytestmark = pytest.mark.node

ANALYST = Principal("ana", frozenset({Role.ANALYST}))
SMTP_PASSWORD = "smtp-pass-Zq81x"
WORKBENCH_URL = "https://soc.example.test"


def settings_for(
    receiver_url: str,
    smtp_port: int | None = None,
    escalation_url: str | None = None,
    **overrides: Any,
) -> NotificationSettings:
    channels: list[dict[str, Any]] = [{"kind": "webhook", "name": "hook", "url": receiver_url}]
    notify = ["hook"]
    escalate: list[str] = []
    if smtp_port is not None:
        channels.append(
            {
                "kind": "smtp",
                "name": "mail",
                "host": "127.0.0.1",
                "port": smtp_port,
                "sender": "socwb@example.test",
                "recipients": ["soc@example.test"],
                "username": "socwb",
                "password": SMTP_PASSWORD,
                "starttls": False,
                "timeout": 5,
            }
        )
        notify.append("mail")
    if escalation_url is not None:
        channels.append({"kind": "webhook", "name": "oncall", "url": escalation_url})
        escalate.append("oncall")
    return NotificationSettings.model_validate(
        {
            "workbench_url": WORKBENCH_URL,
            "min_severity": "High",
            "channels": channels,
            "notify_channels": notify,
            "escalation_channels": escalate,
            **overrides,
        }
    )


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def dispatcher_for(
    backend: SearchBackend,
    namespace: str,
    settings: NotificationSettings,
    clock: Callable[[], datetime] | None = None,
    sleep: SleepRecorder | None = None,
) -> Dispatcher:
    return Dispatcher(
        backend,
        namespace,
        settings,
        clock=clock or (lambda: datetime.now(UTC)),
        sleep=sleep or SleepRecorder(),
    )


def parse_email(raw: str) -> EmailMessage:
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


# New alerts -------------------------------------------------------------------------------


def test_critical_alert_reaches_webhook_and_smtp(
    backend: SearchBackend,
    namespace: str,
    make_alert: AlertFactory,
    receiver: WebhookReceiver,
    smtp_server: SmtpServer,
) -> None:
    alert = make_alert(severity=Severity.CRITICAL)
    settings = settings_for(receiver.url(), smtp_server.port)

    report = dispatcher_for(backend, namespace, settings).run_cycle()

    assert report.delivered == 2
    assert report.failed == []
    assert len(receiver.requests) == 1
    assert receiver.requests[0].body["alert_id"] == alert.id
    assert receiver.requests[0].body["notification"] == "new"
    assert receiver.requests[0].content_type == "application/json"
    assert len(smtp_server.messages) == 1
    assert smtp_server.envelopes == [("socwb@example.test", ["soc@example.test"])]
    assert smtp_server.logins == [("socwb", SMTP_PASSWORD)]
    assert alert.id in parse_email(smtp_server.messages[0]).get_content()


def test_second_cycle_sends_nothing(
    backend: SearchBackend,
    namespace: str,
    make_alert: AlertFactory,
    receiver: WebhookReceiver,
    smtp_server: SmtpServer,
) -> None:
    make_alert(severity=Severity.CRITICAL)
    settings = settings_for(receiver.url(), smtp_server.port)
    dispatcher_for(backend, namespace, settings).run_cycle()

    second = dispatcher_for(backend, namespace, settings).run_cycle()

    assert second.delivered == 0
    assert second.skipped == 2
    assert len(receiver.requests) == 1
    assert len(smtp_server.messages) == 1


def test_low_alert_below_threshold_not_sent(
    backend: SearchBackend,
    namespace: str,
    make_alert: AlertFactory,
    receiver: WebhookReceiver,
    smtp_server: SmtpServer,
) -> None:
    low = make_alert(severity=Severity.LOW)
    settings = settings_for(receiver.url(), smtp_server.port)

    report = dispatcher_for(backend, namespace, settings).run_cycle()

    assert report.delivered == 0
    assert receiver.requests == []
    assert smtp_server.messages == []
    assert DeliveryRecords(backend, namespace).for_alert(low.id) == []


def test_closed_alert_not_sent(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory, receiver: WebhookReceiver
) -> None:
    alert = make_alert(severity=Severity.CRITICAL)
    workflow = AlertWorkflow(backend, namespace)
    workflow.close(ANALYST, workflow.open(ANALYST, alert.id), Disposition.FALSE_POSITIVE)

    report = dispatcher_for(backend, namespace, settings_for(receiver.url())).run_cycle()

    assert report.delivered == 0
    assert receiver.requests == []


def test_suppressed_alert_not_sent(
    backend: SearchBackend, namespace: str, alert_store: AlertStore, receiver: WebhookReceiver
) -> None:
    built = build_alert(created_at=datetime.now(UTC) - timedelta(minutes=1))
    suppressed = built.model_copy(
        update={"status": AlertStatus.SUPPRESSED, "suppression_id": "s-backup"}
    )
    assert alert_store.create_many([suppressed]) == []
    alert_store.refresh()

    report = dispatcher_for(backend, namespace, settings_for(receiver.url())).run_cycle()

    assert report.delivered == 0
    assert receiver.requests == []


def test_six_hundred_alerts_sent_once_each(
    backend: SearchBackend, namespace: str, alert_store: AlertStore, receiver: WebhookReceiver
) -> None:
    created_at = datetime.now(UTC) - timedelta(minutes=1)
    alerts = [build_alert(created_at=created_at, user=f"user{100 + n}") for n in range(600)]
    assert alert_store.create_many(alerts) == []
    alert_store.refresh()
    settings = settings_for(receiver.url())

    first = dispatcher_for(backend, namespace, settings).run_cycle()
    second = dispatcher_for(backend, namespace, settings).run_cycle()

    assert first.delivered == 600
    assert second.delivered == 0
    assert second.skipped == 600
    assert len(receiver.requests) == 600


def test_concurrent_cycles_send_once(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory, receiver: WebhookReceiver
) -> None:
    make_alert(severity=Severity.CRITICAL)
    settings = settings_for(receiver.url())
    dispatchers = [dispatcher_for(backend, namespace, settings) for _ in range(4)]
    reports: list[CycleReport] = []
    threads = [
        threading.Thread(target=lambda d=dispatcher: reports.append(d.run_cycle()))
        for dispatcher in dispatchers
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(reports) == 4
    assert len(receiver.requests) == 1
    assert sum(report.delivered for report in reports) == 1
    assert sum(report.skipped for report in reports) == 3


# Retries and failures ---------------------------------------------------------------------


def test_receiver_500_twice_then_200_is_retried(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory, receiver: WebhookReceiver
) -> None:
    alert = make_alert(severity=Severity.CRITICAL)
    receiver.statuses = [500, 500]
    sleep = SleepRecorder()
    settings = settings_for(receiver.url(), backoff_initial=1.0, backoff_max=30.0)

    report = dispatcher_for(backend, namespace, settings, sleep=sleep).run_cycle()

    assert report.delivered == 1
    assert report.failed == []
    assert len(receiver.requests) == 3
    assert sleep.delays == [1.0, 2.0]
    records = DeliveryRecords(backend, namespace).for_alert(alert.id)
    attempts = sorted(
        (record for record in records if record["record"] == "attempt"),
        key=lambda record: record["attempt"],
    )
    assert [record["outcome"] for record in attempts] == ["failed", "failed", "delivered"]
    assert attempts[0]["reason"].endswith("returned HTTP 500")
    assert attempts[2]["reason"] is None
    results = [record for record in records if record["record"] == "result"]
    assert len(results) == 1
    assert results[0]["outcome"] == "delivered"
    assert results[0]["attempts"] == 3


def test_receiver_down_recorded_as_failed(
    backend: SearchBackend,
    namespace: str,
    make_alert: AlertFactory,
    closed_port_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alert = make_alert(severity=Severity.CRITICAL)
    sleep = SleepRecorder()
    settings = settings_for(closed_port_url, max_attempts=3, backoff_initial=0.5, backoff_max=0.75)
    caplog.set_level(logging.INFO, logger="socwb")

    report = dispatcher_for(backend, namespace, settings, sleep=sleep).run_cycle()

    assert report.delivered == 0
    assert len(report.failed) == 1
    assert "could not be reached" in report.failed[0]
    assert sleep.delays == [0.5, 0.75]
    records = DeliveryRecords(backend, namespace).for_alert(alert.id)
    result = next(record for record in records if record["record"] == "result")
    assert result["outcome"] == "failed"
    assert result["attempts"] == 3
    assert "ConnectionRefusedError" in result["reason"]
    assert "s3cr3tT0k3nPath" not in result["reason"]
    assert "s3cr3tT0k3nPath" not in caplog.text
    assert f"alert_id={alert.id} channel=hook" in caplog.text


def test_receiver_404_not_retried(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory, receiver: WebhookReceiver
) -> None:
    make_alert(severity=Severity.HIGH)
    receiver.statuses = [404]
    sleep = SleepRecorder()

    report = dispatcher_for(
        backend, namespace, settings_for(receiver.url()), sleep=sleep
    ).run_cycle()

    assert len(receiver.requests) == 1
    assert sleep.delays == []
    assert len(report.failed) == 1
    assert "HTTP 404" in report.failed[0]


def test_failed_delivery_retried_next_cycle(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory, receiver: WebhookReceiver
) -> None:
    alert = make_alert(severity=Severity.CRITICAL)
    receiver.statuses = [400]
    settings = settings_for(receiver.url())
    first = dispatcher_for(backend, namespace, settings).run_cycle()

    second = dispatcher_for(backend, namespace, settings).run_cycle()
    third = dispatcher_for(backend, namespace, settings).run_cycle()

    assert len(first.failed) == 1
    assert second.delivered == 1
    assert third.delivered == 0
    assert third.skipped == 1
    assert len(receiver.requests) == 2
    records = DeliveryRecords(backend, namespace).for_alert(alert.id)
    results = sorted(
        (record for record in records if record["record"] == "result"),
        key=lambda record: record["round"],
    )
    assert [(record["round"], record["outcome"]) for record in results] == [
        (1, "failed"),
        (2, "delivered"),
    ]


def test_failed_delivery_stops_after_max_rounds(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory, receiver: WebhookReceiver
) -> None:
    make_alert(severity=Severity.CRITICAL)
    receiver.statuses = [400, 400, 400]
    settings = settings_for(receiver.url(), max_rounds=2)

    reports = [dispatcher_for(backend, namespace, settings).run_cycle() for _ in range(3)]

    assert [len(report.failed) for report in reports] == [1, 1, 0]
    assert reports[2].skipped == 1
    assert len(receiver.requests) == 2


# Message content --------------------------------------------------------------------------


def test_messages_exclude_raw_event_and_secrets(
    backend: SearchBackend,
    namespace: str,
    make_alert: AlertFactory,
    receiver: WebhookReceiver,
    smtp_server: SmtpServer,
) -> None:
    alert = make_alert(severity=Severity.CRITICAL, user="mallory")
    settings = settings_for(receiver.url(), smtp_server.port)

    dispatcher_for(backend, namespace, settings).run_cycle()

    link = f"{WORKBENCH_URL}/Alert_detail?alert={alert.id}"
    mail = parse_email(smtp_server.messages[0])
    bodies = {"webhook": receiver.requests[0].raw, "email": mail.get_content()}
    for channel, body in bodies.items():
        assert "iam policy change" in body, channel
        assert "iam_policy_change" in body, channel
        assert "Critical" in body, channel
        assert "user.name=mallory" in body, channel
        assert link in body, channel
        assert "event.original" not in body, channel
        assert "Failed password" not in body, channel
        assert SMTP_PASSWORD not in body, channel
        assert "s3cr3tT0k3nPath" not in body, channel
    assert receiver.requests[0].body["due_at"] == alert.due_at.isoformat(
        timespec="milliseconds"
    ).replace("+00:00", "Z")
    assert mail["Subject"] == "[Critical] iam policy change: user.name=mallory"
    assert RAW_EVENT not in smtp_server.messages[0]


# Escalation and breaches ------------------------------------------------------------------


def test_unacknowledged_critical_escalates_once_after_half(
    backend: SearchBackend,
    namespace: str,
    make_alert: AlertFactory,
    receiver_factory: Callable[[], WebhookReceiver],
) -> None:
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    alert = make_alert(severity=Severity.CRITICAL, created_at=created)
    primary, oncall = receiver_factory(), receiver_factory()
    settings = settings_for(primary.url(), escalation_url=oncall.url("/oncall/s3cr3tT0k3nPath"))
    now = {"value": created + timedelta(minutes=7, seconds=29)}

    def clock() -> datetime:
        return now["value"]

    before = dispatcher_for(backend, namespace, settings, clock=clock).run_cycle()
    now["value"] = created + timedelta(minutes=7, seconds=30)
    at_half = dispatcher_for(backend, namespace, settings, clock=clock).run_cycle()
    now["value"] = created + timedelta(minutes=9)
    later = dispatcher_for(backend, namespace, settings, clock=clock).run_cycle()

    assert before.escalated == 0
    assert at_half.escalated == 1
    assert later.escalated == 0
    assert len(oncall.requests) == 1
    assert oncall.requests[0].body["notification"] == "escalation"
    assert oncall.requests[0].body["alert_id"] == alert.id
    assert "ESCALATION" in oncall.requests[0].body["title"]
    assert len(primary.requests) == 1


def test_acknowledged_critical_does_not_escalate(
    backend: SearchBackend,
    namespace: str,
    make_alert: AlertFactory,
    receiver_factory: Callable[[], WebhookReceiver],
) -> None:
    created = datetime.now(UTC) - timedelta(minutes=1)
    alert = make_alert(severity=Severity.CRITICAL, created_at=created)
    workflow = AlertWorkflow(backend, namespace)
    workflow.acknowledge(ANALYST, workflow.open(ANALYST, alert.id))
    primary, oncall = receiver_factory(), receiver_factory()
    settings = settings_for(primary.url(), escalation_url=oncall.url())

    def clock() -> datetime:
        return created + timedelta(minutes=10)

    report = dispatcher_for(backend, namespace, settings, clock=clock).run_cycle()

    assert report.escalated == 0
    assert oncall.requests == []
    assert len(primary.requests) == 1


def test_breached_alert_marked_once(
    backend: SearchBackend, namespace: str, make_alert: AlertFactory, receiver: WebhookReceiver
) -> None:
    created = datetime.now(UTC) - timedelta(minutes=1)
    alert = make_alert(severity=Severity.CRITICAL, created_at=created)
    settings = settings_for(receiver.url())

    def clock() -> datetime:
        return created + timedelta(minutes=16)

    first = dispatcher_for(backend, namespace, settings, clock=clock).run_cycle()
    second = dispatcher_for(backend, namespace, settings, clock=clock).run_cycle()

    assert first.breached == 1
    assert second.breached == 0
    records = DeliveryRecords(backend, namespace).for_alert(alert.id)
    breaches = [record for record in records if record["record"] == "breach"]
    assert len(breaches) == 1
    assert breaches[0]["due_at"].startswith(alert.due_at.strftime("%Y-%m-%dT%H:%M"))
