"""Tamper evidence for the log data streams: content digests in a hash-chained ledger.

A periodic job (`record_digests`) stores, for every backing index of the
namespace's log data streams, the document count and an order-independent hash
of the documents' ids and sources. Each ledger entry carries the hash of the
entry before it, so editing or removing an entry breaks the chain. `verify`
recomputes the digests and reports changed content, indices deleted before
their retention ended, and a broken chain. docs/integrity.md explains the rules.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeAlias
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from socwb.catalogue import Catalogue
from socwb.errors import ConflictError, QueryRejectedError, WorkbenchError
from socwb.search import SearchBackend, check_search_response

logger = logging.getLogger(__name__)

JsonObject: TypeAlias = dict[str, Any]
FindingKind: TypeAlias = Literal["changed", "deleted_early", "chain_broken"]

LEDGER_PREFIX = "socwb-integrity-ledger-"
GENESIS_HASH = "0" * 64
"""The `previous_hash` of the first ledger entry."""

HASH_MODULUS = 2**256
PAGE_SIZE = 1000
SCROLL_KEEP_ALIVE = "5m"
"""How long the engine keeps a scroll context between two pages."""

LEDGER_BODY: JsonObject = {
    "settings": {"index": {"number_of_shards": 1}},
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "sequence": {"type": "long"},
            "kind": {"type": "keyword"},
            "namespace": {"type": "keyword"},
            "index": {"type": "keyword"},
            "index_uuid": {"type": "keyword"},
            "data_stream": {"type": "keyword"},
            "is_write_index": {"type": "boolean"},
            "doc_count": {"type": "long"},
            "content_hash": {"type": "keyword"},
            "index_created_at": {"type": "date"},
            "max_timestamp": {"type": "date"},
            "max_ingested": {"type": "date"},
            "recorded_at": {"type": "date"},
            "previous_hash": {"type": "keyword"},
            "entry_hash": {"type": "keyword"},
        },
    },
}


class IntegrityError(WorkbenchError):
    """The ledger could not be written or read, for example after a concurrent record run."""


def ledger_index(namespace: str) -> str:
    """Return the name of the namespace's ledger index."""
    return f"{LEDGER_PREFIX}{namespace}"


def log_data_stream_pattern(namespace: str) -> str:
    """Return the pattern that matches every log data stream of the namespace."""
    return f"logs-*-{namespace}"


# ------------------------------------------------------------------ pure parts


def canonical_json(value: Any) -> str:
    """Serialise JSON with sorted keys and no whitespace, so equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def document_hash(doc_id: str, source: Any) -> int:
    """Hash one document as SHA-256 of the canonical JSON of `[id, source]`, as an integer.

    The JSON array keeps the boundary between id and source unambiguous.
    """
    text = canonical_json([doc_id, source])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest(), "big")


@dataclass
class DigestBuilder:
    """Running digest of an index: document count and the sum of document hashes.

    Addition modulo 2^256 is commutative, so the result does not depend on the
    order of the documents, and pages can be added as they arrive.
    """

    doc_count: int = 0
    hash_sum: int = 0

    def add(self, doc_id: str, source: Any) -> None:
        """Add one document to the digest."""
        self.doc_count += 1
        self.hash_sum = (self.hash_sum + document_hash(doc_id, source)) % HASH_MODULUS

    @property
    def content_hash(self) -> str:
        """The hash sum as 64 hex digits."""
        return f"{self.hash_sum:064x}"


def compute_entry_hash(previous_hash: str, entry: Mapping[str, Any]) -> str:
    """Return SHA-256 of the previous entry hash followed by this entry's canonical JSON.

    The `entry_hash` key of `entry` is left out, because it contains the result.
    """
    body = {key: value for key, value in entry.items() if key != "entry_hash"}
    text = previous_hash + canonical_json(body)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LedgerEntry(BaseModel):
    """One ledger document: a digest of an index, or the first sighting of its absence.

    Attributes:
        sequence: Position in the chain, from 0; the document id is derived from it.
        kind: `digest` for a recorded digest, `missing` when a recorded index was gone.
        index: Backing index name.
        data_stream: Data stream that the index belonged to.
        is_write_index: Whether the index was the data stream's write index then.
        doc_count: Number of documents (None for `missing`).
        content_hash: Sum modulo 2^256 of the document hashes, 64 hex digits.
        index_created_at: The index's `index.creation_date`.
        max_timestamp: Newest `@timestamp` in the index.
        max_ingested: Newest `event.ingested` in the index, when the field exists.
        recorded_at: When the entry was recorded (UTC).
        previous_hash: `entry_hash` of the entry before, or `GENESIS_HASH`.
        entry_hash: `compute_entry_hash(previous_hash, entry)`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sequence: int
    kind: Literal["digest", "missing"]
    namespace: str
    index: str
    index_uuid: str | None = None
    data_stream: str
    is_write_index: bool = False
    doc_count: int | None = None
    content_hash: str | None = None
    index_created_at: datetime | None = None
    max_timestamp: datetime | None = None
    max_ingested: datetime | None = None
    recorded_at: datetime
    previous_hash: str
    entry_hash: str = ""

    @property
    def doc_id(self) -> str:
        """The ledger document id; zero-padded so ids sort like sequences."""
        return f"{self.sequence:012d}"

    def sealed(self) -> LedgerEntry:
        """Return a copy whose `entry_hash` is computed from the other fields."""
        body = self.model_dump(mode="json")
        return self.model_copy(update={"entry_hash": compute_entry_hash(self.previous_hash, body)})


