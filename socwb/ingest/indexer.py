"""Bulk writing of normalized events: `create` with deterministic ids, retries, dead letters.

Every document is sent with `op_type: create`, so the engine responds with HTTP 409
to a document whose id exists already, and the writer counts it as a duplicate. Items
that the engine rejects for their content are rewritten as dead letters, never
dropped. Items that receive 429/502/503/504 are retried with the backend's capped
exponential backoff. When the retries run out, the run stops with `IngestAbortedError`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from socwb.errors import QueryRejectedError, SearchUnavailableError, WorkbenchError
from socwb.ingest.formats._base import MAX_ORIGINAL_CHARS
from socwb.ingest.summary import IngestSummary
from socwb.search import SearchBackend
from socwb.search.retry import RETRYABLE_STATUSES, RetryPolicy

logger = logging.getLogger(__name__)

DocumentKind = Literal["event", "deadletter"]
Stage = Literal["parse", "index"]
Outcome = Literal["indexed", "duplicate", "parse_deadlettered", "index_deadlettered"]

DEADLETTER_DATASET = "socwb.deadletter"


def _stdlib_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def _load_json_encoder() -> Callable[[Mapping[str, Any]], str]:
    """Return orjson's encoder when the package is installed, else the standard library's.

    On 100k events of the benchmark data (bench/generate_logs.py), orjson serialized
    4.5 (CloudTrail) to 7 (sshd) times faster than `json`. Values that orjson cannot
    encode, such as integers beyond 64 bits or lone surrogates, fall back to `json`.
    """
    try:
        orjson = importlib.import_module("orjson")
    except ModuleNotFoundError:
        return _stdlib_json

    def encode(value: Mapping[str, Any]) -> str:
        try:
            return str(orjson.dumps(value).decode("utf-8"))
        except orjson.JSONEncodeError:
            return _stdlib_json(value)

    return encode


to_json = _load_json_encoder()
"""Serialize a document to compact JSON text."""


def utf8_size(text: str) -> int:
    """Return the length of `text` in UTF-8 bytes."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


# The response keeps only what the item loop reads: status, error type and reason.
_BULK_FILTER_PATH = "errors,items.*.status,items.*.error.type,items.*.error.reason"

# Item statuses that mean the cluster, not the document, is at fault (authentication,
# blocked index). Dead-lettering would fail the same way, so the run stops instead.
_CLUSTER_ERROR_STATUSES = frozenset({401, 403})


class IngestAbortedError(WorkbenchError):
    """The engine did not acknowledge a batch after the retries; the run stopped.

    Attributes:
        not_written: Records read but not acknowledged by the engine.
        resume_file: File of the first record not acknowledged, or None.
        resume_position: Its location, such as `line 120` or `record 7`.
        outcome: What the engine stored of the failed batch before the run stopped.
        summary: Counts of the whole run up to the stop, set by `run_ingest`.
    """

    def __init__(
        self,
        message: str,
        *,
        not_written: int,
        resume_file: str | None,
        resume_position: str | None,
    ) -> None:
        super().__init__(message)
        self.not_written = not_written
        self.resume_file = resume_file
        self.resume_position = resume_position
        self.outcome: BatchOutcome | None = None
        self.summary: IngestSummary | None = None


@dataclass(frozen=True, slots=True)
class FileInfo:
    """Input details shared by every document read from one input.

    Attributes:
        label: Absolute path of the input, or `-` for standard input.
        source: Source type, such as `network`.
        format_name: Normalizer name, such as `openssh`.
        index: Data stream of its events, `logs-<source>.<format>-<namespace>`.
    """

    label: str
    source: str
    format_name: str
    index: str


