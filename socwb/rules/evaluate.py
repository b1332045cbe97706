"""Pure bucket evaluation: aggregation responses in, entities, episodes and silences out.

A threshold condition holds for a window `[t, t + lookback)` that starts at any
event time `t`. The engine returns event counts per entity and per distinct
`@timestamp` (millisecond precision), and `find_episodes` slides the window in
Python, so a burst that straddles fixed histogram buckets is still counted.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from socwb.catalogue import Source
from socwb.rules.geography import country_distance_km
from socwb.rules.model import (
    BaselineSpec,
    NewValueSpec,
    Rule,
    SequenceSpec,
    ThresholdSpec,
    TimeWindow,
    TravelSpec,
    from_epoch_millis,
    to_epoch_millis,
)
from socwb.rules.query import AfterKey, EntityKey, group_source_names
from socwb.settings import OrganisationSettings

Metric = Literal["count", "cardinality", "sum"]


@dataclass(frozen=True)
class EntityArrival:
    """Step 1 result for one entity: what arrived for it in the arrival window.

    Attributes:
        entity: Group-by values.
        new_events: Matching events received in the window (future-dated ones excluded).
        late_events: Those of them received later than the rule's `max_lateness`.
        slot_starts: Starts of the `lookback`-wide UTC slots that hold their event times.
        flags: Alert flags that at least one of the events set.
        first_event: Earliest event time among them (new-value rules only).
        last_event: Latest event time among them (new-value rules only).
        flag_values: Values of each flag field among them (new-value rules only).
    """

    entity: EntityKey
    new_events: int
    late_events: int
    slot_starts: tuple[datetime, ...]
    flags: frozenset[str] = frozenset()
    first_event: datetime | None = None
    last_event: datetime | None = None
    flag_values: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Point:
    """Events of one entity at one distinct event time.

    Attributes:
        value: The value of the rule's `point_value_field`: the counted field of
            cardinality rules, the country of travel rules.
        amount: The sum of the summed field, for baseline rules.
        attempts: Events among them that match the attempt filter, for sequence rules.
        successes: Events among them that match the success filter, for sequence rules.
    """

    timestamp_ms: int
    count: int
    value: str | None = None
    amount: float = 0.0
    attempts: int = 0
    successes: int = 0


@dataclass(frozen=True)
class Episode:
    """A run of events of one entity whose windows meet the condition.

    Attributes:
        first_event: Time of the first event in a qualifying window.
        last_event: Time of the last event in a qualifying window.
        count: Events between the two, both included, among the evaluated points.
        peak: Highest metric value of any window (event count, distinct values,
            sum, attempts before a success, or travel speed in km/h).
        evidence: Facts of the peak window that the alert shows, e.g. the two
            countries of a travel rule.
    """

    first_event: datetime
    last_event: datetime
    count: int
    peak: float
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _Span:
    first: int
    last: int
    peak: float
    evidence: Mapping[str, Any] = field(default_factory=dict)


def read_arrival_page(
    rule: Rule, aggregations: Mapping[str, Any]
) -> tuple[list[EntityArrival], AfterKey | None]:
    """Read one page of `arrival_query` buckets.

    Returns:
        The entities of the page, and the `after_key` of the next page, or None
        when this page was the last.
    """
    composite = aggregations["current"]["entities"]
    names = group_source_names(rule)
    arrivals = []
    for bucket in composite["buckets"]:
        flags = frozenset(
            name for name in rule.flags if (bucket[f"flag_{name}"].get("value") or 0) >= 1
        )
        slots = tuple(from_epoch_millis(slot["key"]) for slot in bucket["slots"]["buckets"])
        first = (bucket.get("first") or {}).get("value")
        last = (bucket.get("last") or {}).get("value")
        arrivals.append(
            EntityArrival(
                entity=_entity_key(bucket["key"], names),
                new_events=int(bucket["doc_count"]),
                late_events=int(bucket["late"]["doc_count"]),
                slot_starts=slots,
                flags=flags,
                first_event=None if first is None else from_epoch_millis(first),
                last_event=None if last is None else from_epoch_millis(last),
                flag_values=_flag_values(rule, bucket),
            )
        )
    return arrivals, _next_after(composite)


def _flag_values(rule: Rule, bucket: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    if not isinstance(rule.spec, NewValueSpec):
        return ()
    return tuple(
        tuple(str(item["key"]) for item in bucket[f"values{position}"]["buckets"])
        for position in range(len(rule.spec.flag_fields))
    )


def read_points_page(
    rule: Rule, aggregations: Mapping[str, Any]
) -> tuple[dict[EntityKey, list[Point]], AfterKey | None]:
    """Read one page of `evaluation_query` buckets, grouped by entity."""
    composite = aggregations["points"]
    names = group_source_names(rule)
    points: dict[EntityKey, list[Point]] = {}
    for bucket in composite["buckets"]:
        key = bucket["key"]
        value = key.get("value")
        steps = (bucket.get("steps") or {}).get("buckets") or {}
        point = Point(
            timestamp_ms=int(key["ts"]),
            count=int(bucket["doc_count"]),
            value=None if value is None else str(value),
            amount=_bucket_amount(rule, bucket),
            attempts=int((steps.get("attempt") or {}).get("doc_count") or 0),
            successes=int((steps.get("success") or {}).get("doc_count") or 0),
        )
        points.setdefault(_entity_key(key, names), []).append(point)
    return points, _next_after(composite)


def _bucket_amount(rule: Rule, bucket: Mapping[str, Any]) -> float:
    """Return a bucket's summed field, or its event count for a counting baseline rule."""
    if isinstance(rule.spec, BaselineSpec) and rule.spec.sum_field is None:
        return float(bucket["doc_count"])
    return float((bucket.get("amount") or {}).get("value") or 0.0)


