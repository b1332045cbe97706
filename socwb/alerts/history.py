"""The append-only alert history: one entry per analyst change, and the state derived from it.

Entries live in `socwb-alert-history-<namespace>` under the id `<alert id>-<seq>`,
written with `op_type=create`. A second writer of the same sequence number
therefore fails with HTTP 409, so each sequence number of an alert stores exactly
one change, and no entry is ever updated or deleted by this module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from socwb.alerts.model import AlertStatus
from socwb.alerts.store import create_index
from socwb.history_log import append_entry, entry_id
from socwb.rules.model import iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

PAGE_SIZE = 1_000
TERMS_CHUNK = 500

_KEYWORD: dict[str, Any] = {"type": "keyword"}

HISTORY_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "alert_id": _KEYWORD,
        "seq": {"type": "integer"},
        "actor": _KEYWORD,
        "at": {"type": "date"},
        "action": _KEYWORD,
        "from_status": _KEYWORD,
        "to_status": _KEYWORD,
        "note": {"type": "text"},
        "disposition": _KEYWORD,
        "assignee": _KEYWORD,
        "incident_id": _KEYWORD,
    },
}
"""Explicit mapping of the history index; `strict` rejects fields the entry does not define."""


class Action(StrEnum):
    """A change an analyst makes to an alert."""

    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    NOTE = "note"
    START = "start"
    CLOSE = "close"
    REOPEN = "reopen"
    LINK_INCIDENT = "link_incident"


class Disposition(StrEnum):
    """The outcome recorded when an alert is closed."""

    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"
    DUPLICATE = "duplicate"


class HistoryEntry(BaseModel):
    """One change to an alert; `seq` counts from 1 per alert without gaps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str
    seq: int = Field(ge=1)
    actor: str
    at: datetime
    action: Action
    from_status: AlertStatus
    to_status: AlertStatus
    note: str | None = None
    disposition: Disposition | None = None
    assignee: str | None = None
    incident_id: str | None = None

    @field_serializer("at")
    def _serialize_at(self, moment: datetime) -> str:
        return iso(moment)

    @property
    def entry_id(self) -> str:
        """The document id: alert id and zero-padded sequence number."""
        return history_entry_id(self.alert_id, self.seq)


def history_entry_id(alert_id: str, seq: int) -> str:
    """Return the document id of an alert's entry number `seq`."""
    return entry_id(alert_id, seq)


def history_index(namespace: str) -> str:
    """Return the name of the alert history index of a namespace."""
    return f"socwb-alert-history-{namespace}"


@dataclass(frozen=True)
class AlertState:
    """The workflow fields of an alert as its history determines them."""

    status: AlertStatus = AlertStatus.OPEN
    last_seq: int = 0
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    first_response_at: datetime | None = None
    assignee: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    disposition: Disposition | None = None
    status_changed_at: datetime | None = None
    status_changed_by: str | None = None
    incident_ids: tuple[str, ...] = field(default_factory=tuple)


def derive_state(entries: Sequence[HistoryEntry], initial: AlertState | None = None) -> AlertState:
    """Fold an alert's history, in sequence order, into its current workflow fields.

    `initial` is the state before the first entry (an open alert when None).
    `acknowledged_at` is the first acknowledge entry. `first_response_at` is the first
    entry that moved the alert out of `open` (acknowledge, or close without one). A
    reopen clears `closed_at` and the disposition; the first acknowledgement stays.
    """
    state = initial or AlertState()
    for entry in sorted(entries, key=lambda item: item.seq):
        state = _apply_entry(state, entry)
    return state


def _apply_entry(state: AlertState, entry: HistoryEntry) -> AlertState:
    changes: dict[str, Any] = {"last_seq": entry.seq, "status": entry.to_status}
    if entry.to_status != entry.from_status:
        changes |= {"status_changed_at": entry.at, "status_changed_by": entry.actor}
    leaves_open = entry.from_status == AlertStatus.OPEN != entry.to_status
    if state.first_response_at is None and leaves_open:
        changes["first_response_at"] = entry.at
    if entry.action == Action.ACKNOWLEDGE and state.acknowledged_at is None:
        changes |= {"acknowledged_at": entry.at, "acknowledged_by": entry.actor}
    if entry.action == Action.ASSIGN:
        changes["assignee"] = entry.assignee
    if entry.action == Action.CLOSE:
        changes |= {"closed_at": entry.at, "closed_by": entry.actor}
        changes["disposition"] = entry.disposition
    if entry.action == Action.REOPEN:
        changes |= {"closed_at": None, "closed_by": None, "disposition": None}
    if entry.action == Action.LINK_INCIDENT and entry.incident_id:
        changes["incident_ids"] = (*state.incident_ids, entry.incident_id)
    return _replace(state, changes)


def _replace(state: AlertState, changes: dict[str, Any]) -> AlertState:
    values = {name: getattr(state, name) for name in AlertState.__dataclass_fields__}
    return AlertState(**(values | changes))


class HistoryStore:
    """Appends and reads the history entries of one namespace."""

    def __init__(self, backend: SearchBackend, namespace: str) -> None:
        self.backend = backend
        self.index = history_index(namespace)
        self._has_index = False

    def ensure_index(self) -> None:
        """Create the history index with its mapping when it does not exist."""
        if not self._has_index:
            create_index(self.backend, self.index, HISTORY_MAPPING)
            self._has_index = True

    def append(self, entry: HistoryEntry) -> None:
        """Write one entry with create-only semantics and make it searchable at once.

        Raises:
            ConflictError: An entry with this alert id and sequence number exists.
        """
        self.ensure_index()
        append_entry(
            self.backend, self.index, entry.alert_id, entry.seq, entry.model_dump(mode="json")
        )
        logger.info(
            "history appended alert_id=%s seq=%d action=%s user=%s",
            entry.alert_id,
            entry.seq,
            entry.action.value,
            entry.actor,
        )

    def get(self, alert_id: str, seq: int) -> HistoryEntry | None:
        """Return one entry by alert id and sequence number (a real-time get), or None."""
        found = self.backend.get_document(self.index, history_entry_id(alert_id, seq))
        if found is None or not found.get("found", True):
            return None
        return HistoryEntry.model_validate(found["_source"])

    def entries(self, alert_id: str) -> list[HistoryEntry]:
        """Return every entry of one alert in sequence order."""
        return self.entries_for([alert_id]).get(alert_id, [])

    def entries_for(self, alert_ids: Sequence[str]) -> dict[str, list[HistoryEntry]]:
        """Return the entries of many alerts, per alert id in sequence order."""
        grouped: dict[str, list[HistoryEntry]] = {}
        for start in range(0, len(alert_ids), TERMS_CHUNK):
            query = {"terms": {"alert_id": list(alert_ids[start : start + TERMS_CHUNK])}}
            for entry in self._paged(query):
                grouped.setdefault(entry.alert_id, []).append(entry)
        return grouped

    def _paged(self, query: dict[str, Any]) -> Iterator[HistoryEntry]:
        if self.backend.get_json(f"/{self.index}") is None:
            return
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": PAGE_SIZE,
                "query": query,
                "sort": [{"alert_id": "asc"}, {"seq": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self.backend.search(self.index, body)["hits"]["hits"]
            for hit in hits:
                yield HistoryEntry.model_validate(hit["_source"])
            if len(hits) < PAGE_SIZE:
                return
            after = hits[-1]["sort"]
