"""The node is down for more than three detector intervals while the detector service runs."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detectors.service import DetectorService
from faults.detect import check_alerts, make_detector, spike_rule
from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events
from faults.node import FaultNode, fault_settings
from faults.runner import ingest_options
from socwb.checkpoints import RunRecord
from socwb.ingest.pipeline import run_ingest
from socwb.rules.catalog import MONITORING_DEGRADED, get_rule
from socwb.search import SearchBackend, create_backend
from socwb.settings import DetectorSettings

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

INTERVAL = timedelta(seconds=5)
OUTAGE_INTERVALS = 3
EVENTS = 300
SETTINGS = DetectorSettings(
    ingest_delay=timedelta(0),
    first_run_lookback=timedelta(minutes=10),
    catch_up_chunk=timedelta(hours=1),
    degraded_after=timedelta(seconds=10),
)


def run_turns(service: DetectorService, turns: int) -> None:
    """Let the service run its due rules for `turns` intervals and a half."""
    deadline = time.monotonic() + (turns + 0.5) * INTERVAL.total_seconds()
    while time.monotonic() < deadline:
        service.run_due()
        time.sleep(min(service.seconds_until_due(), max(0.0, deadline - time.monotonic())))


def contiguous(runs: list[RunRecord]) -> bool:
    """Return whether successful runs' arrival windows follow each other without a gap."""
    windows = sorted(
        (run.arrival_start, run.arrival_end) for run in runs if run.outcome == "succeeded"
    )
    return all(previous[1] == current[0] for previous, current in itertools.pairwise(windows))


def test_outage_skips_no_window(
    direct: SearchBackend,
    live_node: FaultNode,
    fault_namespace: str,
    ledger: Ledger,
    tmp_path: Path,
) -> None:
    before = EventGenerator("before")
    generated = before.write(tmp_path / "before.jsonl", 0, EVENTS)
    rules = [
        spike_rule(INTERVAL),
        get_rule("log_source_stopped").model_copy(update={"interval": INTERVAL}),
    ]
    backend = create_backend(fault_settings(live_node.url, fault_namespace, max_retries=1).search)
    detector = make_detector(backend, fault_namespace, settings=SETTINGS)
    service = DetectorService(detector, rules)
    run_ingest(direct, [str(tmp_path / "before.jsonl")], ingest_options(fault_namespace))
    direct.refresh(EVENT_STREAM.format(namespace=fault_namespace))
    run_turns(service, 1)

    outage_start = datetime.now(UTC)
    live_node.kill()
    run_turns(service, OUTAGE_INTERVALS)
    live_node.start()
    outage_end = datetime.now(UTC)
    during = EventGenerator("during", end=outage_end, span=outage_end - outage_start)
    generated |= during.write(tmp_path / "during.jsonl", 0, EVENTS)
    run_ingest(direct, [str(tmp_path / "during.jsonl")], ingest_options(fault_namespace))
    direct.refresh(EVENT_STREAM.format(namespace=fault_namespace))
    run_turns(service, 3)
    backend.close()

    alerts = detector.alerts.search()
    degraded = Counter(
        alert.entity[0].value for alert in alerts if alert.rule_id == MONITORING_DEGRADED.id
    )
    stopped = [alert for alert in alerts if alert.rule_id == "log_source_stopped"]
    for rule in rules:
        runs = detector.runs.list_runs(rule.id)
        failed = [run for run in runs if run.outcome == "failed"]
        assert len(failed) >= OUTAGE_INTERVALS, rule.id
        assert runs[0].outcome == "succeeded", rule.id
        if rule.id != "log_source_stopped":
            assert contiguous(runs), rule.id
    assert degraded == Counter({rule.id: 1 for rule in rules})
    assert stopped == []
    check_alerts(direct, fault_namespace, before, EVENTS)
    check_alerts(direct, fault_namespace, during, EVENTS)
    check_events(direct, EVENT_STREAM.format(namespace=fault_namespace), ledger, generated)
