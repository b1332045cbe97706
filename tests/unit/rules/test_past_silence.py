"""Past delivery gaps: the event timeline query and the gap finder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socwb.catalogue import Catalogue, Source
from socwb.rules.evaluate import Silence, find_past_silences, read_timeline_page
from socwb.rules.model import TimeWindow, to_epoch_millis
from socwb.rules.query import silence_timeline_query

START = datetime(2025, 3, 19, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def app_source(host_silence: dict[str, int] | None = None) -> Source:
    log_types = [{"key": "any", "title": "Any event", "all_of": [{"event.kind": ["event"]}]}]
    catalogue = Catalogue.model_validate(
        {
            "sources": [
                {
                    "key": "app",
                    "title": "Application",
                    "criteria": ["CC7.1"],
                    "formats": ["app_json"],
                    "log_types": log_types,
                    "retention_days": 90,
                    "max_silence_seconds": 3600,
                    "host_max_silence_seconds": host_silence or {},
                }
            ],
            "deadletter": {"dataset": "socwb.deadletter", "retention_days": 365},
        }
    )
    return catalogue.source("app")


def ms(hours: float) -> int:
    return to_epoch_millis(START + hours * HOUR)


def test_silence_timeline_query_exact_body() -> None:
    window = TimeWindow(START, START + 2 * HOUR)

    body = silence_timeline_query("host.name", window, interval=HOUR, page_size=50)

    assert body == {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    {
                        "range": {
                            "@timestamp": {
                                "gte": "2025-03-19T00:00:00.000Z",
                                "lt": "2025-03-19T02:00:00.000Z",
                            }
                        }
                    }
                ]
            }
        },
        "aggs": {
            "timeline": {
                "composite": {
                    "size": 50,
                    "sources": [
                        {"host": {"terms": {"field": "host.name", "missing_bucket": True}}},
                        {
                            "slot": {
                                "date_histogram": {"field": "@timestamp", "fixed_interval": "3600s"}
                            }
                        },
                    ],
                },
                "aggs": {
                    "first": {"min": {"field": "@timestamp"}},
                    "last": {"max": {"field": "@timestamp"}},
                },
            }
        },
    }


def test_read_timeline_page_keeps_missing_host() -> None:
    aggregations = {
        "timeline": {
            "buckets": [
                {
                    "key": {"host": "web-03", "slot": ms(0)},
                    "first": {"value": ms(0.1)},
                    "last": {"value": ms(0.9)},
                },
                {
                    "key": {"host": None, "slot": ms(0)},
                    "first": {"value": ms(0.5)},
                    "last": {"value": ms(0.5)},
                },
            ],
            "after_key": {"host": None, "slot": ms(0)},
        }
    }

    activity, after = read_timeline_page(aggregations)

    assert activity == {"web-03": [(ms(0.1), ms(0.9))], None: [(ms(0.5), ms(0.5))]}
    assert after == {"host": None, "slot": ms(0)}


def test_host_gap_longer_than_allowed_is_found() -> None:
    activity = {
        "web-03": [(ms(0), ms(0.9)), (ms(4), ms(4.5))],
        "web-01": [(ms(0), ms(0.9)), (ms(1), ms(4.5))],
    }

    silences = find_past_silences(app_source(), activity)

    assert silences == [
        Silence(
            "app",
            "web-03",
            START + 0.9 * HOUR,
            HOUR,
            gap_end=START + 4 * HOUR,
        )
    ]


def test_gap_of_exactly_the_allowance_is_quiet() -> None:
    activity = {"web-03": [(ms(0), ms(1)), (ms(2), ms(3))]}

    assert find_past_silences(app_source(), activity) == []


def test_host_override_allows_longer_gap() -> None:
    activity = {
        "web-03": [(ms(0), ms(1)), (ms(3.5), ms(4))],
        "web-01": [(ms(0), ms(4))],
    }

    assert find_past_silences(app_source({"web-03": 4 * 3600}), activity) == []


def test_source_gap_hides_host_gaps_inside() -> None:
    activity = {
        "web-01": [(ms(0), ms(1)), (ms(5), ms(6))],
        "web-03": [(ms(0), ms(0.5)), (ms(5.5), ms(6))],
    }

    silences = find_past_silences(app_source(), activity)

    assert [(item.host, item.gap_start, item.gap_end) for item in silences] == [
        (None, START + HOUR, START + 5 * HOUR)
    ]


def test_window_edges_are_ignored() -> None:
    activity = {"web-03": [(ms(10), ms(11))]}

    assert find_past_silences(app_source(), activity) == []


def test_host_gap_beyond_source_gap_is_found() -> None:
    activity = {
        "web-01": [(ms(0), ms(1)), (ms(5), ms(7))],
        "web-03": [(ms(0), ms(0.5)), (ms(9), ms(10))],
    }

    silences = find_past_silences(app_source(), activity)

    assert [(item.host, item.gap_start, item.gap_end) for item in silences] == [
        (None, START + HOUR, START + 5 * HOUR),
        (None, START + 7 * HOUR, START + 9 * HOUR),
        ("web-03", START + 0.5 * HOUR, START + 9 * HOUR),
    ]
