"""Incidents: a record that groups alerts, with an owner, notes and an append-only timeline.

An incident exists only as its history in `socwb-incident-history-<namespace>`. Each
change is one entry under the id `<incident id>-<seq>`, written with `op_type=create`
and never updated or deleted. The incident's fields are folded from its entries, and a
change builds on the version the user opened: two changes from the same version store
exactly one entry, and the other raises `IncidentConflictError`.

When a webhook channel is configured (off by default), creating and closing an incident
posts a short JSON summary to it. A failed post is logged and does not undo the change.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from socwb.alerts.model import Alert
from socwb.alerts.store import AlertStore, create_index
from socwb.alerts.workflow import AlertWorkflow
from socwb.auth import Permission, Principal, require
from socwb.errors import AlertWorkflowError, ConflictError
from socwb.history_log import append_entry, entry_id
from socwb.notify.channels import DeliveryError, post_json
from socwb.notify.config import WebhookChannelConfig
from socwb.notify.templates import clean
from socwb.rules.model import Severity, iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

PAGE_SIZE = 1_000
MAX_LIST_WINDOW = 10_000
"""OpenSearch's default `index.max_result_window`: `from + size` may not exceed it."""

_KEYWORD: dict[str, Any] = {"type": "keyword"}

INCIDENT_HISTORY_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "incident_id": _KEYWORD,
        "seq": {"type": "integer"},
        "actor": _KEYWORD,
        "at": {"type": "date"},
        "action": _KEYWORD,
        "from_status": _KEYWORD,
        "to_status": _KEYWORD,
        "title": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "severity": _KEYWORD,
        "owner": _KEYWORD,
        "alert_id": _KEYWORD,
        "note": {"type": "text"},
    },
}
"""Explicit mapping of the incident history index; `strict` rejects undefined fields."""


class IncidentStatus(StrEnum):
    """Handling state of an incident."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    CONTAINED = "contained"
    CLOSED = "closed"


INCIDENT_TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    IncidentStatus.OPEN: frozenset({IncidentStatus.INVESTIGATING, IncidentStatus.CLOSED}),
    IncidentStatus.INVESTIGATING: frozenset({IncidentStatus.CONTAINED, IncidentStatus.CLOSED}),
    IncidentStatus.CONTAINED: frozenset({IncidentStatus.CLOSED}),
    IncidentStatus.CLOSED: frozenset({IncidentStatus.OPEN}),
}
"""Allowed status changes; closing is allowed from any open state, reopening from closed."""


class IncidentAction(StrEnum):
    """A change to an incident."""

    CREATE = "create"
    ASSIGN = "assign"
    SET_SEVERITY = "set_severity"
    LINK_ALERT = "link_alert"
    NOTE = "note"
    CHANGE_STATUS = "change_status"


class IncidentConflictError(AlertWorkflowError):
    """Someone changed the incident after this user opened it; nothing was written."""


class IncidentEntry(BaseModel):
    """One change to an incident; `seq` counts from 1 per incident without gaps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_id: str
    seq: int = Field(ge=1)
    actor: str
    at: datetime
    action: IncidentAction
    from_status: IncidentStatus
    to_status: IncidentStatus
    title: str | None = None
    severity: Severity | None = None
    owner: str | None = None
    alert_id: str | None = None
    note: str | None = None

    @field_serializer("at")
    def _serialize_at(self, moment: datetime) -> str:
        return iso(moment)

    @property
    def entry_id(self) -> str:
        """The document id: incident id and zero-padded sequence number."""
        return entry_id(self.incident_id, self.seq)