def _entity_key(key: Mapping[str, Any], names: Sequence[str]) -> EntityKey:
    return tuple(None if key[name] is None else str(key[name]) for name in names)


def _next_after(composite: Mapping[str, Any]) -> AfterKey | None:
    # A page shorter than the requested size may still carry an after_key, and
    # the next page is then empty; an empty page ends the paging.
    if not composite["buckets"]:
        return None
    after: AfterKey | None = composite.get("after_key")
    return after


def evaluation_ranges(
    slot_starts: Iterable[datetime], lookback: timedelta
) -> tuple[TimeWindow, ...]:
    """Return the merged event-time ranges that hold every window touching the new events.

    A window of length `lookback` that contains an event of the slot
    `[s, s + lookback)` lies inside `[s - lookback, s + 2 * lookback)`.
    """
    ranges: list[TimeWindow] = []
    for start in sorted(slot_starts):
        window = TimeWindow(start - lookback, start + 2 * lookback)
        if ranges and window.start <= ranges[-1].end:
            ranges[-1] = TimeWindow(ranges[-1].start, max(ranges[-1].end, window.end))
        else:
            ranges.append(window)
    return tuple(ranges)


def find_episodes(
    points: Sequence[Point], rule: Rule, threshold: float | None = None
) -> list[Episode]:
    """Slide the rule's window over one entity's points and return its episodes.

    A window `[t, t + lookback)` starts at each point; it qualifies when its
    metric exceeds the threshold (match rules: any event qualifies). A sequence
    rule qualifies the span from the first counted attempt to each success with
    enough attempts, and a travel rule the span between two events too far apart.
    Qualifying windows or spans that overlap, or follow each other by less than
    `lookback`, form one episode.

    Args:
        points: One entity's points, in any order.
        rule: The rule, which gives the window length, metric and threshold.
        threshold: Overrides the rule's threshold, e.g. with a baseline rule's
            per-entity limit.
    """
    ordered = sorted(points, key=lambda point: (point.timestamp_ms, point.value or ""))
    lookback_ms = int(rule.lookback.total_seconds() * 1000)
    if isinstance(rule.spec, SequenceSpec):
        spans = _sequence_spans(ordered, lookback_ms, rule.spec.min_attempts)
    elif isinstance(rule.spec, TravelSpec):
        spans = _travel_spans(ordered, lookback_ms, rule.spec.max_speed_kmh)
    else:
        limit = _threshold(rule) if threshold is None else threshold
        spans = _qualifying_spans(ordered, lookback_ms, limit, _metric(rule))
    episodes = []
    for span in _merge_spans(spans, ordered, lookback_ms):
        first = ordered[span.first].timestamp_ms
        last = ordered[span.last].timestamp_ms
        count = sum(point.count for point in ordered[span.first : span.last + 1])
        episodes.append(
            Episode(
                from_epoch_millis(first),
                from_epoch_millis(last),
                count,
                span.peak,
                dict(span.evidence),
            )
        )
    return episodes


