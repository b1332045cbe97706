"""Suppressions: proposed by analysts, approved by a second person, always with an expiry.

A suppression covers alerts of some rules whose entity matches every field
condition. It applies only while it is approved and not expired. Every decision is
an event in `socwb-suppression-history-<namespace>` under the id
`<suppression id>-<seq>`, written with create-only semantics, so two reviewers
deciding at once cannot both succeed. The suppression document in
`socwb-suppressions-<namespace>` contains the proposal and the state derived from
its events.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from socwb.alerts.model import Alert
from socwb.alerts.store import alerts_index, create_index
from socwb.auth import Permission, PermissionDenied, Principal, require
from socwb.errors import AlertWorkflowError, ConflictError
from socwb.history_log import append_entry
from socwb.reporting import ReportMonth, TuningChange
from socwb.rules.model import FIELD_PATTERN, iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

MAX_VALIDITY = timedelta(days=90)
PREVIEW_WINDOW = timedelta(days=30)
MIN_JUSTIFICATION = 20
MAX_LISTED = 10_000

_KEYWORD: dict[str, Any] = {"type": "keyword"}
_DATE: dict[str, Any] = {"type": "date"}

SUPPRESSION_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "rule_ids": _KEYWORD,
        "conditions": {"properties": {"field": _KEYWORD, "value": _KEYWORD}},
        "justification": {"type": "text"},
        "proposed_by": _KEYWORD,
        "proposed_at": _DATE,
        "state": _KEYWORD,
        "expires_at": _DATE,
        "decided_by": _KEYWORD,
        "decided_at": _DATE,
        "last_seq": {"type": "integer"},
    },
}

EVENT_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "suppression_id": _KEYWORD,
        "seq": {"type": "integer"},
        "actor": _KEYWORD,
        "at": _DATE,
        "action": _KEYWORD,
        "note": {"type": "text"},
        "expires_at": _DATE,
    },
}


class SuppressionState(StrEnum):
    """Review state of a suppression; expiry is checked separately against the time."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class SuppressionAction(StrEnum):
    """A decision recorded in a suppression's history."""

    PROPOSE = "propose"
    APPROVE = "approve"
    REJECT = "reject"
    RENEW = "renew"


class FieldCondition(BaseModel):
    """An entity field that must have exactly this value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(pattern=FIELD_PATTERN)
    value: str = Field(min_length=1)


class Suppression(BaseModel):
    """A suppression: the proposal and its review state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    rule_ids: list[str] = Field(min_length=1)
    conditions: list[FieldCondition] = Field(min_length=1)
    justification: str
    proposed_by: str
    proposed_at: datetime
    state: SuppressionState = SuppressionState.PROPOSED
    expires_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    last_seq: int = 0

    @field_serializer("proposed_at", "expires_at", "decided_at")
    def _serialize_time(self, moment: datetime | None) -> str | None:
        return iso(moment) if moment else None

    def is_active(self, now: datetime) -> bool:
        """Return whether the suppression applies at `now`: approved and not expired."""
        return self.state == SuppressionState.APPROVED and now < self.expires_at

    def matches(self, alert: Alert) -> bool:
        """Return whether the alert's rule is covered and its entity meets every condition."""
        if alert.rule_id not in self.rule_ids:
            return False
        values = {item.field: item.value for item in alert.entity}
        return all(values.get(c.field) == c.value for c in self.conditions)