@dataclass(frozen=True)
class Finding:
    """One problem that `verify` found.

    Attributes:
        kind: `changed`, `deleted_early` or `chain_broken`.
        index: The backing index, or None for a chain finding.
        message: What was found, with the numbers behind it.
    """

    kind: FindingKind
    index: str | None
    message: str


@dataclass
class ChainChecker:
    """Check ledger entries, fed in sequence order, against the hash chain.

    It reports a gap in the sequence numbers (an entry removed), an entry whose
    hash does not match its content (an entry edited), and an entry whose
    `previous_hash` does not match the entry before it.
    """

    expected_sequence: int = 0
    head_hash: str = GENESIS_HASH
    findings: list[Finding] = field(default_factory=list)

    def add(self, source: Mapping[str, Any]) -> None:
        """Check the next entry, given as the stored document source."""
        sequence = source.get("sequence")
        if sequence != self.expected_sequence:
            self._report(
                f"expected ledger entry {self.expected_sequence} but found {sequence}: "
                "entries were removed or renumbered"
            )
        if source.get("previous_hash") != self.head_hash:
            self._report(
                f"ledger entry {sequence} does not link to the entry before it "
                f"(previous_hash {source.get('previous_hash')!r}, expected {self.head_hash!r})"
            )
        stored_hash = str(source.get("entry_hash", ""))
        recomputed = compute_entry_hash(str(source.get("previous_hash", "")), source)
        if stored_hash != recomputed:
            self._report(f"ledger entry {sequence} was modified: its entry_hash does not match")
        self.head_hash = stored_hash
        self.expected_sequence = (sequence if isinstance(sequence, int) else -1) + 1

    def _report(self, message: str) -> None:
        self.findings.append(Finding(kind="chain_broken", index=None, message=message))


@dataclass(frozen=True)
class IndexDigest:
    """A freshly computed digest of one backing index."""

    doc_count: int
    content_hash: str
    max_timestamp: datetime | None
    max_ingested: datetime | None


def compare_digest(recorded: LedgerEntry, current: IndexDigest) -> Finding | None:
    """Compare an index's current digest with its last recorded one.

    An index that was sealed (not the write index) when recorded must match
    exactly. An index that was still the write index may have grown since, so a
    higher count is accepted. An equal count with another hash, or a lower
    count, is reported.
    """
    if current.doc_count == recorded.doc_count and current.content_hash == recorded.content_hash:
        return None
    recorded_count = recorded.doc_count or 0
    if recorded.is_write_index and current.doc_count > recorded_count:
        return None
    return Finding(
        kind="changed",
        index=recorded.index,
        message=(
            f"content changed since ledger entry {recorded.sequence} "
            f"({recorded.recorded_at.isoformat()}): {recorded_count} documents "
            f"with hash {str(recorded.content_hash)[:16]}… then, {current.doc_count} "
            f"with hash {current.content_hash[:16]}… now"
        ),
    )


