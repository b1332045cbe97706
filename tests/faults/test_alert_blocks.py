"""The alerts index is write-blocked while the detector runs; the checkpoint must not move."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults.detect import check_alerts, make_detector, spike_alerts, spike_rule
from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events
from faults.runner import ingest_options
from socwb.alerts.store import AlertWriteError, alerts_index
from socwb.ingest.pipeline import run_ingest
from socwb.search import SearchBackend

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

EVENTS = 300


def test_blocked_alerts_index_fails_loudly(
    direct: SearchBackend, fault_namespace: str, ledger: Ledger, tmp_path: Path
) -> None:
    generator = EventGenerator("wblock")
    generated = generator.write(tmp_path / "events.jsonl", 0, EVENTS)
    detector = make_detector(direct, fault_namespace)
    rule = spike_rule()
    detector.run(rule)
    checkpoint_before = detector.checkpoints.load(rule.id)
    run_ingest(direct, [str(tmp_path / "events.jsonl")], ingest_options(fault_namespace))
    direct.refresh(EVENT_STREAM.format(namespace=fault_namespace))
    settings_path = f"/{alerts_index(fault_namespace)}/_settings"

    direct.request("PUT", settings_path, body={"index.blocks.write": True})
    with pytest.raises(AlertWriteError) as raised:
        detector.run(rule)
    checkpoint_while_blocked = detector.checkpoints.load(rule.id)
    runs_while_blocked = detector.runs.list_runs(rule.id)
    alerts_while_blocked = spike_alerts(direct, fault_namespace)
    direct.request("PUT", settings_path, body={"index.blocks.write": None})
    retry = detector.run(rule)
    repeat = detector.run(rule)

    assert "cluster_block_exception" in str(raised.value) or "blocked" in str(raised.value)
    assert checkpoint_before is not None
    assert checkpoint_while_blocked == checkpoint_before
    assert [run.outcome for run in runs_while_blocked] == ["failed", "succeeded"]
    assert alerts_while_blocked == []
    assert retry.arrival_start == checkpoint_before.checkpoint.arrival_end
    assert runs_while_blocked[0].arrival_start == checkpoint_before.checkpoint.arrival_end
    assert retry.alerts_created == generator.users
    assert repeat.alerts_created == 0
    check_alerts(direct, fault_namespace, generator, EVENTS)
    check_events(direct, EVENT_STREAM.format(namespace=fault_namespace), ledger, generated)
