"""The search adapter against a live engine: detection, writes, searches and errors."""

from __future__ import annotations

import pytest

from socwb.errors import ConflictError, PartialResultsError, QueryRejectedError
from socwb.search import SearchBackend

pytestmark = pytest.mark.node


def test_engine_detected_from_root(backend: SearchBackend) -> None:
    assert backend.info.distribution in ("opensearch", "elasticsearch")
    assert backend.info.major in (2, 3, 8)
    assert backend.cluster_health()["status"] in ("green", "yellow")


def test_create_twice_raises_conflict(backend: SearchBackend, namespace: str) -> None:
    index = f"socwb-test-{namespace}"
    backend.index_document(index, {"a": 1}, doc_id="one", refresh=True)

    with pytest.raises(ConflictError):
        backend.index_document(index, {"a": 2}, doc_id="one")

    assert backend.get_document(index, "one")["_source"] == {"a": 1}


def test_bulk_counts_created_duplicates_and_rejects(backend: SearchBackend, namespace: str) -> None:
    index = f"socwb-test-{namespace}"
    backend.request(
        "PUT", f"/{index}", body={"mappings": {"properties": {"bytes": {"type": "long"}}}}
    )
    operations = [
        {"create": {"_index": index, "_id": "1"}},
        {"bytes": 10},
        {"create": {"_index": index, "_id": "2"}},
        {"bytes": "not a number"},
    ]
    backend.bulk(operations[:2], refresh=True)

    result, _ = backend.bulk(operations, refresh=True)

    assert result.created == 0
    assert result.duplicates == 1
    assert [error.doc_id for error in result.errors] == ["2"]
    assert result.errors[0].error_type == "mapper_parsing_exception"
    assert backend.count(index) == 1


def test_search_counts_and_aggregates(backend: SearchBackend, namespace: str) -> None:
    index = f"socwb-test-{namespace}"
    for number, user in enumerate(["ann", "ann", "bob"]):
        backend.index_document(index, {"user": {"name": user}}, doc_id=str(number))
    backend.refresh(index)

    response = backend.search(
        index,
        {"size": 0, "aggs": {"users": {"terms": {"field": "user.name.keyword"}}}},
    )

    buckets = {b["key"]: b["doc_count"] for b in response["aggregations"]["users"]["buckets"]}
    assert buckets == {"ann": 2, "bob": 1}


def test_search_on_closed_index_is_not_silent(backend: SearchBackend, namespace: str) -> None:
    index = f"socwb-test-{namespace}"
    backend.index_document(index, {"a": 1}, refresh=True)
    backend.request("POST", f"/{index}/_close")

    with pytest.raises((QueryRejectedError, PartialResultsError), match="closed|index_closed"):
        backend.search(index, {"query": {"match_all": {}}})


def test_invalid_query_names_the_reason(backend: SearchBackend, namespace: str) -> None:
    index = f"socwb-test-{namespace}"
    backend.index_document(index, {"a": 1}, refresh=True)

    with pytest.raises(QueryRejectedError) as raised:
        backend.search(index, {"query": {"no_such_query": {}}})

    assert raised.value.status == 400
    assert "no_such_query" in str(raised.value)
