"""Pure query builders: a rule, a time window and paging state in, a search body out.

Nothing here sends a request. Every bound is an ISO 8601 UTC instant built from
timezone-aware times, so the host's time zone never changes a query. Arrival
windows filter on `event.ingested`, the engine's receive time; event-time
windows filter on `@timestamp`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from socwb.rules.model import (
    BaselineSpec,
    MatchSpec,
    NewValueSpec,
    QueryBody,
    Rule,
    SequenceSpec,
    TimeWindow,
    iso,
)

EntityKey = tuple[str | None, ...]
"""Values of a rule's group-by fields for one entity, in group-by order; None is missing."""

AfterKey = Mapping[str, Any]
"""The `after_key` of a composite aggregation page."""

TIMESTAMP = "@timestamp"
INGESTED = "event.ingested"
DEFAULT_PAGE_SIZE = 1000
FLAG_VALUES_SIZE = 100

# Patterns also expand to closed backing indices, so the engine rejects a search that
# would skip one (index_closed_exception, HTTP 400) and the run fails instead of missing
# those events. A pattern that matches no index still returns no hits.
SEARCH_PARAMS: Mapping[str, str] = {"expand_wildcards": "open,closed"}

# Painless source of the "arrived later than allowed" test. The tests run it on
# OpenSearch 2.19. NOTE: it has not been run on Elasticsearch 8 here.
_LATE_SCRIPT = (
    "doc['event.ingested'].size() > 0 && doc['@timestamp'].size() > 0 && "
    "doc['event.ingested'].value.toInstant().toEpochMilli()"
    " - doc['@timestamp'].value.toInstant().toEpochMilli() > params.max_lateness_ms"
)


@dataclass(frozen=True)
class EvaluationTarget:
    """One entity and the event-time ranges over which its condition is evaluated."""

    entity: EntityKey
    ranges: tuple[TimeWindow, ...]


def group_source_names(rule: Rule) -> list[str]:
    """Return the composite source names of the entity fields: `g0`, `g1`, ..."""
    return [f"g{position}" for position in range(len(rule.entity_fields))]


def physical_fields(rule: Rule, fields: Mapping[str, str] | None) -> list[str]:
    """Return the aggregatable field to use for each entity field.

    Args:
        rule: The rule whose group-by fields are resolved.
        fields: Group-by field to aggregatable field, e.g. `user.name` to
            `user.name.keyword` for an index that maps it as text. Absent
            fields are used as they are.
    """
    mapping = fields or {}
    return [mapping.get(name, name) for name in rule.entity_fields]


def late_filter(max_lateness: timedelta) -> QueryBody:
    """Build a script filter for events received more than `max_lateness` after their time."""
    millis = int(max_lateness.total_seconds() * 1000)
    return {
        "script": {
            "script": {
                "lang": "painless",
                "source": _LATE_SCRIPT,
                "params": {"max_lateness_ms": millis},
            }
        }
    }


def selection_filter(rule: Rule) -> list[QueryBody]:
    """Return the filter clauses that select a rule's events.

    A sequence rule selects its attempts and its successes, on top of the
    rule's own filter.
    """
    if not isinstance(rule.spec, SequenceSpec):
        return list(rule.filter)
    steps = [{"bool": {"filter": rule.spec.attempt_filter}}]
    steps.append({"bool": {"filter": rule.spec.success_filter}})
    return [*rule.filter, {"bool": {"should": steps, "minimum_should_match": 1}}]


def range_filter(field: str, window: TimeWindow) -> QueryBody:
    """Build a half-open range filter `[start, end)` on a date field."""
    return {"range": {field: {"gte": iso(window.start), "lt": iso(window.end)}}}


