"""Sliding-window evaluation, evaluation ranges, response parsing and silences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socwb.catalogue import Source
from socwb.rules.catalog import AUTH_FAILURE_SPIKE, IAM_POLICY_CHANGE, MALWARE_DETECTED
from socwb.rules.evaluate import (
    Point,
    evaluation_ranges,
    find_episodes,
    find_silences,
    floor_time,
    read_arrival_page,
    read_points_page,
)
from socwb.rules.model import ThresholdSpec, TimeWindow, to_epoch_millis

BASE = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def points_at(*offsets: float) -> list[Point]:
    """One event at each offset, in seconds after BASE."""
    return [Point(to_epoch_millis(BASE + timedelta(seconds=offset)), 1) for offset in offsets]


def every(start: float, step: float, count: int) -> list[float]:
    return [start + step * position for position in range(count)]


def test_exactly_ten_failures_do_not_alert() -> None:
    assert find_episodes(points_at(*every(0, 15, 10)), AUTH_FAILURE_SPIKE) == []


def test_eleven_failures_alert_once() -> None:
    episodes = find_episodes(points_at(*every(0, 15, 11)), AUTH_FAILURE_SPIKE)

    assert len(episodes) == 1
    assert episodes[0].first_event == BASE
    assert episodes[0].last_event == BASE + timedelta(seconds=150)
    assert episodes[0].count == 11
    assert episodes[0].peak == 11


def test_burst_straddling_five_minute_boundary_alerts() -> None:
    # 6 failures 10:03:00-10:04:50 and 5 failures 10:05:00-10:06:30: no fixed
    # 5-minute bucket contains more than 6, but 10:03:00-10:08:00 contains 11.
    offsets = [180 + 22 * step for step in range(6)] + every(300, 22.5, 5)

    episodes = find_episodes(points_at(*offsets), AUTH_FAILURE_SPIKE)

    assert len(episodes) == 1
    assert episodes[0].first_event == BASE + timedelta(minutes=3)
    assert episodes[0].count == 11


def test_window_is_half_open_at_lookback() -> None:
    # The eleventh event is exactly 5 minutes after the first: two windows of 10.
    assert find_episodes(points_at(*every(0, 30, 11)), AUTH_FAILURE_SPIKE) == []
    just_inside = points_at(*every(0, 29.9999, 11))
    assert len(find_episodes(just_inside, AUTH_FAILURE_SPIKE)) == 1


def test_events_in_same_millisecond_count_separately() -> None:
    stamp = to_epoch_millis(BASE)

    episodes = find_episodes([Point(stamp, 11)], AUTH_FAILURE_SPIKE)

    assert [episode.count for episode in episodes] == [11]


def test_bursts_far_apart_are_two_episodes() -> None:
    offsets = every(0, 10, 11) + every(3600, 10, 11)

    episodes = find_episodes(points_at(*offsets), AUTH_FAILURE_SPIKE)

    assert [episode.count for episode in episodes] == [11, 11]


def test_match_rule_groups_events_within_lookback() -> None:
    # IAM lookback is 15 minutes: events 10 minutes apart chain, 20 minutes apart split.
    offsets = [0, 600, 1200, 1200 + 1200]

    episodes = find_episodes(points_at(*offsets), IAM_POLICY_CHANGE)

    assert [(episode.count, episode.peak) for episode in episodes] == [(3, 2), (1, 1)]


def test_cardinality_counts_distinct_values() -> None:
    rule = AUTH_FAILURE_SPIKE.model_copy(
        update={
            "spec": ThresholdSpec(
                group_by=["source.ip"], metric="cardinality", metric_field="user.name", threshold=10
            )
        }
    )
    stamp = to_epoch_millis(BASE)
    many_events_few_users = [Point(stamp + step, 50, f"user{step % 3}") for step in range(30)]
    many_users = [Point(stamp + step * 1000, 1, f"user{step}") for step in range(12)]

    assert find_episodes(many_events_few_users, rule) == []
    assert [episode.peak for episode in find_episodes(many_users, rule)] == [12]


def test_evaluation_ranges_merge_adjacent_slots() -> None:
    lookback = timedelta(minutes=5)
    slots = [BASE, BASE + timedelta(minutes=5), BASE + timedelta(hours=2)]

    ranges = evaluation_ranges(slots, lookback)

    assert ranges == (
        TimeWindow(BASE - lookback, BASE + timedelta(minutes=15)),
        TimeWindow(BASE + timedelta(hours=2) - lookback, BASE + timedelta(hours=2, minutes=10)),
    )


def test_floor_time_uses_epoch_alignment() -> None:
    moment = datetime(2024, 5, 1, 10, 7, 42, 123000, tzinfo=UTC)

    assert floor_time(moment, timedelta(minutes=5)) == datetime(2024, 5, 1, 10, 5, tzinfo=UTC)


def test_read_arrival_page_decodes_buckets() -> None:
    aggregations = {
        "current": {
            "entities": {
                "after_key": {"g0": "pc-07", "g1": None},
                "buckets": [
                    {
                        "key": {"g0": "pc-07", "g1": None},
                        "doc_count": 3,
                        "late": {"doc_count": 1},
                        "slots": {"buckets": [{"key": to_epoch_millis(BASE), "doc_count": 3}]},
                    }
                ],
            }
        }
    }

    arrivals, after = read_arrival_page(MALWARE_DETECTED, aggregations)

    assert after == {"g0": "pc-07", "g1": None}
    assert arrivals[0].entity == ("pc-07", None)
    assert arrivals[0].new_events == 3
    assert arrivals[0].late_events == 1
    assert arrivals[0].slot_starts == (BASE,)


def test_read_arrival_page_sets_flags() -> None:
    aggregations = {
        "current": {
            "entities": {
                "buckets": [
                    {
                        "key": {"g0": "alice"},
                        "doc_count": 1,
                        "late": {"doc_count": 0},
                        "slots": {"buckets": []},
                        "flag_is_escalation": {"value": 1.0},
                    }
                ]
            }
        }
    }

    arrivals, after = read_arrival_page(IAM_POLICY_CHANGE, aggregations)

    assert arrivals[0].flags == frozenset({"is_escalation"})
    assert after is None


def test_read_points_page_empty_page_ends_paging() -> None:
    points, after = read_points_page(
        AUTH_FAILURE_SPIKE, {"points": {"after_key": {"g0": "a", "ts": 1}, "buckets": []}}
    )

    assert points == {}
    assert after is None


def make_source(**overrides: object) -> Source:
    fields: dict[str, object] = {
        "key": "edr",
        "title": "Endpoint security",
        "criteria": ["CC7.1"],
        "formats": ["sentinelone"],
        "log_types": [{"key": "any", "title": "Any", "all_of": [{"event.kind": ["event"]}]}],
        "retention_days": 90,
        "max_silence_seconds": 900,
    }
    fields.update(overrides)
    return Source.model_validate(fields)


def test_silent_host_alerts_and_sending_host_does_not() -> None:
    source = make_source()
    now = datetime(2024, 5, 1, 14, 18, tzinfo=UTC)
    hosts = {
        "db-02": datetime(2024, 5, 1, 14, 0, 5, tzinfo=UTC),
        "app-03": datetime(2024, 5, 1, 14, 17, tzinfo=UTC),
    }

    silences = find_silences(
        source, last_ingested=hosts["app-03"], hosts=hosts, now=now, first_run_at=now
    )

    assert [(item.host, item.gap_start) for item in silences] == [("db-02", hosts["db-02"])]


def test_silence_at_exact_max_is_not_a_gap() -> None:
    source = make_source()
    last = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)

    at_limit = find_silences(
        source, last_ingested=last, hosts={}, now=last + timedelta(seconds=900), first_run_at=last
    )
    past_limit = find_silences(
        source, last_ingested=last, hosts={}, now=last + timedelta(seconds=901), first_run_at=last
    )

    assert at_limit == []
    assert [item.host for item in past_limit] == [None]


def test_host_override_of_max_silence_applies() -> None:
    source = make_source(host_max_silence_seconds={"batch-01": 86_400})
    now = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
    hosts = {"batch-01": now - timedelta(hours=5), "web-01": now}

    silences = find_silences(source, last_ingested=now, hosts=hosts, now=now, first_run_at=now)

    assert silences == []


def test_never_sent_source_alerts_after_max_silence() -> None:
    source = make_source()
    first_run = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

    early = find_silences(
        source, last_ingested=None, hosts={}, now=first_run, first_run_at=first_run
    )
    later = find_silences(
        source,
        last_ingested=None,
        hosts={},
        now=first_run + timedelta(hours=1),
        first_run_at=first_run,
    )

    assert early == []
    assert len(later) == 1
    assert later[0].has_never_sent
    assert later[0].gap_start == first_run
