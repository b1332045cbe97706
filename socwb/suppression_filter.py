"""Suppressions applied by the detector: a matching new alert is stored as suppressed.

A run loads the suppressions that are active at its start (approved by a second
person and not expired, see `socwb.tuning`). A new alert that one of them
matches is written with status `suppressed` and the suppression's id instead of
`open`. So it never reaches the queue or the notifications, but the alerts index
keeps it, and `list_suppressed` returns it to an auditor. Proposed, rejected and
expired suppressions withhold nothing.

When a suppression stops being active, the alerts it withheld stay suppressed,
and later activity of the same entity starts a new alert, which is queued.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socwb.alerts.model import Alert, AlertStatus
from socwb.alerts.store import MAX_LOOKUP, AlertStore
from socwb.checkpoints import RunRecord
from socwb.search import SearchBackend
from socwb.tuning import Suppression, SuppressionStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuppressionFilter:
    """The suppressions active at one moment, ordered by id so matching is repeatable."""

    suppressions: tuple[Suppression, ...] = ()

    @classmethod
    def load(cls, backend: SearchBackend, namespace: str, now: datetime) -> SuppressionFilter:
        """Read the suppressions of a namespace that are active at `now`."""
        active = SuppressionStore(backend, namespace).active(now)
        return cls(tuple(sorted(active, key=lambda item: item.id)))

    @property
    def active_ids(self) -> frozenset[str]:
        """Ids of the loaded suppressions."""
        return frozenset(item.id for item in self.suppressions)

    def match(self, alert: Alert) -> Suppression | None:
        """Return the first loaded suppression that matches the alert, or None."""
        return next((item for item in self.suppressions if item.matches(alert)), None)

    def mark(self, alerts: MutableMapping[str, Alert]) -> None:
        """Replace each open alert that a suppression matches by its suppressed copy."""
        for alert_id, alert in list(alerts.items()):
            if alert.status is not AlertStatus.OPEN:
                continue
            suppression = self.match(alert)
            if suppression is not None:
                alerts[alert_id] = alert.model_copy(
                    update={"status": AlertStatus.SUPPRESSED, "suppression_id": suppression.id}
                )

    def is_settled(self, alert: Alert) -> bool:
        """Return whether new activity must not extend a stored alert.

        That is the case for a closed alert, and for a suppressed alert whose
        suppression is no longer active, so activity after the expiry alerts.
        """
        if alert.status is AlertStatus.CLOSED:
            return True
        return alert.status is AlertStatus.SUPPRESSED and alert.suppression_id not in (
            self.active_ids
        )


def count_suppressed(record: RunRecord, created: Sequence[Alert]) -> int:
    """Add the suppressed ones among newly created alerts to the run record; return how many."""
    suppressed = 0
    for alert in created:
        if alert.status is not AlertStatus.SUPPRESSED or alert.suppression_id is None:
            continue
        suppressed += 1
        record.suppressed_by[alert.suppression_id] = (
            record.suppressed_by.get(alert.suppression_id, 0) + 1
        )
        logger.info(
            "alert suppressed rule=%s alert_id=%s suppression_id=%s run_id=%s",
            alert.rule_id,
            alert.id,
            alert.suppression_id,
            record.run_id,
        )
    record.suppressed += suppressed
    return suppressed


def list_suppressed(
    backend: SearchBackend, namespace: str, suppression_id: str | None = None
) -> list[Alert]:
    """Return the alerts stored as suppressed, of one suppression or of all, oldest first.

    Raises:
        AlertWriteError: More than 10,000 alerts match; pass a suppression id.
    """
    clauses: list[dict[str, Any]] = [{"term": {"status": AlertStatus.SUPPRESSED.value}}]
    if suppression_id is not None:
        clauses.append({"term": {"suppression_id": suppression_id}})
    return AlertStore(backend, namespace).search({"bool": {"filter": clauses}}, size=MAX_LOOKUP)


def suppressed_totals(backend: SearchBackend, namespace: str) -> dict[str, int]:
    """Return the number of alerts each suppression withheld, over every run so far."""
    body = {
        "size": 0,
        "query": {"term": {"status": AlertStatus.SUPPRESSED.value}},
        "aggs": {"by_suppression": {"terms": {"field": "suppression_id", "size": MAX_LOOKUP}}},
    }
    index = AlertStore(backend, namespace).index
    response = backend.search(index, body, ignore_unavailable="true")
    buckets = (response.get("aggregations") or {}).get("by_suppression", {}).get("buckets", [])
    return {str(bucket["key"]): int(bucket["doc_count"]) for bucket in buckets}