def newest_write_bound(recorded: LedgerEntry) -> datetime:
    """Return a lower bound on when the index's newest document was written.

    It is the latest of three times. The first is the index's creation. The
    second is the newest `event.ingested` and `@timestamp` seen, each capped at
    the recording time, because every document seen then had been written by
    then. The third is the recording time itself when the index was still the
    write index, because its rollover came later.
    """
    candidates = [recorded.index_created_at or recorded.recorded_at]
    for seen in (recorded.max_ingested, recorded.max_timestamp):
        if seen is not None:
            candidates.append(min(seen, recorded.recorded_at))
    if recorded.is_write_index:
        candidates.append(recorded.recorded_at)
    return max(candidates)


def check_deletion(
    recorded: LedgerEntry,
    retention: timedelta | None,
    deleted_by: datetime,
) -> Finding | None:
    """Report an index deleted before its newest document reached the retention.

    Args:
        recorded: The index's last `digest` entry.
        retention: Minimum retention of its source, or None when no source
            declares its dataset; then any deletion is reported.
        deleted_by: Latest possible time of the deletion: when a record run
            first found the index missing, or now.
    """
    if retention is None:
        return Finding(
            kind="deleted_early",
            index=recorded.index,
            message=(
                f"deleted, and no catalogue source declares data stream "
                f"{recorded.data_stream!r}, so no retention allowed it"
            ),
        )
    permitted = newest_write_bound(recorded) + retention
    if deleted_by >= permitted:
        return None
    return Finding(
        kind="deleted_early",
        index=recorded.index,
        message=(
            f"deleted by {deleted_by.isoformat()}, before its retention of "
            f"{retention.days} days ended at {permitted.isoformat()} "
            f"(last digest: entry {recorded.sequence}, {recorded.doc_count} documents)"
        ),
    )


def retention_for_data_stream(
    catalogue: Catalogue, data_stream: str, namespace: str
) -> timedelta | None:
    """Return the retention of the source that writes `logs-<source>.<format>-<namespace>`.

    Returns:
        The retention, or None when the name does not fit that scheme or no
        source (nor the dead-letter stream) declares the dataset.
    """
    prefix, suffix = "logs-", f"-{namespace}"
    if not (data_stream.startswith(prefix) and data_stream.endswith(suffix)):
        return None
    dataset = data_stream[len(prefix) : -len(suffix)]
    if dataset == catalogue.deadletter.dataset:
        return timedelta(days=catalogue.deadletter.retention_days)
    try:
        return catalogue.source_for_dataset(dataset).retention
    except KeyError:
        return None


def _epoch_millis_to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(float(value) / 1000, tz=UTC)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"invalid time {now.isoformat()}: pass a time zone aware datetime (UTC)")


# ------------------------------------------------------------- engine access


@dataclass(frozen=True)
class BackingIndex:
    """A backing index of a log data stream as the engine lists it now."""

    name: str
    uuid: str | None
    data_stream: str
    is_write_index: bool


def list_backing_indices(backend: SearchBackend, namespace: str) -> list[BackingIndex]:
    """List the backing indices of the namespace's log data streams.

    The last index of a data stream's `indices` list is its write index, on
    OpenSearch 2 and on Elasticsearch 8.
    """
    pattern = log_data_stream_pattern(namespace)
    listing = backend.get_json(f"/_data_stream/{quote(pattern, safe='*')}") or {}
    found: list[BackingIndex] = []
    for stream in listing.get("data_streams", []):
        indices = stream.get("indices", [])
        for position, item in enumerate(indices):
            found.append(
                BackingIndex(
                    name=item["index_name"],
                    uuid=item.get("index_uuid"),
                    data_stream=stream["name"],
                    is_write_index=position == len(indices) - 1,
                )
            )
    return found


