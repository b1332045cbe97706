"""Attack-pattern rules: spraying, failures then success, MFA push fatigue, impossible travel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socwb.rules.catalog import (
    FAILURES_THEN_SUCCESS,
    IMPOSSIBLE_TRAVEL,
    MFA_PUSH_FATIGUE,
    PASSWORD_SPRAYING,
    get_rule,
)
from socwb.rules.evaluate import Point, find_episodes, read_points_page
from socwb.rules.geography import COUNTRY_CENTROIDS, country_distance_km, great_circle_km
from socwb.rules.model import Severity, TimeWindow, to_epoch_millis
from socwb.rules.query import EvaluationTarget, evaluation_query, selection_filter

BASE = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def millis(seconds: float) -> int:
    return to_epoch_millis(BASE + timedelta(seconds=seconds))


def attempt(seconds: float) -> Point:
    return Point(millis(seconds), 1, attempts=1)


def success(seconds: float) -> Point:
    return Point(millis(seconds), 1, successes=1)


def login(seconds: float, country: str) -> Point:
    return Point(millis(seconds), 1, value=country)


@pytest.mark.parametrize(
    ("rule_id", "lookback"),
    [
        ("password_spraying", timedelta(minutes=5)),
        ("failures_then_success", timedelta(minutes=10)),
        ("mfa_push_fatigue", timedelta(minutes=15)),
        ("impossible_travel", timedelta(hours=20)),
    ],
)
def test_attack_rule_severity_and_response_time(rule_id: str, lookback: timedelta) -> None:
    rule = get_rule(rule_id)

    assert rule.severity is Severity.HIGH
    assert rule.response_time == timedelta(hours=1)
    assert rule.lookback == lookback
    assert "CC7.2" in rule.criteria


def test_spraying_eleven_users_alert() -> None:
    points = [Point(millis(20 * n), 1, value=f"user{n:03d}") for n in range(11)]

    episodes = find_episodes(points, PASSWORD_SPRAYING)

    assert len(episodes) == 1
    assert episodes[0].peak == 11
    assert episodes[0].count == 11


def test_spraying_ten_users_many_events_no_alert() -> None:
    points = [Point(millis(n), 5, value=f"user{n % 10:03d}") for n in range(200)]

    assert find_episodes(points, PASSWORD_SPRAYING) == []


def test_five_failures_then_success_alert() -> None:
    points = [*(attempt(60 * n) for n in range(5)), success(400)]

    episodes = find_episodes(points, FAILURES_THEN_SUCCESS)

    assert len(episodes) == 1
    assert episodes[0].first_event == BASE
    assert episodes[0].last_event == BASE + timedelta(seconds=400)
    assert episodes[0].count == 6
    assert episodes[0].peak == 5


def test_four_failures_then_success_no_alert() -> None:
    points = [*(attempt(60 * n) for n in range(4)), success(300)]

    assert find_episodes(points, FAILURES_THEN_SUCCESS) == []


def test_failures_without_success_no_alert() -> None:
    assert find_episodes([attempt(10 * n) for n in range(20)], FAILURES_THEN_SUCCESS) == []


def test_success_before_failures_no_alert() -> None:
    points = [success(0), *(attempt(10 + 10 * n) for n in range(8))]

    assert find_episodes(points, FAILURES_THEN_SUCCESS) == []


def test_failures_older_than_ten_minutes_do_not_count() -> None:
    # The first failure is 10 minutes and 1 ms before the success, so only 4 count.
    points = [attempt(0), *(attempt(300 + n) for n in range(4)), success(600.001)]

    assert find_episodes(points, FAILURES_THEN_SUCCESS) == []


def test_failure_exactly_ten_minutes_before_success_counts() -> None:
    points = [attempt(0), *(attempt(300 + n) for n in range(4)), success(600)]

    episodes = find_episodes(points, FAILURES_THEN_SUCCESS)

    assert [episode.first_event for episode in episodes] == [BASE]


def test_mfa_fatigue_needs_five_denials() -> None:
    four = [*(attempt(80 * n) for n in range(4)), success(400)]
    five = [*(attempt(80 * n) for n in range(5)), success(500)]

    assert find_episodes(four, MFA_PUSH_FATIGUE) == []
    assert len(find_episodes(five, MFA_PUSH_FATIGUE)) == 1


def test_two_accepted_pushes_give_one_episode() -> None:
    points = [*(attempt(60 * n) for n in range(6)), success(400), success(410)]

    episodes = find_episodes(points, MFA_PUSH_FATIGUE)

    assert len(episodes) == 1
    assert episodes[0].last_event == BASE + timedelta(seconds=410)
    assert episodes[0].count == 8


def test_sequence_query_adds_step_filters() -> None:
    target = EvaluationTarget(("user001",), (TimeWindow(BASE, BASE + timedelta(minutes=30)),))

    body = evaluation_query(MFA_PUSH_FATIGUE, [target], arrival_end=BASE + timedelta(hours=1))

    mfa_event = {
        "bool": {
            "should": [
                {"term": {"socwb.auth.is_mfa_event": True}},
                {"wildcard": {"event.action": {"value": "*mfa*"}}},
            ],
            "minimum_should_match": 1,
        }
    }
    assert body["query"]["bool"]["filter"][:4] == [
        {"term": {"event.category": "authentication"}},
        mfa_event,
        {"bool": {"must_not": [{"term": {"event.type": "change"}}]}},
        {
            "bool": {
                "should": [
                    {"bool": {"filter": [{"term": {"event.outcome": "failure"}}]}},
                    {"bool": {"filter": [{"term": {"event.outcome": "success"}}]}},
                ],
                "minimum_should_match": 1,
            }
        },
    ]
    assert body["aggs"]["points"] == {
        "composite": {
            "size": 1000,
            "sources": [
                {"g0": {"terms": {"field": "user.name"}}},
                {"ts": {"terms": {"field": "@timestamp"}}},
            ],
        },
        "aggs": {
            "steps": {
                "filters": {
                    "filters": {
                        "attempt": {"bool": {"filter": [{"term": {"event.outcome": "failure"}}]}},
                        "success": {"bool": {"filter": [{"term": {"event.outcome": "success"}}]}},
                    }
                }
            }
        },
    }


def test_selection_filter_of_other_rules_is_their_filter() -> None:
    assert selection_filter(PASSWORD_SPRAYING) == PASSWORD_SPRAYING.filter


def test_read_points_page_reads_step_counts() -> None:
    bucket: dict[str, Any] = {
        "key": {"g0": "user001", "ts": millis(0)},
        "doc_count": 3,
        "steps": {"buckets": {"attempt": {"doc_count": 2}, "success": {"doc_count": 1}}},
    }
    aggregations = {"points": {"buckets": [bucket], "after_key": bucket["key"]}}

    points, _ = read_points_page(MFA_PUSH_FATIGUE, aggregations)

    assert points == {("user001",): [Point(millis(0), 3, attempts=2, successes=1)]}


def test_travel_query_adds_country_source() -> None:
    target = EvaluationTarget(("user001",), (TimeWindow(BASE, BASE + timedelta(hours=1)),))

    body = evaluation_query(IMPOSSIBLE_TRAVEL, [target], arrival_end=BASE)

    assert body["aggs"]["points"]["composite"]["sources"] == [
        {"g0": {"terms": {"field": "user.name"}}},
        {"ts": {"terms": {"field": "@timestamp"}}},
        {"value": {"terms": {"field": "source.geo.country_iso_code"}}},
    ]


def test_germany_to_japan_in_36_minutes_alerts() -> None:
    points = [login(0, "DE"), login(4, "DE"), login(36 * 60, "JP")]

    episodes = find_episodes(points, IMPOSSIBLE_TRAVEL)

    assert len(episodes) == 1
    assert episodes[0].first_event == BASE + timedelta(seconds=4)
    assert episodes[0].last_event == BASE + timedelta(minutes=36)
    assert episodes[0].evidence["from_country"] == "DE"
    assert episodes[0].evidence["to_country"] == "JP"
    assert 8500 < episodes[0].evidence["distance_km"] < 9500
    assert episodes[0].peak > 14_000


def test_germany_to_japan_after_twelve_hours_no_alert() -> None:
    points = [login(0, "DE"), login(12 * 3600, "JP")]

    assert find_episodes(points, IMPOSSIBLE_TRAVEL) == []


def test_neighbouring_countries_within_hour_no_alert() -> None:
    # Germany and the Netherlands are about 350 km apart.
    points = [login(0, "DE"), login(3600, "NL")]

    assert find_episodes(points, IMPOSSIBLE_TRAVEL) == []


def test_same_country_no_alert() -> None:
    assert find_episodes([login(0, "US"), login(1, "US")], IMPOSSIBLE_TRAVEL) == []


def test_country_without_centroid_is_skipped() -> None:
    assert find_episodes([login(0, "DE"), login(60, "ZZ")], IMPOSSIBLE_TRAVEL) == []


def test_logins_in_same_millisecond_alert_finite_speed() -> None:
    episodes = find_episodes([login(0, "DE"), login(0, "JP")], IMPOSSIBLE_TRAVEL)

    assert len(episodes) == 1
    assert episodes[0].peak == pytest.approx(episodes[0].evidence["distance_km"] * 3600, rel=1e-3)


def test_great_circle_quarter_meridian() -> None:
    assert great_circle_km((0.0, 0.0), (90.0, 0.0)) == pytest.approx(10_007.5, abs=1)


def test_country_distance_is_symmetric_and_case_insensitive() -> None:
    assert country_distance_km("de", "JP") == country_distance_km("JP", "DE")
    assert country_distance_km("DE", "DE") == 0.0
    assert country_distance_km("DE", "ZZ") is None


def test_centroids_are_valid_coordinates() -> None:
    for code, (latitude, longitude) in COUNTRY_CENTROIDS.items():
        assert len(code) == 2
        assert -90 <= latitude <= 90
        assert -180 <= longitude <= 180
