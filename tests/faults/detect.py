"""Detector helpers of the fault suite: a detector on the real clock, and the alerts oracle."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from faults.ledger import EventGenerator
from socwb.alerts.model import Alert
from socwb.detection import Detector
from socwb.rules.catalog import get_rule
from socwb.rules.model import Rule
from socwb.search import SearchBackend
from socwb.settings import DetectorSettings

RULE_ID = "auth_failure_spike"

# No ingest delay, so events are evaluated in the first run after their refresh.
FAST_SETTINGS = DetectorSettings(
    ingest_delay=timedelta(0),
    first_run_lookback=timedelta(minutes=10),
    catch_up_chunk=timedelta(hours=1),
)


def spike_rule(interval: timedelta | None = None) -> Rule:
    """Return `auth_failure_spike`, with a shorter interval when given."""
    rule = get_rule(RULE_ID)
    if interval is None:
        return rule
    return rule.model_copy(update={"interval": interval})


def make_detector(backend: SearchBackend, namespace: str, **options: Any) -> Detector:
    """Build a detector on the real UTC clock with its indices in place."""
    settings = options.pop("settings", FAST_SETTINGS)
    detector = Detector(
        backend, namespace, clock=lambda: datetime.now(UTC), settings=settings, **options
    )
    detector.ensure_indices()
    return detector


def spike_alerts(backend: SearchBackend, namespace: str) -> list[Alert]:
    """Return the stored `auth_failure_spike` alerts of the namespace."""
    detector = Detector(backend, namespace, clock=lambda: datetime.now(UTC))
    detector.alerts.refresh()
    return detector.alerts.search({"term": {"rule_id": RULE_ID}})


def check_alerts(
    backend: SearchBackend, namespace: str, generator: EventGenerator, events: int
) -> list[Alert]:
    """Assert one alert per user of `generator`, counting every event of that user; return them.

    `events` is the number of generated events, numbered 0 to `events - 1`.
    Alerts of other generators' users are left out.
    """
    names = generator.user_names()
    alerts = [item for item in spike_alerts(backend, namespace) if item.entity[0].value in names]
    per_user = Counter(generator.user(number) for number in range(events))
    users = Counter(alert.entity[0].value for alert in alerts)
    repeated = [user for user, number in users.items() if number > 1]
    assert repeated == [], f"more than one alert for {repeated}"
    assert set(users) == names
    for alert in alerts:
        assert alert.count == per_user[alert.entity[0].value], alert.id
    return alerts
