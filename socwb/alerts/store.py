"""The alert store: alerts in `socwb-alerts-<namespace>`, written with create-only semantics.

A new alert is written with `op_type=create` under its deterministic id, so a
retried run meets HTTP 409 instead of writing a copy. The detector updates an
existing alert only through partial updates of the fields it owns, so an
analyst's status change is never overwritten.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from socwb.alerts.model import Alert, AlertStatus, check_transition
from socwb.errors import AlertWorkflowError, ConflictError, QueryRejectedError, SearchError
from socwb.rules.model import iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

MAX_LOOKUP = 10_000

_DATE: dict[str, Any] = {"type": "date"}
_KEYWORD: dict[str, Any] = {"type": "keyword"}
_BOOLEAN: dict[str, Any] = {"type": "boolean"}

ALERTS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "rule_id": _KEYWORD,
        "rule_name": _KEYWORD,
        "severity": _KEYWORD,
        "status": _KEYWORD,
        "created_at": _DATE,
        "due_at": _DATE,
        "updated_at": _DATE,
        "last_seen": _DATE,
        "entity": {"properties": {"field": _KEYWORD, "value": _KEYWORD}},
        "entity_key": _KEYWORD,
        "first_event": _DATE,
        "last_event": _DATE,
        "count": {"type": "long"},
        "evidence": {
            "properties": {
                "buckets": {"type": "object", "enabled": False},
                "sample_ids": _KEYWORD,
                "index": _KEYWORD,
                "query": {"type": "keyword", "index": False, "doc_values": False},
            }
        },
        "criteria": _KEYWORD,
        "policy_clause": {"type": "text"},
        "flags": {"type": "object", "dynamic": True},
        "is_backfilled": _BOOLEAN,
        "is_late": _BOOLEAN,
        "run_id": _KEYWORD,
        "status_changed_at": _DATE,
        "status_changed_by": _KEYWORD,
        "suppression_id": _KEYWORD,
    },
}
"""Explicit mapping of the alerts index; `strict` rejects a field the model does not define."""

DETECTOR_FIELDS = (
    "first_event",
    "last_event",
    "count",
    "last_seen",
    "updated_at",
    "flags",
    "evidence",
    "is_late",
)
"""Fields a later run may change on an existing alert; the status fields belong to analysts."""


class AlertWriteError(SearchError):
    """The engine did not accept some alert writes; the run must fail and be retried."""


def alerts_index(namespace: str) -> str:
    """Return the name of the alerts index of a namespace."""
    return f"socwb-alerts-{namespace}"


def create_index(backend: SearchBackend, index: str, mappings: Mapping[str, Any]) -> bool:
    """Create an index with an explicit mapping, or add new fields to the existing index.

    Returns whether the index was created. On an existing index the mapping is
    sent to `_mapping`, which adds fields that a newer version defines and leaves
    the others, so documents with those fields pass a `strict` mapping.

    Raises:
        QueryRejectedError: The engine rejected the index, or the mapping changes
            the type of an existing field.
    """
    if backend.get_json(f"/{quote(index)}") is not None:
        backend.request("PUT", f"/{quote(index)}/_mapping", body=dict(mappings))
        return False
    body = {
        "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
        "mappings": dict(mappings),
    }
    try:
        backend.request("PUT", f"/{quote(index)}", body=body)
    except QueryRejectedError as exc:
        if exc.status == 400 and "already_exists" in str(exc):
            return False
        raise
    logger.info("index created index=%s", index)
    return True


class AlertStore:
    """Reads and writes the alerts of one namespace."""

    def __init__(self, backend: SearchBackend, namespace: str) -> None:
        self.backend = backend
        self.index = alerts_index(namespace)

    def ensure_index(self) -> None:
        """Create the alerts index with its mapping when it does not exist."""
        create_index(self.backend, self.index, ALERTS_MAPPING)

    def refresh(self) -> None:
        """Make the latest alert writes visible to searches."""
        self.backend.refresh(self.index)

    def get(self, alert_id: str) -> Alert | None:
        """Return one alert, or None when no alert has this id."""
        found = self.backend.get_document(self.index, alert_id)
        if found is None or not found.get("found", True):
            return None
        return Alert.model_validate(found["_source"])

    def search(self, query: Mapping[str, Any] | None = None, size: int = MAX_LOOKUP) -> list[Alert]:
        """Return alerts matching a query (all alerts when None), oldest first event first.

        Raises:
            AlertWriteError: More than `MAX_LOOKUP` alerts match, so the list would be cut.
        """
        body: dict[str, Any] = {
            "size": size,
            "track_total_hits": True,
            "query": dict(query) if query else {"match_all": {}},
            "sort": [{"first_event": "asc"}, {"id": "asc"}],
        }
        response = self.backend.search(self.index, body)
        total = int(response["hits"]["total"]["value"])
        if total > size:
            raise AlertWriteError(
                f"{total} alerts in {self.index} match, more than the {size} a look-up "
                "returns: narrow the query"
            )
        return [Alert.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]

    def find_recent(
        self, rule_id: str, entity_keys: Iterable[str], since: datetime
    ) -> dict[str, list[Alert]]:
        """Return a rule's alerts per entity key whose last event is at or after `since`."""
        keys = sorted(set(entity_keys))
        if not keys:
            return {}
        query = {
            "bool": {
                "filter": [
                    {"term": {"rule_id": rule_id}},
                    {"terms": {"entity_key": keys}},
                    {"range": {"last_event": {"gte": iso(since)}}},
                ]
            }
        }
        found: dict[str, list[Alert]] = {}
        for alert in self.search(query):
            found.setdefault(alert.entity_key, []).append(alert)
        return found

    def create_many(self, alerts: Sequence[Alert]) -> list[str]:
        """Write new alerts with create-only semantics.

        Returns:
            Ids that already existed (HTTP 409); the caller updates those instead.

        Raises:
            AlertWriteError: Any other item failed, e.g. a write block on the index.
        """
        operations: list[Mapping[str, Any]] = []
        for alert in alerts:
            operations.append({"create": {"_index": self.index, "_id": alert.id}})
            operations.append(alert.to_document())
        outcomes = self._send_bulk(operations)
        existing = [doc_id for doc_id, status, _ in outcomes if status == 409]
        self._raise_on_failures(outcomes, "create", accepted=(200, 201, 409))
        return existing

    def update_many(self, alerts: Sequence[Alert]) -> None:
        """Update the detector-owned fields of existing alerts.

        Raises:
            AlertWriteError: Some update failed; no status field is ever touched.
        """
        operations: list[Mapping[str, Any]] = []
        for alert in alerts:
            document = alert.to_document()
            operations.append({"update": {"_index": self.index, "_id": alert.id}})
            operations.append({"doc": {name: document[name] for name in DETECTOR_FIELDS}})
        outcomes = self._send_bulk(operations)
        self._raise_on_failures(outcomes, "update", accepted=(200, 201))

    def _send_bulk(self, operations: Sequence[Mapping[str, Any]]) -> list[tuple[str, int, str]]:
        """Send a bulk request and return (id, HTTP status, error reason) per item."""
        if not operations:
            return []
        payload = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in operations)
        response = self.backend.request("POST", "/_bulk", body=payload)
        outcomes = []
        for item in response.get("items", []):
            outcome = next(iter(item.values()))
            error = outcome.get("error") or {}
            reason = error.get("reason", "") if isinstance(error, Mapping) else str(error)
            outcomes.append((str(outcome.get("_id")), int(outcome.get("status", 0)), reason))
        return outcomes

    def _raise_on_failures(
        self, outcomes: Sequence[tuple[str, int, str]], action: str, accepted: tuple[int, ...]
    ) -> None:
        failures = [outcome for outcome in outcomes if outcome[1] not in accepted]
        if not failures:
            return
        reasons = "; ".join(
            f"{doc_id}: HTTP {status} {reason}" for doc_id, status, reason in failures[:3]
        )
        raise AlertWriteError(
            f"{len(failures)} alert {action}s to {self.index} failed ({reasons}); "
            "the run fails and its retry writes the same alert ids"
        )

    def set_status(self, alert_id: str, status: AlertStatus, *, actor: str, now: datetime) -> Alert:
        """Move an alert to a new status, checking the transition and concurrent changes.

        Raises:
            AlertWorkflowError: The alert does not exist or the transition is not allowed.
            ConflictError: Someone changed the alert in between; reload and retry.
        """
        found = self.backend.get_document(self.index, alert_id)
        if found is None:
            raise AlertWorkflowError(f"alert {alert_id!r} not found in {self.index}")
        alert = Alert.model_validate(found["_source"])
        check_transition(alert.status, status)
        changed = alert.model_copy(
            update={"status": status, "status_changed_at": now, "status_changed_by": actor}
        )
        params = {"if_seq_no": found["_seq_no"], "if_primary_term": found["_primary_term"]}
        path = f"/{quote(self.index)}/_doc/{quote(alert_id)}"
        try:
            self.backend.request(
                "PUT", path, params={**params, "refresh": "true"}, body=changed.to_document()
            )
        except ConflictError as exc:
            raise ConflictError(
                f"alert {alert_id!r} changed while its status was being set: reload it and retry",
                status=409,
            ) from exc
        return changed
