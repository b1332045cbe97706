"""A seeded random sample of the period's alerts, each with its history, response and incidents."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from socwb.alerts.history import HistoryEntry, HistoryStore, derive_state
from socwb.alerts.model import Alert
from socwb.evidence.context import PackContext
from socwb.evidence.table import EvidenceTable
from socwb.incidents import IncidentService
from socwb.reporting import due_outcome, fetch_alerts_created, format_duration, is_canary
from socwb.rules.model import iso

SAMPLE_COLUMNS = [
    "alert_id",
    "rule_id",
    "severity",
    "created_at",
    "due_at",
    "first_response_at",
    "acknowledged_at",
    "acknowledged_by",
    "time_to_acknowledge_seconds",
    "time_to_acknowledge",
    "due_outcome",
    "status",
    "disposition",
    "closed_at",
    "incident_ids",
    "incidents",
    "history_entries",
]
HISTORY_COLUMNS = [
    "alert_id",
    "seq",
    "at",
    "actor",
    "action",
    "from_status",
    "to_status",
    "note",
    "disposition",
    "assignee",
    "incident_id",
]


def sample_ids(ids: Sequence[str], size: int, seed: int) -> list[str]:
    """Draw up to `size` distinct ids with a seeded generator and return them sorted.

    The population is sorted first, so the draw depends only on the set of ids, the
    size and the seed, never on the order a search returned them in.

    Raises:
        ValueError: `size` is negative.
    """
    if size < 0:
        raise ValueError(f"invalid sample size {size}: use 0 or more")
    population = sorted(set(ids))
    if size >= len(population):
        return population
    return sorted(random.Random(seed).sample(population, size))


def alert_sample_tables(context: PackContext) -> list[EvidenceTable]:
    """Build the sample table and the history table of the sampled alerts."""
    period = context.period
    alerts = [
        alert
        for alert in fetch_alerts_created(
            context.backend, context.namespace, period.start, period.end
        )
        if not is_canary(alert)
    ]
    chosen = set(sample_ids([alert.id for alert in alerts], context.sample_size, context.seed))
    sampled = [alert for alert in alerts if alert.id in chosen]
    history = HistoryStore(context.backend, context.namespace).entries_for(
        [alert.id for alert in sampled]
    )
    description = (
        f"{len(sampled)} of the {len(alerts)} alerts created in {period.label} "
        f"({period.zone.key}), self-test alerts left out, drawn with seed {context.seed} from "
        "the alert ids in sorted order; the same seed over the same alerts draws the same "
        f"sample. State as of {iso(context.as_of)}."
    )
    return [
        EvidenceTable(
            name="alert_sample",
            title="Alert sample: response against due time",
            columns=SAMPLE_COLUMNS,
            rows=_sample_rows(context, sampled, history),
            description=description,
        ),
        EvidenceTable(
            name="alert_sample_history",
            title="Alert sample: full history",
            columns=HISTORY_COLUMNS,
            rows=[_history_row(entry) for alert in sampled for entry in history.get(alert.id, [])],
            description="Every append-only history entry of the sampled alerts, in order.",
        ),
    ]


def _sample_rows(
    context: PackContext, alerts: Sequence[Alert], history: Mapping[str, Sequence[HistoryEntry]]
) -> list[dict[str, Any]]:
    incidents = IncidentService(context.backend, context.namespace)
    rows = []
    for alert in alerts:
        entries = [entry for entry in history.get(alert.id, []) if entry.at <= context.as_of]
        state = derive_state(entries)
        responded = state.first_response_at
        seconds = None if responded is None else (responded - alert.created_at).total_seconds()
        linked = [incidents.find(incident_id) for incident_id in state.incident_ids]
        rows.append(
            {
                "alert_id": alert.id,
                "rule_id": alert.rule_id,
                "severity": alert.severity.value,
                "created_at": iso(alert.created_at),
                "due_at": iso(alert.due_at),
                "first_response_at": _time(responded),
                "acknowledged_at": _time(state.acknowledged_at),
                "acknowledged_by": state.acknowledged_by,
                "time_to_acknowledge_seconds": seconds,
                "time_to_acknowledge": format_duration(seconds),
                "due_outcome": due_outcome(alert, responded, context.as_of),
                "status": state.status.value,
                "disposition": state.disposition.value if state.disposition else None,
                "closed_at": _time(state.closed_at),
                "incident_ids": " ".join(state.incident_ids),
                "incidents": "; ".join(
                    f"{incident.id}: {incident.title} ({incident.status.value})"
                    for incident in linked
                    if incident is not None
                ),
                "history_entries": len(entries),
            }
        )
    return rows


def _history_row(entry: HistoryEntry) -> dict[str, Any]:
    row = entry.model_dump(mode="json")
    return {column: row.get(column) for column in HISTORY_COLUMNS}


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)
