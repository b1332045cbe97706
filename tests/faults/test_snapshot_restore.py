"""A snapshot taken during ingest, then the data deleted and restored from it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from faults.detect import make_detector, spike_alerts, spike_rule
from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events, stored_ids
from faults.node import fault_settings
from faults.proxy import FaultProxy
from faults.runner import IngestThread, PipeFeeder, ingest_options
from faults.test_backpressure import wait_for
from socwb.alerts.model import AlertStatus
from socwb.alerts.store import alerts_index
from socwb.ingest.pipeline import run_ingest
from socwb.search import SearchBackend, create_backend
from socwb.snapshots import remove_repository, restore_snapshot, take_snapshot

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

EVENTS = 300
LATER_EVENTS = 3000
BATCH = 100


def test_restore_matches_ledger_at_snapshot(
    direct: SearchBackend,
    proxy: FaultProxy,
    fault_namespace: str,
    ledger: Ledger,
    tmp_path: Path,
) -> None:
    first = EventGenerator("snap")
    generated = first.write(tmp_path / "first.jsonl", 0, EVENTS)
    lines, later_ids = EventGenerator("snap-later").lines(0, LATER_EVENTS)
    generated |= later_ids
    stream = EVENT_STREAM.format(namespace=fault_namespace)
    run_ingest(direct, [str(tmp_path / "first.jsonl")], ingest_options(fault_namespace))
    direct.refresh(stream)
    detector = make_detector(direct, fault_namespace)
    detector.run(spike_rule())
    acknowledged_alert = spike_alerts(direct, fault_namespace)[0]
    detector.alerts.set_status(
        acknowledged_alert.id, AlertStatus.ACKNOWLEDGED, actor="analyst", now=datetime.now(UTC)
    )
    detector.alerts.refresh()
    alerts_at_snapshot = {
        alert.id: (alert.status, alert.count) for alert in spike_alerts(direct, fault_namespace)
    }

    # The proxy slows the later ingest so that the snapshot falls inside it.
    proxy.set_mode("latency", latency_s=0.05)
    backend = create_backend(fault_settings(proxy.url, fault_namespace).search)
    ingest = IngestThread(
        backend, ingest_options(fault_namespace, BATCH), PipeFeeder(lines).start()
    ).start()
    wait_for(lambda: len(ledger.created) >= EVENTS + 3 * BATCH, 60, "later batches")
    acknowledged_before = set(ledger.created)
    snapshot = take_snapshot(direct, fault_namespace, datetime.now(UTC))
    acknowledged_after = set(ledger.created)
    ingest.join(300)
    backend.close()
    direct.request("DELETE", f"/_data_stream/{stream}")
    direct.request("DELETE", f"/{alerts_index(fault_namespace)}")
    restore_snapshot(direct, fault_namespace, snapshot.name)
    restored = set(stored_ids(direct, stream))
    detector.alerts.refresh()
    alerts_restored = {
        alert.id: (alert.status, alert.count) for alert in spike_alerts(direct, fault_namespace)
    }
    # The delete removed what was acknowledged after the snapshot; the rerun creates it again.
    ledger.created[:] = [item for item in ledger.created if item in restored]
    later_path = tmp_path / "later.jsonl"
    later_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rerun = run_ingest(direct, [str(later_path)], ingest_options(fault_namespace, BATCH))
    remove_repository(direct, fault_namespace)

    assert len(acknowledged_after) < EVENTS + LATER_EVENTS
    assert acknowledged_before <= restored
    assert restored <= acknowledged_after
    assert alerts_restored == alerts_at_snapshot
    assert alerts_restored[acknowledged_alert.id][0] == AlertStatus.ACKNOWLEDGED
    assert rerun.totals.indexed == EVENTS + LATER_EVENTS - len(restored)
    check_events(direct, stream, ledger, generated)