def _threshold(rule: Rule) -> int:
    return rule.spec.threshold if isinstance(rule.spec, ThresholdSpec) else 0


def _metric(rule: Rule) -> Metric:
    if isinstance(rule.spec, BaselineSpec):
        return "sum"
    if isinstance(rule.spec, ThresholdSpec):
        return rule.spec.metric
    return "count"


@dataclass
class _WindowState:
    metric_name: Metric
    total: int = 0
    amount: float = 0.0
    values: Counter[str] = field(default_factory=Counter)

    def add(self, point: Point) -> None:
        self.total += point.count
        self.amount += point.amount
        if point.value is not None:
            self.values[point.value] += point.count

    def remove(self, point: Point) -> None:
        self.total -= point.count
        self.amount -= point.amount
        if point.value is not None:
            self.values[point.value] -= point.count
            if self.values[point.value] <= 0:
                del self.values[point.value]

    @property
    def metric(self) -> float:
        if self.metric_name == "cardinality":
            return len(self.values)
        if self.metric_name == "sum":
            return self.amount
        return self.total


def _qualifying_spans(
    ordered: Sequence[Point], lookback_ms: int, threshold: float, metric: Metric
) -> list[_Span]:
    state = _WindowState(metric)
    spans = []
    end = 0
    for start, point in enumerate(ordered):
        while end < len(ordered) and ordered[end].timestamp_ms < point.timestamp_ms + lookback_ms:
            state.add(ordered[end])
            end += 1
        if state.metric > threshold:
            spans.append(_Span(start, end - 1, state.metric))
        state.remove(point)
    return spans


def _sequence_spans(ordered: Sequence[Point], lookback_ms: int, min_attempts: int) -> list[_Span]:
    """Return a span from the first counted attempt to each success preceded by enough attempts.

    The attempts counted for a success at `t` are those in `[t - lookback, t]`.
    """
    spans = []
    attempt_indexes: deque[int] = deque()
    attempts = 0
    for index, point in enumerate(ordered):
        if point.attempts:
            attempt_indexes.append(index)
            attempts += point.attempts
        oldest_allowed = point.timestamp_ms - lookback_ms
        while attempt_indexes and ordered[attempt_indexes[0]].timestamp_ms < oldest_allowed:
            attempts -= ordered[attempt_indexes.popleft()].attempts
        if point.successes and attempts >= min_attempts:
            spans.append(_Span(attempt_indexes[0], index, attempts))
    return spans


def _travel_spans(ordered: Sequence[Point], lookback_ms: int, max_speed_kmh: float) -> list[_Span]:
    """Return a span for each event whose country is too far from an earlier event's country.

    Each event is compared with the latest earlier event of every other
    country within `lookback`, which gives the highest speed for that pair.
    """
    spans = []
    latest: dict[str, int] = {}
    for index, point in enumerate(ordered):
        if point.value is None:
            continue
        for country, earlier in latest.items():
            elapsed_ms = point.timestamp_ms - ordered[earlier].timestamp_ms
            if country == point.value or elapsed_ms >= lookback_ms:
                continue
            distance = country_distance_km(country, point.value)
            if distance is None:
                continue
            # Events in the same second count as one second apart, so the speed stays finite.
            speed = distance / (max(elapsed_ms, 1000) / 3_600_000)
            if speed > max_speed_kmh:
                evidence = {
                    "from_country": country,
                    "to_country": point.value,
                    "distance_km": round(distance),
                    "speed_kmh": round(speed),
                }
                spans.append(_Span(earlier, index, speed, evidence))
        latest[point.value] = index
    return spans


