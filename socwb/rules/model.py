"""The rule model: what a detection rule reads, when it runs and when it raises an alert.

Rules are pydantic models, so a rule with an unknown key, a naive duration or an
inconsistent spec is rejected when it is built. All times are timezone-aware UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

QueryBody: TypeAlias = dict[str, Any]
"""A query DSL clause or request body, as sent to OpenSearch or Elasticsearch."""

RULE_ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
FIELD_PATTERN = r"^[A-Za-z@_][A-Za-z0-9_.@]*$"


class Severity(StrEnum):
    """Alert severity, as the monitoring policy names it."""

    CRITICAL = "Critical"
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FieldName = Annotated[str, Field(pattern=FIELD_PATTERN)]


class ThresholdSpec(_StrictModel):
    """Alert when a metric over any window of `lookback` exceeds a threshold, per group.

    Attributes:
        group_by: Keyword fields that identify the entity, e.g. `user.name`.
        metric: `count` of matching events, or `cardinality` (distinct values of
            `metric_field`).
        metric_field: Field whose distinct values `cardinality` counts.
        threshold: The alert condition is `metric > threshold`.
    """

    kind: Literal["threshold"] = "threshold"
    group_by: list[FieldName] = Field(min_length=1)
    metric: Literal["count", "cardinality"] = "count"
    metric_field: FieldName | None = None
    threshold: int = Field(ge=0)

    @model_validator(mode="after")
    def _check_metric(self) -> ThresholdSpec:
        if self.metric == "cardinality" and self.metric_field is None:
            raise ValueError("a cardinality threshold needs metric_field, the field to count")
        if self.metric == "count" and self.metric_field is not None:
            raise ValueError("metric_field applies to cardinality only: remove it")
        return self


class MatchSpec(_StrictModel):
    """Alert on every matching event, one alert per group and episode.

    An episode is a run of matching events of one group in which each event
    follows the previous one by less than the rule's `lookback`.
    """

    kind: Literal["match"] = "match"
    group_by: list[FieldName] = Field(min_length=1)
    only_outside_business_hours: bool = Field(
        default=False,
        description="Ignore events inside the organisation's business hours and days.",
    )


class BaselineSpec(_StrictModel):
    """Alert when the sum of a field over any window of `lookback` exceeds the entity's baseline.

    The baseline is the mean sum of the `lookback`-wide UTC buckets in which the
    entity had events during `history` before its new events. UTC buckets all
    have the same length, so a daylight saving change cannot double or empty one.

    Attributes:
        group_by: Fields that identify the entity, e.g. `user.name`.
        sum_field: Numeric field summed per window, e.g. `socwb.data.bytes`; None
            counts the matching events instead.
        history: How far back the baseline reaches.
        factor: The alert condition is `window sum > factor * baseline`.
        min_sum: A window sum at or below this never alerts; it is also the
            threshold for an entity without history.
        min_history_buckets: An entity with fewer active history buckets than
            this never alerts, because its baseline is not yet known; 0 compares
            an entity without history with `min_sum`.
        is_stored: Whether the baseline comes from the stored baseline documents
            (`socwb.baselines`) instead of the `history` before each window.
            Their trailing window and warm-up come from the detector settings,
            and an entity still warming up never alerts.
    """

    kind: Literal["baseline"] = "baseline"
    group_by: list[FieldName] = Field(min_length=1)
    sum_field: FieldName | None
    history: timedelta = timedelta(days=14)
    factor: float = Field(default=3.0, gt=1.0)
    min_sum: float = Field(default=0.0, ge=0.0)
    min_history_buckets: int = Field(default=0, ge=0)
    is_stored: bool = False


class NewValueSpec(_StrictModel):
    """Alert when an entity's event carries a value it had not shown during `history`.

    An entity without any event in the history is skipped, so a new user or a
    fresh installation raises nothing.

    Attributes:
        group_by: Fields that identify the entity, e.g. `user.name`.
        value_field: The field whose new values alert, e.g. `source.ip`.
        flag_fields: Alert flag name to a further field checked the same way,
            e.g. `{"is_new_country": "source.geo.country_iso_code"}`.
        history: How far back known values are looked up.
    """

    kind: Literal["new_value"] = "new_value"
    group_by: list[FieldName] = Field(min_length=1)
    value_field: FieldName
    flag_fields: dict[str, FieldName] = Field(default_factory=dict)
    history: timedelta = timedelta(days=30)


class SequenceSpec(_StrictModel):
    """Alert when `min_attempts` attempts of one entity are followed by a success within `lookback`.

    The attempts counted for a success are those in `[success - lookback,
    success]`, so an attempt at the same millisecond as the success counts.

    Attributes:
        group_by: Fields that identify the entity, e.g. `user.name`.
        attempt_filter: Query DSL filter clauses that select an attempt, e.g. a
            failed login or a denied MFA push.
        success_filter: Query DSL filter clauses that select the success that
            completes the sequence.
        min_attempts: Minimum number of attempts before the success that raises an alert.
    """

    kind: Literal["sequence"] = "sequence"
    group_by: list[FieldName] = Field(min_length=1)
    attempt_filter: list[QueryBody] = Field(min_length=1)
    success_filter: list[QueryBody] = Field(min_length=1)
    min_attempts: int = Field(ge=1)


class TravelSpec(_StrictModel):
    """Alert when two events of one entity come from countries too far apart for the time between.

    The distance between two countries is the great-circle distance between
    their centroids (`socwb.rules.geography`). Only pairs of events less than
    the rule's `lookback` apart are compared.

    Attributes:
        group_by: Fields that identify the entity, e.g. `user.name`.
        country_field: Field with the ISO 3166-1 alpha-2 country code.
        max_speed_kmh: The alert condition is `distance / time > max_speed_kmh`.
    """

    kind: Literal["travel"] = "travel"
    group_by: list[FieldName] = Field(min_length=1)
    country_field: FieldName = "source.geo.country_iso_code"
    max_speed_kmh: float = Field(default=1000.0, gt=0.0)


class SilenceSpec(_StrictModel):
    """Alert when a log source, or one host of it, sent nothing for longer than its max silence.

    Attributes:
        host_field: Field that names the sending host; silence is checked per value.
        host_horizon: Hosts whose last event is older than this are no longer checked.
    """

    kind: Literal["silence"] = "silence"
    host_field: FieldName = "host.name"
    host_horizon: timedelta = timedelta(days=30)


class ClockSkewSpec(_StrictModel):
    """Alert when a host's events arrive with a median delay beyond `max_skew` of their own time.

    Each run measures the delay `event.ingested - @timestamp` per host over the
    events received during the rule's `lookback`, as the coverage report does.

    Attributes:
        max_skew: Largest median delay, either way, that passes; the coverage
            report's bound.
        max_delay: Events received more than this after their own time are left
            out, because a delay that long is a backfill or a delivery backlog,
            not a wrong clock.
    """

    kind: Literal["clock_skew"] = "clock_skew"
    max_skew: timedelta = timedelta(minutes=5)
    max_delay: timedelta = timedelta(days=1)


RuleSpec: TypeAlias = Annotated[
    ThresholdSpec
    | MatchSpec
    | BaselineSpec
    | NewValueSpec
    | SequenceSpec
    | TravelSpec
    | SilenceSpec
    | ClockSkewSpec,
    Field(discriminator="kind"),
]


class Rule(_StrictModel):
    """One detection rule.

    Attributes:
        id: Stable identifier, part of every alert id this rule creates.
        name: Title shown to analysts.
        severity: Severity of the alerts.
        response_time: Time within which an analyst must review an alert.
        interval: Time between two runs.
        lookback: Length of the event-time window that the condition covers.
        max_lateness: Delay between an event's time and its arrival beyond which
            the event still alerts but is flagged as late.
        criteria: SOC 2 trust services criteria that the rule serves.
        policy_clause: The monitoring policy's wording of the alert.
        sources: Catalogue keys of the log sources read; empty means all sources.
        filter: Query DSL filter clauses that select the matching events.
        flags: Alert flags set from boolean event fields, e.g.
            `{"is_escalation": "socwb.iam.is_escalation"}`: a flag is true when
            any event of the alert has the field set to true.
        spec: The kind-specific condition.
    """

    id: str = Field(pattern=RULE_ID_PATTERN)
    name: str = Field(min_length=1)
    severity: Severity
    response_time: timedelta
    interval: timedelta = timedelta(minutes=1)
    lookback: timedelta = timedelta(minutes=5)
    max_lateness: timedelta = timedelta(minutes=30)
    criteria: list[Annotated[str, Field(pattern=r"^(CC|A|C|PI|P)\d+\.\d+$")]] = Field(min_length=1)
    policy_clause: str = Field(min_length=1)
    sources: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(default_factory=list)
    filter: list[QueryBody] = Field(default_factory=list)
    flags: dict[str, FieldName] = Field(default_factory=dict)
    spec: RuleSpec

    @field_validator("response_time", "interval", "lookback", "max_lateness")
    @classmethod
    def _check_positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("durations must be positive")
        if value.total_seconds() != int(value.total_seconds()):
            raise ValueError("durations must be whole seconds")
        return value

    @field_validator("criteria")
    @classmethod
    def _check_cc72(cls, criteria: list[str]) -> list[str]:
        if "CC7.2" not in criteria:
            raise ValueError("every detection rule serves CC7.2 (monitoring for anomalies)")
        return criteria

    @field_validator("flags")
    @classmethod
    def _check_flag_names(cls, flags: dict[str, str]) -> dict[str, str]:
        for name in flags:
            if not re.match(r"^is_[a-z_]+$", name):
                raise ValueError(f"flag name {name!r} must start with is_, e.g. is_escalation")
        return flags

    @property
    def group_by(self) -> list[str]:
        """Group-by fields of the rule; `host.name` for clock skew, empty for silence rules."""
        if isinstance(self.spec, SilenceSpec):
            return []
        if isinstance(self.spec, ClockSkewSpec):
            return ["host.name"]
        return list(self.spec.group_by)

    @property
    def entity_fields(self) -> list[str]:
        """Fields whose values identify one alert's entity: group-by fields, then the new value."""
        if isinstance(self.spec, NewValueSpec):
            return [*self.spec.group_by, self.spec.value_field]
        return self.group_by

    @property
    def point_value_field(self) -> str | None:
        """Field whose value the evaluation reads per event time, or None.

        It is the counted field of a cardinality threshold and the country
        field of a travel rule.
        """
        if isinstance(self.spec, ThresholdSpec):
            return self.spec.metric_field
        if isinstance(self.spec, TravelSpec):
            return self.spec.country_field
        return None

    def index_pattern(self, namespace: str) -> str:
        """Return the comma-separated data stream patterns that the rule searches."""
        if not self.sources:
            return f"logs-*-{namespace}"
        return ",".join(f"logs-{key}.*-{namespace}" for key in self.sources)