def _group_sources(rule: Rule, fields: Mapping[str, str] | None) -> list[QueryBody]:
    # Match rules alert on events without a group value too; threshold rules
    # count per entity, so an event without one cannot reach a threshold.
    has_missing = isinstance(rule.spec, MatchSpec)
    sources: list[QueryBody] = []
    for name, field in zip(group_source_names(rule), physical_fields(rule, fields), strict=True):
        terms: QueryBody = {"field": field}
        if has_missing:
            terms["missing_bucket"] = True
        sources.append({name: {"terms": terms}})
    return sources


def _composite(sources: list[QueryBody], after: AfterKey | None, page_size: int) -> QueryBody:
    composite: QueryBody = {"size": page_size, "sources": sources}
    if after is not None:
        composite["after"] = dict(after)
    return composite


def _new_value_aggregations(rule: Rule, fields: Mapping[str, str] | None) -> QueryBody:
    if not isinstance(rule.spec, NewValueSpec):
        return {}
    mapping = fields or {}
    aggregations: QueryBody = {
        "first": {"min": {"field": TIMESTAMP}},
        "last": {"max": {"field": TIMESTAMP}},
    }
    for position, name in enumerate(rule.spec.flag_fields.values()):
        # One IP address maps to very few countries, so a bounded terms list is complete.
        terms = {"field": mapping.get(name, name), "size": FLAG_VALUES_SIZE}
        aggregations[f"values{position}"] = {"terms": terms}
    return aggregations


def _flag_aggregations(rule: Rule) -> QueryBody:
    return {f"flag_{name}": {"max": {"field": field}} for name, field in rule.flags.items()}


def arrival_query(
    rule: Rule,
    arrival: TimeWindow,
    *,
    now: datetime,
    future_tolerance: timedelta,
    fields: Mapping[str, str] | None = None,
    after: AfterKey | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> QueryBody:
    """Build step 1 of a run: the entities that received matching events in the arrival window.

    Each composite bucket is one entity with its new events' event-time slots
    (a `lookback`-wide UTC histogram), its count of late events and its flags.
    Events dated more than `future_tolerance` after `now` are left out of the
    buckets and counted in `future`.

    Args:
        rule: A threshold or match rule.
        arrival: Window on `event.ingested`.
        now: Time of the run.
        future_tolerance: Clock skew allowed before an event counts as future.
        fields: Aggregatable field per group-by field.
        after: The previous page's `after_key`; None for the first page.
        page_size: Buckets per page.
    """
    horizon = iso(now + future_tolerance)
    bucket_aggs: QueryBody = {
        "slots": {
            "date_histogram": {
                "field": TIMESTAMP,
                "fixed_interval": f"{int(rule.lookback.total_seconds())}s",
                "min_doc_count": 1,
            }
        },
        "late": {"filter": late_filter(rule.max_lateness)},
        **_flag_aggregations(rule),
        **_new_value_aggregations(rule, fields),
    }
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": [*selection_filter(rule), range_filter(INGESTED, arrival)]}},
        "aggs": {
            "future": {"filter": {"range": {TIMESTAMP: {"gt": horizon}}}},
            "late": {"filter": late_filter(rule.max_lateness)},
            "current": {
                "filter": {"range": {TIMESTAMP: {"lte": horizon}}},
                "aggs": {
                    "entities": {
                        "composite": _composite(_group_sources(rule, fields), after, page_size),
                        "aggs": bucket_aggs,
                    }
                },
            },
        },
    }


def entity_filter(
    rule: Rule, entity: EntityKey, fields: Mapping[str, str] | None = None
) -> QueryBody:
    """Build a filter that selects the events of one entity; a None value means missing."""
    clauses: list[QueryBody] = []
    excluded: list[QueryBody] = []
    for field, value in zip(physical_fields(rule, fields), entity, strict=True):
        if value is None:
            excluded.append({"exists": {"field": field}})
        else:
            clauses.append({"term": {field: value}})
    body: QueryBody = {"filter": clauses}
    if excluded:
        body["must_not"] = excluded
    return {"bool": body}