def _merge_spans(spans: list[_Span], ordered: Sequence[Point], lookback_ms: int) -> list[_Span]:
    merged: list[_Span] = []
    for span in sorted(spans, key=lambda item: (item.first, item.last)):
        if merged:
            previous = merged[-1]
            gap = ordered[span.first].timestamp_ms - ordered[previous.last].timestamp_ms
            if gap < lookback_ms:
                previous.last = max(previous.last, span.last)
                if span.peak > previous.peak:
                    previous.peak = span.peak
                    previous.evidence = span.evidence
                continue
        merged.append(_Span(span.first, span.last, span.peak, span.evidence))
    return merged


def floor_time(moment: datetime, step: timedelta) -> datetime:
    """Floor a time to a multiple of `step` counted from the Unix epoch (UTC)."""
    step_ms = int(step.total_seconds() * 1000)
    millis = to_epoch_millis(moment)
    return from_epoch_millis(millis - millis % step_ms)


@dataclass(frozen=True)
class Silence:
    """A source, or one host of it, that sent nothing for longer than its max silence.

    Attributes:
        source: Catalogue key of the source.
        host: The silent host, or None when the whole source is silent.
        gap_start: Newest `event.ingested`, or the detector's first run when the
            source never sent anything.
        max_silence: The allowed silence that was exceeded.
        has_never_sent: True when the source has no event at all.
        gap_end: Time of the first event after a past gap; None while the gap lasts.
    """

    source: str
    host: str | None
    gap_start: datetime
    max_silence: timedelta
    has_never_sent: bool = False
    gap_end: datetime | None = None


def find_silences(
    source: Source,
    *,
    last_ingested: datetime | None,
    hosts: Mapping[str, datetime],
    now: datetime,
    first_run_at: datetime,
) -> list[Silence]:
    """Return the silences of one source at `now`.

    When the whole source is silent, one source-level silence is returned and
    its hosts are not listed separately. A host's own `max_silence` override applies.
    """
    if last_ingested is None:
        if now - first_run_at > source.max_silence():
            return [Silence(source.key, None, first_run_at, source.max_silence(), True)]
        return []
    if now - last_ingested > source.max_silence():
        return [Silence(source.key, None, last_ingested, source.max_silence())]
    silences = []
    for host, last in sorted(hosts.items()):
        allowed = source.max_silence(host)
        if now - last > allowed:
            silences.append(Silence(source.key, host, last, allowed))
    return silences


Activity = dict[str | None, list[tuple[int, int]]]
"""Per host (None for events without one), the first and last event time (epoch
milliseconds) of each timeline slot with events."""


def read_timeline_page(aggregations: Mapping[str, Any]) -> tuple[Activity, AfterKey | None]:
    """Read one page of `silence_timeline_query` buckets."""
    composite = aggregations["timeline"]
    activity: Activity = {}
    for bucket in composite["buckets"]:
        host = bucket["key"]["host"]
        span = (int(bucket["first"]["value"]), int(bucket["last"]["value"]))
        activity.setdefault(None if host is None else str(host), []).append(span)
    return activity, _next_after(composite)


