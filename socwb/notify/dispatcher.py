"""One dispatch cycle: notify new alerts, escalate unacknowledged ones, mark breached ones.

A cycle selects alerts created within `lookback` at or above `min_severity`:

1. Every alert that is not closed is sent once to each notify channel.
2. An alert still `open` once `escalate_after` of its response time (`due_at` minus
   `created_at`) has passed is sent once to each escalation channel.
3. An alert still `open` after its `due_at` gets one breach record.

Each round of a delivery is claimed in `socwb-notifications-<namespace>` before its
first attempt (see `socwb.notify.records`), so a rerun or a second dispatcher never
sends it again.
Attempts are retried with capped exponential backoff while the failure is retryable.
A delivery whose attempts all failed is tried again by the next cycles, up to
`max_rounds` cycles in all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from socwb.alerts.model import Alert, AlertStatus
from socwb.alerts.store import AlertStore
from socwb.notify.channels import Channel, DeliveryError, build_channel
from socwb.notify.config import NotificationSettings
from socwb.notify.records import (
    Delivery,
    DeliveryRecords,
    Outcome,
    delivery_id,
    next_round,
    result_id,
)
from socwb.notify.templates import Message, Notification, build_message
from socwb.rules.model import Severity, iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

SEVERITY_ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


def severities_at_or_above(minimum: Severity) -> list[Severity]:
    """Return the severities from `minimum` up to Critical."""
    return list(SEVERITY_ORDER[SEVERITY_ORDER.index(minimum) :])


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Return the wait after failed attempt number `attempt` (from 1), in seconds.

    The delay doubles per attempt from `initial` and never exceeds `maximum`.
    """
    return float(min(maximum, initial * 2 ** (attempt - 1)))


def escalation_time(alert: Alert, share: float) -> datetime:
    """Return when an alert escalates: creation plus `share` of its response time."""
    return alert.created_at + (alert.due_at - alert.created_at) * share


