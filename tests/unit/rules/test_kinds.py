"""Business hours, baselines and new values: the pure parts of the other rule kinds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from socwb.errors import RuleError
from socwb.rules.catalog import DATA_EXPORT_ABOVE_BASELINE, NEW_LOGIN_LOCATION, privileged_off_hours
from socwb.rules.evaluate import (
    EntityArrival,
    Point,
    baseline_threshold,
    find_episodes,
    is_business_time,
    is_new_value,
    new_value_flags,
    outside_business_hours,
)
from socwb.rules.model import BaselineSpec, TimeWindow, to_epoch_millis
from socwb.rules.query import EvaluationTarget, baseline_query, known_values_query
from socwb.settings import OrganisationSettings

BERLIN = OrganisationSettings(timezone="Europe/Berlin", holidays=[date(2024, 12, 25)])
MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(datetime(2024, 3, 12, 7, 0, tzinfo=UTC), True, id="tuesday-08-berlin"),
        pytest.param(datetime(2024, 3, 12, 6, 59, tzinfo=UTC), False, id="tuesday-0759-berlin"),
        pytest.param(datetime(2024, 3, 12, 17, 0, tzinfo=UTC), False, id="tuesday-18-berlin"),
        pytest.param(datetime(2024, 7, 9, 6, 30, tzinfo=UTC), True, id="summer-0830-berlin"),
        pytest.param(datetime(2024, 3, 16, 10, 0, tzinfo=UTC), False, id="saturday"),
        pytest.param(datetime(2024, 12, 25, 10, 0, tzinfo=UTC), False, id="holiday"),
    ],
)
def test_is_business_time_in_local_zone(moment: datetime, expected: bool) -> None:
    assert is_business_time(moment, BERLIN) is expected


def test_outside_business_hours_keeps_night_points() -> None:
    night = Point(to_epoch_millis(datetime(2024, 3, 12, 1, 0, tzinfo=UTC)), 1)
    day = Point(to_epoch_millis(datetime(2024, 3, 12, 9, 0, tzinfo=UTC)), 1)

    assert outside_business_hours([night, day], BERLIN) == [night]


def test_privileged_off_hours_needs_accounts() -> None:
    with pytest.raises(RuleError, match="at least one privileged account"):
        privileged_off_hours([])


def test_baseline_threshold_uses_mean_of_active_buckets() -> None:
    spec = BaselineSpec(group_by=["user.name"], sum_field="socwb.data.bytes", min_sum=5.0)

    assert baseline_threshold([10.0, 0.0, 30.0], spec) == 60.0
    assert baseline_threshold([], spec) == 5.0
    assert baseline_threshold([1.0], spec) == 5.0


def test_baseline_episode_compares_window_sum() -> None:
    start = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    points = [
        Point(to_epoch_millis(start), 1, amount=40 * MIB),
        Point(to_epoch_millis(start + timedelta(minutes=50)), 1, amount=40 * MIB),
    ]

    above = find_episodes(points, DATA_EXPORT_ABOVE_BASELINE, threshold=60 * MIB)
    below = find_episodes(points, DATA_EXPORT_ABOVE_BASELINE, threshold=80 * MIB)

    assert [episode.peak for episode in above] == [80 * MIB]
    assert below == []


def arrival(user: str, address: str, first: datetime, countries: tuple[str, ...]) -> EntityArrival:
    return EntityArrival(
        entity=(user, address),
        new_events=1,
        late_events=0,
        slot_starts=(first,),
        first_event=first,
        last_event=first,
        flag_values=(countries,),
    )


def test_new_value_needs_history_and_unknown_value() -> None:
    now = datetime(2024, 5, 11, 8, 55, tzinfo=UTC)
    earlier = now - timedelta(days=1)
    known = {("user004",): {"203.0.113.10": earlier}}

    assert not is_new_value(NEW_LOGIN_LOCATION, arrival("user004", "203.0.113.10", now, ()), known)
    assert is_new_value(NEW_LOGIN_LOCATION, arrival("user004", "198.51.100.20", now, ()), known)
    assert not is_new_value(NEW_LOGIN_LOCATION, arrival("newbie", "198.51.100.20", now, ()), known)


def test_new_value_flags_new_country() -> None:
    now = datetime(2024, 5, 11, 8, 55, tzinfo=UTC)
    known_countries = {("user004",): {"DE": now - timedelta(days=3)}}

    same = new_value_flags(
        NEW_LOGIN_LOCATION, arrival("user004", "198.51.100.20", now, ("DE",)), [known_countries]
    )
    other = new_value_flags(
        NEW_LOGIN_LOCATION, arrival("user004", "198.51.100.20", now, ("US",)), [known_countries]
    )

    assert same == frozenset()
    assert other == frozenset({"is_new_country"})


HISTORY = {
    "range": {"@timestamp": {"gte": "2024-04-11T08:55:00.000Z", "lt": "2024-05-11T08:55:00.000Z"}}
}


def test_known_values_query_exact_body() -> None:
    window = TimeWindow(
        datetime(2024, 4, 11, 8, 55, tzinfo=UTC), datetime(2024, 5, 11, 8, 55, tzinfo=UTC)
    )
    targets = [EvaluationTarget(("user004",), (window,))]

    body = known_values_query(
        NEW_LOGIN_LOCATION, "source.ip", targets, arrival_end=window.end, page_size=10
    )

    assert body == {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    {"term": {"event.category": "authentication"}},
                    {"term": {"event.outcome": "success"}},
                    {"range": {"event.ingested": {"lt": "2024-05-11T08:55:00.000Z"}}},
                    {
                        "bool": {
                            "should": [
                                {
                                    "bool": {
                                        "filter": [
                                            {"term": {"user.name": "user004"}},
                                            {
                                                "bool": {
                                                    "should": [HISTORY],
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
            "known": {
                "composite": {
                    "size": 10,
                    "sources": [
                        {"g0": {"terms": {"field": "user.name", "missing_bucket": True}}},
                        {"value": {"terms": {"field": "source.ip"}}},
                    ],
                },
                "aggs": {"first": {"min": {"field": "@timestamp"}}},
            }
        },
    }


def test_baseline_query_uses_utc_fixed_buckets() -> None:
    window = TimeWindow(
        datetime(2024, 4, 17, 10, 0, tzinfo=UTC), datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    )
    targets = [EvaluationTarget(("carol",), (window,))]

    body = baseline_query(DATA_EXPORT_ABOVE_BASELINE, targets, arrival_end=window.end)

    history = body["aggs"]["history"]
    assert history["composite"]["sources"] == [
        {"g0": {"terms": {"field": "user.name"}}},
        {"bucket": {"date_histogram": {"field": "@timestamp", "fixed_interval": "3600s"}}},
    ]
    assert history["aggs"] == {"amount": {"sum": {"field": "socwb.data.bytes"}}}
    assert body["query"]["bool"]["filter"][0] == {"term": {"event.action": "data-export"}}
