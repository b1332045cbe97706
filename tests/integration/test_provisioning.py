"""socwb apply on a real node: create, unchanged on rerun, drift, and existing indices."""

from __future__ import annotations

import pytest

from socwb.assets import rendered_assets
from socwb.lifecycle_fallback import index_states, run_lifecycle
from socwb.provisioning import apply_assets
from socwb.search import SearchBackend
from socwb.search.opensearch import OpenSearchBackend

pytestmark = pytest.mark.node


def _asset_count(backend: SearchBackend, namespace: str) -> int:
    return len(rendered_assets(backend.info.distribution, namespace))


def _has_ism(backend: SearchBackend) -> bool:
    return isinstance(backend, OpenSearchBackend) and backend.has_ism()


def test_first_apply_creates_everything(backend: SearchBackend, namespace: str) -> None:
    report = apply_assets(backend, namespace)

    assert report.count("create") == _asset_count(backend, namespace)
    assert report.count("update") == 0
    assert backend.get_json(f"/_index_template/socwb-logs-cloud-{namespace}") is not None
    assert backend.get_json(f"/_ingest/pipeline/socwb-ingest-{namespace}") is not None


def test_second_apply_reports_all_unchanged(backend: SearchBackend, namespace: str) -> None:
    apply_assets(backend, namespace)

    report = apply_assets(backend, namespace)

    assert report.count("unchanged") == _asset_count(backend, namespace)
    assert report.count("create") == 0
    assert report.has_drift is False


def test_hand_edit_shows_as_drift_in_dry_run(backend: SearchBackend, namespace: str) -> None:
    apply_assets(backend, namespace)
    name = f"socwb-logs-cloud-{namespace}"
    stored = backend.get_json(f"/_index_template/{name}")["index_templates"][0]["index_template"]
    stored["priority"] = 999
    backend.put_index_template(name, stored)

    report = apply_assets(backend, namespace, dry_run=True)

    drifted = [change for change in report.changes if change.action == "update"]
    assert [change.name for change in drifted] == [name]
    assert drifted[0].differences == ("priority: repository 200 != cluster 999",)
    after = backend.get_json(f"/_index_template/{name}")["index_templates"][0]["index_template"]
    assert after["priority"] == 999


def test_apply_repairs_drift(backend: SearchBackend, namespace: str) -> None:
    apply_assets(backend, namespace)
    name = f"socwb-ingest-{namespace}"
    backend.put_ingest_pipeline(name, {"description": "edited by hand", "processors": []})

    report = apply_assets(backend, namespace)

    assert [change.name for change in report.changes if change.action == "update"] == [name]
    pipeline = backend.get_json(f"/_ingest/pipeline/{name}")[name]
    assert pipeline["processors"][0]["set"]["field"] == "event.ingested"


def test_pipeline_sets_event_ingested(backend: SearchBackend, namespace: str) -> None:
    apply_assets(backend, namespace)
    stream = f"logs-cloud.aws_cloudtrail-{namespace}"

    backend.index_document(
        stream,
        {"@timestamp": "2026-01-01T00:00:00Z", "event": {"ingested": "1999-01-01T00:00:00Z"}},
        refresh=True,
    )

    source = backend.search(stream, {"query": {"match_all": {}}})["hits"]["hits"][0]["_source"]
    assert source["event"]["ingested"] > "2026-"


def _create_stream_before_apply(backend: SearchBackend, namespace: str) -> str:
    stream = f"logs-cloud.aws_cloudtrail-{namespace}"
    backend.put_index_template(
        f"early-{namespace}",
        {"index_patterns": [f"logs-cloud.*-{namespace}"], "data_stream": {}, "priority": 50},
    )
    backend.index_document(stream, {"@timestamp": "2026-01-01T00:00:00Z"}, refresh=True)
    return stream


def test_existing_backing_index_gets_policy(backend: SearchBackend, namespace: str) -> None:
    stream = _create_stream_before_apply(backend, namespace)
    backing = backend.get_json(f"/_data_stream/{stream}")["data_streams"][0]["indices"][0]
    index = backing["index_name"]

    report = apply_assets(backend, namespace)

    policy = f"socwb-retention-cloud-{namespace}"
    if _has_ism(backend):
        explained = backend.get_json(f"/_plugins/_ism/explain/{index}")
        assert (index, policy) in report.attached
        assert explained[index]["index.plugins.index_state_management.policy_id"] == policy
    else:
        run_lifecycle(backend, namespace)
        states = {state["index"]: state for state in index_states(backend, namespace)}
        assert states[index]["policy"] == policy
        assert states[index]["state"] == "hot"
