"""Back-pressure from the engine: HTTP 429 from the proxy, and the flood-stage disk block."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events
from faults.node import FaultNode, fault_settings
from faults.proxy import FaultProxy
from faults.runner import IngestThread, PipeFeeder, ingest_options
from socwb.search import SearchBackend, create_backend

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

EVENTS = 6000
BATCH = 200
# Lines the client may hold while the engine pushes back: the batch in flight,
# the batch read ahead, the batch being filled and the reader's buffers. The
# input is 30 batches, so reading it all would exceed this.
MAX_HELD_LINES = 8 * BATCH
_DELAY = re.compile(r"delay_s=([0-9.]+)")


def wait_for(condition: object, timeout_s: float, description: str) -> None:
    """Poll `condition()` every 0.1 s until it is true, or fail naming `description`."""
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {description}"
        time.sleep(0.1)


def test_429_backoff_without_loss(
    direct: SearchBackend,
    proxy: FaultProxy,
    fault_namespace: str,
    ledger: Ledger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines, generated = EventGenerator("throttle").lines(0, EVENTS)
    settings = fault_settings(
        proxy.url,
        fault_namespace,
        max_retries=12,
        retry_backoff_initial=0.2,
        retry_backoff_max=2.0,
    )
    backend = create_backend(settings.search)
    proxy.set_mode("latency", latency_s=0.05)
    feeder = PipeFeeder(lines).start()
    ingest = IngestThread(backend, ingest_options(fault_namespace, BATCH), feeder).start()

    wait_for(lambda: len(ledger.created) >= 2 * BATCH, 60, "the first acknowledged batches")
    proxy.set_mode("http_429")
    time.sleep(3)
    written_settled = feeder.written
    acknowledged_settled = len(ledger.created)
    time.sleep(7)
    written_at_end = feeder.written
    proxy.set_mode("pass")
    summary = ingest.join(120)
    backend.close()

    delays = [
        float(match.group(1))
        for record in caplog.records
        if record.name == "socwb.search.retry" and (match := _DELAY.search(record.getMessage()))
    ]
    assert proxy.requests_429 >= 5
    assert len(delays) >= 5
    assert max(delays) <= 2.0
    assert max(delays) >= 0.8 * 2.0
    assert delays[1] > delays[0]
    assert delays[2] > delays[1]
    assert written_at_end == written_settled
    assert written_at_end - acknowledged_settled <= MAX_HELD_LINES
    assert summary.totals.indexed == EVENTS
    assert summary.totals.deadlettered == 0
    check_events(direct, EVENT_STREAM.format(namespace=fault_namespace), ledger, generated)


FLOOD_SETTINGS = {
    "cluster.routing.allocation.disk.watermark.low": "1%",
    "cluster.routing.allocation.disk.watermark.high": "2%",
    "cluster.routing.allocation.disk.watermark.flood_stage": "3%",
    # The engine's minimum; the block is set at the next disk check after this.
    "cluster.info.update.interval": "10s",
}


@pytest.fixture
def flood_stage(direct: SearchBackend, live_node: FaultNode) -> Iterator[None]:
    """Reset the watermarks and the blocks they set, on the dedicated node only.

    Past the flood stage the engine also sets the persistent cluster setting
    `cluster.blocks.create_index`, and releases it only at a later disk check,
    so the reset clears it too and waits until it stays cleared.
    """
    yield
    reset = {name: None for name in FLOOD_SETTINGS}
    direct.request("PUT", "/_cluster/settings", body={"transient": reset})
    # A disk check started before the reset may still set a block, so the
    # blocks must stay cleared past one check interval (10 s).
    reset_at = time.monotonic()
    wait_for(
        lambda: clear_flood_blocks(direct) and time.monotonic() - reset_at > 12,
        120,
        "the flood-stage blocks to clear",
    )


def clear_flood_blocks(backend: SearchBackend) -> bool:
    """Remove the flood-stage blocks; return whether none was left to remove."""
    found = backend.request("GET", "/_cluster/settings", params={"flat_settings": "true"})
    is_index_blocked = any(
        value.get("cluster.blocks.create_index") == "true" for value in found.values()
    )
    unblock = {"cluster.blocks.create_index": None}
    backend.request("PUT", "/_cluster/settings", body={"persistent": unblock, "transient": unblock})
    backend.request(
        "PUT",
        "/_all/_settings",
        params={"expand_wildcards": "all"},
        body={"index.blocks.read_only_allow_delete": None},
    )
    return not is_index_blocked


def test_flood_stage_retried_until_lifted(
    direct: SearchBackend,
    flood_stage: None,
    live_node: FaultNode,
    fault_namespace: str,
    ledger: Ledger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines, generated = EventGenerator("flood").lines(0, EVENTS)
    stream = EVENT_STREAM.format(namespace=fault_namespace)
    settings = fault_settings(
        live_node.url,
        fault_namespace,
        max_retries=20,
        retry_backoff_initial=0.5,
        retry_backoff_max=3.0,
    )
    backend = create_backend(settings.search)
    feeder = PipeFeeder(lines[:BATCH])
    IngestThread(backend, ingest_options(fault_namespace, BATCH), feeder.start()).start().join(60)
    direct.request("PUT", "/_cluster/settings", body={"transient": FLOOD_SETTINGS})
    wait_for(lambda: is_blocked(direct, stream), 60, f"the flood-stage block on {stream}")

    feeder = PipeFeeder(lines[BATCH:]).start()
    ingest = IngestThread(backend, ingest_options(fault_namespace, BATCH), feeder).start()
    wait_for(lambda: flood_retries(caplog) >= 3, 60, "bulk retries under the block")
    stored_while_blocked = len(ledger.created)
    reset = {name: None for name in FLOOD_SETTINGS}
    direct.request("PUT", "/_cluster/settings", body={"transient": reset})
    summary = ingest.join(120)
    backend.close()

    assert stored_while_blocked == BATCH
    assert summary.totals.indexed == EVENTS - BATCH
    assert summary.totals.deadlettered == 0
    assert summary.retries >= 3
    assert not is_blocked(direct, stream)
    check_events(direct, stream, ledger, generated)


def is_blocked(backend: SearchBackend, stream: str) -> bool:
    """Return whether a backing index of `stream` has the read_only_allow_delete block."""
    found = backend.request("GET", f"/{stream}/_settings/index.blocks.read_only_allow_delete")
    return any(
        item["settings"].get("index", {}).get("blocks", {}).get("read_only_allow_delete") == "true"
        for item in found.values()
    )


def flood_retries(caplog: pytest.LogCaptureFixture) -> int:
    """Count bulk retry log lines that name the flood-stage block."""
    return sum(
        1
        for record in caplog.records
        if record.name == "socwb.ingest.indexer"
        and "retrying bulk" in record.getMessage()
        and "flood-stage watermark" in record.getMessage()
    )
