"""The coverage ledger: per rule and day, the arrival ranges searched and the gaps between them.

Every succeeded run record in `socwb-runs-<namespace>` searched the half-open
`event.ingested` range `[arrival_start, arrival_end)`. Taking the runs in the order
they started, a run whose range starts after the end of every earlier range leaves
a gap behind it: arrival time that no run had searched when the later range was
searched. A gap is caught up where a later run (a catch-up run or a backfill with
`socwb detect run --from/--to`) covered it, and open where none did.

Time after a rule's newest range is not a gap, because the rule's next run starts
there. Days are midnight to midnight in the organisation's time zone.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from socwb.auth import Permission, Principal, require
from socwb.checkpoints import RunRecord, RunStore
from socwb.period import Period
from socwb.rules.model import TimeWindow, from_epoch_millis, iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE = 5_000
MAX_RULES = 10_000
RESOLUTION = timedelta(milliseconds=1)
"""The engine's time resolution, so a window that ends at midnight does not touch the next day."""

RUN_FIELDS = [
    "run_id",
    "rule_id",
    "started_at",
    "arrival_start",
    "arrival_end",
    "outcome",
    "is_backfilled",
]

FOUND_AFTER_PERIOD = "run after the period"
"""The `found_by` of a gap at the period's end, revealed by a run outside the period."""

STATUS_OPEN_GAP = "open gap"
STATUS_CAUGHT_UP = "gap caught up"
STATUS_SEARCHED = "searched"
STATUS_NOT_SEARCHED = "not searched"

LEDGER_COLUMNS = [
    "rule_id",
    "day",
    "status",
    "runs",
    "failed_runs",
    "backfilled_runs",
    "searched_seconds",
    "searched",
    "open_gaps",
    "caught_up_gaps",
]
GAP_COLUMNS = [
    "rule_id",
    "day",
    "start",
    "end",
    "seconds",
    "status",
    "found_by_run",
    "caught_up_by_runs",
]


# Pure parts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchedRange:
    """The arrival range one succeeded run searched."""

    run_id: str
    started_at: datetime
    window: TimeWindow
    is_backfilled: bool


@dataclass(frozen=True)
class Gap:
    """Arrival time skipped by the runs, and the later runs that searched it, if any.

    Attributes:
        found_by: The run whose range began after the gap, which revealed it.
        caught_up_by: Runs whose ranges overlap the gap, empty for an open gap.
    """

    window: TimeWindow
    found_by: str
    caught_up_by: tuple[str, ...] = ()

    @property
    def is_caught_up(self) -> bool:
        """Whether later runs searched the whole gap."""
        return bool(self.caught_up_by)


@dataclass
class LedgerDay:
    """One rule's coverage on one day."""

    rule_id: str
    day: date
    searched: list[TimeWindow] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    runs: int = 0
    failed_runs: int = 0
    backfilled_runs: int = 0

    @property
    def status(self) -> str:
        """`open gap`, `gap caught up`, `searched` or `not searched`, worst first."""
        if any(not gap.is_caught_up for gap in self.gaps):
            return STATUS_OPEN_GAP
        if self.gaps:
            return STATUS_CAUGHT_UP
        return STATUS_SEARCHED if self.searched else STATUS_NOT_SEARCHED

    @property
    def searched_seconds(self) -> float:
        """Total length of the searched ranges of the day, in seconds."""
        return sum(window.length.total_seconds() for window in self.searched)


def merge_windows(windows: Iterable[TimeWindow]) -> list[TimeWindow]:
    """Merge overlapping or touching windows and return them sorted, without empty windows."""
    bounds: list[tuple[datetime, datetime]] = []
    for window in sorted(windows, key=lambda item: (item.start, item.end)):
        if window.start >= window.end:
            continue
        if bounds and window.start <= bounds[-1][1]:
            if window.end > bounds[-1][1]:
                bounds[-1] = (bounds[-1][0], window.end)
            continue
        bounds.append((window.start, window.end))
    return [TimeWindow(start, end) for start, end in bounds]


def clip(window: TimeWindow, bounds: TimeWindow) -> TimeWindow | None:
    """Return the part of `window` inside `bounds`, or None when they do not overlap."""
    start = max(window.start, bounds.start)
    end = min(window.end, bounds.end)
    return TimeWindow(start, end) if start < end else None