def _target_filter(
    rule: Rule, target: EvaluationTarget, fields: Mapping[str, str] | None
) -> QueryBody:
    ranges = [range_filter(TIMESTAMP, window) for window in target.ranges]
    entity = entity_filter(rule, target.entity, fields)
    entity["bool"]["filter"].append({"bool": {"should": ranges, "minimum_should_match": 1}})
    return entity


def evaluation_query(
    rule: Rule,
    targets: Sequence[EvaluationTarget],
    *,
    arrival_end: datetime,
    fields: Mapping[str, str] | None = None,
    after: AfterKey | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> QueryBody:
    """Build step 2 of a run: per entity, the event counts at each distinct event time.

    The composite buckets are (entity, `@timestamp` in epoch milliseconds), plus
    the distinct values of the metric field for a cardinality rule. Only events
    received before `arrival_end` count, so a retry of the same arrival window
    evaluates exactly the same events.
    """
    sources = _group_sources(rule, fields)
    sources.append({"ts": {"terms": {"field": TIMESTAMP}}})
    value_field = rule.point_value_field
    if value_field is not None:
        sources.append(
            {"value": {"terms": {"field": (fields or {}).get(value_field, value_field)}}}
        )
    targets_clause = _targets_clause(rule, targets, fields)
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    *selection_filter(rule),
                    {"range": {INGESTED: {"lt": iso(arrival_end)}}},
                    targets_clause,
                ]
            }
        },
        "aggs": {"points": _points_aggregation(rule, sources, after, page_size)},
    }


def _points_aggregation(
    rule: Rule, sources: list[QueryBody], after: AfterKey | None, page_size: int
) -> QueryBody:
    aggregation: QueryBody = {"composite": _composite(sources, after, page_size)}
    if isinstance(rule.spec, BaselineSpec) and rule.spec.sum_field is not None:
        aggregation["aggs"] = {"amount": {"sum": {"field": rule.spec.sum_field}}}
    if isinstance(rule.spec, SequenceSpec):
        steps = {
            "attempt": {"bool": {"filter": rule.spec.attempt_filter}},
            "success": {"bool": {"filter": rule.spec.success_filter}},
        }
        aggregation["aggs"] = {"steps": {"filters": {"filters": steps}}}
    return aggregation


def _targets_clause(
    rule: Rule, targets: Sequence[EvaluationTarget], fields: Mapping[str, str] | None
) -> QueryBody:
    return {
        "bool": {
            "should": [_target_filter(rule, target, fields) for target in targets],
            "minimum_should_match": 1,
        }
    }


def baseline_query(
    rule: Rule,
    targets: Sequence[EvaluationTarget],
    *,
    arrival_end: datetime,
    fields: Mapping[str, str] | None = None,
    after: AfterKey | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> QueryBody:
    """Build the history query of a baseline rule: per entity, the sum in each UTC bucket.

    Each target's ranges are the history before its new events. Buckets are
    `lookback` wide, fixed in UTC (`fixed_interval`), and only those with
    events are returned. A rule without `sum_field` counts events, so its
    buckets carry no sum.
    """
    if not isinstance(rule.spec, BaselineSpec):
        raise ValueError(f"rule {rule.id!r} is not a baseline rule")
    sources = _group_sources(rule, fields)
    interval = f"{int(rule.lookback.total_seconds())}s"
    sources.append({"bucket": {"date_histogram": {"field": TIMESTAMP, "fixed_interval": interval}}})
    history: QueryBody = {"composite": _composite(sources, after, page_size)}
    # A counting rule reads each bucket's doc_count, so it needs no sum.
    if rule.spec.sum_field is not None:
        history["aggs"] = {"amount": {"sum": {"field": rule.spec.sum_field}}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    *selection_filter(rule),
                    {"range": {INGESTED: {"lt": iso(arrival_end)}}},
                    _targets_clause(rule, targets, fields),
                ]
            }
        },
        "aggs": {"history": history},
    }