@dataclass(frozen=True, slots=True)
class Document:
    """One document to write with `create`: a normalized event or a dead letter.

    Attributes:
        kind: `event` or `deadletter`.
        index: Target data stream.
        doc_id: Deterministic `_id`.
        body: The document serialized as compact JSON.
        file: The input it was read from.
        line_number: 1-based line in the input, or None for records of a whole document.
        record_number: 1-based position among the records of the input.
        original: The raw record, kept to write a dead letter if the engine rejects it.
        stage: For dead letters, where the record failed: `parse` or `index`.
    """

    kind: DocumentKind
    index: str
    doc_id: str
    body: str
    file: FileInfo
    line_number: int | None
    record_number: int
    original: str
    stage: Stage | None = None

    @property
    def position(self) -> str:
        """Location in the input for messages: `line N`, or `record N` without a line."""
        if self.line_number is not None:
            return f"line {self.line_number}"
        return f"record {self.record_number}"


def deadletter_index(namespace: str) -> str:
    """Return the namespace's dead-letter data stream, `logs-socwb.deadletter-<namespace>`."""
    return f"logs-{DEADLETTER_DATASET}-{namespace}"


def deadletter_id(file_label: str, position: str, stage: Stage, raw: str) -> str:
    """Return a stable dead-letter id from the input, record position, stage and raw text.

    A replay of the same input yields the same ids, so the engine responds with 409
    and no second dead letter is stored.
    """
    material = f"deadletter\x00{file_label}\x00{position}\x00{stage}\x00{raw}"
    return hashlib.sha256(material.encode("utf-8", errors="replace")).hexdigest()


def build_deadletter(
    *,
    file: FileInfo,
    index: str,
    line_number: int | None,
    record_number: int,
    stage: Stage,
    error_type: str,
    error_message: str,
    raw: str,
    now: datetime | None = None,
) -> Document:
    """Build the dead letter for a record that failed to parse or to index.

    Args:
        file: The input the record came from.
        index: The dead-letter data stream.
        line_number: 1-based line of the record, or None for records of a document.
        record_number: 1-based position of the record in the input.
        stage: `parse` for a normalizer rejection, `index` for an engine rejection.
        error_type: Short error class, such as `parse_error` or `mapper_parsing_exception`.
        error_message: Why the record failed, in plain words.
        raw: The raw record; cut to `MAX_ORIGINAL_CHARS` characters.
        now: Time of the dead letter, UTC; the current time when None.
    """
    original = raw[:MAX_ORIGINAL_CHARS]
    moment = now or datetime.now(UTC)
    position = f"line {line_number}" if line_number is not None else f"record {record_number}"
    deadletter: dict[str, Any] = {
        "source": file.source,
        "format": file.format_name,
        "file": file.label,
        "stage": stage,
    }
    if line_number is not None:
        deadletter["line_number"] = line_number
    body = {
        "@timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "error": {"message": error_message, "type": error_type},
        "event": {"original": original, "dataset": DEADLETTER_DATASET},
        "socwb": {"deadletter": deadletter},
    }
    return Document(
        kind="deadletter",
        index=index,
        doc_id=deadletter_id(file.label, position, stage, original),
        body=to_json(body),
        file=file,
        line_number=line_number,
        record_number=record_number,
        original=original,
        stage=stage,
    )


@dataclass
class BatchOutcome:
    """Engine acknowledgements for one batch, document by document.

    Attributes:
        stored: `(document, outcome)` per acknowledged record, in batch order. A
            record rejected at the index stage appears with its dead letter.
        created_ids: `_id`s that this batch created, for the DEBUG log.
        retries: Item retries after 429/502/503/504 responses.
    """

    stored: list[tuple[Document, Outcome]] = field(default_factory=list)
    created_ids: list[str] = field(default_factory=list)
    retries: int = 0