def split_by_coverage(
    window: TimeWindow, covered: Sequence[TimeWindow]
) -> list[tuple[TimeWindow, bool]]:
    """Split a window into consecutive pieces, each marked covered or not.

    `covered` must be merged (see `merge_windows`), so no two pieces of one kind touch.
    """
    pieces: list[tuple[TimeWindow, bool]] = []
    cursor = window.start
    for part in covered:
        inside = clip(part, window)
        if inside is None:
            continue
        if inside.start > cursor:
            pieces.append((TimeWindow(cursor, inside.start), False))
        pieces.append((inside, True))
        cursor = inside.end
    if cursor < window.end:
        pieces.append((TimeWindow(cursor, window.end), False))
    return pieces


def find_gaps(
    ranges: Sequence[SearchedRange],
    *,
    frontier: datetime | None = None,
    next_start: datetime | None = None,
) -> list[tuple[TimeWindow, str]]:
    """Return the gaps that the runs left, each with the id of the run that revealed it.

    Args:
        ranges: Searched ranges in the order their runs started.
        frontier: End of the newest range searched before the first of `ranges`, if any.
        next_start: Start of a range searched after all of `ranges`, if any; the time
            between the last end and it is a gap too.
    """
    gaps: list[tuple[TimeWindow, str]] = []
    for searched in ranges:
        if frontier is not None and searched.window.start > frontier:
            gaps.append((TimeWindow(frontier, searched.window.start), searched.run_id))
        if frontier is None or searched.window.end > frontier:
            frontier = searched.window.end
    if frontier is not None and next_start is not None and next_start > frontier:
        gaps.append((TimeWindow(frontier, next_start), FOUND_AFTER_PERIOD))
    return gaps


def resolve_gaps(
    gaps: Sequence[tuple[TimeWindow, str]],
    ranges: Sequence[SearchedRange],
    covered: Sequence[TimeWindow] | None = None,
) -> list[Gap]:
    """Split each gap into pieces caught up by later runs and pieces still open.

    `covered` is the merged windows of `ranges`, computed here when None.
    """
    if covered is None:
        covered = merge_windows(searched.window for searched in ranges)
    resolved = []
    for window, found_by in gaps:
        for piece, is_covered in split_by_coverage(window, covered):
            runs = _overlapping_runs(piece, ranges) if is_covered else ()
            resolved.append(Gap(piece, found_by, runs))
    return resolved


def _overlapping_runs(window: TimeWindow, ranges: Sequence[SearchedRange]) -> tuple[str, ...]:
    return tuple(searched.run_id for searched in ranges if _overlaps(searched.window, window))


def _overlaps(first: TimeWindow, second: TimeWindow) -> bool:
    return first.start < second.end and second.start < first.end and first.start < first.end


@dataclass
class RuleRuns:
    """The run records of one rule that matter for a period."""

    rule_id: str
    ranges: list[SearchedRange] = field(default_factory=list)
    failed_starts: list[datetime] = field(default_factory=list)
    frontier: datetime | None = None
    next_start: datetime | None = None


def build_rule_ledger(runs: RuleRuns, period: Period) -> list[LedgerDay]:
    """Compute one rule's ledger day by day over the period."""
    ordered = sorted(runs.ranges, key=lambda item: (item.started_at, item.run_id))
    gaps = find_gaps(ordered, frontier=runs.frontier, next_start=runs.next_start)
    covered = merge_windows(searched.window for searched in ordered)
    resolved = resolve_gaps(gaps, ordered, covered)

    # Bucketing by day first keeps a month of per-minute runs linear in the runs.
    ranges_by_day = _bucket_by_day(ordered, [item.window for item in ordered], period)
    covered_by_day = _bucket_by_day(covered, covered, period)
    gaps_by_day = _bucket_by_day(resolved, [gap.window for gap in resolved], period)
    days = []
    for day in period.days():
        bounds = _utc_window(period.day_start(day), period.day_start(day + timedelta(days=1)))
        days.append(
            _ledger_day(
                runs, day, bounds, covered_by_day[day], gaps_by_day[day], ranges_by_day[day]
            )
        )
    return days


def _bucket_by_day(
    items: Sequence[T], windows: Sequence[TimeWindow], period: Period
) -> defaultdict[date, list[T]]:
    """Return the items per day of the period that their non-empty window overlaps."""
    buckets: defaultdict[date, list[T]] = defaultdict(list)
    for item, window in zip(items, windows, strict=True):
        if window.length <= timedelta(0):
            continue
        first = max(window.start.astimezone(period.zone).date(), period.first_day)
        last = min((window.end - RESOLUTION).astimezone(period.zone).date(), period.last_day)
        day = first
        while day <= last:
            buckets[day].append(item)
            day += timedelta(days=1)
    return buckets


