"""Volume anomaly rules: exact query bodies, counting buckets and baseline evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socwb.rules.catalog import (
    API_VOLUME_ANOMALY,
    AUTH_VOLUME_ANOMALY,
    EGRESS_ANOMALY,
    builtin_rules,
)
from socwb.rules.evaluate import (
    entity_baseline,
    read_baseline_page,
    read_points_page,
)
from socwb.rules.model import BaselineSpec, Rule, Severity, TimeWindow
from socwb.rules.query import EvaluationTarget, baseline_query, evaluation_query

HISTORY = TimeWindow(
    datetime(2024, 4, 17, 10, 0, tzinfo=UTC), datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
)
NEW_EVENTS = TimeWindow(
    datetime(2024, 5, 1, 9, 0, tzinfo=UTC), datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
)
ARRIVAL_END = datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
RANGE_CLAUSE = {
    "range": {"@timestamp": {"gte": "2024-04-17T10:00:00.000Z", "lt": "2024-05-01T10:00:00.000Z"}}
}
LOGIN_SUCCESS = [
    {"term": {"event.category": "authentication"}},
    {"term": {"event.outcome": "success"}},
]
NOT_LOGIN = {"bool": {"must_not": [{"term": {"event.category": "authentication"}}]}}
HAS_BYTES = {"exists": {"field": "socwb.data.bytes"}}


def history_body(
    selection: list[dict[str, object]], group_field: str, entity: str
) -> dict[str, object]:
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    *selection,
                    {"range": {"event.ingested": {"lt": "2024-05-01T12:05:00.000Z"}}},
                    {
                        "bool": {
                            "should": [
                                {
                                    "bool": {
                                        "filter": [
                                            {"term": {group_field: entity}},
                                            {
                                                "bool": {
                                                    "should": [RANGE_CLAUSE],
                                                    "minimum_should_match": 1,
                                                }
                                            },
                                        ]
                                    }
                                }
                            ],
                            "minimum_should_match": 1,
                        }
                    },
                ]
            }
        },
        "aggs": {
            "history": {
                "composite": {
                    "size": 1000,
                    "sources": [
                        {"g0": {"terms": {"field": group_field}}},
                        {
                            "bucket": {
                                "date_histogram": {
                                    "field": "@timestamp",
                                    "fixed_interval": "3600s",
                                }
                            }
                        },
                    ],
                }
            }
        },
    }


def test_auth_volume_history_query_counts_buckets() -> None:
    targets = [EvaluationTarget(("carol@example.com",), (HISTORY,))]

    body = baseline_query(AUTH_VOLUME_ANOMALY, targets, arrival_end=ARRIVAL_END)

    assert body == history_body(LOGIN_SUCCESS, "user.name", "carol@example.com")


def test_api_volume_history_query_counts_buckets() -> None:
    targets = [EvaluationTarget(("carol@example.com",), (HISTORY,))]

    body = baseline_query(API_VOLUME_ANOMALY, targets, arrival_end=ARRIVAL_END)

    assert body == history_body([NOT_LOGIN], "user.name", "carol@example.com")


def test_egress_history_query_sums_bytes() -> None:
    targets = [EvaluationTarget(("report-export",), (HISTORY,))]

    body = baseline_query(EGRESS_ANOMALY, targets, arrival_end=ARRIVAL_END)

    expected = history_body([HAS_BYTES], "service.name", "report-export")
    history = expected["aggs"]["history"]  # type: ignore[index]
    history["aggs"] = {"amount": {"sum": {"field": "socwb.data.bytes"}}}
    assert body == expected


def test_auth_volume_evaluation_query_has_no_sum() -> None:
    targets = [EvaluationTarget(("carol@example.com",), (NEW_EVENTS,))]

    body = evaluation_query(AUTH_VOLUME_ANOMALY, targets, arrival_end=ARRIVAL_END)

    assert body["aggs"] == {
        "points": {
            "composite": {
                "size": 1000,
                "sources": [
                    {"g0": {"terms": {"field": "user.name"}}},
                    {"ts": {"terms": {"field": "@timestamp"}}},
                ],
            }
        }
    }


def test_egress_evaluation_query_sums_bytes() -> None:
    targets = [EvaluationTarget(("report-export",), (NEW_EVENTS,))]

    body = evaluation_query(EGRESS_ANOMALY, targets, arrival_end=ARRIVAL_END)

    assert body["aggs"]["points"]["aggs"] == {"amount": {"sum": {"field": "socwb.data.bytes"}}}


def test_api_volume_searches_cloud_only() -> None:
    assert API_VOLUME_ANOMALY.index_pattern("prod") == "logs-cloud.*-prod"


@pytest.mark.parametrize("rule", [AUTH_VOLUME_ANOMALY, API_VOLUME_ANOMALY, EGRESS_ANOMALY])
def test_anomaly_rule_policy_terms(rule: Rule) -> None:
    assert rule.severity is Severity.MEDIUM
    assert rule.response_time == timedelta(hours=4)
    assert rule.lookback == timedelta(hours=1)
    assert isinstance(rule.spec, BaselineSpec)
    assert rule.spec.factor == 3.0
    assert rule in builtin_rules()


def test_counting_rule_reads_doc_count_as_amount() -> None:
    aggregations = {
        "points": {
            "buckets": [{"key": {"g0": "carol", "ts": 1_714_557_600_000}, "doc_count": 7}],
        },
        "history": {
            "buckets": [{"key": {"g0": "carol", "bucket": 1_714_550_400_000}, "doc_count": 3}],
        },
    }

    points, _ = read_points_page(AUTH_VOLUME_ANOMALY, aggregations)
    sums, _ = read_baseline_page(AUTH_VOLUME_ANOMALY, aggregations)

    assert points[("carol",)][0].amount == 7.0
    assert sums == {("carol",): [3.0]}


def test_entity_baseline_without_enough_history_has_no_limit() -> None:
    spec = BaselineSpec(group_by=["user.name"], sum_field=None, min_sum=20, min_history_buckets=5)

    baseline = entity_baseline([4.0, 0.0, 6.0, 5.0, 5.0], spec)

    assert baseline.active_buckets == 4
    assert baseline.mean == 5.0
    assert baseline.limit is None


def test_entity_baseline_limit_is_factor_times_mean() -> None:
    spec = BaselineSpec(group_by=["user.name"], sum_field=None, min_sum=20, min_history_buckets=2)

    assert entity_baseline([10.0, 10.0], spec).limit == 30.0
    assert entity_baseline([2.0, 4.0], spec).limit == 20.0


def test_baseline_evidence_states_ratio() -> None:
    spec = BaselineSpec(group_by=["user.name"], sum_field=None, min_history_buckets=1)

    evidence = entity_baseline([8.0, 12.0], spec).evidence(50.0)

    assert evidence == {
        "baseline": 10.0,
        "history_buckets": 2,
        "limit": 30.0,
        "current": 50.0,
        "ratio": 5.0,
    }


def test_baseline_evidence_without_history_has_no_ratio() -> None:
    spec = BaselineSpec(group_by=["user.name"], sum_field="socwb.data.bytes", min_sum=5.0)

    evidence = entity_baseline([], spec).evidence(50.0)

    assert evidence["ratio"] is None
    assert evidence["limit"] == 5.0
