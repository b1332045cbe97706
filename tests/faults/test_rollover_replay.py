"""A batch is replayed after its data stream rolled over; the engine's id check misses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events
from faults.runner import ingest_options
from socwb.ingest.pipeline import run_ingest
from socwb.search import SearchBackend

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

EVENTS = 400


def test_replay_after_rollover_adds_nothing(
    direct: SearchBackend, fault_namespace: str, ledger: Ledger, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    generated = EventGenerator("replay").write(path, 0, EVENTS)
    stream = EVENT_STREAM.format(namespace=fault_namespace)
    options = ingest_options(fault_namespace, batch_size=100)

    first = run_ingest(direct, [str(path)], options)
    direct.request("POST", f"/{stream}/_rollover")
    replay = run_ingest(direct, [str(path)], options)
    backing = direct.request("GET", f"/_data_stream/{stream}")["data_streams"][0]["indices"]

    assert first.totals.indexed == EVENTS
    assert len(backing) == 2
    assert replay.totals.indexed == 0
    assert replay.totals.duplicates == EVENTS
    check_events(direct, stream, ledger, generated)
