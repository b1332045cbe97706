"""Evidence-pack sections for the control mapping and the alerting self-test results."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from socwb.catalogue import Catalogue, load_catalogue
from socwb.controls import MatrixRow, all_controls, control_matrix
from socwb.evidence.table import EvidenceTable
from socwb.rules.catalog import builtin_rules
from socwb.rules.model import Rule, iso
from socwb.search import SearchBackend
from socwb.selftest import ResultStore, SelftestResult, results_index, selftest_namespace
from socwb.settings import DetectorSettings

logger = logging.getLogger(__name__)

MAPPING_COLUMNS = ["control", "kind", "name", "criteria", "policy_clause", "implemented_by"]
MATRIX_COLUMNS = [
    "rule_id",
    "rule_name",
    "severity",
    "criteria",
    "source",
    "rule_live",
    "rule_live_reason",
    "canary_passing",
    "canary_reason",
    "source_healthy",
    "source_reason",
    "as_of",
]
RESULT_COLUMNS = [
    "tested_at",
    "run_id",
    "rule_id",
    "rule_version",
    "passed",
    "reason",
    "alert_id",
    "severity",
    "created_at",
    "due_at",
]
SUMMARY_COLUMNS = ["rule_id", "runs", "passed", "failed", "last_tested_at", "last_passed"]


def _check_period(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValueError(f"period end {iso(end)} must be later than its start {iso(start)}")


def control_tables(
    backend: SearchBackend,
    namespace: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    rules: Sequence[Rule] | None = None,
    catalogue: Catalogue | None = None,
    detector_settings: DetectorSettings | None = None,
) -> list[EvidenceTable]:
    """Return the control mapping and the control matrix as evidence tables.

    The mapping holds for the whole period. The matrix shows the state at `now`,
    the time the pack is built, because rule liveness and source health are
    read from the latest runs and coverage.

    Raises:
        ValueError: `end` is not later than `start`.
    """
    _check_period(start, end)
    rules = list(rules) if rules is not None else builtin_rules()
    catalogue = catalogue or load_catalogue()
    mapping = [
        {
            "control": control.id,
            "kind": control.kind,
            "name": control.name,
            "criteria": ", ".join(control.criteria),
            "policy_clause": control.clause,
            "implemented_by": control.implemented_by,
        }
        for control in all_controls(rules, catalogue)
    ]
    matrix = control_matrix(
        backend, namespace, rules, catalogue, now=now, detector_settings=detector_settings
    )
    period = f"{iso(start)} to {iso(end)}"
    return [
        EvidenceTable(
            name="control_mapping",
            title="Policy clauses and SOC 2 criteria per control",
            columns=MAPPING_COLUMNS,
            rows=mapping,
            description=(
                f"Each detection rule, log source retention policy and check, the trust "
                f"services criteria it serves and the policy clause it implements, for {period}."
            ),
        ),
        EvidenceTable(
            name="control_matrix",
            title="Control matrix: alert type by log source",
            columns=MATRIX_COLUMNS,
            rows=[_matrix_row(row, now) for row in matrix],
            description=(
                f"State at {iso(now)}. A rule is live when its latest run succeeded within "
                "the degraded-after limit. Its canary passes when the latest self-test of the "
                "current rule definition passed. A source is healthy when the coverage "
                "report lists no findings for it."
            ),
        ),
    ]


def _matrix_row(row: MatrixRow, now: datetime) -> dict[str, object]:
    return {
        "rule_id": row.rule_id,
        "rule_name": row.rule_name,
        "severity": row.severity,
        "criteria": ", ".join(row.criteria),
        "source": row.source,
        "rule_live": row.rule_live.is_ok,
        "rule_live_reason": row.rule_live.reason,
        "canary_passing": row.canary_passing.is_ok,
        "canary_reason": row.canary_passing.reason,
        "source_healthy": row.source_healthy.is_ok,
        "source_reason": row.source_healthy.reason,
        "as_of": iso(now),
    }


def selftest_tables(
    backend: SearchBackend, namespace: str, start: datetime, end: datetime
) -> list[EvidenceTable]:
    """Return the self-test results tested in `[start, end)`, and a summary per rule.

    Raises:
        ValueError: `end` is not later than `start`.
    """
    _check_period(start, end)
    results = ResultStore(backend, namespace).between(start, end)
    period = f"{iso(start)} to {iso(end)}"
    return [
        EvidenceTable(
            name="selftest_results",
            title="Alerting self-test results",
            columns=RESULT_COLUMNS,
            rows=[_result_row(result) for result in results],
            description=(
                f"Every rule's canary result from {period}, read from "
                f"{results_index(namespace)}. Canary events and their alerts live in the "
                f"{selftest_namespace(namespace)} namespace, apart from real logs. A rule "
                "passed when its alert had the canary's entity, the rule's severity and a "
                "due time of created_at plus the response time."
            ),
        ),
        EvidenceTable(
            name="selftest_summary",
            title="Alerting self-test summary per rule",
            columns=SUMMARY_COLUMNS,
            rows=summarise_results(results),
            description=f"Self-test runs, passes and failures per rule from {period}.",
        ),
    ]


def _result_row(result: SelftestResult) -> dict[str, object]:
    document = result.to_document()
    return {column: document[column] for column in RESULT_COLUMNS}


def summarise_results(results: Sequence[SelftestResult]) -> list[dict[str, object]]:
    """Count runs, passes and failures per rule, from results sorted oldest first."""
    by_rule: dict[str, list[SelftestResult]] = {}
    for result in results:
        by_rule.setdefault(result.rule_id, []).append(result)
    rows: list[dict[str, object]] = []
    for rule_id in sorted(by_rule):
        runs = by_rule[rule_id]
        passed = sum(result.passed for result in runs)
        rows.append(
            {
                "rule_id": rule_id,
                "runs": len(runs),
                "passed": passed,
                "failed": len(runs) - passed,
                "last_tested_at": iso(runs[-1].tested_at),
                "last_passed": runs[-1].passed,
            }
        )
    return rows
