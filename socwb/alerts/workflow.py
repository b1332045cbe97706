"""The analyst workflow: open an alert, change it, and keep its history and status in step.

Each change is one `HistoryEntry` whose sequence number is the opened version's last
number plus one, written with create-only semantics. That write decides races: when
two analysts change an alert opened at the same version, the engine accepts exactly
one entry and the other analyst gets `ConcurrentChangeError`, with nothing written.

The alert document's status fields are then derived from the whole history and
written with `if_seq_no`/`if_primary_term`, first from the opened version. When that
check fails because something else wrote the alert since (the detector updating
its evidence, or another analyst's projection), the projection is read and written
again from the history, which stays the source of truth.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from socwb.alerts.history import (
    Action,
    AlertState,
    Disposition,
    HistoryEntry,
    HistoryStore,
    derive_state,
)
from socwb.alerts.model import Alert, AlertStatus, check_transition
from socwb.alerts.store import AlertStore
from socwb.auth import Permission, Principal, require
from socwb.errors import AlertWorkflowError, ConflictError
from socwb.rules.model import iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

MAX_PROJECTION_ATTEMPTS = 5

PROJECTED_FIELDS = (
    "status",
    "status_changed_at",
    "status_changed_by",
    "acknowledged_at",
    "acknowledged_by",
    "assignee",
    "closed_at",
    "disposition",
)
"""Derived fields written to the alert document when the `Alert` model defines them.

