"""Late and future-dated events on the real node: one alert, counted lateness, no future moves.

The auth-failure-spike rule alerts on more than 10 failures of one user in 5
minutes and allows 30 minutes of lateness (`Rule.max_lateness`) before it
counts an event as late. Each case splits the 11 failures over two runs, so the
alert needs the events of both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from socwb.detection import Detector
from socwb.rules.catalog import AUTH_FAILURE_SPIKE
from socwb.search import SearchBackend

from .app_fixtures import (
    FAULT_SETTINGS,
    OKTA_STREAM,
    app_state,
    failures,
    index_events,
    make_detector,
    provisioned,
    services,
    signed_in_page,
    stored_alerts,
)

FIXTURES = (make_detector, services, provisioned)
"""Fixtures of `app_fixtures` that the tests request by name; importing them registers them."""

pytestmark = pytest.mark.node

RULE = AUTH_FAILURE_SPIKE
ALLOWED = RULE.max_lateness


@pytest.mark.parametrize(
    ("minutes_late", "is_beyond_allowance"), [(1, False), (5, False), (30, True)]
)
def test_late_burst_alerts_once(
    make_detector: Callable[..., Detector],
    provisioned: SearchBackend,
    namespace: str,
    minutes_late: int,
    is_beyond_allowance: bool,
) -> None:
    detector = make_detector()
    stream = OKTA_STREAM.format(namespace=namespace)
    user = f"late{minutes_late}"
    # The last failure is exactly `minutes_late` old when it is written; the
    # earlier ones are older still, by up to 100 seconds.
    burst = failures(user, datetime.now(UTC) - timedelta(minutes=minutes_late, seconds=100))

    index_events(provisioned, stream, burst[:6])
    first = detector.run(RULE)
    index_events(provisioned, stream, burst[6:])
    second = detector.run(RULE)
    third = detector.run(RULE)
    alerts = stored_alerts(detector, RULE.id)

    assert timedelta(minutes=30) == ALLOWED
    assert first.hits == 6
    assert first.alerts_created == 0
    assert second.hits == 5
    assert second.alerts_created == 1
    assert third.hits == 0
    assert third.alerts_created + third.alerts_updated == 0
    assert len(alerts) == 1
    assert alerts[0].entity_key == f"user.name={user}"
    assert alerts[0].count == 11
    assert first.late_events == (6 if is_beyond_allowance else 0)
    assert second.late_events == (5 if is_beyond_allowance else 0)
    assert alerts[0].is_late is is_beyond_allowance


def test_late_alert_shown_on_detail_page(
    make_detector: Callable[..., Detector],
    provisioned: SearchBackend,
    namespace: str,
    services: object,
) -> None:
    detector = make_detector()
    burst = failures("late-shown", datetime.now(UTC) - timedelta(minutes=45))
    index_events(provisioned, OKTA_STREAM.format(namespace=namespace), burst)
    detector.run(RULE)
    (alert,) = stored_alerts(detector, RULE.id)

    app = signed_in_page(services, "pages/2_Alert_detail.py")
    app.session_state[app_state.SELECTED_ALERT] = alert.id
    app.run()

    assert not app.exception
    assert alert.is_late
    assert any("Late events" in element.value for element in app.warning)


def test_future_events_flagged_not_alerted(
    make_detector: Callable[..., Detector], provisioned: SearchBackend, namespace: str
) -> None:
    detector = make_detector()
    stream = OKTA_STREAM.format(namespace=namespace)
    now = datetime.now(UTC)
    future = failures("future", now + timedelta(minutes=10))
    present = failures("present", now - timedelta(minutes=3))
    index_events(provisioned, stream, [*future, *present])

    record = detector.run(RULE)
    stored = detector.checkpoints.load(RULE.id)
    alerts = stored_alerts(detector, RULE.id)

    assert record.outcome == "succeeded"
    assert record.future_events == 11
    assert record.hits == 22
    assert [alert.entity_key for alert in alerts] == ["user.name=present"]
    assert stored is not None
    assert stored.checkpoint.arrival_end == record.arrival_end
    assert record.arrival_end is not None
    assert record.arrival_end == record.started_at - FAULT_SETTINGS.ingest_delay
    assert stored.checkpoint.arrival_end < now + timedelta(minutes=10)


def test_future_events_never_advance_checkpoint(
    make_detector: Callable[..., Detector], provisioned: SearchBackend, namespace: str
) -> None:
    detector = make_detector()
    stream = OKTA_STREAM.format(namespace=namespace)
    detector.run(RULE)
    before = detector.checkpoints.load(RULE.id)
    index_events(provisioned, stream, failures("future", datetime.now(UTC) + timedelta(hours=6)))

    record = detector.run(RULE)
    after = detector.checkpoints.load(RULE.id)

    assert before is not None
    assert after is not None
    assert record.future_events == 11
    assert record.arrival_start == before.checkpoint.arrival_end
    assert after.checkpoint.arrival_end == record.started_at - FAULT_SETTINGS.ingest_delay
    assert stored_alerts(detector, RULE.id) == []
