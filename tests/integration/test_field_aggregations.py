"""Every field the detectors group or filter on is aggregatable over ingested real samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from socwb.ingest.geo import create_geo_lookup
from socwb.ingest.pipeline import IngestOptions, run_ingest
from socwb.provisioning import apply_assets
from socwb.search import SearchBackend

pytestmark = pytest.mark.node

SAMPLES = Path(__file__).resolve().parents[2] / "demo_data" / "samples"

# Fields the detectors group or filter on, with the type each must be mapped as.
FIELDS = [
    ("user.name", "keyword"),
    ("source.ip", "ip"),
    ("source.geo.country_iso_code", "keyword"),
    ("event.action", "keyword"),
    ("event.outcome", "keyword"),
    ("event.category", "keyword"),
    ("event.dataset", "keyword"),
    ("host.name", "keyword"),
    ("cloud.account.id", "keyword"),
    ("related.ip", "ip"),
    ("related.user", "keyword"),
    ("file.hash.sha256", "keyword"),
    ("vulnerability.id", "keyword"),
    ("vulnerability.score.base", "float"),
    ("socwb.data.bytes", "long"),
    ("socwb.iam.is_escalation", "boolean"),
]


def _ingest_samples(backend: SearchBackend, namespace: str) -> None:
    apply_assets(backend, namespace)
    geo = create_geo_lookup()
    for folder in ("cloud", "idp", "edr", "vulnscan", "app"):
        options = IngestOptions(source=folder, namespace=namespace, geo=geo)
        for sample in sorted((SAMPLES / folder).iterdir()):
            run_ingest(backend, [str(sample)], options)
    backend.refresh(f"logs-*-{namespace}")


def _mapped_types(backend: SearchBackend, pattern: str, field: str) -> set[str]:
    mapping = backend.get_json(f"/{pattern}/_mapping/field/{field}") or {}
    return {
        next(iter(entry["mappings"][field]["mapping"].values()))["type"]
        for entry in mapping.values()
        if field in entry["mappings"]
    }


def test_detector_fields_aggregate_over_samples(backend: SearchBackend, namespace: str) -> None:
    _ingest_samples(backend, namespace)
    pattern = f"logs-*-{namespace}"

    for field, mapped_type in FIELDS:
        response = backend.search(
            pattern, {"size": 0, "aggs": {"values": {"terms": {"field": field, "size": 5}}}}
        )

        assert _mapped_types(backend, pattern, field) == {mapped_type}, field
        assert response["aggregations"]["values"]["buckets"], f"no values for {field}"