class BulkWriter:
    """Write batches of documents with `_bulk` and account for every item.

    Whole requests that fail with a connection error, a timeout or 429/502/503/504
    are retried by `SearchBackend.request`. Items that receive one of those
    statuses are sent again here, with the same `RetryPolicy`.
    """

    def __init__(
        self,
        backend: SearchBackend,
        deadletter_index: str,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Write to `backend`; `policy` defaults to the backend's retry policy."""
        self._backend = backend
        self._deadletter_index = deadletter_index
        self._policy = policy or backend.retry_policy
        self._sleep = sleep
        # Backing indices refreshed after their rollover, so `_skip_stored` finds all they contain.
        self._refreshed: set[str] = set()

    def write(self, batch: Sequence[Document]) -> BatchOutcome:
        """Send `batch` until every document is stored, or raise.

        Returns:
            The acknowledged documents with their outcome.

        Raises:
            IngestAbortedError: The engine stayed unavailable, kept responding with
                429/502/503/504 for some items, rejected a dead letter, or failed
                an item for a reason that is not the document's content.
        """
        outcome = BatchOutcome()
        try:
            pending = self._skip_stored(list(batch), outcome)
            self._write_rounds(pending, outcome)
        except IngestAbortedError as exc:
            exc.outcome = outcome
            raise
        return outcome

    def _skip_stored(self, batch: list[Document], outcome: BatchOutcome) -> list[Document]:
        """Count documents stored in an earlier backing index of their data stream as duplicates.

        `create` detects an existing id only in the current write index, so after
        a rollover a replayed batch would be stored a second time. One `ids`
        search per data stream and batch finds them in the earlier backing
        indices, which this writer refreshes once so the search finds every
        document written before their rollover.
        NOTE: a rollover between this look-up and the bulk request is not seen.
        """
        ids_by_index: dict[str, list[str]] = {}
        for document in batch:
            ids_by_index.setdefault(document.index, []).append(document.doc_id)
        stored: set[str] = set()
        for index, ids in ids_by_index.items():
            stored |= self._stored_ids(index, ids, batch)
        if not stored:
            return batch
        logger.info("skipping documents stored in earlier backing indices count=%d", len(stored))
        for document in batch:
            if document.doc_id in stored:
                outcome.stored.append((document, _stored_outcome(document, 409)))
        return [document for document in batch if document.doc_id not in stored]

    def _stored_ids(self, data_stream: str, ids: list[str], batch: list[Document]) -> set[str]:
        try:
            earlier = self._earlier_backing_indices(data_stream)
            if not earlier:
                return set()
            body = {"size": len(ids), "_source": False, "query": {"ids": {"values": ids}}}
            params = {"ignore_unavailable": "true", "filter_path": "hits.hits._id"}
            path = "/" + ",".join(earlier) + "/_search"
            response = self._backend.request("POST", path, params=params, body=body)
        except (SearchUnavailableError, QueryRejectedError) as exc:
            raise _aborted(f"duplicate look-up in {data_stream} failed: {exc}", batch) from exc
        hits = (response.get("hits") or {}).get("hits") or []
        return {str(hit["_id"]) for hit in hits}

    def _earlier_backing_indices(self, data_stream: str) -> list[str]:
        """Return the backing indices of `data_stream` except its write index, refreshed."""
        found = self._backend.get_json(f"/_data_stream/{data_stream}")
        streams = (found or {}).get("data_streams") or []
        if not streams:
            return []
        indices = [str(item["index_name"]) for item in streams[0].get("indices", [])]
        earlier = indices[:-1]
        for index in earlier:
            if index not in self._refreshed:
                self._backend.refresh(index)
                self._refreshed.add(index)
        return earlier

    def _write_rounds(self, pending: list[Document], outcome: BatchOutcome) -> None:
        delays = self._policy.delays()
        while pending:
            items = self._send(pending)
            pending, retry_reason = self._settle(pending, items, outcome)
            if retry_reason is None:
                continue
            delay = next(delays, None)
            if delay is None:
                raise _aborted(
                    f"the engine still responded with 429/502/503/504 to {len(pending)} "
                    f"documents after {self._policy.max_retries} retries ({retry_reason})",
                    pending,
                )
            outcome.retries += 1
            logger.warning(
                "retrying bulk items=%d attempt=%d delay_s=%.2f error=%s",
                len(pending),
                outcome.retries,
                delay,
                retry_reason,
            )
            self._sleep(delay)

    def _send(self, pending: list[Document]) -> list[dict[str, Any]]:
        payload = "".join(
            f'{{"create":{{"_index":"{document.index}","_id":"{document.doc_id}"}}}}\n'
            f"{document.body}\n"
            for document in pending
        )
        params = {"filter_path": _BULK_FILTER_PATH}
        try:
            response = self._backend.request("POST", "/_bulk", params=params, body=payload)
        except (SearchUnavailableError, QueryRejectedError) as exc:
            raise _aborted(f"bulk request failed: {exc}", pending) from exc
        items = response.get("items") if isinstance(response, dict) else None
        if not isinstance(items, list) or len(items) != len(pending):
            found = len(items) if isinstance(items, list) else 0
            raise _aborted(f"bulk response has {found} items for {len(pending)} documents", pending)
        return [next(iter(item.values())) for item in items]

    def _settle(
        self, pending: list[Document], items: list[dict[str, Any]], outcome: BatchOutcome
    ) -> tuple[list[Document], str | None]:
        """Record stored items; return what to send again and the first retryable error.

        Raises:
            IngestAbortedError: An item failed in a way that a dead letter cannot fix.
        """
        next_round: list[Document] = []
        retry_reason: str | None = None
        fatal: str | None = None
        for document, item in zip(pending, items, strict=True):
            status = int(item.get("status", 0))
            if status in (200, 201, 409):
                outcome.stored.append((document, _stored_outcome(document, status)))
                if status != 409:
                    outcome.created_ids.append(document.doc_id)
                continue
            next_round.append(document)
            error = item.get("error") or {}
            if status in RETRYABLE_STATUSES:
                retry_reason = retry_reason or _describe_item_error(status, error)
                continue
            if _is_document_error(document, status):
                next_round[-1] = self._deadletter(document, status, error)
            elif fatal is None:
                fatal = (
                    f"the engine rejected {document.kind} id={document.doc_id} of "
                    f"{document.file.label} {document.position} with HTTP {status}: "
                    f"{error.get('type', 'unknown')}: {error.get('reason', 'no reason given')}"
                )
        if fatal is not None:
            raise _aborted(fatal, next_round)
        return next_round, retry_reason

    def _deadletter(self, document: Document, status: int, error: dict[str, Any]) -> Document:
        error_type = str(error.get("type", "unknown"))
        reason = str(error.get("reason", "no reason given"))
        logger.warning(
            "dead-lettering rejected event file=%s %s id=%s status=%d error_type=%s",
            document.file.label,
            document.position,
            document.doc_id,
            status,
            error_type,
        )
        return build_deadletter(
            file=document.file,
            index=self._deadletter_index,
            line_number=document.line_number,
            record_number=document.record_number,
            stage="index",
            error_type=error_type,
            error_message=f"HTTP {status}: {reason}",
            raw=document.original,
        )


def _describe_item_error(status: int, error: dict[str, Any]) -> str:
    """Return `HTTP <status> <type>: <reason>` of a failed bulk item."""
    return f"HTTP {status} {error.get('type', 'unknown')}: {error.get('reason', 'no reason given')}"


def _stored_outcome(document: Document, status: int) -> Outcome:
    """Return the summary outcome of a stored item; 409 means an earlier run stored it."""
    if document.kind == "event":
        return "duplicate" if status == 409 else "indexed"
    return "index_deadlettered" if document.stage == "index" else "parse_deadlettered"


def _is_document_error(document: Document, status: int) -> bool:
    """Return whether a failed item is the event's own fault, so a dead letter fits."""
    return (
        document.kind == "event" and 400 <= status < 500 and status not in _CLUSTER_ERROR_STATUSES
    )


def _aborted(cause: str, pending: Sequence[Document]) -> IngestAbortedError:
    first = pending[0] if pending else None
    where = f"{first.file.label} {first.position}" if first else "the end of the input"
    message = (
        f"{cause}; {len(pending)} documents of the current batch were not written, and "
        f"every record before {where} is stored. Run the same command again to resume: "
        "records already stored are counted as duplicates, not written twice"
    )
    return IngestAbortedError(
        message,
        not_written=len(pending),
        resume_file=first.file.label if first else None,
        resume_position=first.position if first else None,
    )
