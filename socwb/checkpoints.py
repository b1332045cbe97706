"""The detector's persisted progress: one checkpoint per rule, and one record per run.

A checkpoint contains the end of the last arrival window a rule finished. It lives
in `socwb-checkpoints-<namespace>`, one document per rule id, and is written
with optimistic concurrency (`if_seq_no` and `if_primary_term`), so two
detectors can never both advance it. Run records in `socwb-runs-<namespace>`
are the coverage ledger: which arrival window each run searched and how it ended.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from socwb.alerts.store import create_index
from socwb.errors import ConflictError, SearchError
from socwb.rules.model import iso
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

_DATE: dict[str, Any] = {"type": "date"}
_KEYWORD: dict[str, Any] = {"type": "keyword"}
_LONG: dict[str, Any] = {"type": "long"}

CHECKPOINTS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "rule_id": _KEYWORD,
        "arrival_end": _DATE,
        "first_run_at": _DATE,
        "last_success_at": _DATE,
        "last_run_id": _KEYWORD,
        "updated_at": _DATE,
    },
}

RUNS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "run_id": _KEYWORD,
        "rule_id": _KEYWORD,
        "started_at": _DATE,
        "finished_at": _DATE,
        "arrival_start": _DATE,
        "arrival_end": _DATE,
        "event_start": _DATE,
        "event_end": _DATE,
        "hits": _LONG,
        "buckets": _LONG,
        "alerts_created": _LONG,
        "alerts_updated": _LONG,
        "suppressed": _LONG,
        "suppressed_by": {"type": "object", "enabled": False},
        "late_events": _LONG,
        "future_events": _LONG,
        "duration_ms": _LONG,
        "is_backfilled": {"type": "boolean"},
        "outcome": _KEYWORD,
        "error": {"type": "text"},
    },
}


class CheckpointConflictError(SearchError):
    """Another detector advanced the same rule's checkpoint; this run's results are discarded."""


class Checkpoint(BaseModel):
    """Progress of one rule.

    Attributes:
        arrival_end: End of the last finished arrival window; the next run starts here.
        first_run_at: Time of the rule's first run, the start of "never sent" silences.
        last_success_at: Time of the last successful run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: str
    arrival_end: datetime
    first_run_at: datetime
    last_success_at: datetime
    last_run_id: str
    updated_at: datetime

    def to_document(self) -> dict[str, Any]:
        """Return the document with ISO 8601 UTC times."""
        return {
            "rule_id": self.rule_id,
            "arrival_end": iso(self.arrival_end),
            "first_run_at": iso(self.first_run_at),
            "last_success_at": iso(self.last_success_at),
            "last_run_id": self.last_run_id,
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint with the sequence number and primary term it was read at."""

    checkpoint: Checkpoint
    seq_no: int
    primary_term: int


class CheckpointStore:
    """Reads and advances the checkpoints of one namespace."""

    def __init__(self, backend: SearchBackend, namespace: str) -> None:
        self.backend = backend
        self.index = f"socwb-checkpoints-{namespace}"

    def ensure_index(self) -> None:
        """Create the checkpoints index with its mapping when it does not exist."""
        create_index(self.backend, self.index, CHECKPOINTS_MAPPING)

    def load(self, rule_id: str) -> StoredCheckpoint | None:
        """Return a rule's checkpoint, or None before its first successful run."""
        found = self.backend.get_document(self.index, rule_id)
        if found is None or not found.get("found", True):
            return None
        return StoredCheckpoint(
            checkpoint=Checkpoint.model_validate(found["_source"]),
            seq_no=int(found["_seq_no"]),
            primary_term=int(found["_primary_term"]),
        )

    def save(self, checkpoint: Checkpoint, previous: StoredCheckpoint | None) -> None:
        """Write a checkpoint unless another writer changed it after `previous` was read.

        Raises:
            CheckpointConflictError: The stored checkpoint changed, or was created,
                after `previous` was read.
        """
        path = f"/{quote(self.index)}/_doc/{quote(checkpoint.rule_id)}"
        params: dict[str, Any] = {"refresh": "true"}
        if previous is None:
            params["op_type"] = "create"
        else:
            params["if_seq_no"] = previous.seq_no
            params["if_primary_term"] = previous.primary_term
        try:
            self.backend.request("PUT", path, params=params, body=checkpoint.to_document())
        except ConflictError as exc:
            raise CheckpointConflictError(
                f"the checkpoint of rule {checkpoint.rule_id!r} in {self.index} was changed "
                "by another detector; run only one detector service per namespace"
            ) from exc


Outcome = Literal["succeeded", "failed"]


class RunRecord(BaseModel):
    """One detector run, as written to `socwb-runs-<namespace>`.

    Attributes:
        arrival_start: Start of the `event.ingested` window searched (None for
            runs that check silence, which have no arrival window).
        event_start: Start of the `@timestamp` range evaluated, when any.
        hits: Matching events received in the arrival window.
        buckets: Entities (group-by values) that received events.
        late_events: Events received later than the rule's max lateness.
        future_events: Events dated beyond the future tolerance, left out.
        suppressed: New alerts stored as suppressed instead of queued.
        suppressed_by: Those alerts per suppression id.
    """

    model_config = ConfigDict(extra="forbid")

    run_id: str
    rule_id: str
    started_at: datetime
    finished_at: datetime | None = None
    arrival_start: datetime | None = None
    arrival_end: datetime | None = None
    event_start: datetime | None = None
    event_end: datetime | None = None
    hits: int = 0
    buckets: int = 0
    alerts_created: int = 0
    alerts_updated: int = 0
    suppressed: int = 0
    suppressed_by: dict[str, int] = Field(default_factory=dict)
    late_events: int = 0
    future_events: int = 0
    duration_ms: int = 0
    is_backfilled: bool = False
    outcome: Outcome = "succeeded"
    error: str | None = Field(default=None)

    def to_document(self) -> dict[str, Any]:
        """Return the document with ISO 8601 UTC times."""
        document = self.model_dump(mode="json")
        times = ("started_at", "finished_at", "arrival_start", "arrival_end")
        for name in (*times, "event_start", "event_end"):
            value = getattr(self, name)
            document[name] = None if value is None else iso(value)
        return document


class RunStore:
    """Writes and reads the run records of one namespace."""

    def __init__(self, backend: SearchBackend, namespace: str) -> None:
        self.backend = backend
        self.index = f"socwb-runs-{namespace}"

    def ensure_index(self) -> None:
        """Create the runs index with its mapping when it does not exist."""
        create_index(self.backend, self.index, RUNS_MAPPING)

    def write(self, record: RunRecord) -> None:
        """Store one run record under its run id."""
        self.backend.index_document(
            self.index, record.to_document(), doc_id=record.run_id, op_type="index", refresh=True
        )

    def list_runs(self, rule_id: str, size: int = 1000) -> list[RunRecord]:
        """Return a rule's newest run records, newest first."""
        body = {
            "size": size,
            "query": {"term": {"rule_id": rule_id}},
            "sort": [{"started_at": "desc"}],
        }
        response = self.backend.search(self.index, body)
        return [RunRecord.model_validate(hit["_source"]) for hit in response["hits"]["hits"]]
