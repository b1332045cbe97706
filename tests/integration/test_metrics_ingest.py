"""Ingest of the metrics source on the real node: metric documents land in its data streams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socwb.demo import lines
from socwb.ingest.pipeline import IngestOptions, run_ingest
from socwb.provisioning import apply_assets
from socwb.search import SearchBackend

pytestmark = pytest.mark.node

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def write_metrics(folder: Path) -> tuple[Path, Path]:
    """Write one file of host and one of service metric documents, as the generator does."""
    hosts = folder / "host.ndjson"
    services = folder / "service.ndjson"
    steps = [START + timedelta(minutes=5 * index) for index in range(3)]
    host_lines = [
        lines.host_metric(step, "worker-01", "worker", 0.25, 0.5, (1000, 800)) for step in steps
    ]
    service_lines = [lines.service_metric(step, "report-export", 4_000_000, 100) for step in steps]
    hosts.write_text("\n".join(host_lines) + "\n", encoding="utf-8")
    services.write_text("\n".join(service_lines) + "\n", encoding="utf-8")
    return hosts, services


def test_metric_documents_land_in_metrics_streams(
    backend: SearchBackend, namespace: str, tmp_path: Path
) -> None:
    apply_assets(backend, namespace)
    paths = [str(path) for path in write_metrics(tmp_path)]

    summary = run_ingest(backend, paths, IngestOptions(source="metrics", namespace=namespace))

    assert summary.totals.indexed == 6
    assert summary.totals.deadlettered == 0
    host_stream = f"logs-metrics.host_metrics-{namespace}"
    service_stream = f"logs-metrics.service_metrics-{namespace}"
    backend.refresh(f"logs-metrics.*-{namespace}")
    host = backend.search(host_stream, {"size": 1})["hits"]["hits"][0]["_source"]
    service = backend.search(service_stream, {"size": 1})["hits"]["hits"][0]["_source"]
    assert host["event"]["kind"] == "metric"
    assert host["host"]["cpu"]["usage"] == 0.25
    assert host["host"]["network"]["egress"]["bytes"] == 800
    assert service["network"]["egress"]["bytes"] == 4_000_000
    assert service["socwb"]["data"]["bytes"] == 4_000_000


def test_metric_cpu_mapped_as_double(
    backend: SearchBackend, namespace: str, tmp_path: Path
) -> None:
    apply_assets(backend, namespace)
    hosts, _ = write_metrics(tmp_path)
    run_ingest(backend, [str(hosts)], IngestOptions(source="metrics", namespace=namespace))

    stream = f"logs-metrics.host_metrics-{namespace}"
    found = backend.get_json(f"/{stream}/_mapping/field/host.cpu.usage") or {}

    types = [
        entry["mappings"]["host.cpu.usage"]["mapping"]["usage"]["type"] for entry in found.values()
    ]
    assert types == ["double"]
