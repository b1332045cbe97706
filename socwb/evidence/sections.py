"""The sections of the evidence pack: each reads the engine and returns evidence tables.

`SECTIONS` lists them in the order the pack shows them. A new section is one
function that takes a `PackContext` and returns a list of `EvidenceTable`, added
to that list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from socwb.evidence.alert_sample import alert_sample_tables
from socwb.evidence.context import PackContext
from socwb.evidence.control_sections import control_tables, selftest_tables
from socwb.evidence.source_proof import source_proof_tables
from socwb.evidence.table import EvidenceTable
from socwb.ledger import GAP_COLUMNS, LEDGER_COLUMNS, coverage_ledger, gap_rows, ledger_rows
from socwb.reporting import TuningChange, figure_rows, monthly_figures
from socwb.rules.model import iso
from socwb.tuning import Suppression, SuppressionAction, SuppressionStore

logger = logging.getLogger(__name__)

Section = Callable[[PackContext], list[EvidenceTable]]

SUPPRESSION_EVENT_COLUMNS = [
    "suppression_id",
    "seq",
    "at",
    "action",
    "actor",
    "proposed_by",
    "is_second_person",
    "rule_ids",
    "conditions",
    "justification",
    "note",
    "expires_at",
]
REVIEW_COLUMNS = [
    "month",
    "suppression_id",
    "rule_ids",
    "state",
    "proposed_by",
    "proposed_at",
    "decided_by",
    "decided_at",
    "expires_at",
]
FIGURE_COLUMNS = ["month", "section", "key", "metric", "value"]


def ledger_tables(context: PackContext) -> list[EvidenceTable]:
    """Build the coverage ledger per rule and day, and its gaps one by one."""
    days = coverage_ledger(context.backend, context.namespace, context.period)
    source = (
        "From the detector's run records: the event.ingested ranges each succeeded run "
        "searched, merged per rule and day (midnight to midnight in "
        f"{context.period.zone.key})."
    )
    return [
        EvidenceTable(
            name="coverage_ledger",
            title="Coverage ledger: arrival ranges searched per rule and day",
            columns=LEDGER_COLUMNS,
            rows=ledger_rows(days),
            description=(
                f"{source} A gap is arrival time a run skipped: its range began after every "
                "earlier range ended. It is caught up where a later or backfilled run searched "
                "it, and open otherwise. Ranges are ISO 8601 intervals start/end in UTC."
            ),
        ),
        EvidenceTable(
            name="coverage_gaps",
            title="Coverage ledger: gaps",
            columns=GAP_COLUMNS,
            rows=gap_rows(days),
            description=(
                f"{source} One row per gap and day, with the run that revealed it and the "
                "runs that later searched it. An empty table means no run skipped any time."
            ),
        ),
    ]


def suppression_tables(context: PackContext) -> list[EvidenceTable]:
    """Build the suppression decisions of the period and each month's review list."""
    store = SuppressionStore(context.backend, context.namespace)
    suppressions = store.list_all()
    period = context.period
    return [
        EvidenceTable(
            name="suppression_changes",
            title="Suppression changes and approvals",
            columns=SUPPRESSION_EVENT_COLUMNS,
            rows=_suppression_event_rows(context, store, suppressions),
            description=(
                f"Every proposal, approval, rejection and renewal recorded in {period.label}, "
                "oldest first. `is_second_person` is true when the deciding reviewer is not "
                "the proposer; the workbench rejects a decision by the proposer."
            ),
        ),
        EvidenceTable(
            name="suppression_reviews",
            title="Suppression monthly reviews",
            columns=REVIEW_COLUMNS,
            rows=[
                _review_row(month.label, change)
                for month in period.months()
                for change in store.monthly_review(month, context.as_of)
            ],
            description=(
                "Per month of the period, the suppressions proposed or decided in it or active "
                f"at {iso(context.as_of)}, as the monthly report lists them for review. A state "
                "of `expired` is an approval whose expiry has passed."
            ),
        ),
    ]


def _review_row(month: str, change: TuningChange) -> dict[str, Any]:
    return {
        "month": month,
        "suppression_id": change.suppression_id,
        "rule_ids": " ".join(change.rule_ids),
        "state": change.state,
        "proposed_by": change.proposed_by,
        "proposed_at": iso(change.proposed_at),
        "decided_by": change.decided_by,
        "decided_at": None if change.decided_at is None else iso(change.decided_at),
        "expires_at": iso(change.expires_at),
    }


def _suppression_event_rows(
    context: PackContext, store: SuppressionStore, suppressions: list[Suppression]
) -> list[dict[str, Any]]:
    start, end = context.period.start, context.period.end
    rows = []
    for item in suppressions:
        for event in store.events(item.id):
            if not start <= event.at < end:
                continue
            is_decision = event.action != SuppressionAction.PROPOSE
            rows.append(
                {
                    "suppression_id": item.id,
                    "seq": event.seq,
                    "at": iso(event.at),
                    "action": event.action.value,
                    "actor": event.actor,
                    "proposed_by": item.proposed_by,
                    "is_second_person": event.actor != item.proposed_by if is_decision else None,
                    "rule_ids": " ".join(item.rule_ids),
                    "conditions": " ".join(f"{c.field}={c.value}" for c in item.conditions),
                    "justification": item.justification,
                    "note": event.note,
                    "expires_at": iso(event.expires_at or item.expires_at),
                }
            )
    return sorted(rows, key=lambda row: (str(row["at"]), str(row["suppression_id"])))


def monthly_figure_tables(context: PackContext) -> list[EvidenceTable]:
    """Build the CISO's monthly figures for every month that overlaps the period."""
    store = SuppressionStore(context.backend, context.namespace)
    rows = []
    for month in context.period.months():
        changes = store.monthly_review(month, context.as_of)
        figures = monthly_figures(
            context.backend, context.namespace, month, as_of=context.as_of, tuning_changes=changes
        )
        for section, key, metric, value in figure_rows(figures):
            rows.append(
                {
                    "month": month.label,
                    "section": section,
                    "key": key,
                    "metric": metric,
                    "value": value,
                }
            )
    return [
        EvidenceTable(
            name="monthly_figures",
            title="Monthly figures for the CISO",
            columns=FIGURE_COLUMNS,
            rows=rows,
            description=(
                "The figures of `socwb report` for each whole month that overlaps the period, "
                f"as of {iso(context.as_of)}; durations in seconds, rates as fractions."
            ),
        )
    ]


def control_matrix_tables(context: PackContext) -> list[EvidenceTable]:
    """Return the control mapping and the alert type × source matrix as of the pack's time."""
    period = context.period
    return control_tables(
        context.backend,
        context.namespace,
        period.start,
        period.end,
        now=context.as_of,
        catalogue=context.catalogue,
    )


def selftest_result_tables(context: PackContext) -> list[EvidenceTable]:
    """Return the self-test results of the period and a summary per rule."""
    period = context.period
    return selftest_tables(context.backend, context.namespace, period.start, period.end)


SECTIONS: list[Section] = [
    control_matrix_tables,
    source_proof_tables,
    ledger_tables,
    alert_sample_tables,
    suppression_tables,
    monthly_figure_tables,
    selftest_result_tables,
]
"""The pack's sections in display order."""


def collect_tables(
    context: PackContext, sections: list[Section] | None = None
) -> list[EvidenceTable]:
    """Run every section in order and return their tables."""
    tables: list[EvidenceTable] = []
    for section in SECTIONS if sections is None else sections:
        produced = section(context)
        logger.info("evidence section built section=%s tables=%d", section.__name__, len(produced))
        tables.extend(produced)
    return tables
