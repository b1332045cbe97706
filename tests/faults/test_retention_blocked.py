"""A retention policy whose rollover cannot run: health reports it, ingest and detection go on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faults.detect import check_alerts, make_detector, spike_rule
from faults.ledger import EVENT_STREAM, EventGenerator, Ledger, check_events
from faults.node import FaultNode, fault_settings
from faults.runner import ingest_options
from socwb.health import check_health
from socwb.ingest.pipeline import run_ingest
from socwb.lifecycle_fallback import run_lifecycle, store_fallback_policy, stored_fallback_policy
from socwb.search import SearchBackend

pytestmark = [pytest.mark.node, pytest.mark.faults_slow]

EVENTS = 300


@pytest.fixture
def shard_limit(direct: SearchBackend) -> Iterator[None]:
    """Allow one shard per node, so no index can be created; reset after the test."""
    body = {"transient": {"cluster.max_shards_per_node": 1}}
    direct.request("PUT", "/_cluster/settings", body=body)
    yield
    body = {"transient": {"cluster.max_shards_per_node": None}}
    direct.request("PUT", "/_cluster/settings", body=body)


def roll_over_at_first_document(backend: SearchBackend, name: str) -> None:
    """Change a stored fallback policy so its rollover is due at the first document."""
    policy = stored_fallback_policy(backend, name)
    assert policy is not None, f"no stored fallback policy {name}"
    for state in policy["policy"]["states"]:
        for action in state["actions"]:
            if "rollover" in action:
                action["rollover"] = {"min_doc_count": 1}
    store_fallback_policy(backend, name, policy)


def test_blocked_rollover_reported_stuck(
    direct: SearchBackend,
    live_node: FaultNode,
    fault_namespace: str,
    ledger: Ledger,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    first = EventGenerator("retain")
    second = EventGenerator("retain-more")
    generated = first.write(tmp_path / "first.jsonl", 0, EVENTS)
    generated |= second.write(tmp_path / "second.jsonl", 0, EVENTS)
    stream = EVENT_STREAM.format(namespace=fault_namespace)
    settings = fault_settings(live_node.url, fault_namespace)
    detector = make_detector(direct, fault_namespace)
    rule = spike_rule()
    run_ingest(direct, [str(tmp_path / "first.jsonl")], ingest_options(fault_namespace))
    direct.refresh(stream)
    roll_over_at_first_document(direct, f"socwb-retention-app-{fault_namespace}")
    request.getfixturevalue("shard_limit")

    first_check = run_lifecycle(direct, fault_namespace)
    health_first = check_health(settings.search, datetime.now(UTC))
    second_check = run_lifecycle(direct, fault_namespace)
    health_second = check_health(settings.search, datetime.now(UTC))
    later = run_ingest(direct, [str(tmp_path / "second.jsonl")], ingest_options(fault_namespace))
    direct.refresh(stream)
    detection = detector.run(rule)
    backing = direct.request("GET", f"/_data_stream/{stream}")["data_streams"][0]["indices"]

    write_index = backing[0]["index_name"]
    assert len(backing) == 1
    assert [index for index, _ in first_check.failures] == [write_index]
    assert [index for index, _ in second_check.failures] == [write_index]
    assert [(item.index, item.status) for item in health_first.lifecycle_problems] == [
        (write_index, "failed")
    ]
    assert [(item.index, item.status) for item in health_second.lifecycle_problems] == [
        (write_index, "stuck")
    ]
    assert "shards" in health_second.lifecycle_problems[0].error
    assert any(write_index in finding for finding in health_second.findings)
    assert later.totals.indexed == EVENTS
    assert detection.outcome == "succeeded"
    check_alerts(direct, fault_namespace, first, EVENTS)
    check_alerts(direct, fault_namespace, second, EVENTS)
    check_events(direct, stream, ledger, generated)
