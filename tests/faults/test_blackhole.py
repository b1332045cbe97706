"""The network path to the node drops everything for 5 minutes (proxy in blackhole mode)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events
from faults.node import fault_settings
from faults.proxy import FaultProxy
from faults.runner import IngestThread, PipeFeeder, ingest_options
from faults.test_backpressure import MAX_HELD_LINES, wait_for
from socwb.health import check_health
from socwb.search import SearchBackend, create_backend

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

EVENTS = 3000
BATCH = 200
BLACKHOLE_S = 300
SETTLE_S = 30
# Bytes of one bulk request: the client cannot send a second one before the
# first has a response, so the proxy buffers at most this much per connection.
MAX_REQUEST_BYTES = BATCH * 1024


def test_blackhole_backpressure_and_recovery(
    direct: SearchBackend,
    proxy: FaultProxy,
    fault_namespace: str,
    ledger: Ledger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines, generated = EventGenerator("blackhole").lines(0, EVENTS)
    # Timeouts and backoff of one request add up to more than 5 minutes.
    settings = fault_settings(
        proxy.url,
        fault_namespace,
        request_timeout=10.0,
        max_retries=20,
        retry_backoff_initial=1.0,
        retry_backoff_max=20.0,
    )
    backend = create_backend(settings.search)
    feeder = PipeFeeder(lines, hold_after=5 * BATCH).start()
    ingest = IngestThread(backend, ingest_options(fault_namespace, BATCH), feeder).start()
    wait_for(lambda: len(ledger.created) >= 3 * BATCH, 60, "the first acknowledged batches")

    started = time.monotonic()
    proxy.set_mode("blackhole")
    feeder.release()
    time.sleep(SETTLE_S)
    written_settled = feeder.written
    acknowledged_settled = len(ledger.created)
    health_during = check_health(settings.search, datetime.now(UTC))
    time.sleep(max(0.0, BLACKHOLE_S - (time.monotonic() - started)))
    written_at_end = feeder.written
    acknowledged_at_end = len(ledger.created)
    proxy.set_mode("pass")
    summary = ingest.join(180)
    health_after = check_health(settings.search, datetime.now(UTC))
    backend.close()

    retry_lines = [
        record.getMessage() for record in caplog.records if record.name == "socwb.search.retry"
    ]
    assert written_at_end == written_settled
    assert acknowledged_at_end == acknowledged_settled
    assert written_at_end - acknowledged_settled <= MAX_HELD_LINES
    assert 0 < proxy.max_buffered <= MAX_REQUEST_BYTES
    assert len(retry_lines) >= 5
    assert "timed out" in retry_lines[0]
    assert not health_during.engine_reachable
    assert "timed out" in str(health_during.engine_error)
    assert health_during.findings[0].startswith("search engine unreachable")
    assert health_after.engine_reachable
    assert summary.totals.indexed + summary.totals.duplicates == EVENTS
    assert summary.totals.deadlettered == 0
    check_events(direct, EVENT_STREAM.format(namespace=fault_namespace), ledger, generated)
