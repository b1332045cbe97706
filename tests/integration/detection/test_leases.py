"""Two detector service instances on one namespace: rule leases on a real engine."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from detectors.service import DetectorService, PeriodicTask
from socwb.detection import Detector
from socwb.leases import RuleLeases
from socwb.rules.catalog import AUTH_FAILURE_SPIKE, PASSWORD_SPRAYING
from socwb.rules.model import Rule
from socwb.search import SearchBackend

from .conftest import auth_failure, every, index_events, stored_alerts

MakeDetector = Callable[..., Detector]

RULES = [AUTH_FAILURE_SPIKE, PASSWORD_SPRAYING]
INTERVAL_S = 60.0


class ManualClock:
    """A UTC clock that moves only when the test advances it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class ManualMonotonic:
    """A scheduling clock in seconds that moves only when the test advances it."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def build_service(
    make_detector: MakeDetector,
    backend: SearchBackend,
    namespace: str,
    holder: str,
    monotonic: ManualMonotonic,
    lease_clock: Callable[[], datetime] | None = None,
    rules: list[Rule] | None = None,
) -> DetectorService:
    detector = make_detector()
    leases = RuleLeases(backend, namespace, clock=lease_clock or detector.clock, holder=holder)
    leases.ensure_index()
    return DetectorService(detector, rules or RULES, monotonic=monotonic, leases=leases)


def index_burst(backend: SearchBackend, namespace: str, user: str) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=6)).replace(microsecond=0)
    events = [auth_failure(user, moment) for moment in every(start, 15, 11)]
    index_events(backend, f"logs-idp.okta-{namespace}", events)


def lease_holder(backend: SearchBackend, namespace: str, rule_id: str) -> str:
    found = backend.get_document(f"socwb-leases-{namespace}", rule_id)
    assert found is not None
    return str(found["_source"]["holder"])


def run_both(first: DetectorService, second: DetectorService) -> list[int]:
    """Call `run_due` of both services at the same moment from two threads."""
    barrier = threading.Barrier(2)
    ran = [0, 0]

    def work(position: int, service: DetectorService) -> None:
        barrier.wait()
        ran[position] = service.run_due()

    threads = [
        threading.Thread(target=work, args=(position, service))
        for position, service in enumerate((first, second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ran


def test_two_instances_run_each_rule_once(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    monotonic = ManualMonotonic()
    first = build_service(make_detector, provisioned, namespace, "a", monotonic)
    second = build_service(make_detector, provisioned, namespace, "b", monotonic)
    rounds = 3

    ran_per_round = []
    for number in range(rounds):
        index_burst(provisioned, namespace, f"user{number:03d}")
        ran_per_round.append(sum(run_both(first, second)))
        monotonic.seconds += INTERVAL_S

    assert ran_per_round == [len(RULES)] * rounds
    for rule in RULES:
        runs = first.detector.runs.list_runs(rule.id)
        assert len(runs) == rounds, rule.id
        assert {run.outcome for run in runs} == {"succeeded"}, rule.id
    alerts = stored_alerts(first.detector, AUTH_FAILURE_SPIKE.id)
    per_entity = Counter(alert.entity_key for alert in alerts)
    assert per_entity == {f"user.name=user{number:03d}": 1 for number in range(rounds)}
    assert len({alert.id for alert in stored_alerts(first.detector)}) == len(
        stored_alerts(first.detector)
    )


def test_standby_takes_over_after_expiry(
    make_detector: MakeDetector,
    provisioned: SearchBackend,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="socwb.leases")
    lease_clock = ManualClock()
    first_monotonic, second_monotonic = ManualMonotonic(), ManualMonotonic()
    rules = [AUTH_FAILURE_SPIKE]
    first = build_service(
        make_detector, provisioned, namespace, "a", first_monotonic, lease_clock, rules
    )
    second = build_service(
        make_detector, provisioned, namespace, "b", second_monotonic, lease_clock, rules
    )

    assert first.run_due() == 1
    assert second.run_due() == 0

    # The first instance stops renewing, as if its process died.
    lease_clock.now += timedelta(minutes=2)
    second_monotonic.seconds += INTERVAL_S
    assert second.run_due() == 0
    assert lease_holder(provisioned, namespace, AUTH_FAILURE_SPIKE.id) == "a"

    lease_clock.now += timedelta(minutes=1, seconds=1)
    second_monotonic.seconds += INTERVAL_S
    assert second.run_due() == 1
    assert lease_holder(provisioned, namespace, AUTH_FAILURE_SPIKE.id) == "b"

    first_monotonic.seconds += 3 * INTERVAL_S
    assert first.run_due() == 0
    messages = [record.getMessage() for record in caplog.records]
    assert "lease taken rule=auth_failure_spike holder=b previous_holder=a" in " ".join(messages)
    assert any("lease lost rule=auth_failure_spike holder=a new_holder=b" in m for m in messages)
    assert len(first.detector.runs.list_runs(AUTH_FAILURE_SPIKE.id)) == 2


def test_clean_stop_releases_leases(
    make_detector: MakeDetector,
    provisioned: SearchBackend,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="socwb.leases")
    lease_clock = ManualClock()
    rules = [AUTH_FAILURE_SPIKE]
    first = build_service(
        make_detector, provisioned, namespace, "a", ManualMonotonic(), lease_clock, rules
    )
    first.tasks = [PeriodicTask("stop", INTERVAL_S, first.stop)]
    first.task_due = {"stop": 0.0}
    second = build_service(
        make_detector, provisioned, namespace, "b", ManualMonotonic(), lease_clock, rules
    )

    first.serve()

    assert second.run_due() == 1
    assert lease_holder(provisioned, namespace, AUTH_FAILURE_SPIKE.id) == "b"
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "lease released rule=auth_failure_spike holder=a" in messages
    assert "previous_holder=a" in messages


def test_lease_shorter_than_two_intervals_rejected(
    provisioned: SearchBackend, namespace: str
) -> None:
    with pytest.raises(ValueError, match="at least 2 rule intervals"):
        RuleLeases(provisioned, namespace, clock=ManualClock(), intervals=1)