@dataclass(frozen=True)
class Incident:
    """An incident as its history determines it; `timeline` is every entry in order."""

    id: str
    title: str
    status: IncidentStatus
    severity: Severity
    owner: str | None
    alert_ids: tuple[str, ...]
    created_at: datetime
    created_by: str
    closed_at: datetime | None
    timeline: tuple[IncidentEntry, ...]

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest entry; a change writes this plus one."""
        return self.timeline[-1].seq

    @property
    def notes(self) -> list[IncidentEntry]:
        """Entries that carry a note, oldest first."""
        return [entry for entry in self.timeline if entry.note]


@dataclass(frozen=True)
class IncidentPage:
    """One page of the incident list, newest first."""

    incidents: list[Incident]
    total: int
    offset: int
    size: int


def incident_history_index(namespace: str) -> str:
    """Return the name of the incident history index of a namespace."""
    return f"socwb-incident-history-{namespace}"


def fold_incident(entries: Sequence[IncidentEntry]) -> Incident:
    """Derive an incident from its entries; the first entry must be its `create` entry.

    Raises:
        AlertWorkflowError: There are no entries, or the first is not `create`.
    """
    ordered = sorted(entries, key=lambda entry: entry.seq)
    if not ordered or ordered[0].action != IncidentAction.CREATE:
        raise AlertWorkflowError("an incident history must start with a create entry")
    first = ordered[0]
    incident = Incident(
        id=first.incident_id,
        title=first.title or "",
        status=first.to_status,
        severity=first.severity or Severity.MEDIUM,
        owner=first.owner,
        alert_ids=(),
        created_at=first.at,
        created_by=first.actor,
        closed_at=None,
        timeline=(first,),
    )
    for entry in ordered[1:]:
        incident = _apply(incident, entry)
    return incident


def _apply(incident: Incident, entry: IncidentEntry) -> Incident:
    changes: dict[str, Any] = {"status": entry.to_status, "timeline": (*incident.timeline, entry)}
    if entry.action == IncidentAction.ASSIGN:
        changes["owner"] = entry.owner
    if entry.action == IncidentAction.SET_SEVERITY and entry.severity is not None:
        changes["severity"] = entry.severity
    is_new_link = entry.alert_id is not None and entry.alert_id not in incident.alert_ids
    if entry.action == IncidentAction.LINK_ALERT and is_new_link:
        changes["alert_ids"] = (*incident.alert_ids, entry.alert_id)
    if entry.to_status == IncidentStatus.CLOSED and entry.from_status != IncidentStatus.CLOSED:
        changes["closed_at"] = entry.at
    if entry.to_status != IncidentStatus.CLOSED:
        changes["closed_at"] = None
    return replace(incident, **changes)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class IncidentService:
    """Creates, changes and reads the incidents of one namespace for signed-in users.

    Args:
        backend: The engine.
        namespace: The install's namespace.
        clock: Current time, aware UTC.
        webhook: Channel that receives a summary when an incident is created or closed;
            None (the default) sends nothing.
    """

    def __init__(
        self,
        backend: SearchBackend,
        namespace: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        webhook: WebhookChannelConfig | None = None,
    ) -> None:
        self.backend = backend
        self.index = incident_history_index(namespace)
        self.alerts = AlertStore(backend, namespace)
        self.workflow = AlertWorkflow(backend, namespace, clock=clock)
        self.clock = clock
        self.webhook = webhook

    def _now(self) -> datetime:
        # Entries store milliseconds, so an incident returned by a change equals its reread.
        moment = self.clock()
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def ensure_index(self) -> None:
        """Create the incident history index with its mapping when it does not exist."""
        create_index(self.backend, self.index, INCIDENT_HISTORY_MAPPING)

    def create(
        self,
        principal: Principal,
        title: str,
        severity: Severity,
        *,
        owner: str | None = None,
        note: str | None = None,
    ) -> Incident:
        """Create an open incident with a random id.

        Raises:
            PermissionDenied: The principal may not work alerts.
            AlertWorkflowError: The title is empty.
        """
        require(principal, Permission.WORK_ALERTS)
        if not title.strip():
            raise AlertWorkflowError("an incident needs a title")
        entry = IncidentEntry(
            incident_id=f"inc-{uuid.uuid4().hex[:16]}",
            seq=1,
            actor=principal.name,
            at=self._now(),
            action=IncidentAction.CREATE,
            from_status=IncidentStatus.OPEN,
            to_status=IncidentStatus.OPEN,
            title=clean(title),
            severity=severity,
            owner=owner,
            note=_text(note),
        )
        self.ensure_index()
        self._append(entry)
        incident = fold_incident([entry])
        self._post_webhook("incident.created", incident)
        return incident

    def open(self, principal: Principal, incident_id: str) -> Incident:
        """Read an incident from its history.

        Raises:
            PermissionDenied: The principal may not view alerts.
            AlertWorkflowError: No incident has this id.
        """
        require(principal, Permission.VIEW_ALERTS)
        entries = self._entries(incident_id)
        if not entries:
            raise AlertWorkflowError(f"incident {incident_id!r} not found in {self.index}")
        return fold_incident(entries)

    def find(self, incident_id: str) -> Incident | None:
        """Read an incident from its history for an export, or return None when it is unknown.

        Reading needs no principal here, because exports such as the evidence pack run
        outside the workbench. Pages use `open`, which checks the user's permission.
        """
        entries = self._entries(incident_id)
        return fold_incident(entries) if entries else None

    def assign(self, principal: Principal, incident: Incident, owner: str | None) -> Incident:
        """Set the incident's owner, or clear it with None."""
        return self._change(principal, incident, IncidentAction.ASSIGN, owner=owner)

    def set_severity(
        self, principal: Principal, incident: Incident, severity: Severity
    ) -> Incident:
        """Change the incident's severity."""
        return self._change(principal, incident, IncidentAction.SET_SEVERITY, severity=severity)

    def add_note(self, principal: Principal, incident: Incident, note: str) -> Incident:
        """Add a note without changing the status.

        Raises:
            AlertWorkflowError: The note is empty.
        """
        if not _text(note):
            raise AlertWorkflowError("a note cannot be empty")
        return self._change(principal, incident, IncidentAction.NOTE, note=note)

    def link_alert(
        self, principal: Principal, incident: Incident, alert_id: str, note: str | None = None
    ) -> Incident:
        """Link an alert to the incident, and record the link in the alert's own history.

        Raises:
            AlertWorkflowError: The alert does not exist, or is linked already.
            ConcurrentChangeError: The alert changed while its link entry was written;
                the incident entry is stored, so link it again from the alert page.
        """
        if alert_id in incident.alert_ids:
            raise AlertWorkflowError(f"alert {alert_id!r} is linked to {incident.id} already")
        if self.alerts.get(alert_id) is None:
            raise AlertWorkflowError(f"alert {alert_id!r} not found in {self.alerts.index}")
        changed = self._change(
            principal, incident, IncidentAction.LINK_ALERT, alert_id=alert_id, note=note
        )
        opened = self.workflow.open(principal, alert_id)
        self.workflow.link_incident(principal, opened, incident.id)
        return changed

    def change_status(
        self,
        principal: Principal,
        incident: Incident,
        status: IncidentStatus,
        note: str | None = None,
    ) -> Incident:
        """Move the incident to another status.

        Raises:
            AlertWorkflowError: The transition is not in `INCIDENT_TRANSITIONS`, or a
                close or reopen has no note.
        """
        allowed = INCIDENT_TRANSITIONS[incident.status]
        if status not in allowed:
            choices = ", ".join(sorted(item.value for item in allowed))
            raise AlertWorkflowError(
                f"incident {incident.id} cannot move from {incident.status.value!r} to "
                f"{status.value!r}: from {incident.status.value!r} it can move to {choices}"
            )
        if status in (IncidentStatus.CLOSED, IncidentStatus.OPEN) and not _text(note):
            raise AlertWorkflowError(
                f"moving incident {incident.id} to {status.value!r} requires a note with the reason"
            )
        changed = self._change(
            principal, incident, IncidentAction.CHANGE_STATUS, to_status=status, note=note
        )
        if status == IncidentStatus.CLOSED:
            self._post_webhook("incident.closed", changed)
        return changed

    def close(self, principal: Principal, incident: Incident, note: str) -> Incident:
        """Close the incident; the note records the outcome."""
        return self.change_status(principal, incident, IncidentStatus.CLOSED, note)

    def linked_alerts(self, incident: Incident) -> list[Alert]:
        """Return the linked alerts that still exist, in link order."""
        found = (self.alerts.get(alert_id) for alert_id in incident.alert_ids)
        return [alert for alert in found if alert is not None]

    def list_page(self, principal: Principal, *, offset: int = 0, size: int = 50) -> IncidentPage:
        """Return one page of incidents, newest first, each folded from its whole history.

        Raises:
            PermissionDenied: The principal may not view alerts.
            ValueError: The page lies beyond the first `MAX_LIST_WINDOW` incidents.
        """
        require(principal, Permission.VIEW_ALERTS)
        if offset < 0 or size < 1 or offset + size > MAX_LIST_WINDOW:
            raise ValueError(
                f"incident page offset={offset} size={size} is outside the first "
                f"{MAX_LIST_WINDOW} incidents; choose an earlier page"
            )
        body = {
            "from": offset,
            "size": size,
            "track_total_hits": True,
            "query": {"term": {"action": IncidentAction.CREATE.value}},
            "sort": [{"at": "desc"}, {"incident_id": "asc"}],
            "_source": ["incident_id"],
        }
        response = self.backend.search(self.index, body, ignore_unavailable="true")
        ids = [str(hit["_source"]["incident_id"]) for hit in response["hits"]["hits"]]
        total = int(response["hits"]["total"]["value"])
        return IncidentPage(self._fold_many(ids), total, offset, size)

    def _fold_many(self, incident_ids: list[str]) -> list[Incident]:
        """Fold several incidents from one search, in the order of `incident_ids`."""
        if not incident_ids:
            return []
        body = {
            "size": MAX_LIST_WINDOW,
            "track_total_hits": True,
            "query": {"terms": {"incident_id": incident_ids}},
            "sort": [{"incident_id": "asc"}, {"seq": "asc"}],
        }
        response = self.backend.search(self.index, body)
        hits = response["hits"]["hits"]
        grouped: dict[str, list[IncidentEntry]] = {key: [] for key in incident_ids}
        for hit in hits:
            entry = IncidentEntry.model_validate(hit["_source"])
            grouped[entry.incident_id].append(entry)
        if int(response["hits"]["total"]["value"]) > len(hits):
            # More entries than one response holds: read each incident on its own.
            grouped = {key: self._entries(key) for key in incident_ids}
        return [fold_incident(grouped[key]) for key in incident_ids]

    def _change(
        self,
        principal: Principal,
        incident: Incident,
        action: IncidentAction,
        *,
        to_status: IncidentStatus | None = None,
        note: str | None = None,
        **details: Any,
    ) -> Incident:
        require(principal, Permission.WORK_ALERTS)
        entry = IncidentEntry(
            incident_id=incident.id,
            seq=incident.last_seq + 1,
            actor=principal.name,
            at=self._now(),
            action=action,
            from_status=incident.status,
            to_status=to_status or incident.status,
            note=_text(note),
            **details,
        )
        self._append(entry)
        return _apply(incident, entry)

    def _append(self, entry: IncidentEntry) -> None:
        try:
            append_entry(
                self.backend,
                self.index,
                entry.incident_id,
                entry.seq,
                entry.model_dump(mode="json"),
            )
        except ConflictError as exc:
            logger.info(
                "incident change rejected incident_id=%s user=%s seq=%d",
                entry.incident_id,
                entry.actor,
                entry.seq,
            )
            raise IncidentConflictError(
                f"incident {entry.incident_id} was changed since you opened it; "
                "reload it and apply your change again"
            ) from exc
        logger.info(
            "incident changed incident_id=%s action=%s user=%s status=%s seq=%d",
            entry.incident_id,
            entry.action.value,
            entry.actor,
            entry.to_status.value,
            entry.seq,
        )

    def _entries(self, incident_id: str) -> list[IncidentEntry]:
        if self.backend.get_json(f"/{self.index}") is None:
            return []
        body = {
            "size": PAGE_SIZE,
            "query": {"term": {"incident_id": incident_id}},
            "sort": [{"seq": "asc"}],
        }
        # NOTE: an incident with more than PAGE_SIZE entries is read only up to that entry.
        hits = self.backend.search(self.index, body)["hits"]["hits"]
        return [IncidentEntry.model_validate(hit["_source"]) for hit in hits]

    def _post_webhook(self, event: str, incident: Incident) -> None:
        if self.webhook is None:
            return
        payload = {
            "event": event,
            "incident_id": incident.id,
            "title": incident.title,
            "status": incident.status.value,
            "severity": incident.severity.value,
            "owner": incident.owner,
            "alert_ids": list(incident.alert_ids),
        }
        name = self.webhook.name
        logger.info("incident webhook attempt incident_id=%s channel=%s", incident.id, name)
        try:
            post_json(self.webhook.url.get_secret_value(), payload, timeout=self.webhook.timeout)
        except DeliveryError as exc:
            logger.error(
                "incident webhook failed incident_id=%s channel=%s reason=%s",
                incident.id,
                name,
                exc,
            )