def find_past_silences(source: Source, activity: Activity) -> list[Silence]:
    """Return the gaps between events of one source, and of each host, longer than allowed.

    Only gaps between two events count: the time before the first and after
    the last event is left to the check at the present. A host gap is listed
    only when a part of it outside the gaps of the whole source is longer than
    the host's allowance, as the check at the present lists no host of a
    silent source.
    """
    everything = [span for spans in activity.values() for span in spans]
    source_gaps = _gaps(everything, source.max_silence())
    silences = [_past_silence(source, None, gap) for gap in source_gaps]
    for host in sorted(name for name in activity if name is not None):
        allowed = source.max_silence(host)
        for gap in _gaps(activity[host], allowed):
            if _longest_outside(gap, source_gaps) > allowed.total_seconds() * 1000:
                silences.append(_past_silence(source, host, gap))
    return silences


def _longest_outside(gap: tuple[int, int], covers: Sequence[tuple[int, int]]) -> int:
    """Return the longest part of `gap` (milliseconds) that no span of `covers` overlaps."""
    longest = 0
    position = gap[0]
    for start, end in sorted(covers):
        if end <= position or start >= gap[1]:
            continue
        longest = max(longest, start - position)
        position = max(position, end)
    return max(longest, gap[1] - position)


def _gaps(spans: Iterable[tuple[int, int]], allowed: timedelta) -> list[tuple[int, int]]:
    allowed_ms = int(allowed.total_seconds() * 1000)
    gaps = []
    last_seen: int | None = None
    for first, last in sorted(spans):
        if last_seen is not None and first - last_seen > allowed_ms:
            gaps.append((last_seen, first))
        last_seen = last if last_seen is None else max(last_seen, last)
    return gaps


def _past_silence(source: Source, host: str | None, gap: tuple[int, int]) -> Silence:
    start, end = gap
    return Silence(
        source.key,
        host,
        from_epoch_millis(start),
        source.max_silence(host),
        gap_end=from_epoch_millis(end),
    )


def is_business_time(moment: datetime, organisation: OrganisationSettings) -> bool:
    """Return whether a UTC time falls in the organisation's business hours, in its time zone.

    Business time is a business day that is not a holiday, from the start of
    business hours (included) to their end (excluded), on the local wall clock.
    """
    local = moment.astimezone(organisation.zone)
    if local.weekday() not in organisation.business_days:
        return False
    if local.date() in organisation.holidays:
        return False
    wall = local.time().replace(tzinfo=None)
    return organisation.business_hours_start <= wall < organisation.business_hours_end


def outside_business_hours(
    points: Sequence[Point], organisation: OrganisationSettings
) -> list[Point]:
    """Return the points whose time is outside the organisation's business hours."""
    return [
        point
        for point in points
        if not is_business_time(from_epoch_millis(point.timestamp_ms), organisation)
    ]


def read_baseline_page(
    rule: Rule, aggregations: Mapping[str, Any]
) -> tuple[dict[EntityKey, list[float]], AfterKey | None]:
    """Read one page of `baseline_query` buckets: per entity, the sums of its active buckets."""
    buckets, after = read_history_page(rule, aggregations)
    sums = {entity: [amount for _, amount in items] for entity, items in buckets.items()}
    return sums, after


HistoryBuckets = dict[EntityKey, list[tuple[int, float]]]
"""Per entity, the start (epoch milliseconds) and sum of each active history bucket."""


def read_history_page(
    rule: Rule, aggregations: Mapping[str, Any]
) -> tuple[HistoryBuckets, AfterKey | None]:
    """Read one page of `baseline_query` buckets, keeping each bucket's start."""
    composite = aggregations["history"]
    names = group_source_names(rule)
    buckets: HistoryBuckets = {}
    for bucket in composite["buckets"]:
        start = int(bucket["key"]["bucket"])
        entry = (start, _bucket_amount(rule, bucket))
        buckets.setdefault(_entity_key(bucket["key"], names), []).append(entry)
    return buckets, _next_after(composite)


def baseline_threshold(bucket_sums: Sequence[float], spec: BaselineSpec) -> float:
    """Return the window sum above which an entity alerts.

    It is `factor` times the mean of the entity's active history buckets, and
    never below `min_sum`; an entity without history gets `min_sum`.
    """
    active = [amount for amount in bucket_sums if amount > 0]
    if not active:
        return spec.min_sum
    return max(spec.factor * sum(active) / len(active), spec.min_sum)


