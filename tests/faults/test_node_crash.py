"""The node is killed with SIGKILL while `socwb ingest` writes, then restarted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events, stored_ids
from faults.node import FaultNode
from faults.proxy import FaultProxy
from faults.runner import socwb_environment, start_ingest
from socwb.search import SearchBackend

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

EVENTS = 6000
KILL_AFTER = 1000


def test_ingest_survives_node_kill(
    direct: SearchBackend,
    proxy: FaultProxy,
    live_node: FaultNode,
    fault_namespace: str,
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    generated = EventGenerator("kill").write(path, 0, EVENTS)
    stream = EVENT_STREAM.format(namespace=fault_namespace)
    ledger = Ledger()
    # The proxy's latency slows the bulk requests so the kill lands mid-run.
    proxy.set_mode("latency", latency_s=0.05)
    environment = socwb_environment(proxy.url, fault_namespace, max_retries="1")
    first = start_ingest(environment, path, ledger)
    deadline = time.monotonic() + 120
    while len(ledger.created) < KILL_AFTER and time.monotonic() < deadline:
        assert first.process.poll() is None, "the ingest finished before the node was killed"
        time.sleep(0.05)
    live_node.kill()

    first_status = first.wait()
    live_node.start()
    acknowledged = set(ledger.created)
    stored_before = stored_ids(direct, stream)
    rerun = start_ingest(socwb_environment(live_node.url, fault_namespace), path, ledger)
    rerun_status = rerun.wait()

    assert first_status == 1, "".join(first.stderr[-5:])
    assert "Run the same command again to resume" in "".join(first.stderr)
    assert len(acknowledged) >= KILL_AFTER
    assert len(acknowledged) < EVENTS
    assert acknowledged <= set(stored_before)
    assert rerun_status == 0, "".join(rerun.stderr[-5:])
    read, indexed, duplicates, parse_deadlettered, index_deadlettered = rerun.totals()
    assert read == EVENTS
    assert duplicates == len(stored_before)
    assert indexed == EVENTS - len(stored_before)
    assert parse_deadlettered == 0
    assert index_deadlettered == 0
    check_events(direct, stream, ledger, generated)
