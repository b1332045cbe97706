"""Exact query bodies of the pure query builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socwb.rules.catalog import (
    AUTH_FAILURE_SPIKE,
    FIREWALL_RULE_CHANGE,
    IAM_POLICY_CHANGE,
    MALWARE_DETECTED,
    NEW_ADMIN_ACCOUNT,
    VULNERABILITY_CRITICAL,
)
from socwb.rules.model import Rule, ThresholdSpec, TimeWindow
from socwb.rules.query import (
    EvaluationTarget,
    arrival_query,
    entity_filter,
    episode_query,
    evaluation_query,
    late_filter,
    silence_query,
)

NOW = datetime(2024, 5, 1, 10, 10, tzinfo=UTC)
ARRIVAL = TimeWindow(
    datetime(2024, 5, 1, 10, 8, tzinfo=UTC), datetime(2024, 5, 1, 10, 9, tzinfo=UTC)
)
LATE_SCRIPT = {
    "script": {
        "script": {
            "lang": "painless",
            "source": (
                "doc['event.ingested'].size() > 0 && doc['@timestamp'].size() > 0 && "
                "doc['event.ingested'].value.toInstant().toEpochMilli()"
                " - doc['@timestamp'].value.toInstant().toEpochMilli() > params.max_lateness_ms"
            ),
            "params": {"max_lateness_ms": 1_800_000},
        }
    }
}
AUTH_FILTER = [
    {"term": {"event.category": "authentication"}},
    {"term": {"event.outcome": "failure"}},
    {
        "bool": {
            "must_not": [
                {
                    "bool": {
                        "filter": [
                            {"term": {"event.dataset": "network.openssh"}},
                            {"term": {"event.type": "info"}},
                        ]
                    }
                }
            ]
        }
    },
]


def test_late_filter_uses_milliseconds() -> None:
    assert late_filter(timedelta(minutes=30)) == LATE_SCRIPT


def test_arrival_query_auth_spike_exact_body() -> None:
    body = arrival_query(
        AUTH_FAILURE_SPIKE, ARRIVAL, now=NOW, future_tolerance=timedelta(minutes=5)
    )

    assert body == {
        "size": 0,
        "track_total_hits": True,
        "query": {
            "bool": {
                "filter": [
                    *AUTH_FILTER,
                    {
                        "range": {
                            "event.ingested": {
                                "gte": "2024-05-01T10:08:00.000Z",
                                "lt": "2024-05-01T10:09:00.000Z",
                            }
                        }
                    },
                ]
            }
        },
        "aggs": {
            "future": {"filter": {"range": {"@timestamp": {"gt": "2024-05-01T10:15:00.000Z"}}}},
            "late": {"filter": LATE_SCRIPT},
            "current": {
                "filter": {"range": {"@timestamp": {"lte": "2024-05-01T10:15:00.000Z"}}},
                "aggs": {
                    "entities": {
                        "composite": {
                            "size": 1000,
                            "sources": [{"g0": {"terms": {"field": "user.name"}}}],
                        },
                        "aggs": {
                            "slots": {
                                "date_histogram": {
                                    "field": "@timestamp",
                                    "fixed_interval": "300s",
                                    "min_doc_count": 1,
                                }
                            },
                            "late": {"filter": LATE_SCRIPT},
                        },
                    }
                },
            },
        },
    }


def test_arrival_query_match_rule_options() -> None:
    body = arrival_query(
        IAM_POLICY_CHANGE,
        ARRIVAL,
        now=NOW,
        future_tolerance=timedelta(0),
        after={"g0": "alice"},
        page_size=10,
    )

    entities = body["aggs"]["current"]["aggs"]["entities"]
    assert entities["composite"] == {
        "size": 10,
        "sources": [{"g0": {"terms": {"field": "user.name", "missing_bucket": True}}}],
        "after": {"g0": "alice"},
    }
    assert entities["aggs"]["flag_is_escalation"] == {"max": {"field": "socwb.iam.is_escalation"}}
    assert entities["aggs"]["slots"]["date_histogram"]["fixed_interval"] == "900s"


def test_arrival_query_uses_resolved_keyword_field() -> None:
    body = arrival_query(
        AUTH_FAILURE_SPIKE,
        ARRIVAL,
        now=NOW,
        future_tolerance=timedelta(minutes=5),
        fields={"user.name": "user.name.keyword"},
    )

    sources = body["aggs"]["current"]["aggs"]["entities"]["composite"]["sources"]
    assert sources == [{"g0": {"terms": {"field": "user.name.keyword"}}}]


RULE_FILTERS = [
    pytest.param(AUTH_FAILURE_SPIKE, AUTH_FILTER, id="auth_failure_spike"),
    pytest.param(
        IAM_POLICY_CHANGE,
        [
            {"term": {"event.category": "iam"}},
            {"terms": {"event.type": ["change", "creation", "deletion", "admin"]}},
        ],
        id="iam_policy_change",
    ),
    pytest.param(
        FIREWALL_RULE_CHANGE,
        [
            {"term": {"event.category": "configuration"}},
            {"term": {"event.category": "network"}},
            {"terms": {"event.type": ["change", "creation", "deletion"]}},
        ],
        id="firewall_rule_change",
    ),
    pytest.param(
        NEW_ADMIN_ACCOUNT,
        [
            {"term": {"event.category": "iam"}},
            {
                "bool": {
                    "should": [
                        {"term": {"event.type": "admin"}},
                        {"term": {"socwb.iam.is_escalation": True}},
                    ],
                    "minimum_should_match": 1,
                }
            },
        ],
        id="new_admin_account",
    ),
    pytest.param(
        MALWARE_DETECTED, [{"term": {"event.category": "malware"}}], id="malware_detected"
    ),
    pytest.param(
        VULNERABILITY_CRITICAL,
        [
            {
                "bool": {
                    "should": [
                        {"range": {"vulnerability.score.base": {"gte": 9.0}}},
                        {"term": {"vulnerability.severity": "Critical"}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        ],
        id="vulnerability_critical",
    ),
]


@pytest.mark.parametrize(("rule", "expected_filter"), RULE_FILTERS)
def test_arrival_query_filter_per_rule(
    rule: Rule, expected_filter: list[dict[str, object]]
) -> None:
    body = arrival_query(rule, ARRIVAL, now=NOW, future_tolerance=timedelta(minutes=5))

    assert body["query"] == {
        "bool": {
            "filter": [
                *expected_filter,
                {
                    "range": {
                        "event.ingested": {
                            "gte": "2024-05-01T10:08:00.000Z",
                            "lt": "2024-05-01T10:09:00.000Z",
                        }
                    }
                },
            ]
        }
    }


def test_index_pattern_all_sources_and_one_source() -> None:
    assert AUTH_FAILURE_SPIKE.index_pattern("prod") == "logs-*-prod"
    assert VULNERABILITY_CRITICAL.index_pattern("prod") == "logs-vulnscan.*-prod"


RANGE = {
    "range": {"@timestamp": {"gte": "2024-05-01T09:55:00.000Z", "lt": "2024-05-01T10:10:00.000Z"}}
}


def test_evaluation_query_auth_spike_exact_body() -> None:
    ranges = (
        TimeWindow(
            datetime(2024, 5, 1, 9, 55, tzinfo=UTC), datetime(2024, 5, 1, 10, 10, tzinfo=UTC)
        ),
    )
    targets = [EvaluationTarget(("alice",), ranges)]

    body = evaluation_query(AUTH_FAILURE_SPIKE, targets, arrival_end=ARRIVAL.end)

    assert body == {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    *AUTH_FILTER,
                    {"range": {"event.ingested": {"lt": "2024-05-01T10:09:00.000Z"}}},
                    {
                        "bool": {
                            "should": [
                                {
                                    "bool": {
                                        "filter": [
                                            {"term": {"user.name": "alice"}},
                                            {
                                                "bool": {
                                                    "should": [RANGE],
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
            "points": {
                "composite": {
                    "size": 1000,
                    "sources": [
                        {"g0": {"terms": {"field": "user.name"}}},
                        {"ts": {"terms": {"field": "@timestamp"}}},
                    ],
                }
            }
        },
    }


def test_evaluation_query_cardinality_adds_value_source() -> None:
    rule = AUTH_FAILURE_SPIKE.model_copy(
        update={
            "spec": ThresholdSpec(
                group_by=["source.ip"],
                metric="cardinality",
                metric_field="user.name",
                threshold=10,
            )
        }
    )
    targets = [EvaluationTarget(("198.51.100.7",), (ARRIVAL,))]

    body = evaluation_query(rule, targets, arrival_end=ARRIVAL.end, after={"g0": "x"})

    assert body["aggs"]["points"]["composite"] == {
        "size": 1000,
        "sources": [
            {"g0": {"terms": {"field": "source.ip"}}},
            {"ts": {"terms": {"field": "@timestamp"}}},
            {"value": {"terms": {"field": "user.name"}}},
        ],
        "after": {"g0": "x"},
    }


def test_entity_filter_missing_value_uses_must_not_exists() -> None:
    assert entity_filter(MALWARE_DETECTED, ("pc-07", None)) == {
        "bool": {
            "filter": [{"term": {"host.name": "pc-07"}}],
            "must_not": [{"exists": {"field": "file.hash.sha256"}}],
        }
    }


def test_episode_query_exact_body() -> None:
    span = TimeWindow(
        datetime(2024, 5, 1, 10, 0, tzinfo=UTC), datetime(2024, 5, 1, 10, 2, 30, 1000, tzinfo=UTC)
    )

    body = episode_query(MALWARE_DETECTED, ("pc-07", "abc"), span, arrival_end=NOW)

    assert body == {
        "size": 20,
        "track_total_hits": True,
        "_source": False,
        "sort": [{"@timestamp": "asc"}],
        "query": {
            "bool": {
                "filter": [
                    {"term": {"event.category": "malware"}},
                    {
                        "bool": {
                            "filter": [
                                {"term": {"host.name": "pc-07"}},
                                {"term": {"file.hash.sha256": "abc"}},
                            ]
                        }
                    },
                    {
                        "range": {
                            "@timestamp": {
                                "gte": "2024-05-01T10:00:00.000Z",
                                "lt": "2024-05-01T10:02:30.001Z",
                            }
                        }
                    },
                    {"range": {"event.ingested": {"lt": "2024-05-01T10:10:00.000Z"}}},
                ]
            }
        },
    }


def test_silence_query_exact_body() -> None:
    body = silence_query("host.name", now=NOW, host_horizon=timedelta(days=30))

    assert body == {
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "last_ingested": {"max": {"field": "event.ingested"}},
            "recent": {
                "filter": {"range": {"event.ingested": {"gte": "2024-04-01T10:10:00.000Z"}}},
                "aggs": {
                    "hosts": {
                        "composite": {
                            "size": 1000,
                            "sources": [{"host": {"terms": {"field": "host.name"}}}],
                        },
                        "aggs": {"last_ingested": {"max": {"field": "event.ingested"}}},
                    }
                },
            },
        },
    }


def test_query_bounds_ignore_host_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    expected = arrival_query(
        AUTH_FAILURE_SPIKE, ARRIVAL, now=NOW, future_tolerance=timedelta(minutes=5)
    )
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        actual = arrival_query(
            AUTH_FAILURE_SPIKE, ARRIVAL, now=NOW, future_tolerance=timedelta(minutes=5)
        )
    finally:
        monkeypatch.undo()
        time.tzset()

    assert actual == expected
