"""The alert document, its status enum and the status transitions an analyst may make."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socwb.errors import AlertWorkflowError
from socwb.rules.model import Rule, Severity, iso

MAX_SAMPLE_IDS = 20


class AlertStatus(StrEnum):
    """Review state of an alert."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    SUPPRESSED = "suppressed"
    """Matched an active suppression when the detector created it: stored for audit, not queued."""


ALLOWED_TRANSITIONS: Mapping[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.OPEN: frozenset({AlertStatus.ACKNOWLEDGED, AlertStatus.CLOSED}),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.IN_PROGRESS, AlertStatus.CLOSED}),
    AlertStatus.IN_PROGRESS: frozenset({AlertStatus.CLOSED}),
    AlertStatus.CLOSED: frozenset({AlertStatus.OPEN}),
    AlertStatus.SUPPRESSED: frozenset(),
}
"""Status changes an analyst may make; closing from any state and reopening are allowed.

A suppressed alert keeps its status: it is the record of what a suppression withheld.
"""


def check_transition(current: AlertStatus, new: AlertStatus) -> None:
    """Raise unless an alert may move from `current` to `new`.

    Raises:
        AlertWorkflowError: The transition is not in `ALLOWED_TRANSITIONS`.
    """
    allowed = ALLOWED_TRANSITIONS[current]
    if current is AlertStatus.SUPPRESSED:
        raise AlertWorkflowError(
            f"an alert cannot move from {current.value!r} to {new.value!r}: it records what "
            "a suppression withheld; let the suppression expire so that later activity alerts"
        )
    if new not in allowed:
        choices = ", ".join(sorted(status.value for status in allowed))
        raise AlertWorkflowError(
            f"an alert cannot move from {current.value!r} to {new.value!r}: "
            f"from {current.value!r} it can move to {choices}"
        )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityValue(_Model):
    """One group-by field of the alerted entity and its value (None: the event lacks it)."""

    field: str
    value: str | None


class Evidence(_Model):
    """Facts an analyst needs to check an alert without rerunning the rule.

    Attributes:
        buckets: The evaluated values, e.g. the peak count in one window.
        sample_ids: Up to 20 ids of matching events, oldest first.
        index: Index pattern that contains the events.
        query: The search body, as JSON, that returns the alert's events.
    """

    buckets: dict[str, Any] = Field(default_factory=dict)
    sample_ids: list[str] = Field(default_factory=list, max_length=MAX_SAMPLE_IDS)
    index: str = ""
    query: str = ""


class Alert(_Model):
    """One alert as stored in `socwb-alerts-<namespace>`.

    Attributes:
        id: Deterministic id, see `alert_id`.
        due_at: `created_at` plus the rule's response time.
        entity: The group-by values the alert is about.
        entity_key: The entity as one string, for look-ups.
        first_event: Time of the first event of the episode.
        last_event: Time of the last event seen so far.
        count: Matching events between first_event and last_event.
        last_seen: Time of the latest run that found events of this episode.
        flags: Flags such as `is_escalation`, set when any event of the alert set them.
        is_backfilled: Created by a catch-up or manual range run, not a live run.
        is_late: Some of its events arrived later than the rule's max lateness.
        run_id: The run that created it.
        suppression_id: The suppression that withheld it, when its status is `suppressed`.
    """

    id: str
    rule_id: str
    rule_name: str
    severity: Severity
    status: AlertStatus = AlertStatus.OPEN
    created_at: datetime
    due_at: datetime
    updated_at: datetime
    last_seen: datetime
    entity: list[EntityValue]
    entity_key: str
    first_event: datetime
    last_event: datetime
    count: int = Field(ge=0)
    evidence: Evidence = Field(default_factory=Evidence)
    criteria: list[str]
    policy_clause: str
    flags: dict[str, bool] = Field(default_factory=dict)
    is_backfilled: bool = False
    is_late: bool = False
    run_id: str
    status_changed_at: datetime | None = None
    status_changed_by: str | None = None
    suppression_id: str | None = None

    def to_document(self) -> dict[str, Any]:
        """Return the JSON document to index, with times as ISO 8601 UTC strings."""
        document = self.model_dump(mode="json")
        for name in (
            "created_at",
            "due_at",
            "updated_at",
            "last_seen",
            "first_event",
            "last_event",
        ):
            document[name] = iso(getattr(self, name))
        if self.status_changed_at is not None:
            document["status_changed_at"] = iso(self.status_changed_at)
        return document


def entity_key(entity: Sequence[EntityValue]) -> str:
    """Join an entity's fields and values as `field=value` pairs; a missing value is `-`."""
    return " ".join(f"{item.field}={'-' if item.value is None else item.value}" for item in entity)


def alert_id(rule_id: str, key: str, window_start: datetime) -> str:
    """Return the deterministic alert id: SHA-256 of rule id, entity key and window start.

    The same rule, entity and window start give the same id in every run and
    process, so a retried or repeated run cannot create a second alert.
    """
    material = "\x00".join((rule_id, key, iso(window_start)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def new_alert(
    rule: Rule,
    entity: list[EntityValue],
    *,
    id_time: datetime,
    first_event: datetime,
    last_event: datetime,
    now: datetime,
    run_id: str,
    count: int = 0,
    evidence: Evidence | None = None,
    flags: dict[str, bool] | None = None,
    is_backfilled: bool = False,
    is_late: bool = False,
    rule_name: str | None = None,
) -> Alert:
    """Build a new open alert of a rule, due after the rule's response time.

    Args:
        rule: The rule that raised it; gives id, name, severity and policy text.
        entity: The group-by values the alert is about.
        id_time: Time that, with rule id and entity, gives the deterministic id.
        first_event: Time of the first event of the alert.
        last_event: Time of the last event seen so far.
        now: Creation time.
        run_id: The run that creates it.
        count: Matching events between first and last event.
        evidence: What an analyst needs to check the alert.
        flags: Alert flags such as `is_escalation`.
        is_backfilled: Created by a catch-up or manual range run.
        is_late: Some events arrived later than the rule's max lateness.
        rule_name: Title shown instead of the rule's name.
    """
    key = entity_key(entity)
    return Alert(
        id=alert_id(rule.id, key, id_time),
        rule_id=rule.id,
        rule_name=rule_name or rule.name,
        severity=rule.severity,
        created_at=now,
        due_at=now + rule.response_time,
        updated_at=now,
        last_seen=now,
        entity=entity,
        entity_key=key,
        first_event=first_event,
        last_event=last_event,
        count=count,
        evidence=evidence or Evidence(),
        criteria=list(rule.criteria),
        policy_clause=rule.policy_clause,
        flags=flags or {},
        is_backfilled=is_backfilled,
        is_late=is_late,
        run_id=run_id,
    )
