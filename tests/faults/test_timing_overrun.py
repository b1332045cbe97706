"""A detector run that outlasts its interval, and two detectors that race on one rule.

The service's scheduling clock is a fake monotonic clock that each run moves
forward by 2.5 intervals, so every run is slow without any test waiting. The
runs themselves use the real node and the real time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detectors.service import DetectorService
from socwb.checkpoints import CheckpointConflictError, RunRecord
from socwb.detection import Detector
from socwb.rules.catalog import AUTH_FAILURE_SPIKE
from socwb.rules.model import Rule
from socwb.search import SearchBackend

from .app_fixtures import (
    FAULT_SETTINGS,
    OKTA_STREAM,
    failures,
    index_events,
    make_detector,
    provisioned,
    stored_alerts,
)

FIXTURES = (make_detector, provisioned)
"""Fixtures of `app_fixtures` that the tests request by name; importing them registers them."""

pytestmark = pytest.mark.node

RULE = AUTH_FAILURE_SPIKE
RUNS = 4
JOIN_TIMEOUT_S = 300


class SlowRuns:
    """Runs a detector for the service and moves the service's clock 2.5 intervals per run.

    It also records how many runs were in progress at once, and calls `between`
    after each run, before the service starts the next one.
    """

    def __init__(self, detector: Detector, between: Callable[[int], None]) -> None:
        self.detector = detector
        self.between = between
        self.clock_s = 0.0
        self.records: list[RunRecord] = []
        self.in_progress = 0
        self.max_in_progress = 0
        self.lock = threading.Lock()

    def monotonic(self) -> float:
        return self.clock_s

    def ensure_indices(self) -> None:
        self.detector.ensure_indices()

    def run(self, rule: Rule) -> RunRecord:
        with self.lock:
            self.in_progress += 1
            self.max_in_progress = max(self.max_in_progress, self.in_progress)
        try:
            record = self.detector.run(rule)
            self.clock_s += 2.5 * rule.interval.total_seconds()
            self.records.append(record)
            self.between(len(self.records))
            return record
        finally:
            with self.lock:
                self.in_progress -= 1


def test_slow_runs_sequential_and_whole(
    make_detector: Callable[..., Detector], provisioned: SearchBackend, namespace: str
) -> None:
    stream = OKTA_STREAM.format(namespace=namespace)
    index_events(provisioned, stream, failures("before", datetime.now(UTC) - timedelta(minutes=2)))
    service: DetectorService

    def between(done: int) -> None:
        # Events that arrive while a slow run is in progress belong to the next run.
        if done == 1:
            recent = datetime.now(UTC) - timedelta(minutes=1)
            index_events(provisioned, stream, failures("during", recent))
        if done == RUNS:
            service.stop()

    slow = SlowRuns(make_detector(), between)
    service = DetectorService(slow, [RULE], monotonic=slow.monotonic)  # type: ignore[arg-type]
    thread = threading.Thread(target=service.serve, name="slow-detector-service")
    thread.start()
    thread.join(JOIN_TIMEOUT_S)
    runs = sorted(slow.detector.runs.list_runs(RULE.id), key=lambda run: run.started_at)
    alerts = stored_alerts(slow.detector, RULE.id)

    assert not thread.is_alive()
    assert slow.max_in_progress == 1
    assert service.overruns[RULE.id] == RUNS
    assert len(runs) == RUNS
    assert [run.outcome for run in runs] == ["succeeded"] * RUNS
    assert runs[0].arrival_start == runs[0].started_at - FAULT_SETTINGS.first_run_lookback
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert later.arrival_start == earlier.arrival_end
    assert sorted(alert.entity_key for alert in alerts) == ["user.name=before", "user.name=during"]


def test_racing_detectors_one_checkpoint_wins(
    make_detector: Callable[..., Detector], provisioned: SearchBackend, namespace: str
) -> None:
    stream = OKTA_STREAM.format(namespace=namespace)
    index_events(provisioned, stream, failures("race", datetime.now(UTC) - timedelta(minutes=2)))
    # Both runs wait here after storing their alerts, so both save the checkpoint
    # they read at the start.
    barrier = threading.Barrier(2, timeout=120)
    outcomes: dict[str, Any] = {}

    def run(name: str) -> None:
        detector = make_detector(after_store=lambda record: barrier.wait())
        try:
            outcomes[name] = detector.run(RULE)
        except CheckpointConflictError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
    detector = make_detector()
    stored = detector.checkpoints.load(RULE.id)
    runs = detector.runs.list_runs(RULE.id)
    winners = [item for item in outcomes.values() if isinstance(item, RunRecord)]
    losers = [item for item in outcomes.values() if isinstance(item, CheckpointConflictError)]

    assert len(winners) == 1
    assert len(losers) == 1
    assert stored is not None
    assert stored.checkpoint.last_run_id == winners[0].run_id
    assert stored.checkpoint.arrival_end == winners[0].arrival_end
    assert sorted(run.outcome for run in runs) == ["failed", "succeeded"]
    assert len(stored_alerts(detector, RULE.id)) == 1