def known_values_query(
    rule: Rule,
    field: str,
    targets: Sequence[EvaluationTarget],
    *,
    arrival_end: datetime,
    fields: Mapping[str, str] | None = None,
    after: AfterKey | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> QueryBody:
    """Build the history query of a new-value rule: per entity and value, its first event time.

    Targets carry the group-by values only (not the new value) and the history
    ranges to search.
    """
    mapping = fields or {}
    group_rule = _group_only(rule)
    sources = _group_sources(group_rule, fields)
    sources.append({"value": {"terms": {"field": mapping.get(field, field)}}})
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    *selection_filter(rule),
                    {"range": {INGESTED: {"lt": iso(arrival_end)}}},
                    _targets_clause(group_rule, targets, fields),
                ]
            }
        },
        "aggs": {
            "known": {
                "composite": _composite(sources, after, page_size),
                "aggs": {"first": {"min": {"field": TIMESTAMP}}},
            }
        },
    }


def _group_only(rule: Rule) -> Rule:
    """Return the rule as a match rule on its group-by fields, for history look-ups."""
    return rule.model_copy(update={"spec": MatchSpec(group_by=rule.group_by)})


def episode_query(
    rule: Rule,
    entity: EntityKey,
    span: TimeWindow,
    *,
    arrival_end: datetime,
    fields: Mapping[str, str] | None = None,
    sample_size: int = 20,
) -> QueryBody:
    """Build the search that counts an alert's events and returns sample event ids.

    The same body, stored in the alert's evidence, reopens the events in the
    workbench.
    """
    entity_clause = entity_filter(rule, entity, fields)
    return {
        "size": sample_size,
        "track_total_hits": True,
        "_source": False,
        "sort": [{TIMESTAMP: "asc"}],
        "query": {
            "bool": {
                "filter": [
                    *selection_filter(rule),
                    entity_clause,
                    range_filter(TIMESTAMP, span),
                    {"range": {INGESTED: {"lt": iso(arrival_end)}}},
                ]
            }
        },
    }


def silence_query(
    host_field: str,
    *,
    now: datetime,
    host_horizon: timedelta,
    after: AfterKey | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> QueryBody:
    """Build the query for the newest `event.ingested` of a source, overall and per host.

    Hosts whose newest event is older than `host_horizon` are left out, so a
    host removed long ago stops being checked.
    """
    host_sources = [{"host": {"terms": {"field": host_field}}}]
    return {
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "last_ingested": {"max": {"field": INGESTED}},
            "recent": {
                "filter": {"range": {INGESTED: {"gte": iso(now - host_horizon)}}},
                "aggs": {
                    "hosts": {
                        "composite": _composite(host_sources, after, page_size),
                        "aggs": {"last_ingested": {"max": {"field": INGESTED}}},
                    }
                },
            },
        },
    }


def silence_timeline_query(
    host_field: str,
    window: TimeWindow,
    *,
    interval: timedelta,
    after: AfterKey | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> QueryBody:
    """Build the query for a source's event timeline: first and last event per host and slot.

    The timeline follows `@timestamp`, not `event.ingested`, so it shows when
    events happened whenever they arrived. Events without a host form the
    host `None`. With `interval` at most the smallest allowed silence, every
    longer gap lies between two slots, so the first and last event of each
    slot locate it exactly.
    """
    sources: list[QueryBody] = [
        {"host": {"terms": {"field": host_field, "missing_bucket": True}}},
        {
            "slot": {
                "date_histogram": {
                    "field": TIMESTAMP,
                    "fixed_interval": f"{int(interval.total_seconds())}s",
                }
            }
        },
    ]
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [range_filter(TIMESTAMP, window)]}},
        "aggs": {
            "timeline": {
                "composite": _composite(sources, after, page_size),
                "aggs": {
                    "first": {"min": {"field": TIMESTAMP}},
                    "last": {"max": {"field": TIMESTAMP}},
                },
            }
        },
    }