@dataclass
class CycleReport:
    """Counts of one dispatch cycle; `failed` lists `alert id/channel: reason`.

    Attributes:
        skipped: Deliveries not attempted because they were delivered before, are
            claimed by another dispatcher, or failed in `max_rounds` cycles already.
    """

    delivered: int = 0
    escalated: int = 0
    skipped: int = 0
    breached: int = 0
    failed: list[str] = field(default_factory=list)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class Dispatcher:
    """Delivers the notifications of one namespace; call `run_cycle` once per detector cycle.

    Args:
        backend: The engine that stores alerts and delivery records.
        namespace: The install's namespace.
        settings: Channels, threshold, escalation share and retry policy.
        clock: Current time, aware UTC.
        sleep: Waits between attempts, in seconds; tests pass a recorder.
        channels: Channel objects by name; built from `settings.channels` when None.
    """

    def __init__(
        self,
        backend: SearchBackend,
        namespace: str,
        settings: NotificationSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        channels: Mapping[str, Channel] | None = None,
    ) -> None:
        self.alerts = AlertStore(backend, namespace)
        self.records = DeliveryRecords(backend, namespace)
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        if channels is None:
            channels = {config.name: build_channel(config) for config in settings.channels}
        self.channels = dict(channels)

    def run_cycle(self) -> CycleReport:
        """Notify, escalate and mark breaches for the alerts of the lookback window.

        Raises:
            SearchError: The engine failed while reading alerts or writing records. A
                round claimed before the failure and left without a result is not sent
                again by any cycle.
        """
        now = self.clock()
        report = CycleReport()
        self.records.ensure_index()
        self.alerts.ensure_index()
        self.alerts.refresh()
        candidates = self._candidates(now)
        self._notify(candidates, now, report)
        self._escalate(candidates, now, report)
        self._mark_breaches(candidates, now, report)
        logger.info(
            "notification cycle done alerts=%d delivered=%d escalated=%d skipped=%d "
            "failed=%d breached=%d",
            len(candidates),
            report.delivered,
            report.escalated,
            report.skipped,
            len(report.failed),
            report.breached,
        )
        return report

    def _candidates(self, now: datetime) -> list[Alert]:
        levels = severities_at_or_above(self.settings.min_severity)
        query = {
            "bool": {
                "filter": [
                    {"terms": {"severity": [level.value for level in levels]}},
                    {"range": {"created_at": {"gte": iso(now - self.settings.lookback)}}},
                ],
                "must_not": [
                    {"terms": {"status": [AlertStatus.CLOSED.value, AlertStatus.SUPPRESSED.value]}}
                ],
            }
        }
        return self.alerts.search(query)

    def _notify(self, alerts: Sequence[Alert], now: datetime, report: CycleReport) -> None:
        for outcome in self._deliver_all(alerts, Notification.NEW, now, report):
            report.delivered += outcome == "delivered"

    def _escalate(self, alerts: Sequence[Alert], now: datetime, report: CycleReport) -> None:
        share = self.settings.escalate_after
        due = [
            alert
            for alert in alerts
            if alert.status == AlertStatus.OPEN and escalation_time(alert, share) <= now
        ]
        for outcome in self._deliver_all(due, Notification.ESCALATION, now, report):
            report.escalated += outcome == "delivered"

    def _mark_breaches(self, alerts: Sequence[Alert], now: datetime, report: CycleReport) -> None:
        for alert in alerts:
            if alert.status != AlertStatus.OPEN or alert.due_at > now:
                continue
            if self.records.mark_breach(alert, now):
                report.breached += 1
                logger.warning(
                    "alert breached its due time alert_id=%s severity=%s due_at=%s",
                    alert.id,
                    alert.severity.value,
                    iso(alert.due_at),
                )

    def _deliver_all(
        self,
        alerts: Sequence[Alert],
        notification: Notification,
        now: datetime,
        report: CycleReport,
    ) -> list[Outcome]:
        """Deliver one notification kind to its channels, one round per delivery at most."""
        names = (
            self.settings.notify_channels
            if notification == Notification.NEW
            else self.settings.escalation_channels
        )
        pairs = [(alert, name) for alert in alerts for name in names]
        found = self.records.get_many(self._record_ids(pairs, notification))
        outcomes: list[Outcome] = []
        for alert, name in pairs:
            rounds = self.settings.max_rounds
            round_number = next_round(found, alert.id, notification, name, rounds)
            if round_number is None:
                logger.debug("notification not due alert_id=%s channel=%s", alert.id, name)
                report.skipped += 1
                continue
            delivery = Delivery(alert, notification, name, round_number)
            outcome = self._deliver(delivery, now, report)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _record_ids(
        self, pairs: Sequence[tuple[Alert, str]], notification: Notification
    ) -> list[str]:
        """Return the claim and result ids of every round of every (alert, channel) pair."""
        ids = []
        for alert, name in pairs:
            for number in range(1, self.settings.max_rounds + 1):
                claim_id = delivery_id(alert.id, notification, name, number)
                ids += [claim_id, result_id(claim_id)]
        return ids

    def _deliver(self, delivery: Delivery, now: datetime, report: CycleReport) -> Outcome | None:
        """Claim and send one delivery round with retries; None when it was claimed before."""
        # NOTE: a claim whose process stopped before writing its result blocks later rounds,
        # so that delivery is not sent again by any cycle.
        alert, channel_name = delivery.alert, delivery.channel
        if not self.records.claim(delivery, now):
            logger.info(
                "notification claimed by another dispatcher alert_id=%s channel=%s "
                "notification=%s; not sent",
                alert.id,
                channel_name,
                delivery.notification.value,
            )
            report.skipped += 1
            return None
        message = build_message(
            alert, delivery.notification, workbench_url=self.settings.workbench_url, now=now
        )
        channel = self.channels[channel_name]
        outcome, attempts, reason = self._send_with_retries(channel, message, delivery)
        self.records.record_result(
            delivery, attempts=attempts, outcome=outcome, reason=reason, now=self.clock()
        )
        if outcome == "failed":
            report.failed.append(f"{alert.id}/{channel_name}: {reason}")
        return outcome

    def _send_with_retries(
        self, channel: Channel, message: Message, delivery: Delivery
    ) -> tuple[Outcome, int, str | None]:
        """Send until delivered, a failure is not retryable, or `max_attempts` is reached."""
        maximum = self.settings.max_attempts
        alert_id, kind = delivery.alert.id, delivery.notification.value
        for attempt in range(1, maximum + 1):
            logger.info(
                "notification attempt alert_id=%s channel=%s notification=%s round=%d "
                "attempt=%d/%d",
                alert_id,
                channel.name,
                kind,
                delivery.round_number,
                attempt,
                maximum,
            )
            try:
                channel.send(message)
            except DeliveryError as exc:
                reason = str(exc)
                self._record_attempt(delivery, attempt, reason)
                if not exc.is_retryable or attempt == maximum:
                    logger.error(
                        "notification failed alert_id=%s channel=%s notification=%s "
                        "attempts=%d reason=%s",
                        alert_id,
                        channel.name,
                        kind,
                        attempt,
                        reason,
                    )
                    return "failed", attempt, reason
                delay = backoff_delay(
                    attempt, self.settings.backoff_initial, self.settings.backoff_max
                )
                logger.warning(
                    "notification attempt failed alert_id=%s channel=%s attempt=%d reason=%s; "
                    "retrying in %.1fs",
                    alert_id,
                    channel.name,
                    attempt,
                    reason,
                    delay,
                )
                self.sleep(delay)
                continue
            self._record_attempt(delivery, attempt, None)
            logger.info(
                "notification delivered alert_id=%s channel=%s notification=%s attempts=%d",
                alert_id,
                channel.name,
                kind,
                attempt,
            )
            return "delivered", attempt, None
        raise AssertionError("max_attempts is at least 1, so the loop always returns")

    def _record_attempt(self, delivery: Delivery, attempt: int, reason: str | None) -> None:
        self.records.record_attempt(
            delivery,
            attempt=attempt,
            outcome="failed" if reason is not None else "delivered",
            reason=reason,
            now=self.clock(),
        )