NOTE: the `Alert` model and the alerts mapping define only `status`,
`status_changed_at` and `status_changed_by` so far, so the other fields are
derived on read (`OpenedAlert.state`) and not stored on the alert document.
"""


class ConcurrentChangeError(AlertWorkflowError):
    """Another user changed the alert after this user opened it; nothing was written."""

    def __init__(self, message: str, *, actor: str, at: datetime | None) -> None:
        super().__init__(message)
        self.actor = actor
        self.at = at


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class OpenedAlert:
    """An alert as one analyst opened it: the version every change from that view builds on.

    Attributes:
        seq_no: The alert document's `_seq_no` when it was read.
        primary_term: The alert document's `_primary_term` when it was read.
        history: Every history entry in sequence order.
        state: The workflow fields derived from `history`.
    """

    alert: Alert
    seq_no: int
    primary_term: int
    history: tuple[HistoryEntry, ...]
    state: AlertState


@dataclass
class BulkOutcome:
    """Result of a bulk change: the ids changed, and the reason per id that was not."""

    changed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class AlertWorkflow:
    """Changes alerts of one namespace on behalf of signed-in users."""

    def __init__(
        self,
        backend: SearchBackend,
        namespace: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.backend = backend
        self.alerts = AlertStore(backend, namespace)
        self.history = HistoryStore(backend, namespace)
        self.clock = clock

    def open(self, principal: Principal, alert_id: str) -> OpenedAlert:
        """Read an alert, its version and its history.

        Raises:
            PermissionDenied: The principal may not view alerts.
            AlertWorkflowError: No alert has this id.
        """
        require(principal, Permission.VIEW_ALERTS)
        found = self.backend.get_document(self.alerts.index, alert_id)
        if found is None or not found.get("found", True):
            raise AlertWorkflowError(f"alert {alert_id!r} not found in {self.alerts.index}")
        alert = Alert.model_validate(found["_source"])
        history = tuple(self.history.entries(alert_id))
        return OpenedAlert(
            alert=alert,
            seq_no=int(found["_seq_no"]),
            primary_term=int(found["_primary_term"]),
            history=history,
            state=derive_state(history, _initial_state(alert, history)),
        )

    def acknowledge(
        self, principal: Principal, opened: OpenedAlert, note: str | None = None
    ) -> OpenedAlert:
        """Acknowledge an open alert: someone is looking at it."""
        return self._change(principal, opened, Action.ACKNOWLEDGE, AlertStatus.ACKNOWLEDGED, note)

    def start(
        self, principal: Principal, opened: OpenedAlert, note: str | None = None
    ) -> OpenedAlert:
        """Move an acknowledged alert to in progress."""
        return self._change(principal, opened, Action.START, AlertStatus.IN_PROGRESS, note)

    def close(
        self,
        principal: Principal,
        opened: OpenedAlert,
        disposition: Disposition | None,
        note: str | None = None,
    ) -> OpenedAlert:
        """Close an alert with its disposition.

        Raises:
            AlertWorkflowError: No disposition was given.
        """
        if disposition is None:
            choices = ", ".join(item.value for item in Disposition)
            raise AlertWorkflowError(
                f"closing alert {opened.alert.id!r} requires a disposition: one of {choices}"
            )
        return self._change(
            principal, opened, Action.CLOSE, AlertStatus.CLOSED, note, disposition=disposition
        )

    def reopen(self, principal: Principal, opened: OpenedAlert, note: str) -> OpenedAlert:
        """Reopen a closed alert; the note gives the reason."""
        _require_text(note, "reopening needs a note that says why")
        return self._change(principal, opened, Action.REOPEN, AlertStatus.OPEN, note)

    def assign(
        self,
        principal: Principal,
        opened: OpenedAlert,
        assignee: str | None,
        note: str | None = None,
    ) -> OpenedAlert:
        """Assign an alert that is not closed to a user, or unassign it with None."""
        if opened.state.status == AlertStatus.CLOSED:
            raise AlertWorkflowError(
                f"alert {opened.alert.id!r} is closed; reopen it before assigning it"
            )
        return self._change(principal, opened, Action.ASSIGN, None, note, assignee=assignee)

    def add_note(self, principal: Principal, opened: OpenedAlert, note: str) -> OpenedAlert:
        """Add a note to an alert without changing its status."""
        _require_text(note, "a note cannot be empty")
        return self._change(principal, opened, Action.NOTE, None, note)

    def link_incident(
        self,
        principal: Principal,
        opened: OpenedAlert,
        incident_id: str,
        note: str | None = None,
    ) -> OpenedAlert:
        """Record the id of the incident-tracker ticket that handles this alert."""
        _require_text(incident_id, "an incident id cannot be empty")
        return self._change(
            principal, opened, Action.LINK_INCIDENT, None, note, incident_id=incident_id.strip()
        )

    def bulk_acknowledge(self, principal: Principal, alert_ids: Sequence[str]) -> BulkOutcome:
        """Open and acknowledge each alert; an alert that cannot be changed is reported, not raised.

        Raises:
            PermissionDenied: The principal may not work alerts; nothing is changed.
        """
        require(principal, Permission.WORK_ALERTS)
        outcome = BulkOutcome()
        for alert_id in alert_ids:
            try:
                self.acknowledge(principal, self.open(principal, alert_id))
            except AlertWorkflowError as exc:
                outcome.failed[alert_id] = str(exc)
            else:
                outcome.changed.append(alert_id)
        logger.info(
            "bulk acknowledge user=%s changed=%d failed=%d",
            principal.name,
            len(outcome.changed),
            len(outcome.failed),
        )
        return outcome

    def _change(
        self,
        principal: Principal,
        opened: OpenedAlert,
        action: Action,
        to_status: AlertStatus | None,
        note: str | None,
        **details: Any,
    ) -> OpenedAlert:
        """Append one history entry for a change, then project the history onto the alert.

        Raises:
            PermissionDenied: The principal may not work alerts.
            AlertWorkflowError: The status transition is not allowed.
            ConcurrentChangeError: Someone else changed the alert since it was opened.
        """
        require(principal, Permission.WORK_ALERTS)
        current = opened.state.status
        target = current if to_status is None else to_status
        if to_status is not None:
            check_transition(current, target)
        entry = HistoryEntry(
            alert_id=opened.alert.id,
            seq=opened.state.last_seq + 1,
            actor=principal.name,
            at=self.clock(),
            action=action,
            from_status=current,
            to_status=target,
            note=note.strip() if note and note.strip() else None,
            **details,
        )
        self._append(entry)
        self._project(opened, (*opened.history, entry))
        logger.info(
            "alert changed alert_id=%s action=%s user=%s from=%s to=%s seq=%d",
            entry.alert_id,
            action.value,
            principal.name,
            current.value,
            target.value,
            entry.seq,
        )
        return self.open(principal, opened.alert.id)

    def _append(self, entry: HistoryEntry) -> None:
        try:
            self.history.append(entry)
        except ConflictError as exc:
            winner = self.history.get(entry.alert_id, entry.seq)
            actor = winner.actor if winner else "another user"
            at = winner.at if winner else None
            when = iso(at) if at else "an unknown time"
            logger.info(
                "alert change rejected alert_id=%s user=%s changed_by=%s seq=%d",
                entry.alert_id,
                entry.actor,
                actor,
                entry.seq,
            )
            raise ConcurrentChangeError(
                f"alert {entry.alert_id!r} was changed by {actor} at {when} since you "
                "opened it; reload it and apply your change again",
                actor=actor,
                at=at,
            ) from exc

    def _project(self, opened: OpenedAlert, history: Sequence[HistoryEntry]) -> None:
        """Write the derived status fields, first against the opened version, then freshly."""
        seq_no, primary_term = opened.seq_no, opened.primary_term
        for _attempt in range(MAX_PROJECTION_ATTEMPTS):
            initial = _initial_state(opened.alert, history)
            fields = projected_fields(derive_state(history, initial))
            try:
                self._update_alert(opened.alert.id, fields, seq_no, primary_term)
                return
            except ConflictError:
                logger.info(
                    "alert projection retried alert_id=%s seq_no=%d", opened.alert.id, seq_no
                )
            found = self.backend.get_document(self.alerts.index, opened.alert.id)
            if found is None:
                raise AlertWorkflowError(f"alert {opened.alert.id!r} was deleted")
            seq_no, primary_term = int(found["_seq_no"]), int(found["_primary_term"])
            history = self.history.entries(opened.alert.id)
        raise AlertWorkflowError(
            f"alert {opened.alert.id!r}: its history entry is stored but its status fields "
            f"could not be written after {MAX_PROJECTION_ATTEMPTS} attempts; the next change "
            "writes them again"
        )

    def _update_alert(
        self, alert_id: str, fields: dict[str, Any], seq_no: int, primary_term: int
    ) -> None:
        path = f"/{quote(self.alerts.index)}/_update/{quote(alert_id)}"
        params = {"if_seq_no": seq_no, "if_primary_term": primary_term, "refresh": "true"}
        # detect_noop false: a note changes no field, but still moves the version on.
        body = {"doc": fields, "detect_noop": False}
        self.backend.request("POST", path, params=params, body=body)


def projected_fields(state: AlertState) -> dict[str, Any]:
    """Return the alert-document fields for a derived state, limited to what `Alert` defines."""
    values: dict[str, Any] = {
        "status": state.status.value,
        "status_changed_at": iso(state.status_changed_at) if state.status_changed_at else None,
        "status_changed_by": state.status_changed_by,
        "acknowledged_at": iso(state.acknowledged_at) if state.acknowledged_at else None,
        "acknowledged_by": state.acknowledged_by,
        "assignee": state.assignee,
        "closed_at": iso(state.closed_at) if state.closed_at else None,
        "disposition": state.disposition.value if state.disposition else None,
    }
    return {name: values[name] for name in PROJECTED_FIELDS if name in Alert.model_fields}


def _initial_state(alert: Alert, history: Sequence[HistoryEntry]) -> AlertState:
    """Return the state before the first history entry, from that entry or the alert document."""
    return AlertState(
        status=history[0].from_status if history else alert.status,
        status_changed_at=alert.status_changed_at,
        status_changed_by=alert.status_changed_by,
    )


def _require_text(text: str | None, message: str) -> None:
    if text is None or not text.strip():
        raise AlertWorkflowError(message)


# The alert queue ------------------------------------------------------------------------

WORKING_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS)
MAX_QUEUE_WINDOW = 10_000
"""OpenSearch's default `index.max_result_window`: `from + size` may not exceed it."""


