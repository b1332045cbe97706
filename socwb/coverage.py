"""Per-source log coverage: delivery, required log types, retention, write-once state, clock skew.

Everything is computed by the engine with aggregations over the source's data
streams; nothing pulls events into Python. The report is the audit evidence
that each source of the policy was collected and kept.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from socwb.catalogue import Catalogue, LogType, Source
from socwb.errors import QueryRejectedError
from socwb.lifecycle_fallback import index_states, stored_fallback_policy
from socwb.retention import NEVER_DELETED, RetentionPolicyError, check_retention
from socwb.rules.model import TimeWindow
from socwb.search import QueryBody, SearchBackend
from socwb.search.opensearch import OpenSearchBackend
from socwb.timeutil import utc_iso

logger = logging.getLogger(__name__)

DAYS = 30
DEFAULT_MAX_SKEW = timedelta(minutes=5)
NO_HOST = "(no host)"
"""Host name under which the clock skew of events without `host.name` is reported."""

# Milliseconds between the event's own time and the engine's receive time.
# Positive: delivered late or the sender's clock runs slow. Negative: the
# sender's clock runs fast.
_SKEW_SCRIPT = (
    "doc['event.ingested'].value.toInstant().toEpochMilli()"
    " - doc['@timestamp'].value.toInstant().toEpochMilli()"
)


@dataclass
class HostSkew:
    """Delay between event time and receive time for one host, in seconds."""

    host: str
    events: int
    median_s: float
    p95_s: float
    min_s: float
    max_s: float
    is_flagged: bool
    reason: str = ""


@dataclass
class IndexRetention:
    """Lifecycle facts of one backing index."""

    index: str
    is_write_index: bool
    policy: str | None
    guaranteed_days: float | None
    required_days: int
    is_retention_met: bool
    is_read_only: bool


@dataclass
class SourceCoverage:
    """Coverage of one log source over the report window."""

    source: str
    title: str
    data_streams: list[str]
    last_event: str | None
    last_ingested: str | None
    events_24h: int
    events_per_day: dict[str, int]
    log_types_seen: list[str]
    log_types_missing: list[str]
    indices: list[IndexRetention] = field(default_factory=list)
    future_events: int = 0
    skew: list[HostSkew] = field(default_factory=list)

    @property
    def findings(self) -> list[str]:
        """Problems an auditor or admin must act on."""
        problems = [f"missing log type: {key}" for key in self.log_types_missing]
        if not self.data_streams:
            problems.append("no data received")
        for item in self.indices:
            if not item.is_retention_met:
                problems.append(f"retention not guaranteed on {item.index}")
            if not item.is_write_index and not item.is_read_only:
                problems.append(f"rolled-over index {item.index} is writable")
        if self.future_events:
            problems.append(f"{self.future_events} events dated in the future")
        problems.extend(
            f"clock skew on {host.host}: {host.reason}" for host in self.skew if host.is_flagged
        )
        return problems


def source_coverage(
    backend: SearchBackend,
    source: Source,
    namespace: str,
    *,
    now: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> SourceCoverage:
    """Compute the coverage of one source from its data streams."""
    now = now or datetime.now(UTC)
    pattern = source.data_stream_pattern(namespace)
    streams = _data_streams(backend, pattern)
    window_start = now - timedelta(days=DAYS)
    coverage = SourceCoverage(
        source=source.key,
        title=source.title,
        data_streams=sorted(streams),
        last_event=None,
        last_ingested=None,
        events_24h=0,
        events_per_day={},
        log_types_seen=[],
        log_types_missing=[log_type.key for log_type in source.log_types],
    )
    if not streams:
        return coverage
    response = backend.search(pattern, _overview_query(source, window_start, now))
    _read_overview(coverage, source, response["aggregations"])
    coverage.skew = host_skew(backend, pattern, TimeWindow(window_start, now), max_skew)
    coverage.indices = _index_retention(backend, source, namespace, streams)
    return coverage


def coverage_report(
    backend: SearchBackend,
    catalogue: Catalogue,
    namespace: str,
    *,
    now: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> list[SourceCoverage]:
    """Compute the coverage of every source in the catalogue."""
    now = now or datetime.now(UTC)
    report = [
        source_coverage(backend, source, namespace, now=now, max_skew=max_skew)
        for source in catalogue.sources
    ]
    logger.info(
        "coverage computed namespace=%s sources=%d findings=%d",
        namespace,
        len(report),
        sum(len(item.findings) for item in report),
    )
    return report


def as_json(report: list[SourceCoverage]) -> list[dict[str, Any]]:
    """Return the report as JSON-ready dictionaries, findings included."""
    return [{**asdict(item), "findings": item.findings} for item in report]


def _overview_query(source: Source, start: datetime, now: datetime) -> QueryBody:
    log_type_filters = {
        f"{log_type.key}#{position}": match.to_query()
        for log_type in source.log_types
        for position, match in enumerate(log_type.all_of)
    }
    return {
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "last_event": {"max": {"field": "@timestamp"}},
            "last_ingested": {"max": {"field": "event.ingested"}},
            "last_24h": {"filter": _time_range(now - timedelta(days=1), now)},
            "future": {"filter": {"range": {"@timestamp": {"gt": utc_iso(now)}}}},
            "window": {
                "filter": _time_range(start, now),
                "aggs": {
                    "per_day": {
                        "date_histogram": {
                            "field": "@timestamp",
                            "calendar_interval": "1d",
                            "min_doc_count": 0,
                            "extended_bounds": {"min": utc_iso(start), "max": utc_iso(now)},
                        }
                    },
                    "log_types": {"filters": {"filters": log_type_filters}},
                },
            },
        },
    }


def _read_overview(coverage: SourceCoverage, source: Source, aggs: dict[str, Any]) -> None:
    coverage.last_event = aggs["last_event"].get("value_as_string")
    coverage.last_ingested = aggs["last_ingested"].get("value_as_string")
    coverage.events_24h = int(aggs["last_24h"]["doc_count"])
    coverage.future_events = int(aggs["future"]["doc_count"])
    coverage.events_per_day = {
        bucket["key_as_string"][:10]: int(bucket["doc_count"])
        for bucket in aggs["window"]["per_day"]["buckets"]
    }
    counts = {
        key: int(bucket["doc_count"])
        for key, bucket in aggs["window"]["log_types"]["buckets"].items()
    }
    seen = [log_type.key for log_type in source.log_types if _is_seen(log_type, counts)]
    coverage.log_types_seen = seen
    coverage.log_types_missing = [
        log_type.key for log_type in source.log_types if log_type.key not in seen
    ]


def _is_seen(log_type: LogType, counts: dict[str, int]) -> bool:
    return all(
        counts.get(f"{log_type.key}#{position}", 0) > 0 for position in range(len(log_type.all_of))
    )


def host_skew(
    backend: SearchBackend,
    pattern: str,
    received: TimeWindow,
    bound: timedelta,
    *,
    earliest_event: datetime | None = None,
) -> list[HostSkew]:
    """Measure per host the delay between event time and receive time, and flag it past `bound`.

    Args:
        backend: The engine.
        pattern: Data streams of one source.
        received: Range of `event.ingested` (both ends included) whose events count.
        bound: Largest median delay, either way, that is not flagged.
        earliest_event: Events dated before this are left out, when given.
    """
    filters: list[QueryBody] = [
        {
            "range": {
                "event.ingested": {"gte": utc_iso(received.start), "lte": utc_iso(received.end)}
            }
        },
        {"exists": {"field": "@timestamp"}},
    ]
    if earliest_event is not None:
        filters.append({"range": {"@timestamp": {"gte": utc_iso(earliest_event)}}})
    query = {
        "size": 0,
        "query": {"bool": {"filter": filters}},
        "aggs": {
            "hosts": {
                "terms": {"field": "host.name", "size": 1000, "missing": NO_HOST},
                "aggs": {
                    "delay": {
                        "percentiles": {"script": {"source": _SKEW_SCRIPT}, "percents": [50, 95]}
                    },
                    "range": {"stats": {"script": {"source": _SKEW_SCRIPT}}},
                },
            }
        },
    }
    # A pattern that matches no index yet returns no aggregations.
    aggregations = backend.search(pattern, query).get("aggregations")
    buckets = aggregations["hosts"]["buckets"] if aggregations else []
    return [_skew_of(bucket, bound) for bucket in buckets]


def _skew_of(bucket: dict[str, Any], bound: timedelta) -> HostSkew:
    values = bucket["delay"]["values"]
    median = float(values.get("50.0") or 0.0) / 1000
    p95 = float(values.get("95.0") or 0.0) / 1000
    stats = bucket["range"]
    limit = bound.total_seconds()
    reason = ""
    if median < -limit:
        reason = f"clock ahead by a median {-median:.0f}s (bound {limit:.0f}s)"
    elif median > limit:
        reason = f"events arrive a median {median:.0f}s late: slow clock or delivery delay"
    return HostSkew(
        host=str(bucket["key"]),
        events=int(bucket["doc_count"]),
        median_s=round(median, 3),
        p95_s=round(p95, 3),
        min_s=round(float(stats.get("min") or 0.0) / 1000, 3),
        max_s=round(float(stats.get("max") or 0.0) / 1000, 3),
        is_flagged=bool(reason),
        reason=reason,
    )


def _data_streams(backend: SearchBackend, pattern: str) -> dict[str, list[str]]:
    found = backend.get_json(f"/_data_stream/{pattern}") or {}
    return {
        stream["name"]: [index["index_name"] for index in stream["indices"]]
        for stream in found.get("data_streams", [])
    }


def _index_retention(
    backend: SearchBackend, source: Source, namespace: str, streams: dict[str, list[str]]
) -> list[IndexRetention]:
    policies = _attached_policies(
        backend, namespace, [i for indices in streams.values() for i in indices]
    )
    result = []
    for indices in streams.values():
        for position, index in enumerate(indices):
            policy_name = policies.get(index)
            guaranteed = _guaranteed_days(backend, policy_name, source)
            result.append(
                IndexRetention(
                    index=index,
                    is_write_index=position == len(indices) - 1,
                    policy=policy_name,
                    guaranteed_days=guaranteed,
                    required_days=source.retention_days,
                    is_retention_met=guaranteed is not None and guaranteed >= source.retention_days,
                    is_read_only=_is_read_only(backend, index),
                )
            )
    return result


def _attached_policies(
    backend: SearchBackend, namespace: str, indices: list[str]
) -> dict[str, str]:
    if isinstance(backend, OpenSearchBackend) and not backend.has_ism():
        return {state["index"]: state["policy"] for state in index_states(backend, namespace)}
    attached = {}
    for index in indices:
        if backend.info.lifecycle_api == "ism":
            state = (backend.get_json(f"/_plugins/_ism/explain/{index}") or {}).get(index, {})
            policy = state.get("index.plugins.index_state_management.policy_id")
        else:
            explained = backend.get_json(f"/{index}/_ilm/explain") or {}
            policy = explained.get("indices", {}).get(index, {}).get("policy")
        if policy:
            attached[index] = str(policy)
    return attached


def _guaranteed_days(
    backend: SearchBackend, policy_name: str | None, source: Source
) -> float | None:
    if policy_name is None:
        return None
    if isinstance(backend, OpenSearchBackend) and not backend.has_ism():
        body = stored_fallback_policy(backend, policy_name)
    else:
        body = backend.get_lifecycle_policy(policy_name)
    if body is None:
        return None
    try:
        check = check_retention(body, backend.info.distribution, source.retention)
    except RetentionPolicyError as exc:
        logger.warning("retention not computable policy=%s error=%s", policy_name, exc)
        return None
    if check.guaranteed == NEVER_DELETED:
        return float("inf")
    return round(check.guaranteed.total_seconds() / 86400, 2)


def _is_read_only(backend: SearchBackend, index: str) -> bool:
    try:
        found = backend.request(
            "GET", f"/{index}/_settings/index.blocks.write,index.blocks.read_only"
        )
    except QueryRejectedError:
        return False
    blocks = found.get(index, {}).get("settings", {}).get("index", {}).get("blocks", {})
    return bool(blocks.get("write") == "true" or blocks.get("read_only") == "true")


def _time_range(start: datetime, end: datetime) -> QueryBody:
    return {"range": {"@timestamp": {"gte": utc_iso(start), "lte": utc_iso(end)}}}