def _scroll_pages(backend: SearchBackend, index: str, body: JsonObject) -> Iterator[JsonObject]:
    """Yield the pages of a scroll over `index`, and clear the scroll afterwards.

    A scroll sorted by `_doc` reads a point-in-time view in index order with the
    same API on OpenSearch 2 and Elasticsearch 8. Sorting by `_id` is disabled
    by default on both, and point-in-time searches use different endpoints.
    """
    response = backend.search(index, body, scroll=SCROLL_KEEP_ALIVE)
    scroll_id = response.get("_scroll_id")
    try:
        yield response
        while response["hits"]["hits"]:
            response = backend.request(
                "POST",
                "/_search/scroll",
                body={"scroll": SCROLL_KEEP_ALIVE, "scroll_id": scroll_id},
            )
            check_search_response(response, index=index)
            scroll_id = response.get("_scroll_id", scroll_id)
            yield response
    finally:
        if scroll_id:
            _clear_scroll(backend, scroll_id)


def _clear_scroll(backend: SearchBackend, scroll_id: str) -> None:
    try:
        backend.request("DELETE", "/_search/scroll", body={"scroll_id": [scroll_id]})
    except QueryRejectedError as exc:
        # The context may have expired already; the engine frees it either way.
        logger.debug("clearing scroll failed: %s", exc)


def compute_digest(backend: SearchBackend, index: str, page_size: int = PAGE_SIZE) -> IndexDigest:
    """Read every document of `index` page by page and compute its digest.

    Memory use is one page of `page_size` documents. The newest `@timestamp` and
    `event.ingested` come from aggregations over the same point-in-time view.
    """
    body: JsonObject = {
        "size": page_size,
        "sort": ["_doc"],
        "aggs": {
            "max_timestamp": {"max": {"field": "@timestamp"}},
            "max_ingested": {"max": {"field": "event.ingested"}},
        },
    }
    builder = DigestBuilder()
    aggregations: JsonObject = {}
    for page in _scroll_pages(backend, index, body):
        aggregations = page.get("aggregations", aggregations)
        for hit in page["hits"]["hits"]:
            builder.add(hit["_id"], hit.get("_source"))
    return IndexDigest(
        doc_count=builder.doc_count,
        content_hash=builder.content_hash,
        max_timestamp=_epoch_millis_to_datetime(aggregations["max_timestamp"]["value"]),
        max_ingested=_epoch_millis_to_datetime(aggregations["max_ingested"]["value"]),
    )


def _index_creation_date(backend: SearchBackend, index: str) -> datetime | None:
    path = f"/{quote(index)}/_settings/index.creation_date"
    settings = backend.get_json(path) or {}
    value = settings.get(index, {}).get("settings", {}).get("index", {}).get("creation_date")
    return _epoch_millis_to_datetime(value)


def ensure_ledger(backend: SearchBackend, namespace: str) -> None:
    """Create the ledger index with its strict mapping unless it exists."""
    name = ledger_index(namespace)
    try:
        backend.request("PUT", f"/{name}", body=LEDGER_BODY)
    except QueryRejectedError as exc:
        if "resource_already_exists_exception" not in str(exc):
            raise
        return
    logger.info("created ledger index=%s", name)


def iter_ledger(backend: SearchBackend, namespace: str) -> Iterator[JsonObject]:
    """Yield the stored ledger entries in sequence order, as raw document sources.

    Pages use `search_after` on `sequence`. A missing ledger yields nothing.
    """
    name = ledger_index(namespace)
    backend.refresh(name)
    after: list[Any] | None = None
    while True:
        body: JsonObject = {"size": PAGE_SIZE, "sort": [{"sequence": "asc"}]}
        if after is not None:
            body["search_after"] = after
        hits = backend.search(name, body, ignore_unavailable="true")["hits"]["hits"]
        for hit in hits:
            yield hit["_source"]
        if len(hits) < PAGE_SIZE:
            return
        after = hits[-1]["sort"]


@dataclass
class LedgerState:
    """Result of one pass over the ledger: the chain check and each index's history."""

    chain: ChainChecker = field(default_factory=ChainChecker)
    entries: int = 0
    last_digest: dict[str, LedgerEntry] = field(default_factory=dict)
    missing_since: dict[str, datetime] = field(default_factory=dict)

    def add(self, source: Mapping[str, Any]) -> None:
        """Check one stored entry and update the index history with it."""
        self.chain.add(source)
        self.entries += 1
        try:
            entry = LedgerEntry.model_validate(source)
        except ValidationError as exc:
            message = f"ledger entry {source.get('sequence')} is not a valid entry: {exc}"
            self.chain.findings.append(Finding(kind="chain_broken", index=None, message=message))
            return
        if entry.kind == "digest":
            self.last_digest[entry.index] = entry
            self.missing_since.pop(entry.index, None)
        else:
            self.missing_since.setdefault(entry.index, entry.recorded_at)


