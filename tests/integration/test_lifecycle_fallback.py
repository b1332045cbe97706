"""The fallback retention enforcer on a real node, with the clock moved forward.

It runs the stored ISM policy: rollover after 30 days, read-only once rolled
over, delete a full retention period after the rollover.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socwb.errors import QueryRejectedError
from socwb.lifecycle_fallback import index_states, run_lifecycle, store_fallback_policy
from socwb.provisioning import apply_assets
from socwb.search import SearchBackend
from socwb.search.opensearch import OpenSearchBackend

pytestmark = pytest.mark.node


@pytest.fixture
def fallback_backend(backend: SearchBackend) -> SearchBackend:
    if not isinstance(backend, OpenSearchBackend) or backend.has_ism():
        pytest.skip("the fallback enforcer runs only on OpenSearch without the ISM plugin")
    return backend


def _backing_indices(backend: SearchBackend, stream: str) -> list[str]:
    found = backend.get_json(f"/_data_stream/{stream}")
    return [item["index_name"] for item in found["data_streams"][0]["indices"]]


def _stream_with_one_document(backend: SearchBackend, namespace: str, source: str) -> str:
    apply_assets(backend, namespace)
    stream = f"logs-{source}.test-{namespace}"
    backend.index_document(stream, {"@timestamp": "2026-01-01T00:00:00Z"}, refresh=True)
    return stream


def test_young_index_is_left_alone(fallback_backend: SearchBackend, namespace: str) -> None:
    stream = _stream_with_one_document(fallback_backend, namespace, "edr")

    report = run_lifecycle(fallback_backend, namespace, datetime.now(UTC) + timedelta(days=1))

    assert report.rolled_over == []
    assert len(_backing_indices(fallback_backend, stream)) == 1


def test_rollover_after_30_days_then_read_only(
    fallback_backend: SearchBackend, namespace: str
) -> None:
    stream = _stream_with_one_document(fallback_backend, namespace, "edr")
    first = _backing_indices(fallback_backend, stream)[0]

    report = run_lifecycle(fallback_backend, namespace, datetime.now(UTC) + timedelta(days=31))

    assert report.rolled_over == [first]
    assert first in report.made_read_only
    assert len(_backing_indices(fallback_backend, stream)) == 2
    settings = fallback_backend.get_json(f"/{first}/_settings/index.blocks.write")
    assert settings[first]["settings"]["index"]["blocks"]["write"] == "true"
    hit = fallback_backend.search(first, {"query": {"match_all": {}}})["hits"]["hits"][0]
    with pytest.raises(QueryRejectedError, match="cluster_block_exception"):
        fallback_backend.request(
            "PUT",
            f"/{first}/_doc/{hit['_id']}",
            params={"if_seq_no": hit.get("_seq_no", 0), "if_primary_term": 1},
            body={"@timestamp": "2026-01-02T00:00:00Z", "tampered": True},
        )


def test_delete_waits_full_retention_after_rollover(
    fallback_backend: SearchBackend, namespace: str
) -> None:
    stream = _stream_with_one_document(fallback_backend, namespace, "edr")
    first = _backing_indices(fallback_backend, stream)[0]
    rolled_at = datetime.now(UTC) + timedelta(days=31)
    run_lifecycle(fallback_backend, namespace, rolled_at)

    early = run_lifecycle(fallback_backend, namespace, rolled_at + timedelta(days=89, hours=23))
    due = run_lifecycle(fallback_backend, namespace, rolled_at + timedelta(days=90, minutes=1))

    assert early.deleted == []
    assert due.deleted == [first]
    assert first not in _backing_indices(fallback_backend, stream)
    states = {state["index"]: state for state in index_states(fallback_backend, namespace)}
    assert states[first]["deleted_at"] is not None


def test_write_index_is_never_deleted(fallback_backend: SearchBackend, namespace: str) -> None:
    stream = _stream_with_one_document(fallback_backend, namespace, "edr")
    start = datetime.now(UTC)

    for days in (31, 200, 400):
        run_lifecycle(fallback_backend, namespace, start + timedelta(days=days))

    indices = _backing_indices(fallback_backend, stream)
    assert len(indices) >= 1
    assert fallback_backend.count(stream) >= 0


def test_rollover_on_doc_count_without_alias(
    fallback_backend: SearchBackend, namespace: str
) -> None:
    apply_assets(fallback_backend, namespace)
    policy = {
        "policy": {
            "description": "rollover at 1000 documents",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [{"rollover": {"min_doc_count": 1000}}],
                    "transitions": [],
                }
            ],
            "ism_template": [{"index_patterns": [f"logs-cloud.*-{namespace}"], "priority": 100}],
        }
    }
    store_fallback_policy(fallback_backend, f"socwb-retention-cloud-{namespace}", policy)
    stream = f"logs-cloud.bulk-{namespace}"
    operations = []
    for number in range(1001):
        operations += [
            {"create": {"_index": stream}},
            {"@timestamp": "2026-01-01T00:00:00Z", "n": number},
        ]
    fallback_backend.bulk(operations, refresh=True)

    report = run_lifecycle(fallback_backend, namespace)

    indices = _backing_indices(fallback_backend, stream)
    assert len(indices) == 2
    assert indices[-1].endswith("-000002")
    assert report.failures == []
