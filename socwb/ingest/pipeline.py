"""One ingest run: pick each input's normalizer, normalize, add ids, batch and write.

Records flow one batch at a time: while the engine stores one batch, the next one is
read and normalized, and nothing further is read until the engine has responded. So
memory stays bounded by two batches however slow the engine is.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO, Literal

from socwb.errors import ConfigurationError
from socwb.ingest.detect import detect_format
from socwb.ingest.formats._base import (
    BaseNormalizer,
    DocumentNormalizer,
    JsonEnvelopeNormalizer,
    LineNormalizer,
    first_json_line,
)
from socwb.ingest.ids import document_id
from socwb.ingest.indexer import (
    BatchOutcome,
    BulkWriter,
    Document,
    FileInfo,
    IngestAbortedError,
    build_deadletter,
    deadletter_index,
    to_json,
    utf8_size,
)
from socwb.ingest.model import (
    SOURCES,
    Event,
    FormatDetectionError,
    GeoLookup,
    ParseContext,
    ParseResult,
    Rejected,
)
from socwb.ingest.reader import (
    HEAD_BYTES,
    MAX_LINE_BYTES,
    InputFile,
    LineReader,
    OversizedLine,
    expand_paths,
    open_binary,
)
from socwb.ingest.registry import get_normalizer
from socwb.ingest.summary import IngestSummary
from socwb.search import SearchBackend

logger = logging.getLogger(__name__)

FallbackTime = datetime | Literal["now", "mtime"] | None
"""Time for records without one: a fixed UTC time, the run's start, or the file's mtime."""

DEFAULT_BATCH_SIZE = 1000
"""Documents per bulk request."""

DEFAULT_MAX_BATCH_BYTES = 8 * 1024 * 1024
"""Upper bound of one bulk request body in bytes, well below OpenSearch's default
`http.max_content_length` of 100 MB. One document larger than this is sent alone."""

_ACTION_LINE_BYTES = 120
"""Size of the `create` action line that precedes each document in a bulk body."""

_GEO_CACHE_SIZE = 65536

_SWITCH_INTERVAL_S = 0.0002
"""GIL switch interval during a run, in seconds.

With CPython's default of 5 ms, the bulk thread can wait that long for the
normalizing thread after each socket call. On a 2-vCPU machine the shorter interval
made a 100k-event CloudTrail run of the benchmark data (bench/generate_logs.py)
about 20% faster."""


class InputFormatError(ConfigurationError):
    """An input's format cannot be determined, or it does not belong to the given source."""


@dataclass(frozen=True)
class IngestOptions:
    """How to read, normalize and batch one run.

    Attributes:
        source: Source type the inputs belong to (`cloud`, `network`, ...).
        namespace: Data stream namespace, the last part of every index name.
        format_name: Normalizer for every input; None detects it per input.
        default_year: Year for syslog timestamps that carry none.
        timezone: IANA zone for timestamps without a UTC offset.
        fallback_time: Time for records without one; None dead-letters them.
        batch_size: Maximum documents per bulk request.
        max_batch_bytes: Maximum bytes per bulk request body.
        max_line_bytes: Maximum line length in bytes for line normalizers.
        geo: Country lookup for `source.geo` and `destination.geo`; None skips it.
    """

    source: str
    namespace: str
    format_name: str | None = None
    default_year: int | None = None
    timezone: str = "UTC"
    fallback_time: FallbackTime = None
    batch_size: int = DEFAULT_BATCH_SIZE
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    max_line_bytes: int = MAX_LINE_BYTES
    geo: GeoLookup | None = None


@dataclass(frozen=True)
class PlannedInput:
    """An input and its normalizer; None until read for standard input without a format."""

    input: InputFile
    normalizer: BaseNormalizer | None


class CachedGeoLookup:
    """A `GeoLookup` that caches recent results, because logs repeat their addresses."""

    def __init__(self, lookup: GeoLookup, max_size: int = _GEO_CACHE_SIZE) -> None:
        """Wrap `lookup`, keeping up to `max_size` addresses."""
        self._country = functools.lru_cache(maxsize=max_size)(lookup.country)

    def country(self, ip: str) -> tuple[str, str | None] | None:
        """Return `(iso_code, name)` for a public `ip`, or None."""
        return self._country(ip)


def parse_fallback_time(text: str) -> datetime | Literal["now", "mtime"]:
    """Parse the `--fallback-time` value: `now`, `mtime` or an ISO 8601 time with offset.

    Raises:
        ValueError: `text` is not one of these. The message gives an example.
    """
    if text in ("now", "mtime"):
        return "now" if text == "now" else "mtime"
    example = "expected now, mtime or an ISO 8601 time with offset, such as 2024-05-01T00:00:00Z"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid fallback time {text!r}: {example}") from None
    if moment.tzinfo is None:
        raise ValueError(f"fallback time {text!r} has no UTC offset: {example}")
    return moment.astimezone(UTC)