def _ledger_day(
    runs: RuleRuns,
    day: date,
    bounds: TimeWindow,
    covered: Sequence[TimeWindow],
    gaps: Sequence[Gap],
    ranges: Sequence[SearchedRange],
) -> LedgerDay:
    overlapping = [searched for searched in ranges if _overlaps(searched.window, bounds)]
    searched = [part for part in (clip(window, bounds) for window in covered) if part]
    day_gaps = []
    for gap in gaps:
        part = clip(gap.window, bounds)
        if part is not None:
            day_gaps.append(Gap(part, gap.found_by, gap.caught_up_by))
    return LedgerDay(
        rule_id=runs.rule_id,
        day=day,
        searched=searched,
        gaps=day_gaps,
        runs=len(overlapping),
        failed_runs=sum(1 for moment in runs.failed_starts if bounds.start <= moment < bounds.end),
        backfilled_runs=sum(1 for searched in overlapping if searched.is_backfilled),
    )


def _utc_window(start: datetime, end: datetime) -> TimeWindow:
    return TimeWindow(start.astimezone(UTC), end.astimezone(UTC))


def group_runs(
    records: Iterable[RunRecord],
    frontiers: dict[str, datetime],
    next_starts: dict[str, datetime],
) -> dict[str, RuleRuns]:
    """Group run records per rule: succeeded ranges, failed run starts, and neighbours."""
    grouped: dict[str, RuleRuns] = {}
    for rule_id in {*frontiers, *next_starts}:
        grouped[rule_id] = RuleRuns(rule_id)
    for record in records:
        runs = grouped.setdefault(record.rule_id, RuleRuns(record.rule_id))
        if record.outcome != "succeeded":
            runs.failed_starts.append(record.started_at)
            continue
        if record.arrival_start is None or record.arrival_end is None:
            continue
        window = TimeWindow(record.arrival_start, record.arrival_end)
        runs.ranges.append(
            SearchedRange(record.run_id, record.started_at, window, record.is_backfilled)
        )
    for rule_id, runs in grouped.items():
        runs.frontier = frontiers.get(rule_id)
        runs.next_start = next_starts.get(rule_id)
    return grouped


# Reading the runs from the engine -----------------------------------------------------


def coverage_ledger(backend: SearchBackend, namespace: str, period: Period) -> list[LedgerDay]:
    """Read the run records around the period and compute every rule's ledger.

    Rules appear when any of their runs searched, or failed, in the period or around it.
    """
    index = RunStore(backend, namespace).index
    if backend.get_json(f"/{index}") is None:
        logger.info("coverage ledger namespace=%s: no runs index %s", namespace, index)
        return []
    bounds = _utc_window(period.start, period.end)
    records = list(_period_runs(backend, index, bounds))
    frontiers, next_starts = _neighbours(backend, index, bounds)
    grouped = group_runs(records, frontiers, next_starts)
    days = [
        day for rule_id in sorted(grouped) for day in build_rule_ledger(grouped[rule_id], period)
    ]
    logger.info(
        "coverage ledger namespace=%s period=%s rules=%d runs=%d open_gap_days=%d",
        namespace,
        period.label,
        len(grouped),
        len(records),
        sum(1 for day in days if day.status == STATUS_OPEN_GAP),
    )
    return days


def coverage_ledger_for(
    principal: Principal, backend: SearchBackend, namespace: str, period: Period
) -> list[LedgerDay]:
    """Compute the ledger for a signed-in user who may view reports.

    Raises:
        PermissionDenied: The principal may not view reports.
    """
    require(principal, Permission.VIEW_REPORTS)
    logger.info("coverage ledger viewed user=%s period=%s", principal.name, period.label)
    return coverage_ledger(backend, namespace, period)


def _period_runs(backend: SearchBackend, index: str, bounds: TimeWindow) -> Iterator[RunRecord]:
    """Yield runs whose range overlaps or touches the period, and runs started in it."""
    overlaps = {
        "bool": {
            "filter": [
                {"range": {"arrival_start": {"lt": iso(bounds.end)}}},
                {"range": {"arrival_end": {"gte": iso(bounds.start)}}},
            ]
        }
    }
    started = {"range": {"started_at": {"gte": iso(bounds.start), "lt": iso(bounds.end)}}}
    query = {"bool": {"should": [overlaps, started], "minimum_should_match": 1}}
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": PAGE_SIZE,
            "_source": RUN_FIELDS,
            "query": query,
            "sort": [{"rule_id": "asc"}, {"started_at": "asc"}, {"run_id": "asc"}],
        }
        if after is not None:
            body["search_after"] = after
        hits = backend.search(index, body)["hits"]["hits"]
        for hit in hits:
            yield RunRecord.model_validate(hit["_source"])
        if len(hits) < PAGE_SIZE:
            return
        after = hits[-1]["sort"]


