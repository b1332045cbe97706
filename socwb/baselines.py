"""Stored anomaly baselines: one document per rule, entity and window end.

The documents live in `socwb-baselines-<namespace>`. A baseline summarises an
entity's activity over a trailing event-time window that ends at a UTC
multiple of the refresh interval (a day by default). The engine aggregates
the window into `lookback`-wide buckets (see
`socwb.rules.query.baseline_query`), and `compute_baseline` reduces the
buckets to the mean of the active ones, overall and per hour of the week and
of the day. A slot reads the baseline whose window ends at the slot's refresh
boundary, so a baseline is reused until the next boundary makes it stale, and
a retried run reads the same document.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from socwb.alerts.model import EntityValue, entity_key
from socwb.alerts.store import create_index
from socwb.errors import SearchError
from socwb.rules.evaluate import Baseline, floor_time
from socwb.rules.model import BaselineSpec, Rule, from_epoch_millis, iso, to_epoch_millis
from socwb.rules.query import EntityKey
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

MIN_PROFILE_SAMPLES = 2
"""Active buckets an hour of the week needs before its own mean replaces the overall mean."""

Granularity = Literal["hour_of_week", "overall"]

_KEYWORD: dict[str, Any] = {"type": "keyword"}
_DATE: dict[str, Any] = {"type": "date"}
_LONG: dict[str, Any] = {"type": "long"}
_DOUBLE: dict[str, Any] = {"type": "double"}
_PROFILE: dict[str, Any] = {"type": "object", "enabled": False}

BASELINES_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "rule_id": _KEYWORD,
        "entity": {"properties": {"field": _KEYWORD, "value": _KEYWORD}},
        "entity_key": _KEYWORD,
        "metric": _KEYWORD,
        "sum_field": _KEYWORD,
        "window_start": _DATE,
        "window_end": _DATE,
        "window_seconds": _LONG,
        "bucket_seconds": _LONG,
        "computed_at": _DATE,
        "data_points": _LONG,
        "first_bucket": _DATE,
        "last_bucket": _DATE,
        "data_span_seconds": _LONG,
        "min_span_seconds": _LONG,
        "is_warm": {"type": "boolean"},
        "total": _DOUBLE,
        "mean": _DOUBLE,
        "hour_of_week": _PROFILE,
        "hour_of_day": _PROFILE,
    },
}


class BaselineWriteError(SearchError):
    """The engine did not accept some baseline documents."""


@dataclass(frozen=True)
class BaselineOptions:
    """Window, warm-up and refresh interval of stored baselines.

    Attributes:
        window: Trailing event-time window of a baseline.
        min_span: Time from an entity's first to the end of its last active
            bucket in the window before its warm-up is complete.
        refresh: Window ends are multiples of this from the Unix epoch (UTC),
            so a baseline serves the slots of one refresh interval.
    """

    window: timedelta = timedelta(days=28)
    min_span: timedelta = timedelta(days=7)
    refresh: timedelta = timedelta(days=1)


class ProfileEntry(BaseModel):
    """Mean and number of the active buckets that share one hour of the week or day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float
    samples: int