@dataclass(frozen=True)
class QueueFilter:
    """Filter of the alert queue; an empty tuple means no restriction.

    Attributes:
        entity: Text to find in the alert's entity values, case-insensitive.
        created_from: Earliest `created_at`, inclusive (aware time).
        created_to: Latest `created_at`, exclusive (aware time).
    """

    severities: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()
    statuses: tuple[AlertStatus, ...] = WORKING_STATUSES
    entity: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue, ordered by due time (least time left first)."""

    alerts: list[Alert]
    total: int
    offset: int
    size: int


MAX_SEARCH_TEXT = 200
"""Maximum length of the entity search text, in characters."""


def check_search_text(text: str | None) -> str | None:
    """Return free search text stripped of outer blanks, or None when it is empty.

    Raises:
        ValueError: The text is longer than `MAX_SEARCH_TEXT` or contains a control
            character. The message can be shown to the user as it is.
    """
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if len(stripped) > MAX_SEARCH_TEXT:
        raise ValueError(
            f"the search text has {len(stripped)} characters; use at most {MAX_SEARCH_TEXT}"
        )
    if any(unicodedata.category(char) == "Cc" for char in stripped):
        raise ValueError("the search text contains a control character; remove it")
    return stripped


def escape_wildcard(text: str) -> str:
    """Escape `*`, `?` and backslash, so a wildcard query matches `text` literally."""
    return "".join(f"\\{char}" if char in "*?\\" else char for char in text)


def build_queue_query(queue_filter: QueueFilter) -> dict[str, Any]:
    """Return the query clause for a queue filter."""
    clauses: list[dict[str, Any]] = []
    if queue_filter.severities:
        clauses.append({"terms": {"severity": list(queue_filter.severities)}})
    if queue_filter.rule_ids:
        clauses.append({"terms": {"rule_id": list(queue_filter.rule_ids)}})
    if queue_filter.statuses:
        clauses.append({"terms": {"status": [status.value for status in queue_filter.statuses]}})
    entity = check_search_text(queue_filter.entity)
    if entity:
        pattern = f"*{escape_wildcard(entity)}*"
        clauses.append({"wildcard": {"entity_key": {"value": pattern, "case_insensitive": True}}})
    created: dict[str, str] = {}
    if queue_filter.created_from:
        created["gte"] = iso(queue_filter.created_from)
    if queue_filter.created_to:
        created["lt"] = iso(queue_filter.created_to)
    if created:
        clauses.append({"range": {"created_at": created}})
    return {"bool": {"filter": clauses}}


def list_queue(
    backend: SearchBackend,
    namespace: str,
    principal: Principal,
    queue_filter: QueueFilter,
    *,
    offset: int = 0,
    size: int = 50,
) -> QueuePage:
    """Return one page of alerts matching a filter, least time left to the due time first.

    Raises:
        PermissionDenied: The principal may not view alerts.
        ValueError: The page lies beyond the first `MAX_QUEUE_WINDOW` alerts.
    """
    require(principal, Permission.VIEW_ALERTS)
    if offset < 0 or size < 1 or offset + size > MAX_QUEUE_WINDOW:
        raise ValueError(
            f"queue page offset={offset} size={size} is outside the first "
            f"{MAX_QUEUE_WINDOW} alerts; narrow the filter"
        )
    body = {
        "from": offset,
        "size": size,
        "track_total_hits": True,
        "query": build_queue_query(queue_filter),
        "sort": [{"due_at": "asc"}, {"id": "asc"}],
    }
    index = AlertStore(backend, namespace).index
    response = backend.search(index, body, ignore_unavailable="true")
    alerts = [Alert.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]
    total = int(response["hits"]["total"]["value"])
    return QueuePage(alerts=alerts, total=total, offset=offset, size=size)


def list_rule_ids(backend: SearchBackend, namespace: str, principal: Principal) -> list[str]:
    """Return the rule ids that have alerts, for the queue's rule filter (at most 500)."""
    require(principal, Permission.VIEW_ALERTS)
    body = {"size": 0, "aggs": {"rules": {"terms": {"field": "rule_id", "size": 500}}}}
    index = AlertStore(backend, namespace).index
    response = backend.search(index, body, ignore_unavailable="true")
    buckets = (response.get("aggregations") or {}).get("rules", {}).get("buckets", [])
    return sorted(str(bucket["key"]) for bucket in buckets)