def _neighbours(
    backend: SearchBackend, index: str, bounds: TimeWindow
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """Return per rule the newest range end before the period and the first start after it."""
    succeeded = {"term": {"outcome": "succeeded"}}
    before = {
        "bool": {"filter": [succeeded, {"range": {"arrival_end": {"lt": iso(bounds.start)}}}]}
    }
    after = {
        "bool": {"filter": [succeeded, {"range": {"arrival_start": {"gte": iso(bounds.end)}}}]}
    }
    body = {
        "size": 0,
        "aggs": {
            "rules": {
                "terms": {"field": "rule_id", "size": MAX_RULES},
                "aggs": {
                    "before": {
                        "filter": before,
                        "aggs": {"end": {"max": {"field": "arrival_end"}}},
                    },
                    "after": {
                        "filter": after,
                        "aggs": {"start": {"min": {"field": "arrival_start"}}},
                    },
                },
            }
        },
    }
    buckets = backend.search(index, body)["aggregations"]["rules"]["buckets"]
    frontiers: dict[str, datetime] = {}
    next_starts: dict[str, datetime] = {}
    for bucket in buckets:
        end = bucket["before"]["end"].get("value")
        start = bucket["after"]["start"].get("value")
        if end is not None:
            frontiers[str(bucket["key"])] = from_epoch_millis(end)
        if start is not None:
            next_starts[str(bucket["key"])] = from_epoch_millis(start)
    return frontiers, next_starts


# Exports ------------------------------------------------------------------------------


def _intervals(windows: Iterable[TimeWindow]) -> str:
    """Format windows as ISO 8601 intervals `start/end`, separated by spaces."""
    return " ".join(f"{iso(window.start)}/{iso(window.end)}" for window in windows)


def ledger_rows(days: Sequence[LedgerDay]) -> list[dict[str, Any]]:
    """Return one row per rule and day with the columns of `LEDGER_COLUMNS`."""
    return [
        {
            "rule_id": day.rule_id,
            "day": day.day.isoformat(),
            "status": day.status,
            "runs": day.runs,
            "failed_runs": day.failed_runs,
            "backfilled_runs": day.backfilled_runs,
            "searched_seconds": round(day.searched_seconds, 3),
            "searched": _intervals(day.searched),
            "open_gaps": _intervals(gap.window for gap in day.gaps if not gap.is_caught_up),
            "caught_up_gaps": _intervals(gap.window for gap in day.gaps if gap.is_caught_up),
        }
        for day in days
    ]


def gap_rows(days: Sequence[LedgerDay]) -> list[dict[str, Any]]:
    """Return one row per gap piece and day with the columns of `GAP_COLUMNS`."""
    return [
        {
            "rule_id": day.rule_id,
            "day": day.day.isoformat(),
            "start": iso(gap.window.start),
            "end": iso(gap.window.end),
            "seconds": gap.window.length.total_seconds(),
            "status": STATUS_CAUGHT_UP if gap.is_caught_up else STATUS_OPEN_GAP,
            "found_by_run": gap.found_by,
            "caught_up_by_runs": " ".join(gap.caught_up_by),
        }
        for day in days
        for gap in day.gaps
    ]


def to_csv(days: Sequence[LedgerDay]) -> str:
    """Return the ledger as CSV: one row per rule and day, ranges as ISO 8601 intervals."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LEDGER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(ledger_rows(days))
    return buffer.getvalue()


def to_json(days: Sequence[LedgerDay]) -> str:
    """Return the ledger as indented JSON: per rule and day, searched ranges and gaps."""
    document = [
        {
            "rule_id": day.rule_id,
            "day": day.day.isoformat(),
            "status": day.status,
            "runs": day.runs,
            "failed_runs": day.failed_runs,
            "backfilled_runs": day.backfilled_runs,
            "searched": [window.as_dict() for window in day.searched],
            "gaps": [
                {
                    **gap.window.as_dict(),
                    "caught_up": gap.is_caught_up,
                    "found_by_run": gap.found_by,
                    "caught_up_by_runs": list(gap.caught_up_by),
                }
                for gap in day.gaps
            ],
        }
        for day in days
    ]
    return json.dumps(document, indent=2) + "\n"


def count_by_status(days: Sequence[LedgerDay]) -> dict[str, int]:
    """Count rule-days per status, every status listed."""
    counts: dict[str, int] = defaultdict(int)
    for day in days:
        counts[day.status] += 1
    statuses = (STATUS_OPEN_GAP, STATUS_CAUGHT_UP, STATUS_SEARCHED, STATUS_NOT_SEARCHED)
    return {status: counts[status] for status in statuses}