def export_markdown(incident: Incident, alerts: Sequence[Alert]) -> str:
    """Render an incident, its linked alerts, notes and timeline as Markdown."""
    lines = [
        f"# {_cell(incident.title)} ({incident.id})",
        "",
        f"- Status: {incident.status.value}",
        f"- Severity: {incident.severity.value}",
        f"- Owner: {incident.owner or '-'}",
        f"- Created: {iso(incident.created_at)} by {incident.created_by}",
        f"- Closed: {iso(incident.closed_at) if incident.closed_at else '-'}",
        "",
        "## Linked alerts",
        "",
        "| Alert | Rule | Severity | Entity | Status | Created |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {alert.id} | {_cell(alert.rule_name)} | {alert.severity.value} | "
        f"{_cell(alert.entity_key)} | {alert.status.value} | {iso(alert.created_at)} |"
        for alert in alerts
    ]
    lines += ["", "## Notes", ""]
    lines += [
        f"- {iso(entry.at)} {entry.actor}: {_cell(entry.note or '')}" for entry in incident.notes
    ]
    lines += ["", "## Timeline", ""]
    lines += [_timeline_line(entry) for entry in incident.timeline]
    return "\n".join(lines) + "\n"


def _timeline_line(entry: IncidentEntry) -> str:
    detail = {
        IncidentAction.CREATE: f"created, severity {entry.severity}",
        IncidentAction.ASSIGN: f"owner {entry.owner or 'cleared'}",
        IncidentAction.SET_SEVERITY: f"severity {entry.severity}",
        IncidentAction.LINK_ALERT: f"linked alert {entry.alert_id}",
        IncidentAction.NOTE: "note",
        IncidentAction.CHANGE_STATUS: f"{entry.from_status.value} -> {entry.to_status.value}",
    }[entry.action]
    return f"{entry.seq}. {iso(entry.at)} {entry.actor}: {detail}"


def _cell(text: str) -> str:
    """Return text safe for one Markdown table cell or list item."""
    return clean(text).replace("|", "\\|")


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None