@dataclass(frozen=True)
class TimeWindow:
    """A half-open UTC interval `[start, end)`.

    Raises:
        ValueError: A bound is naive, or `end` is before `start`.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for bound in (self.start, self.end):
            if bound.tzinfo is None or bound.utcoffset() != timedelta(0):
                raise ValueError(f"window bound {bound!r} must be a timezone-aware UTC time")
        if self.end < self.start:
            raise ValueError(f"window end {self.end} is before its start {self.start}")

    @property
    def length(self) -> timedelta:
        """Length of the window."""
        return self.end - self.start

    def as_dict(self) -> dict[str, str]:
        """Return the bounds as ISO 8601 strings with a `Z` suffix."""
        return {"start": iso(self.start), "end": iso(self.end)}


def iso(moment: datetime) -> str:
    """Format an aware time as ISO 8601 UTC with milliseconds and a `Z` suffix."""
    if moment.tzinfo is None:
        raise ValueError(f"time {moment!r} has no time zone; pass an aware UTC time")
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def from_epoch_millis(millis: float) -> datetime:
    """Convert epoch milliseconds, as aggregations return them, to an aware UTC time."""
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def to_epoch_millis(moment: datetime) -> int:
    """Convert an aware time to epoch milliseconds."""
    return round(moment.timestamp() * 1000)
