"""The node is paused with SIGSTOP for 60 s while ingest and the detector run."""

from __future__ import annotations

import time

import pytest

from faults.detect import check_alerts, make_detector, spike_rule
from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events
from faults.node import FaultNode, fault_settings
from faults.runner import IngestThread, PipeFeeder, ingest_options
from faults.test_backpressure import wait_for
from socwb.errors import WorkbenchError
from socwb.search import SearchBackend, create_backend

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

EVENTS = 3000
BATCH = 200
PAUSE_S = 60


def test_pause_times_out_and_resumes(
    direct: SearchBackend, live_node: FaultNode, fault_namespace: str, ledger: Ledger
) -> None:
    generator = EventGenerator("pause")
    lines, generated = generator.lines(0, EVENTS)
    stream = EVENT_STREAM.format(namespace=fault_namespace)
    # The retries of one bulk request span about 140 s, longer than the pause.
    ingest_backend = create_backend(
        fault_settings(
            live_node.url,
            fault_namespace,
            request_timeout=5.0,
            max_retries=12,
            retry_backoff_initial=1.0,
            retry_backoff_max=8.0,
        ).search
    )
    # The detector gives up after about 7 s, so its run fails during the pause.
    detector_backend = create_backend(
        fault_settings(live_node.url, fault_namespace, request_timeout=3.0, max_retries=1).search
    )
    detector = make_detector(detector_backend, fault_namespace)
    rule = spike_rule()
    detector.run(rule)
    checkpoint_before = detector.checkpoints.load(rule.id)
    feeder = PipeFeeder(lines, hold_after=5 * BATCH).start()
    ingest = IngestThread(ingest_backend, ingest_options(fault_namespace, BATCH), feeder).start()
    wait_for(lambda: len(ledger.created) >= 3 * BATCH, 60, "the first acknowledged batches")

    paused_at = time.monotonic()
    live_node.pause()
    feeder.release()
    with pytest.raises(WorkbenchError):
        detector.run(rule)
    acknowledged_during_pause = len(ledger.created)
    time.sleep(max(0.0, PAUSE_S - (time.monotonic() - paused_at)))
    live_node.resume()
    summary = ingest.join(300)
    direct.refresh(stream)
    retry = detector.run(rule)
    runs = detector.runs.list_runs(rule.id)
    checkpoint_after = detector.checkpoints.load(rule.id)
    ingest_backend.close()
    detector_backend.close()

    assert checkpoint_before is not None
    assert acknowledged_during_pause < EVENTS
    assert summary.totals.indexed + summary.totals.duplicates == EVENTS
    assert summary.totals.deadlettered == 0
    assert [run.outcome for run in runs] == ["succeeded", "failed", "succeeded"]
    assert retry.arrival_start == checkpoint_before.checkpoint.arrival_end
    assert checkpoint_after is not None
    assert checkpoint_after.checkpoint.arrival_end == retry.arrival_end
    check_events(direct, stream, ledger, generated)
    check_alerts(direct, fault_namespace, generator, EVENTS)