def event_index(source: str, format_name: str, namespace: str) -> str:
    """Return the data stream of one format, `logs-<source>.<format>-<namespace>`."""
    return f"logs-{source}.{format_name}-{namespace}"


def resolve_normalizer(
    head: str | None, *, source: str, format_name: str | None, label: str
) -> BaseNormalizer:
    """Return the normalizer named by `format_name`, or the one `head` matches.

    Raises:
        InputFormatError: The format is unknown, belongs to another source, or
            `head` matches no format or several; the message names the input,
            the candidates and `--format`.
    """
    if source not in SOURCES:
        raise InputFormatError(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")
    if format_name is not None:
        try:
            normalizer = get_normalizer(format_name)
        except KeyError as exc:
            raise InputFormatError(str(exc.args[0])) from exc
    else:
        try:
            normalizer = detect_format(head or "", source=source)
        except FormatDetectionError as exc:
            raise InputFormatError(f"{label}: {exc}") from exc
    if normalizer.source != source:
        raise InputFormatError(
            f"format {normalizer.name!r} belongs to source {normalizer.source!r}, "
            f"not {source!r}: pass --source {normalizer.source} or another --format"
        )
    return normalizer


def plan_inputs(inputs: Sequence[InputFile], options: IngestOptions) -> list[PlannedInput]:
    """Find the normalizer of every input file before anything is written.

    Standard input is only planned here when `options.format_name` is set;
    otherwise its format is detected when it is read.

    Raises:
        InputFormatError: A file's format is unknown or ambiguous, or does not
            match the source, or `mtime` is requested for standard input.
    """
    planned: list[PlannedInput] = []
    for item in inputs:
        if item.path is None:
            if options.fallback_time == "mtime":
                raise InputFormatError(
                    "--fallback-time mtime needs a file, but standard input has no "
                    "modification time: pass now or an ISO 8601 time instead"
                )
            normalizer = None
            if options.format_name is not None:
                normalizer = _resolve(None, options, item.label)
        else:
            head = None if options.format_name else _read_head(item)
            normalizer = _resolve(head, options, item.label)
        planned.append(PlannedInput(item, normalizer))
    return planned


def _resolve(head: str | None, options: IngestOptions, label: str) -> BaseNormalizer:
    return resolve_normalizer(
        head, source=options.source, format_name=options.format_name, label=label
    )


def _read_head(item: InputFile) -> str:
    assert item.path is not None
    with item.path.open("rb") as raw:
        return open_binary(raw).read(HEAD_BYTES).decode("utf-8", errors="replace")


@contextlib.contextmanager
def _open_input(item: InputFile, stdin: BinaryIO | None) -> Iterator[BinaryIO]:
    if item.path is None:
        yield open_binary(stdin if stdin is not None else sys.stdin.buffer)
        return
    with item.path.open("rb") as raw:
        yield open_binary(raw)


def _reads_whole_document(normalizer: BaseNormalizer) -> bool:
    return isinstance(normalizer, DocumentNormalizer | JsonEnvelopeNormalizer)


def _streams_lines(normalizer: BaseNormalizer, head: str) -> bool:
    """Return whether the normalizer yields one result per line, as it pulls each line.

    A CloudTrail-style normalizer streams only when its first line is a single
    record; the same check is made here on the head of the input.
    """
    if isinstance(normalizer, JsonEnvelopeNormalizer):
        record = first_json_line(head)
        return record is not None and normalizer.envelope_key not in record
    return isinstance(normalizer, LineNormalizer)


def _fallback_time(item: InputFile, options: IngestOptions, now: datetime) -> datetime | None:
    setting = options.fallback_time
    if setting == "now":
        return now
    if setting == "mtime":
        assert item.path is not None
        return datetime.fromtimestamp(item.path.stat().st_mtime, UTC)
    return setting


@dataclass
class _DocumentBuilder:
    """Turn one input's parse results into documents, numbering its records."""

    file: FileInfo
    deadletter_index: str
    now: datetime
    records: int = 0

    def from_event(self, event: Event, line_number: int | None) -> Document:
        self.records += 1
        return Document(
            kind="event",
            index=self.file.index,
            doc_id=document_id(event),
            body=to_json(event),
            file=self.file,
            line_number=line_number,
            record_number=self.records,
            original=event["event"]["original"],
        )

    def from_rejected(self, rejected: Rejected) -> Document:
        self.records += 1
        return self._deadletter(rejected.line_number, "parse_error", rejected.reason, rejected.raw)

    def from_oversized(self, line: OversizedLine, limit: int) -> Document:
        self.records += 1
        reason = (
            f"line of {line.length} bytes is longer than the limit of {limit} bytes; "
            "event.original holds its start"
        )
        raw = line.head.decode("utf-8", errors="replace")
        return self._deadletter(line.line_number, "line_too_long", reason, raw)

    def _deadletter(self, line: int | None, error_type: str, reason: str, raw: str) -> Document:
        return build_deadletter(
            file=self.file,
            index=self.deadletter_index,
            line_number=line,
            record_number=self.records,
            stage="parse",
            error_type=error_type,
            error_message=reason,
            raw=raw,
            now=self.now,
        )


def iter_documents(
    planned: Iterable[PlannedInput],
    options: IngestOptions,
    *,
    now: datetime,
    stdin: BinaryIO | None = None,
) -> Iterator[Document]:
    """Yield the documents of every input in order: events and parse-stage dead letters.

    Args:
        planned: Inputs with their normalizers, from `plan_inputs`.
        options: Run options.
        now: Start of the run, UTC; the `now` fallback time and dead-letter time.
        stdin: Stream read for `-`; `sys.stdin.buffer` when None.

    Raises:
        InputFormatError: Standard input's format cannot be detected.
    """
    for item in planned:
        with _open_input(item.input, stdin) as stream:
            yield from _input_documents(item, stream, options, now)


def _input_documents(
    item: PlannedInput, stream: BinaryIO, options: IngestOptions, now: datetime
) -> Iterator[Document]:
    reader = LineReader(stream, max_line_bytes=options.max_line_bytes)
    head = reader.head_text()
    normalizer = item.normalizer or _resolve(head, options, item.input.label)
    if _reads_whole_document(normalizer):
        # NOTE: whole-document formats keep the whole file in memory while parsing, and
        # the normalizers reject a document over 512 Mi characters only after reading it.
        reader.max_line_bytes = None
    streams_lines = _streams_lines(normalizer, head)
    file = FileInfo(
        label=item.input.label,
        source=normalizer.source,
        format_name=normalizer.name,
        index=event_index(normalizer.source, normalizer.name, options.namespace),
    )
    builder = _DocumentBuilder(file, deadletter_index(options.namespace), now)
    ctx = ParseContext(
        source_name=item.input.label,
        default_year=options.default_year,
        default_timezone=options.timezone,
        geo=options.geo,
        fallback_time=_fallback_time(item.input, options, now),
    )
    for result in normalizer.parse(reader.lines(), ctx):
        while reader.oversized:
            yield builder.from_oversized(reader.oversized.popleft(), options.max_line_bytes)
        yield _to_document(builder, result, reader.lines_read if streams_lines else None)
    while reader.oversized:
        yield builder.from_oversized(reader.oversized.popleft(), options.max_line_bytes)


def _to_document(builder: _DocumentBuilder, result: ParseResult, line: int | None) -> Document:
    if isinstance(result, Rejected):
        return builder.from_rejected(result)
    return builder.from_event(result, line)


def iter_batches(
    documents: Iterable[Document], *, max_documents: int, max_bytes: int
) -> Iterator[list[Document]]:
    """Group documents into batches of at most `max_documents` and about `max_bytes`.

    A batch closes before the document that would take it past `max_bytes`, so a
    batch exceeds the limit only when one document alone is larger.
    """
    batch: list[Document] = []
    size = 0
    for document in documents:
        cost = utf8_size(document.body) + _ACTION_LINE_BYTES
        if batch and (len(batch) >= max_documents or size + cost > max_bytes):
            yield batch
            batch = []
            size = 0
        batch.append(document)
        size += cost
    if batch:
        yield batch


@dataclass
class _RunState:
    summary: IngestSummary
    on_batch: Callable[[int], None] | None
    in_flight: tuple[list[Document], Future[BatchOutcome]] | None = None
    read_ahead: list[Document] = field(default_factory=list)


def run_ingest(
    backend: SearchBackend,
    paths: Sequence[str],
    options: IngestOptions,
    *,
    stdin: BinaryIO | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Ingest files, folders or standard input into the namespace's data streams.

    Writes events to `logs-<source>.<format>-<namespace>` and rejected records to
    `logs-socwb.deadletter-<namespace>`, both with `create` and deterministic ids,
    so running it again on the same input adds nothing.

    Args:
        backend: The engine; `apply_assets` must have installed the templates.
        paths: Files, folders (read recursively, sorted) or `-` for `stdin`.
        options: Run options.
        stdin: Stream read for `-`; `sys.stdin.buffer` when None.
        on_batch: Called with the number of records after each acknowledged batch.

    Returns:
        Counts per input and in total.

    Raises:
        InputError: A path is missing or not readable.
        InputFormatError: An input's format is unknown, ambiguous or of another source.
        IngestAbortedError: The engine did not acknowledge a batch; its `summary`
            attribute contains the counts up to that point.
    """
    started = time.monotonic()
    now = datetime.now(UTC)
    planned = plan_inputs(expand_paths(paths), options)
    state = _RunState(IngestSummary(), on_batch)
    for item in planned:
        if item.normalizer is not None:
            state.summary.file(item.input.label, item.normalizer.name)
    documents = iter_documents(planned, options, now=now, stdin=stdin)
    batches = iter_batches(
        documents, max_documents=options.batch_size, max_bytes=options.max_batch_bytes
    )
    writer = BulkWriter(backend, deadletter_index(options.namespace))
    try:
        with _switch_interval(_SWITCH_INTERVAL_S):
            _write_batches(batches, writer, state)
    except IngestAbortedError as exc:
        _record_abort(state, exc)
        raise
    finally:
        state.summary.elapsed_s = time.monotonic() - started
        _log_summary(state.summary, options)
    return state.summary


@contextlib.contextmanager
def _switch_interval(seconds: float) -> Iterator[None]:
    # NOTE: the interval is interpreter-wide, so other threads of the process see
    # it too until the run ends and the previous value is restored.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, seconds))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _write_batches(batches: Iterable[list[Document]], writer: BulkWriter, state: _RunState) -> None:
    # One worker thread sends a batch while this thread normalizes the next one.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="socwb-bulk") as executor:
        for batch in batches:
            _count_read(state.summary, batch)
            state.read_ahead = batch
            _finish_in_flight(state)
            state.read_ahead = []
            state.in_flight = (batch, executor.submit(writer.write, batch))
        _finish_in_flight(state)


def _finish_in_flight(state: _RunState) -> None:
    if state.in_flight is None:
        return
    batch, future = state.in_flight
    state.in_flight = None
    outcome = future.result()
    _apply_outcome(state.summary, outcome)
    state.summary.batches += 1
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "acknowledged batch=%d documents=%d created_ids=%s",
            state.summary.batches,
            len(batch),
            ",".join(outcome.created_ids),
        )
    if state.on_batch is not None:
        state.on_batch(len(batch))


def _count_read(summary: IngestSummary, batch: list[Document]) -> None:
    for document in batch:
        summary.file(document.file.label, document.file.format_name).read += 1


def _apply_outcome(summary: IngestSummary, outcome: BatchOutcome) -> None:
    summary.retries += outcome.retries
    for document, result in outcome.stored:
        counts = summary.file(document.file.label, document.file.format_name)
        if result == "indexed":
            counts.indexed += 1
        elif result == "duplicate":
            counts.duplicates += 1
        elif result == "parse_deadlettered":
            counts.parse_deadlettered += 1
        else:
            counts.index_deadlettered += 1


def _record_abort(state: _RunState, exc: IngestAbortedError) -> None:
    if exc.outcome is not None:
        _apply_outcome(state.summary, exc.outcome)
    exc.not_written += len(state.read_ahead)
    state.summary.not_written = exc.not_written
    if exc.resume_file is not None:
        state.summary.resume_at = f"{exc.resume_file} {exc.resume_position}"
    exc.summary = state.summary
    logger.error(
        "ingest stopped not_written=%d resume_at=%r: %s",
        exc.not_written,
        state.summary.resume_at,
        exc,
    )


def _log_summary(summary: IngestSummary, options: IngestOptions) -> None:
    for counts in summary.files.values():
        logger.info(
            "ingested file=%s format=%s read=%d indexed=%d duplicates=%d "
            "deadlettered_parse=%d deadlettered_index=%d",
            counts.file,
            counts.format_name,
            counts.read,
            counts.indexed,
            counts.duplicates,
            counts.parse_deadlettered,
            counts.index_deadlettered,
        )
    totals = summary.totals
    logger.info(
        "ingest run source=%s namespace=%s files=%d read=%d indexed=%d duplicates=%d "
        "deadlettered_parse=%d deadlettered_index=%d batches=%d retries=%d elapsed_s=%.1f",
        options.source,
        options.namespace,
        len(summary.files),
        totals.read,
        totals.indexed,
        totals.duplicates,
        totals.parse_deadlettered,
        totals.index_deadlettered,
        summary.batches,
        summary.retries,
        summary.elapsed_s,
    )