class StoredBaseline(BaseModel):
    """One entity's baseline for one rule, as stored in `socwb-baselines-<namespace>`.

    Attributes:
        metric: `count` of matching events or `sum` of `sum_field`, per bucket.
        window_start: Start of the trailing window (inclusive, event time).
        window_end: End of the window (exclusive), a multiple of the refresh interval.
        computed_at: When the engine's buckets were turned into this document.
        data_points: Active buckets in the window, those with a count or sum above zero.
        data_span_seconds: From the first active bucket's start to the last one's end.
        is_warm: Whether the warm-up is complete: the data span reaches the
            minimum span and the data points reach the rule's `min_history_buckets`.
        mean: Mean of the active buckets; 0.0 without any.
        hour_of_week: Mean and samples per UTC hour of the week (0 is Monday 00:00).
        hour_of_day: Mean and samples per UTC hour of the day.
    """

    model_config = ConfigDict(extra="forbid")

    rule_id: str
    entity: list[EntityValue]
    entity_key: str
    metric: Literal["count", "sum"]
    sum_field: str | None = None
    window_start: datetime
    window_end: datetime
    window_seconds: int
    bucket_seconds: int
    computed_at: datetime
    data_points: int
    first_bucket: datetime | None = None
    last_bucket: datetime | None = None
    data_span_seconds: int
    min_span_seconds: int
    is_warm: bool
    total: float
    mean: float
    hour_of_week: dict[str, ProfileEntry] = Field(default_factory=dict)
    hour_of_day: dict[str, ProfileEntry] = Field(default_factory=dict)

    @property
    def id(self) -> str:
        """Document id: rule, entity and window end, so a recomputation overwrites it."""
        return baseline_id(self.rule_id, self.entity_key, self.window_end)

    def to_document(self) -> dict[str, Any]:
        """Return the document with ISO 8601 UTC times."""
        document = self.model_dump(mode="json")
        for name in ("window_start", "window_end", "computed_at", "first_bucket", "last_bucket"):
            value = getattr(self, name)
            document[name] = None if value is None else iso(value)
        return document

    def is_current(self, options: BaselineOptions, spec: BaselineSpec) -> bool:
        """Return whether the document was computed with the current window and warm-up."""
        return (
            self.window_seconds == int(options.window.total_seconds())
            and self.min_span_seconds == int(options.min_span.total_seconds())
            and self.sum_field == spec.sum_field
        )

    def value_at(self, slot_start: datetime) -> tuple[float, Granularity]:
        """Return a slot's baseline: its hour-of-week mean when sampled enough, else the mean."""
        entry = self.hour_of_week.get(str(hour_of_week(slot_start)))
        if entry is not None and entry.samples >= MIN_PROFILE_SAMPLES:
            return entry.mean, "hour_of_week"
        return self.mean, "overall"

    def baseline_at(self, slot_start: datetime, spec: BaselineSpec) -> Baseline:
        """Return the evaluated baseline of a slot; its limit is None during warm-up."""
        value, _ = self.value_at(slot_start)
        limit = max(spec.factor * value, spec.min_sum) if self.is_warm else None
        return Baseline(value, self.data_points, limit)

    def evidence(self, slot_start: datetime) -> dict[str, Any]:
        """Return the alert evidence that names this baseline and its window."""
        _, granularity = self.value_at(slot_start)
        return {
            "baseline_granularity": granularity,
            "baseline_window_start": iso(self.window_start),
            "baseline_window_end": iso(self.window_end),
            "baseline_window_days": round(self.window_seconds / 86400, 2),
            "baseline_computed_at": iso(self.computed_at),
            "baseline_data_points": self.data_points,
        }


def baselines_index(namespace: str) -> str:
    """Return the name of the baselines index of a namespace."""
    return f"socwb-baselines-{namespace}"


def baseline_id(rule_id: str, key: str, window_end: datetime) -> str:
    """Return the document id: SHA-256 of rule id, entity key and window end.

    A hash keeps the id within the engine's 512-byte limit for any entity value.
    """
    text = f"{rule_id}\n{key}\n{iso(window_end)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hour_of_week(moment: datetime) -> int:
    """Return the UTC hour of the week, 0 for Monday 00:00 to 167 for Sunday 23:00."""
    return moment.weekday() * 24 + moment.hour


def window_end_for(slot_start: datetime, options: BaselineOptions) -> datetime:
    """Return the end of the baseline window that a slot reads: its refresh boundary."""
    return floor_time(slot_start, options.refresh)