@dataclass(frozen=True)
class Baseline:
    """An entity's baseline and the window sum above which it alerts.

    Attributes:
        mean: Mean sum of the active history buckets; 0.0 without history.
        active_buckets: History buckets with a sum above zero.
        limit: Window sum above which the entity alerts, or None when the
            entity has fewer active buckets than the rule's `min_history_buckets`.
    """

    mean: float
    active_buckets: int
    limit: float | None

    def evidence(self, current: float) -> dict[str, float | int | None]:
        """Return the alert evidence for a window sum `current`: baseline, limit and ratio."""
        ratio = round(current / self.mean, 2) if self.mean > 0 else None
        return {
            "baseline": self.mean,
            "history_buckets": self.active_buckets,
            "limit": self.limit,
            "current": current,
            "ratio": ratio,
        }


def entity_baseline(bucket_sums: Sequence[float], spec: BaselineSpec) -> Baseline:
    """Compute an entity's baseline from the sums of its history buckets."""
    active = [amount for amount in bucket_sums if amount > 0]
    mean = sum(active) / len(active) if active else 0.0
    if len(active) < spec.min_history_buckets:
        return Baseline(mean, len(active), None)
    return Baseline(mean, len(active), baseline_threshold(active, spec))


def baseline_at(
    buckets: Sequence[tuple[int, float]], slot_start: datetime, spec: BaselineSpec
) -> Baseline:
    """Compute an entity's baseline from its buckets in `[slot_start - history, slot_start)`."""
    start = to_epoch_millis(slot_start - spec.history)
    end = to_epoch_millis(slot_start)
    return entity_baseline([amount for key, amount in buckets if start <= key < end], spec)


def find_baseline_episodes(
    points: Sequence[Point],
    rule: Rule,
    slot_starts: Iterable[datetime],
    buckets: Sequence[tuple[int, float]],
) -> list[tuple[Episode, Baseline]]:
    """Evaluate each new slot of one entity against the baseline of the history before it.

    A slot `[s, s + lookback)` gets the baseline of `[s - history, s)`, so events
    that arrive together over many days (a bulk load, a long catch-up) are each
    compared with their own past. Only episodes with an event in the slot's
    window range are kept. The episodes of neighbouring slots can overlap, and
    the detector merges them into one alert.

    Args:
        points: The entity's points, sorted by time.
        rule: A baseline rule.
        slot_starts: Starts of the `lookback`-wide UTC slots with new events.
        buckets: The entity's history buckets, from `read_history_page`.
    """
    if not isinstance(rule.spec, BaselineSpec):
        raise ValueError(f"rule {rule.id!r} is not a baseline rule")
    spec = rule.spec
    slots = [(slot, baseline_at(buckets, slot, spec)) for slot in sorted(set(slot_starts))]
    return [(episode, baseline) for _, episode, baseline in find_slot_episodes(points, rule, slots)]


def find_slot_episodes(
    points: Sequence[Point], rule: Rule, slots: Iterable[tuple[datetime, Baseline]]
) -> list[tuple[datetime, Episode, Baseline]]:
    """Find the episodes of each slot above that slot's baseline limit.

    A slot whose baseline has no limit (not enough history) is skipped. Only
    episodes with an event in the slot's window range are kept.

    Args:
        points: The entity's points, sorted by time.
        rule: A baseline rule; its `lookback` is the slot width.
        slots: Start of each new slot and the baseline it is compared with.
    """
    lookback_ms = int(rule.lookback.total_seconds() * 1000)
    times = [point.timestamp_ms for point in points]
    found = []
    for slot, baseline in slots:
        if baseline.limit is None:
            continue
        slot_ms = to_epoch_millis(slot)
        low = bisect_left(times, slot_ms - lookback_ms)
        high = bisect_left(times, slot_ms + 2 * lookback_ms)
        for episode in find_episodes(points[low:high], rule, baseline.limit):
            last = to_epoch_millis(episode.last_event)
            first = to_epoch_millis(episode.first_event)
            if last >= slot_ms and first < slot_ms + lookback_ms:
                found.append((slot, episode, baseline))
    return found


HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class HourBucket:
    """Events in one UTC hour, or in the part of it that lies inside the counted window.

    Attributes:
        start: Start of the bucket, aware UTC.
        length: Real length of the bucket: one hour, or less at the window's edges.
        count: Events in the bucket.
    """

    start: datetime
    length: timedelta
    count: int

    @property
    def rate_per_hour(self) -> float:
        """Events per hour of real time in the bucket."""
        return self.count / (self.length / HOUR)


def hourly_utc_buckets(points: Iterable[Point], window: TimeWindow) -> list[HourBucket]:
    """Count points per UTC hour of `window`, empty hours included.

    Buckets follow UTC hours, so every full bucket lasts exactly one hour:
    the local hour that repeats when a time zone leaves daylight saving time
    falls into two buckets, and the skipped local hour leaves no bucket empty.
    Points outside `window` are ignored.
    """
    window_start = to_epoch_millis(window.start)
    window_end = to_epoch_millis(window.end)
    hour_ms = int(HOUR.total_seconds() * 1000)
    counts: Counter[int] = Counter()
    for point in points:
        if window_start <= point.timestamp_ms < window_end:
            counts[point.timestamp_ms - point.timestamp_ms % hour_ms] += point.count
    buckets = []
    hour = window_start - window_start % hour_ms
    while hour < window_end:
        start = max(hour, window_start)
        end = min(hour + hour_ms, window_end)
        buckets.append(
            HourBucket(from_epoch_millis(start), timedelta(milliseconds=end - start), counts[hour])
        )
        hour += hour_ms
    return buckets


KnownValues = dict[EntityKey, dict[str, datetime]]
"""Per group-by entity, each value seen in the history and the time it was first seen."""


def read_known_page(
    rule: Rule, aggregations: Mapping[str, Any]
) -> tuple[KnownValues, AfterKey | None]:
    """Read one page of `known_values_query` buckets."""
    composite = aggregations["known"]
    names = [f"g{position}" for position in range(len(rule.group_by))]
    known: KnownValues = {}
    for bucket in composite["buckets"]:
        first = from_epoch_millis(bucket["first"]["value"])
        values = known.setdefault(_entity_key(bucket["key"], names), {})
        values[str(bucket["key"]["value"])] = first
    return known, _next_after(composite)


def new_value_flags(
    rule: Rule, arrival: EntityArrival, known_flags: Sequence[KnownValues]
) -> frozenset[str]:
    """Return the flags whose field has a value among the new events that the entity lacked."""
    if not isinstance(rule.spec, NewValueSpec) or arrival.first_event is None:
        return frozenset()
    group = arrival.entity[: len(rule.group_by)]
    flags = set()
    for name, values, known in zip(
        rule.spec.flag_fields, arrival.flag_values, known_flags, strict=True
    ):
        seen = known.get(group, {})
        if any(seen.get(value, arrival.first_event) >= arrival.first_event for value in values):
            flags.add(name)
    return frozenset(flags)


def is_new_value(rule: Rule, arrival: EntityArrival, known: KnownValues) -> bool:
    """Return whether an arrival's value is new for an entity that has a history.

    The value is new when the history contains no earlier event with it. The
    entity has a history when any of its known values was seen earlier.
    """
    if arrival.first_event is None:
        return False
    group = arrival.entity[: len(rule.group_by)]
    value = arrival.entity[-1]
    seen = known.get(group, {})
    has_history = any(first < arrival.first_event for first in seen.values())
    is_known = value is not None and seen.get(value, arrival.first_event) < arrival.first_event
    return has_history and not is_known