class SuppressionEvent(BaseModel):
    """One decision on a suppression."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suppression_id: str
    seq: int = Field(ge=1)
    actor: str
    at: datetime
    action: SuppressionAction
    note: str | None = None
    expires_at: datetime | None = None

    @field_serializer("at", "expires_at")
    def _serialize_time(self, moment: datetime | None) -> str | None:
        return iso(moment) if moment else None


def is_suppressed(alert: Alert, suppressions: Sequence[Suppression], now: datetime) -> bool:
    """Return whether any active suppression matches the alert; others never apply."""
    return any(item.is_active(now) and item.matches(alert) for item in suppressions)


def check_expiry(expires_at: datetime, now: datetime) -> None:
    """Raise unless the expiry lies after `now` and at most 90 days ahead.

    Raises:
        AlertWorkflowError: The expiry is naive, past, or too far ahead.
    """
    if expires_at.tzinfo is None:
        raise AlertWorkflowError("the expiry needs a time zone; pass an aware UTC time")
    if expires_at <= now:
        raise AlertWorkflowError(f"the expiry {iso(expires_at)} is not in the future")
    if expires_at - now > MAX_VALIDITY:
        raise AlertWorkflowError(
            f"the expiry {iso(expires_at)} is more than {MAX_VALIDITY.days} days ahead; "
            "choose an earlier date and renew the suppression when it runs out"
        )


def _check_decider(principal: Principal, suppression: Suppression) -> None:
    require(principal, Permission.DECIDE_SUPPRESSION)
    if principal.name == suppression.proposed_by:
        raise PermissionDenied(
            f"user {principal.name!r} proposed suppression {suppression.id!r} and may not "
            "decide on it; another reviewer must"
        )


def build_candidate_query(
    rule_ids: Sequence[str], conditions: Sequence[FieldCondition], since: datetime
) -> dict[str, Any]:
    """Return a query for alerts that may match; `Suppression.matches` makes the exact check.

    The entity is an array of objects, not nested, so the query only requires every
    value to appear somewhere in the entity.
    """
    clauses: list[dict[str, Any]] = [
        {"terms": {"rule_id": list(rule_ids)}},
        {"range": {"created_at": {"gte": iso(since)}}},
    ]
    clauses += [{"term": {"entity.value": condition.value}} for condition in conditions]
    return {"bool": {"filter": clauses}}


class SuppressionStore:
    """Proposes, decides and lists the suppressions of one namespace."""

    def __init__(self, backend: SearchBackend, namespace: str) -> None:
        self.backend = backend
        self.namespace = namespace
        self.index = f"socwb-suppressions-{namespace}"
        self.history_index = f"socwb-suppression-history-{namespace}"

    def ensure_indices(self) -> None:
        """Create the suppression and history indices when they do not exist."""
        create_index(self.backend, self.index, SUPPRESSION_MAPPING)
        create_index(self.backend, self.history_index, EVENT_MAPPING)

    def propose(
        self,
        principal: Principal,
        *,
        rule_ids: Sequence[str],
        conditions: Sequence[FieldCondition],
        justification: str,
        expires_at: datetime,
        now: datetime,
    ) -> Suppression:
        """Record a proposal; it applies only after another user with the reviewer role approves.

        Raises:
            PermissionDenied: The principal may not propose suppressions.
            AlertWorkflowError: No rule or condition, a short justification, or a bad expiry.
        """
        require(principal, Permission.PROPOSE_SUPPRESSION)
        check_expiry(expires_at, now)
        if len(justification.strip()) < MIN_JUSTIFICATION:
            raise AlertWorkflowError(
                f"the justification needs at least {MIN_JUSTIFICATION} characters"
            )
        if not rule_ids or not conditions:
            raise AlertWorkflowError("a suppression needs at least one rule and one condition")
        suppression = Suppression(
            id=uuid.uuid4().hex,
            rule_ids=sorted(set(rule_ids)),
            conditions=list(conditions),
            justification=justification.strip(),
            proposed_by=principal.name,
            proposed_at=now,
            expires_at=expires_at,
        )
        self.ensure_indices()
        event = self._event(suppression, principal, SuppressionAction.PROPOSE, now, None)
        self._append(event)
        created = suppression.model_copy(update={"last_seq": 1})
        self.backend.index_document(
            self.index, created.model_dump(mode="json"), doc_id=created.id, refresh=True
        )
        self._log(event, created)
        return created

    def approve(
        self, principal: Principal, suppression_id: str, *, now: datetime, note: str | None = None
    ) -> Suppression:
        """Approve a proposal; the approver must be a reviewer other than the proposer.

        Raises:
            PermissionDenied: Not a reviewer, or the principal proposed it.
            AlertWorkflowError: It is not a pending proposal, or it has expired.
        """
        suppression, seq_no, term = self._get(suppression_id)
        _check_decider(principal, suppression)
        self._require_state(suppression, SuppressionState.PROPOSED, "approve")
        if suppression.expires_at <= now:
            raise AlertWorkflowError(f"suppression {suppression_id!r} expired before approval")
        return self._decide(
            principal, suppression, (seq_no, term), SuppressionAction.APPROVE, now, note
        )

    def reject(
        self, principal: Principal, suppression_id: str, *, now: datetime, note: str | None = None
    ) -> Suppression:
        """Reject a proposal; the reviewer must not be the proposer.

        Raises:
            PermissionDenied: Not a reviewer, or the principal proposed it.
            AlertWorkflowError: It is not a pending proposal.
        """
        suppression, seq_no, term = self._get(suppression_id)
        _check_decider(principal, suppression)
        self._require_state(suppression, SuppressionState.PROPOSED, "reject")
        return self._decide(
            principal, suppression, (seq_no, term), SuppressionAction.REJECT, now, note
        )

    def renew(
        self,
        principal: Principal,
        suppression_id: str,
        *,
        expires_at: datetime,
        now: datetime,
        note: str | None = None,
    ) -> Suppression:
        """Extend an approved suppression, expired or not, to a new expiry within 90 days.

        Raises:
            PermissionDenied: Not a reviewer, or the principal proposed it.
            AlertWorkflowError: It was never approved, or the expiry is invalid.
        """
        suppression, seq_no, term = self._get(suppression_id)
        _check_decider(principal, suppression)
        self._require_state(suppression, SuppressionState.APPROVED, "renew")
        check_expiry(expires_at, now)
        return self._decide(
            principal,
            suppression,
            (seq_no, term),
            SuppressionAction.RENEW,
            now,
            note,
            expires_at=expires_at,
        )

    def get(self, suppression_id: str) -> Suppression:
        """Return one suppression.

        Raises:
            AlertWorkflowError: No suppression has this id.
        """
        return self._get(suppression_id)[0]

    def list_all(self) -> list[Suppression]:
        """Return every suppression, newest proposal first (at most 10,000)."""
        body = {"size": MAX_LISTED, "sort": [{"proposed_at": "desc"}, {"id": "asc"}]}
        response = self.backend.search(self.index, body, ignore_unavailable="true")
        return [Suppression.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]

    def active(self, now: datetime) -> list[Suppression]:
        """Return the suppressions that apply at `now`."""
        return [item for item in self.list_all() if item.is_active(now)]

    def events(self, suppression_id: str) -> list[SuppressionEvent]:
        """Return a suppression's decisions in sequence order."""
        body = {
            "size": MAX_LISTED,
            "query": {"term": {"suppression_id": suppression_id}},
            "sort": [{"seq": "asc"}],
        }
        response = self.backend.search(self.history_index, body, ignore_unavailable="true")
        return [SuppressionEvent.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]

    def preview_count(
        self,
        principal: Principal,
        rule_ids: Sequence[str],
        conditions: Sequence[FieldCondition],
        *,
        now: datetime,
    ) -> int:
        """Count the alerts of the last 30 days that a suppression would have matched."""
        require(principal, Permission.PROPOSE_SUPPRESSION)
        probe = Suppression(
            id="preview",
            rule_ids=list(rule_ids) or ["-"],
            conditions=list(conditions) or [FieldCondition(field="-", value="-")],
            justification="",
            proposed_by=principal.name,
            proposed_at=now,
            expires_at=now,
        )
        query = build_candidate_query(probe.rule_ids, probe.conditions, now - PREVIEW_WINDOW)
        # NOTE: only the first 10,000 candidates are checked, so a broader preview undercounts.
        body = {"size": MAX_LISTED, "query": query}
        response = self.backend.search(
            alerts_index(self.namespace), body, ignore_unavailable="true"
        )
        candidates = [Alert.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]
        return sum(1 for alert in candidates if probe.matches(alert))

    def monthly_review(self, month: ReportMonth, now: datetime) -> list[TuningChange]:
        """List suppressions proposed or decided in the month, or active at `now`."""
        changes = []
        for item in self.list_all():
            touched = any(
                moment is not None and month.start <= moment < month.end
                for moment in (item.proposed_at, item.decided_at)
            )
            if touched or item.is_active(now):
                changes.append(_tuning_change(item, now))
        return changes

    def _get(self, suppression_id: str) -> tuple[Suppression, int, int]:
        found = self.backend.get_document(self.index, suppression_id)
        if found is None or not found.get("found", True):
            raise AlertWorkflowError(f"suppression {suppression_id!r} not found in {self.index}")
        suppression = Suppression.model_validate(found["_source"])
        return suppression, int(found["_seq_no"]), int(found["_primary_term"])

    @staticmethod
    def _require_state(suppression: Suppression, expected: SuppressionState, verb: str) -> None:
        if suppression.state != expected:
            raise AlertWorkflowError(
                f"cannot {verb} suppression {suppression.id!r}: it is {suppression.state.value}, "
                f"not {expected.value}"
            )

    def _decide(
        self,
        principal: Principal,
        suppression: Suppression,
        version: tuple[int, int],
        action: SuppressionAction,
        now: datetime,
        note: str | None,
        expires_at: datetime | None = None,
    ) -> Suppression:
        event = self._event(suppression, principal, action, now, note, expires_at)
        self._append(event)
        states = {
            SuppressionAction.APPROVE: SuppressionState.APPROVED,
            SuppressionAction.REJECT: SuppressionState.REJECTED,
            SuppressionAction.RENEW: SuppressionState.APPROVED,
        }
        decided = suppression.model_copy(
            update={
                "state": states[action],
                "decided_by": principal.name,
                "decided_at": now,
                "expires_at": expires_at or suppression.expires_at,
                "last_seq": event.seq,
            }
        )
        # The event above won its sequence number, so no other decision races this write.
        # NOTE: if this write fails after the event was stored, the document's last_seq
        # lags its history and later decisions on it fail until the document is repaired.
        seq_no, term = version
        self.backend.request(
            "PUT",
            f"/{self.index}/_doc/{suppression.id}",
            params={"if_seq_no": seq_no, "if_primary_term": term, "refresh": "true"},
            body=decided.model_dump(mode="json"),
        )
        self._log(event, decided)
        return decided

    def _event(
        self,
        suppression: Suppression,
        principal: Principal,
        action: SuppressionAction,
        now: datetime,
        note: str | None,
        expires_at: datetime | None = None,
    ) -> SuppressionEvent:
        return SuppressionEvent(
            suppression_id=suppression.id,
            seq=suppression.last_seq + 1,
            actor=principal.name,
            at=now,
            action=action,
            note=note.strip() if note and note.strip() else None,
            expires_at=expires_at,
        )

    def _append(self, event: SuppressionEvent) -> None:
        try:
            append_entry(
                self.backend,
                self.history_index,
                event.suppression_id,
                event.seq,
                event.model_dump(mode="json"),
            )
        except ConflictError as exc:
            raise AlertWorkflowError(
                f"suppression {event.suppression_id!r} was decided by someone else meanwhile; "
                "reload it and decide again"
            ) from exc

    @staticmethod
    def _log(event: SuppressionEvent, suppression: Suppression) -> None:
        logger.info(
            "suppression %s suppression_id=%s user=%s state=%s expires_at=%s seq=%d",
            event.action.value,
            suppression.id,
            event.actor,
            suppression.state.value,
            iso(suppression.expires_at),
            event.seq,
        )


def _tuning_change(item: Suppression, now: datetime) -> TuningChange:
    state = item.state.value
    if item.state == SuppressionState.APPROVED and item.expires_at <= now:
        state = "expired"
    return TuningChange(
        suppression_id=item.id,
        rule_ids=item.rule_ids,
        proposed_by=item.proposed_by,
        proposed_at=item.proposed_at,
        state=state,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        expires_at=item.expires_at,
    )