def compute_baseline(
    rule: Rule,
    entity: Sequence[EntityValue],
    buckets: Sequence[tuple[int, float]],
    *,
    window_end: datetime,
    options: BaselineOptions,
    computed_at: datetime,
) -> StoredBaseline:
    """Reduce an entity's history buckets to its baseline for the window that ends at `window_end`.

    Args:
        rule: A baseline rule; its `lookback` is the bucket width.
        entity: The entity's group-by values.
        buckets: Start (epoch milliseconds) and sum of each bucket with events;
            buckets outside the window are ignored.
        window_end: End of the trailing window.
        options: Window and warm-up.
        computed_at: Time stored as `computed_at`.
    """
    if not isinstance(rule.spec, BaselineSpec):
        raise ValueError(f"rule {rule.id!r} is not a baseline rule")
    window_start = window_end - options.window
    start_ms, end_ms = to_epoch_millis(window_start), to_epoch_millis(window_end)
    active = sorted(
        (start, amount) for start, amount in buckets if start_ms <= start < end_ms and amount > 0
    )

    total = sum(amount for _, amount in active)
    first = from_epoch_millis(active[0][0]) if active else None
    last = from_epoch_millis(active[-1][0]) if active else None
    span = (last + rule.lookback - first) if first is not None and last is not None else None
    span_seconds = int(span.total_seconds()) if span is not None else 0
    is_warm = (
        span is not None
        and span >= options.min_span
        and len(active) >= max(1, rule.spec.min_history_buckets)
    )

    values = list(entity)
    return StoredBaseline(
        rule_id=rule.id,
        entity=values,
        entity_key=entity_key(values),
        metric="count" if rule.spec.sum_field is None else "sum",
        sum_field=rule.spec.sum_field,
        window_start=window_start,
        window_end=window_end,
        window_seconds=int(options.window.total_seconds()),
        bucket_seconds=int(rule.lookback.total_seconds()),
        computed_at=computed_at,
        data_points=len(active),
        first_bucket=first,
        last_bucket=last,
        data_span_seconds=span_seconds,
        min_span_seconds=int(options.min_span.total_seconds()),
        is_warm=is_warm,
        total=total,
        mean=total / len(active) if active else 0.0,
        hour_of_week=_profile(active, lambda moment: hour_of_week(moment)),
        hour_of_day=_profile(active, lambda moment: moment.hour),
    )


def _profile(active: Sequence[tuple[int, float]], key_of: Any) -> dict[str, ProfileEntry]:
    groups: dict[int, list[float]] = defaultdict(list)
    for start, amount in active:
        groups[key_of(from_epoch_millis(start))].append(amount)
    return {
        str(key): ProfileEntry(mean=sum(amounts) / len(amounts), samples=len(amounts))
        for key, amounts in sorted(groups.items())
    }


def entity_values(rule: Rule, entity: EntityKey) -> list[EntityValue]:
    """Pair a rule's group-by fields with an entity's values."""
    return [
        EntityValue(field=name, value=value)
        for name, value in zip(rule.entity_fields, entity, strict=True)
    ]


class BaselineStore:
    """Reads and writes the stored baselines of one namespace."""

    def __init__(self, backend: SearchBackend, namespace: str) -> None:
        self.backend = backend
        self.index = baselines_index(namespace)

    def ensure_index(self) -> None:
        """Create the baselines index with its mapping when it does not exist."""
        create_index(self.backend, self.index, BASELINES_MAPPING)

    def get_many(self, ids: Sequence[str]) -> dict[str, StoredBaseline]:
        """Return the stored baselines among `ids`, keyed by id; absent ids are left out."""
        found: dict[str, StoredBaseline] = {}
        for offset in range(0, len(ids), 500):
            body = {"ids": list(ids[offset : offset + 500])}
            response = self.backend.request("POST", f"/{self.index}/_mget", body=body)
            for document in response.get("docs", []):
                if document.get("found"):
                    found[str(document["_id"])] = StoredBaseline.model_validate(document["_source"])
        return found

    def write_many(self, baselines: Sequence[StoredBaseline]) -> None:
        """Index the baselines under their ids, replacing older computations, and refresh.

        Raises:
            BaselineWriteError: The engine rejected some documents; the message
                names the first id and reason.
        """
        if not baselines:
            return
        operations: list[Mapping[str, Any]] = []
        for baseline in baselines:
            operations.append({"index": {"_index": self.index, "_id": baseline.id}})
            operations.append(baseline.to_document())
        result, _ = self.backend.bulk(operations, refresh=True)
        failures = [*result.errors, *result.retryable]
        if failures:
            raise BaselineWriteError(
                f"{len(failures)} baseline documents were not written to {self.index}, "
                f"first: {failures[0]}; the run fails and is retried"
            )
