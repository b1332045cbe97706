"""Delivery records in `socwb-notifications-<namespace>`: claims, attempts, results, breaches.

Every document is written with `op_type=create` under a deterministic id, so no record
is ever overwritten:

- `<alert id>-<notification>-<channel>/<round>`: the claim of one round of a delivery,
  written before its first attempt. A second dispatcher, or a rerun, meets HTTP 409
  and sends nothing. A later cycle claims the next round only after a failed result.
- `<claim id>-<attempt, two digits>`: one attempt, delivered or failed, with the reason.
- `<claim id>-result`: the final outcome of the round.
- `<alert id>-breach`: the alert passed its due time without a first response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from socwb.alerts.model import Alert
from socwb.alerts.store import create_index
from socwb.errors import ConflictError
from socwb.notify.templates import Notification
from socwb.rules.model import iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

Outcome = Literal["delivered", "failed"]

_KEYWORD: dict[str, Any] = {"type": "keyword"}

NOTIFICATIONS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "record": _KEYWORD,
        "delivery_id": _KEYWORD,
        "alert_id": _KEYWORD,
        "notification": _KEYWORD,
        "channel": _KEYWORD,
        "severity": _KEYWORD,
        "at": {"type": "date"},
        "round": {"type": "integer"},
        "attempt": {"type": "integer"},
        "attempts": {"type": "integer"},
        "outcome": _KEYWORD,
        "reason": {"type": "text"},
        "due_at": {"type": "date"},
    },
}
"""Explicit mapping of the notifications index; `strict` rejects undefined fields."""


def notifications_index(namespace: str) -> str:
    """Return the name of the notifications index of a namespace."""
    return f"socwb-notifications-{namespace}"


def delivery_id(alert_id: str, notification: Notification, channel: str, round_number: int) -> str:
    """Return the claim id of one round of one notification of one alert on one channel.

    Channel names cannot contain `/`, so no name and round can produce another's id.
    """
    return f"{alert_id}-{notification.value}-{channel}/{round_number}"


def result_id(claim_id: str) -> str:
    """Return the id of the result record of a claim."""
    return f"{claim_id}-result"


def next_round(
    found: Mapping[str, Mapping[str, Any]],
    alert_id: str,
    notification: Notification,
    channel: str,
    max_rounds: int,
) -> int | None:
    """Return the round a cycle may claim, or None when nothing is to be sent.

    Nothing is sent when a round was delivered, when a claimed round has no result yet
    (in progress elsewhere, or its process stopped), or when `max_rounds` rounds failed.

    Args:
        found: Stored records by id, as `DeliveryRecords.get_many` returns them.
    """
    for number in range(1, max_rounds + 1):
        claim_id = delivery_id(alert_id, notification, channel, number)
        if claim_id not in found:
            return number
        result = found.get(result_id(claim_id))
        if result is None or result.get("outcome") != "failed":
            return None
    return None


@dataclass(frozen=True)
class Delivery:
    """One round of one notification of one alert on one channel."""

    alert: Alert
    notification: Notification
    channel: str
    round_number: int

    @property
    def claim_id(self) -> str:
        """The id of this round's claim record."""
        return delivery_id(self.alert.id, self.notification, self.channel, self.round_number)


class DeliveryRecords:
    """Writes and reads the delivery records of one namespace."""

    def __init__(self, backend: SearchBackend, namespace: str) -> None:
        self.backend = backend
        self.index = notifications_index(namespace)

    def ensure_index(self) -> None:
        """Create the notifications index with its mapping when it does not exist."""
        create_index(self.backend, self.index, NOTIFICATIONS_MAPPING)

    def get_many(self, document_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the records that exist among the ids, by id, with a real-time multi-get."""
        if not document_ids:
            return {}
        path = f"/{quote(self.index)}/_mget"
        response = self.backend.request("POST", path, body={"ids": list(document_ids)})
        return {
            str(doc["_id"]): dict(doc["_source"])
            for doc in response.get("docs", [])
            if doc.get("found")
        }

    def claim(self, delivery: Delivery, now: datetime) -> bool:
        """Write the claim of a delivery round; return False when it exists, so nothing is sent."""
        document = self._base(delivery, now) | {"record": "claim"}
        return self._create(delivery.claim_id, document)

    def record_attempt(
        self,
        delivery: Delivery,
        *,
        attempt: int,
        outcome: Outcome,
        reason: str | None,
        now: datetime,
    ) -> None:
        """Write one attempt of a claimed delivery round."""
        document = self._base(delivery, now)
        document |= {"record": "attempt", "attempt": attempt, "outcome": outcome}
        document["reason"] = reason
        self._create(f"{delivery.claim_id}-{attempt:02d}", document)

    def record_result(
        self,
        delivery: Delivery,
        *,
        attempts: int,
        outcome: Outcome,
        reason: str | None,
        now: datetime,
    ) -> None:
        """Write the final outcome of a claimed delivery round."""
        document = self._base(delivery, now)
        document |= {"record": "result", "attempts": attempts, "outcome": outcome}
        document["reason"] = reason
        self._create(result_id(delivery.claim_id), document)

    def mark_breach(self, alert: Alert, now: datetime) -> bool:
        """Record that an alert passed its due time unanswered; False when recorded before."""
        document = {
            "record": "breach",
            "alert_id": alert.id,
            "severity": alert.severity.value,
            "at": iso(now),
            "due_at": iso(alert.due_at),
        }
        return self._create(f"{alert.id}-breach", document)

    def for_alert(self, alert_id: str) -> list[dict[str, Any]]:
        """Return every record of an alert, oldest first (after a refresh)."""
        self.backend.refresh(self.index)
        body = {
            "size": 1000,
            "query": {"term": {"alert_id": alert_id}},
            "sort": [{"at": "asc"}, {"_id": "asc"}],
        }
        response = self.backend.search(self.index, body, ignore_unavailable="true")
        return [dict(hit["_source"]) for hit in response["hits"]["hits"]]

    def _base(self, delivery: Delivery, now: datetime) -> dict[str, Any]:
        return {
            "delivery_id": delivery.claim_id,
            "alert_id": delivery.alert.id,
            "notification": delivery.notification.value,
            "channel": delivery.channel,
            "round": delivery.round_number,
            "severity": delivery.alert.severity.value,
            "at": iso(now),
        }

    def _create(self, document_id: str, document: dict[str, Any]) -> bool:
        try:
            self.backend.index_document(self.index, document, doc_id=document_id, op_type="create")
        except ConflictError:
            return False
        return True
