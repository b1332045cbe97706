"""The detector process is killed mid-run; the next run must write every alert exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faults.detect import check_alerts, make_detector, spike_alerts, spike_rule
from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events
from faults.node import FaultNode
from faults.runner import ingest_options
from socwb.ingest.pipeline import run_ingest
from socwb.search import SearchBackend

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

EVENTS = 300
TESTS_DIR = Path(__file__).resolve().parent.parent


def run_child_until(url: str, namespace: str, point: str, marker: Path) -> None:
    """Start `detector_child.py`, wait until it reaches `point`, and SIGKILL it."""
    environment = dict(os.environ, PYTHONPATH=str(TESTS_DIR))
    child = subprocess.Popen(
        [sys.executable, "-m", "faults.detector_child", url, namespace, point, str(marker)],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert child.poll() is None, f"the detector child exited with {child.returncode}"
        assert time.monotonic() < deadline, f"the detector child never reached {point}"
        time.sleep(0.1)
    child.kill()
    child.wait(timeout=30)


@pytest.mark.parametrize("point", ["before_alerts", "before_checkpoint"])
def test_killed_detector_alerts_once(
    direct: SearchBackend,
    live_node: FaultNode,
    fault_namespace: str,
    ledger: Ledger,
    tmp_path: Path,
    point: str,
) -> None:
    generator = EventGenerator(f"crash-{point.replace('_', '-')}")
    generated = generator.write(tmp_path / "events.jsonl", 0, EVENTS)
    detector = make_detector(direct, fault_namespace)
    rule = spike_rule()
    detector.run(rule)
    checkpoint_before = detector.checkpoints.load(rule.id)
    run_ingest(direct, [str(tmp_path / "events.jsonl")], ingest_options(fault_namespace))
    direct.refresh(EVENT_STREAM.format(namespace=fault_namespace))

    run_child_until(live_node.url, fault_namespace, point, tmp_path / "reached")
    alerts_at_kill = spike_alerts(direct, fault_namespace)
    checkpoint_at_kill = detector.checkpoints.load(rule.id)
    restart = make_detector(direct, fault_namespace).run(rule)

    expected_at_kill = 0 if point == "before_alerts" else generator.users
    assert len(alerts_at_kill) == expected_at_kill
    assert checkpoint_at_kill == checkpoint_before
    assert checkpoint_before is not None
    assert restart.arrival_start == checkpoint_before.checkpoint.arrival_end
    assert restart.alerts_created == generator.users - expected_at_kill
    assert restart.alerts_updated == expected_at_kill
    check_alerts(direct, fault_namespace, generator, EVENTS)
    check_events(direct, EVENT_STREAM.format(namespace=fault_namespace), ledger, generated)
