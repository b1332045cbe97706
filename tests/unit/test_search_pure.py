"""Pure parts of the search layer: engine detection, response checks, bulk summaries, backoff."""

from __future__ import annotations

import pytest

from socwb.errors import PartialResultsError, UnsupportedEngineError
from socwb.search import check_search_response, parse_engine_info
from socwb.search.base import summarise_bulk
from socwb.search.retry import RetriesExhaustedError, RetryPolicy, call_with_retry

OPENSEARCH_ROOT = {
    "cluster_name": "c1",
    "version": {"distribution": "opensearch", "number": "2.19.6"},
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}
ELASTICSEARCH_ROOT = {
    "cluster_name": "c2",
    "version": {"number": "8.17.0", "build_flavor": "default"},
    "tagline": "You Know, for Search",
}


def test_opensearch_2_detected() -> None:
    info = parse_engine_info(OPENSEARCH_ROOT, "http://x")

    assert info.distribution == "opensearch"
    assert info.major == 2
    assert info.lifecycle_api == "ism"


def test_elasticsearch_8_detected() -> None:
    info = parse_engine_info(ELASTICSEARCH_ROOT, "http://x")

    assert info.distribution == "elasticsearch"
    assert info.lifecycle_api == "ilm"
    assert info.cluster_name == "c2"


@pytest.mark.parametrize(
    ("root", "named"),
    [
        ({"version": {"distribution": "opensearch", "number": "1.3.19"}}, "opensearch 1.3.19"),
        ({"version": {"number": "7.17.9"}, "tagline": "You Know, for Search"}, "7.17.9"),
        ({"version": {"number": "9.0.0"}, "tagline": "You Know, for Search"}, "9.0.0"),
        ({"name": "solr"}, "unknown version"),
    ],
    ids=["opensearch-1", "elasticsearch-7", "elasticsearch-9", "not-an-engine"],
)
def test_unsupported_engine_rejected(root: dict, named: str) -> None:
    with pytest.raises(UnsupportedEngineError) as raised:
        parse_engine_info(root, "http://127.0.0.1:9200")

    assert named in str(raised.value)
    assert "OpenSearch 2.x or 3.x, or Elasticsearch 8.x" in str(raised.value)


def test_timed_out_search_raises() -> None:
    with pytest.raises(PartialResultsError, match="timed out"):
        check_search_response({"timed_out": True, "_shards": {"failed": 0}}, index="logs-a")


def test_shard_failure_raises_with_reason() -> None:
    response = {
        "timed_out": False,
        "_shards": {
            "total": 3,
            "failed": 1,
            "failures": [{"reason": {"reason": "no such field"}}],
        },
    }

    with pytest.raises(PartialResultsError, match="1 of 3 shards: no such field"):
        check_search_response(response, index="logs-a")


def test_complete_search_passes_through() -> None:
    response = {"timed_out": False, "_shards": {"total": 1, "failed": 0}, "hits": {}}

    assert check_search_response(response, index="logs-a") is response


def test_bulk_summary_separates_duplicates_errors_and_retryable() -> None:
    response = {
        "items": [
            {"create": {"_index": "a", "_id": "1", "status": 201}},
            {"create": {"_index": "a", "_id": "2", "status": 409}},
            {
                "create": {
                    "_index": "a",
                    "_id": "3",
                    "status": 400,
                    "error": {"type": "mapper_parsing_exception", "reason": "bad long"},
                }
            },
            {"create": {"_index": "a", "_id": "4", "status": 429}},
        ]
    }

    result = summarise_bulk(response, [])

    assert result.created == 1
    assert result.duplicates == 1
    assert result.retryable == [3]
    assert len(result.errors) == 1
    assert result.errors[0].doc_id == "3"
    assert result.errors[0].error_type == "mapper_parsing_exception"
    assert result.errors[0].position == 2


def test_backoff_doubles_up_to_cap() -> None:
    policy = RetryPolicy(max_retries=6, initial_delay=1.0, max_delay=10.0, jitter=0.0)

    assert list(policy.delays()) == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_jitter_stays_below_base() -> None:
    policy = RetryPolicy(max_retries=4, initial_delay=1.0, max_delay=10.0, jitter=0.5)

    for delay, base in zip(policy.delays(), [1.0, 2.0, 4.0, 8.0], strict=True):
        assert base * 0.5 <= delay <= base


def test_retry_stops_after_policy_and_keeps_last_error() -> None:
    attempts: list[int] = []
    waits: list[float] = []

    def failing() -> None:
        attempts.append(1)
        raise ConnectionError("refused")

    with pytest.raises(RetriesExhaustedError) as raised:
        call_with_retry(
            failing,
            policy=RetryPolicy(max_retries=3, initial_delay=0.1, max_delay=1.0, jitter=0.0),
            is_retryable=lambda exc: isinstance(exc, ConnectionError),
            description="GET /",
            sleep=waits.append,
        )

    assert len(attempts) == 4
    assert waits == [0.1, 0.2, 0.4]
    assert raised.value.attempts == 4
    assert "refused" in str(raised.value.last_error)


def test_non_retryable_error_propagates_at_once() -> None:
    waits: list[float] = []

    def failing() -> None:
        raise ValueError("bad request")

    with pytest.raises(ValueError, match="bad request"):
        call_with_retry(
            failing,
            policy=RetryPolicy(max_retries=3),
            is_retryable=lambda exc: isinstance(exc, ConnectionError),
            description="GET /",
            sleep=waits.append,
        )

    assert waits == []
