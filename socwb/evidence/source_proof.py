"""Per-source proof of collection and retention, and the integrity ledger's verification result."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from socwb import integrity
from socwb.catalogue import Source
from socwb.coverage import IndexRetention, SourceCoverage, coverage_report
from socwb.evidence.context import PackContext
from socwb.evidence.table import EvidenceTable
from socwb.integrity import Finding, VerificationReport
from socwb.rules.model import iso

SOURCE_COLUMNS = [
    "source",
    "title",
    "data_streams",
    "oldest_event",
    "newest_event",
    "events_in_period",
    "required_retention_days",
    "policies",
    "effective_retention_days",
    "read_only",
    "integrity_findings",
    "coverage_findings",
    "status",
]
INDEX_COLUMNS = [
    "source",
    "index",
    "is_write_index",
    "policy",
    "guaranteed_retention_days",
    "required_retention_days",
    "is_retention_met",
    "is_read_only",
]
FINDING_COLUMNS = ["kind", "index", "message"]


def source_proof_tables(context: PackContext) -> list[EvidenceTable]:
    """Build the per-source table, the per-index retention table and the integrity tables."""
    coverage = coverage_report(
        context.backend, context.catalogue, context.namespace, now=context.as_of
    )
    report = integrity.verify(context.backend, context.namespace, context.catalogue, context.as_of)
    sources = {source.key: source for source in context.catalogue.sources}
    rows = [_source_row(context, sources[item.source], item, report.findings) for item in coverage]
    return [
        EvidenceTable(
            name="sources",
            title="Log sources: events kept, retention and read-only state",
            columns=SOURCE_COLUMNS,
            rows=rows,
            description=(
                "Per log source of the policy: the oldest and newest event still stored, "
                f"events dated in {context.period.label}, the retention the policy requires, "
                "the attached lifecycle policies, the shortest retention they guarantee "
                "(effective retention), how many rolled-over indices are read-only, the "
                "integrity findings on its indices, and every finding of `socwb coverage`. "
                "The status is `finding` when retention is not guaranteed, a rolled-over "
                f"index is writable or an index failed integrity. Computed at {iso(context.as_of)}."
            ),
        ),
        EvidenceTable(
            name="retention_indices",
            title="Backing indices: policy and guaranteed retention",
            columns=INDEX_COLUMNS,
            rows=[_index_row(item, index) for item in coverage for index in item.indices],
            description=(
                "Each backing index of every log data stream with its lifecycle policy and the "
                "retention that policy guarantees in the worst case (docs/retention.md)."
            ),
        ),
        _integrity_summary(report),
        EvidenceTable(
            name="integrity_findings",
            title="Integrity verification: findings",
            columns=FINDING_COLUMNS,
            rows=[
                {"kind": item.kind, "index": item.index, "message": item.message}
                for item in report.findings
            ],
            description=(
                "Indices whose content changed since their recorded digest, indices deleted "
                "before their retention ended, and breaks in the ledger's hash chain. "
                "An empty table means none were found."
            ),
        ),
    ]


def _source_row(
    context: PackContext, source: Source, item: SourceCoverage, findings: Sequence[Finding]
) -> dict[str, Any]:
    oldest, newest, in_period = _event_range(context, source, item)
    rolled = [index for index in item.indices if not index.is_write_index]
    guaranteed = [index.guaranteed_days for index in item.indices]
    effective = None
    if guaranteed and all(days is not None for days in guaranteed):
        effective = min(days for days in guaranteed if days is not None)
    source_findings = _findings_of(source, context.namespace, findings)
    problems = [index for index in item.indices if not index.is_retention_met]
    problems += [index for index in rolled if not index.is_read_only]
    return {
        "source": source.key,
        "title": source.title,
        "data_streams": " ".join(item.data_streams),
        "oldest_event": oldest,
        "newest_event": newest,
        "events_in_period": in_period,
        "required_retention_days": source.retention_days,
        "policies": " ".join(sorted({index.policy or "(none)" for index in item.indices})),
        "effective_retention_days": _days(effective),
        "read_only": f"{sum(index.is_read_only for index in rolled)} of {len(rolled)} rolled-over",
        "integrity_findings": len(source_findings),
        "coverage_findings": "; ".join(item.findings),
        "status": _status(item, bool(problems or source_findings)),
    }


def _status(item: SourceCoverage, has_problem: bool) -> str:
    if not item.data_streams:
        return "no data"
    return "finding" if has_problem else "ok"


def _event_range(
    context: PackContext, source: Source, item: SourceCoverage
) -> tuple[str | None, str | None, int]:
    if not item.data_streams:
        return None, None, 0
    period = {
        "range": {"@timestamp": {"gte": iso(context.period.start), "lt": iso(context.period.end)}}
    }
    body = {
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "oldest": {"min": {"field": "@timestamp"}},
            "newest": {"max": {"field": "@timestamp"}},
            "in_period": {"filter": period},
        },
    }
    pattern = source.data_stream_pattern(context.namespace)
    aggregations = context.backend.search(pattern, body)["aggregations"]
    return (
        aggregations["oldest"].get("value_as_string"),
        aggregations["newest"].get("value_as_string"),
        int(aggregations["in_period"]["doc_count"]),
    )


def _findings_of(source: Source, namespace: str, findings: Sequence[Finding]) -> list[Finding]:
    """Return the findings on backing indices (`.ds-<data stream>-NNNNNN`) of the source."""
    pattern = f".ds-{source.data_stream_pattern(namespace)}-*"
    return [item for item in findings if item.index and fnmatch.fnmatch(item.index, pattern)]


def _index_row(item: SourceCoverage, index: IndexRetention) -> dict[str, Any]:
    return {
        "source": item.source,
        "index": index.index,
        "is_write_index": index.is_write_index,
        "policy": index.policy,
        "guaranteed_retention_days": _days(index.guaranteed_days),
        "required_retention_days": index.required_days,
        "is_retention_met": index.is_retention_met,
        "is_read_only": index.is_read_only,
    }


def _days(days: float | None) -> float | str | None:
    """Return days as a JSON-safe value: an unlimited retention becomes `never deleted`."""
    if days is not None and days == float("inf"):
        return "never deleted"
    return days


def _integrity_summary(report: VerificationReport) -> EvidenceTable:
    result = "findings" if report.has_findings else "verified"
    if report.ledger_entries == 0:
        result = "no digests recorded"
    return EvidenceTable(
        name="integrity_summary",
        title="Integrity verification",
        columns=[
            "namespace",
            "checked_at",
            "ledger_entries",
            "head_hash",
            "indices_checked",
            "findings",
            "result",
        ],
        rows=[
            {
                "namespace": report.namespace,
                "checked_at": iso(report.checked_at),
                "ledger_entries": report.ledger_entries,
                "head_hash": report.head_hash,
                "indices_checked": report.indices_checked,
                "findings": len(report.findings),
                "result": result,
            }
        ],
        description=(
            "The hash-chained integrity ledger checked as `socwb verify` checks it: every "
            "recorded digest recomputed and the chain followed. `no digests recorded` means "
            "`socwb verify --record` has never run on this namespace."
        ),
    )