def read_ledger(backend: SearchBackend, namespace: str) -> LedgerState:
    """Read the whole ledger once, checking the chain as it goes."""
    state = LedgerState()
    for source in iter_ledger(backend, namespace):
        state.add(source)
    return state


class _LedgerWriter:
    """Append entries to the ledger, chaining each to the one before."""

    def __init__(self, backend: SearchBackend, namespace: str, state: LedgerState) -> None:
        self.backend = backend
        self.namespace = namespace
        self.sequence = state.chain.expected_sequence
        self.head_hash = state.chain.head_hash
        self.written: list[LedgerEntry] = []

    def append(self, fields: JsonObject) -> LedgerEntry:
        draft = LedgerEntry(
            sequence=self.sequence,
            namespace=self.namespace,
            previous_hash=self.head_hash,
            **fields,
        )
        entry = draft.sealed()
        name = ledger_index(self.namespace)
        try:
            body = entry.model_dump(mode="json")
            self.backend.index_document(name, body, doc_id=entry.doc_id, op_type="create")
        except ConflictError as exc:
            raise IntegrityError(
                f"ledger entry {entry.sequence} exists already in {name}: another record "
                "run wrote it at the same time; run the record again"
            ) from exc
        self.sequence += 1
        self.head_hash = entry.entry_hash
        self.written.append(entry)
        return entry


def record_digests(backend: SearchBackend, namespace: str, now: datetime) -> list[LedgerEntry]:
    """Record a digest of every backing index, and note recorded indices that are gone.

    Writes one `digest` entry per backing index of `logs-*-<namespace>` and one
    `missing` entry for each index whose last entry is a digest but that no
    longer exists. Entries use op_type create with ids from their sequence, so
    a replay cannot overwrite an entry.

    Args:
        now: Recording time, time zone aware.

    Returns:
        The entries written, in sequence order.

    Raises:
        IntegrityError: Another run appended to the ledger at the same time.
    """
    _require_aware(now)
    ensure_ledger(backend, namespace)
    state = read_ledger(backend, namespace)
    if state.chain.findings:
        logger.warning(
            "ledger chain is broken namespace=%s findings=%d; appending anyway",
            namespace,
            len(state.chain.findings),
        )
    writer = _LedgerWriter(backend, namespace, state)
    present = list_backing_indices(backend, namespace)
    for index in present:
        entry = writer.append(_digest_fields(backend, index, now))
        logger.info(
            "recorded digest index=%s docs=%s sequence=%d",
            index.name,
            entry.doc_count,
            entry.sequence,
        )
    present_names = {index.name for index in present}
    for name, last in state.last_digest.items():
        if name not in present_names and name not in state.missing_since:
            entry = writer.append(_missing_fields(last, now))
            logger.info("recorded missing index=%s sequence=%d", name, entry.sequence)
    backend.refresh(ledger_index(namespace))
    return writer.written


def _digest_fields(backend: SearchBackend, index: BackingIndex, now: datetime) -> JsonObject:
    digest = compute_digest(backend, index.name)
    return {
        "kind": "digest",
        "index": index.name,
        "index_uuid": index.uuid,
        "data_stream": index.data_stream,
        "is_write_index": index.is_write_index,
        "doc_count": digest.doc_count,
        "content_hash": digest.content_hash,
        "index_created_at": _index_creation_date(backend, index.name),
        "max_timestamp": digest.max_timestamp,
        "max_ingested": digest.max_ingested,
        "recorded_at": now.astimezone(UTC),
    }


def _missing_fields(last: LedgerEntry, now: datetime) -> JsonObject:
    return {
        "kind": "missing",
        "index": last.index,
        "index_uuid": last.index_uuid,
        "data_stream": last.data_stream,
        "recorded_at": now.astimezone(UTC),
    }


# ---------------------------------------------------------------- verification


@dataclass
class VerificationReport:
    """Outcome of `verify` for one namespace.

    Attributes:
        ledger_entries: Number of entries read from the ledger.
        head_hash: `entry_hash` of the last entry read, or `GENESIS_HASH`.
        indices_checked: Indices with a recorded digest that were checked.
    """

    namespace: str
    checked_at: datetime
    ledger_entries: int
    head_hash: str
    indices_checked: int
    findings: list[Finding]

    @property
    def has_findings(self) -> bool:
        """Whether any finding exists."""
        return bool(self.findings)

    def to_dict(self) -> JsonObject:
        """Return the report as JSON-ready values."""
        return {
            "namespace": self.namespace,
            "checked_at": self.checked_at.isoformat(),
            "ledger_entries": self.ledger_entries,
            "head_hash": self.head_hash,
            "indices_checked": self.indices_checked,
            "findings": [
                {"kind": item.kind, "index": item.index, "message": item.message}
                for item in self.findings
            ],
        }


def verify(
    backend: SearchBackend, namespace: str, catalogue: Catalogue, now: datetime
) -> VerificationReport:
    """Check the ledger chain and every index that has a recorded digest.

    Reads the engine only; it writes nothing.

    Args:
        catalogue: Gives the retention of each data stream's source.
        now: Time of the check, time zone aware. An index that is gone counts
            as deleted by the first `missing` entry after its last digest, or by
            `now` when no record run has noticed yet.
    """
    _require_aware(now)
    state = read_ledger(backend, namespace)
    present = {index.name for index in list_backing_indices(backend, namespace)}
    findings = list(state.chain.findings)
    for name in sorted(state.last_digest):
        recorded = state.last_digest[name]
        if name in present:
            finding = compare_digest(recorded, compute_digest(backend, name))
        else:
            retention = retention_for_data_stream(catalogue, recorded.data_stream, namespace)
            deleted_by = state.missing_since.get(name, now.astimezone(UTC))
            finding = check_deletion(recorded, retention, deleted_by)
        if finding is not None:
            findings.append(finding)
    report = VerificationReport(
        namespace=namespace,
        checked_at=now.astimezone(UTC),
        ledger_entries=state.entries,
        head_hash=state.chain.head_hash,
        indices_checked=len(state.last_digest),
        findings=findings,
    )
    logger.info(
        "verified namespace=%s entries=%d indices=%d findings=%d",
        namespace,
        report.ledger_entries,
        report.indices_checked,
        len(findings),
    )
    return report


@dataclass(frozen=True)
class LedgerExport:
    """A written ledger export and its checksum file."""

    path: Path
    checksum_path: Path
    sha256: str
    entries: int
    head_hash: str


def write_ledger_lines(entries: Iterable[Mapping[str, Any]], path: Path) -> tuple[str, int, str]:
    """Write entries as canonical JSON lines and return (file SHA-256, entries, head hash)."""
    digest = hashlib.sha256()
    count = 0
    head_hash = GENESIS_HASH
    with path.open("w", encoding="utf-8", newline="\n") as output:
        for entry in entries:
            line = canonical_json(entry) + "\n"
            output.write(line)
            digest.update(line.encode("utf-8"))
            count += 1
            head_hash = str(entry.get("entry_hash", ""))
    return digest.hexdigest(), count, head_hash


def export_ledger(backend: SearchBackend, namespace: str, path: Path) -> LedgerExport:
    """Write the ledger to `path` as JSON lines, and its SHA-256 to `<path>.sha256`.

    The checksum file uses the `sha256sum` format, so `sha256sum -c` checks it.
    An auditor who keeps both files can later show that the ledger in the
    engine still starts with the same entries.
    """
    sha256, count, head_hash = write_ledger_lines(iter_ledger(backend, namespace), path)
    checksum_path = path.with_name(path.name + ".sha256")
    checksum_path.write_text(f"{sha256}  {path.name}\n", encoding="utf-8")
    logger.info("exported ledger namespace=%s entries=%d path=%s", namespace, count, path)
    return LedgerExport(
        path=path, checksum_path=checksum_path, sha256=sha256, entries=count, head_hash=head_hash
    )
