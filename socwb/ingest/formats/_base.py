"""Base classes for normalizers: line streaming, JSON records, whole documents.

A format module subclasses one of them and implements `sniff` plus a converter that
turns one record into flat ECS fields. The base class decodes input, catches bad
records, fills the fields every event carries and nests the result.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from socwb.ingest.formats._fields import (
    MAX_DOCUMENT_CHARS,
    Fields,
    Record,
    format_time,
    load_json_object,
)
from socwb.ingest.model import (
    Event,
    InputLine,
    ParseContext,
    ParseResult,
    RecordError,
    Rejected,
    Source,
)

logger = logging.getLogger(__name__)

MAX_ORIGINAL_CHARS = 32 * 1024
"""Longest `event.original` stored. Longer records are cut and marked truncated."""

_RELATED_SOURCES: dict[str, tuple[str, ...]] = {
    "ip": ("source.ip", "destination.ip", "client.ip", "server.ip", "host.ip"),
    "user": (
        "user.name",
        "user.target.name",
        "user.effective.name",
        "source.user.name",
        "destination.user.name",
    ),
    "hosts": ("host.name", "destination.domain", "source.domain", "server.domain"),
    "hash": (
        "file.hash.md5",
        "file.hash.sha1",
        "file.hash.sha256",
        "process.hash.md5",
        "process.hash.sha1",
        "process.hash.sha256",
    ),
}

# Errors a converter can hit on records of unexpected shape. They reject the record
# instead of stopping the file, because one hostile line must not end the ingest.
_RECORD_SHAPE_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)


def decode_line(line: InputLine) -> str:
    """Decode bytes as UTF-8 with replacement and drop the line terminator."""
    if isinstance(line, bytes):
        text = line.decode("utf-8", errors="replace")
    else:
        # Lone surrogates cannot be encoded for indexing, so replace them too.
        text = line.encode("utf-8", errors="replace").decode("utf-8")
    return text.rstrip("\r\n")


def cap_original(raw: str) -> tuple[str, bool]:
    """Return `raw` cut to `MAX_ORIGINAL_CHARS` and whether it was cut."""
    if len(raw) <= MAX_ORIGINAL_CHARS:
        return raw, False
    return raw[:MAX_ORIGINAL_CHARS], True


def nest_fields(fields: Fields) -> Event:
    """Turn dotted keys into nested objects (`a.b: 1` becomes `{"a": {"b": 1}}`)."""
    event: Event = {}
    for key in sorted(fields):
        parts = key.split(".") if key != "@timestamp" else [key]
        node = event
        for index, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                # A scalar already sits here: keep the rest of the path flat.
                node[".".join(parts[index:])] = fields[key]
                break
            node = child
        else:
            node[parts[-1]] = fields[key]
    return event


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _add_related(fields: Fields) -> None:
    for kind, keys in _RELATED_SOURCES.items():
        values = list(fields.get(f"related.{kind}", []))
        for key in keys:
            found = fields.get(key)
            for value in found if isinstance(found, list) else [found]:
                if isinstance(value, str) and value and value not in values:
                    values.append(value)
        if values:
            fields[f"related.{kind}"] = values


def _add_geo(fields: Fields, ctx: ParseContext) -> None:
    if ctx.geo is None:
        return
    for side in ("source", "destination"):
        ip = fields.get(f"{side}.ip")
        if not isinstance(ip, str) or f"{side}.geo.country_iso_code" in fields:
            continue
        country = ctx.geo.country(ip)
        if country is None:
            continue
        fields[f"{side}.geo.country_iso_code"] = country[0]
        if country[1]:
            fields.setdefault(f"{side}.geo.country_name", country[1])


class BaseNormalizer(ABC):
    """Common behaviour of all normalizers.

    Subclasses set the class attributes and implement `sniff` and `parse`.
    """

    name: ClassVar[str]
    source: ClassVar[Source]
    module: ClassVar[str]
    """Vendor or product family, stored in `event.module`."""
    vendor: ClassVar[str | None] = None
    product: ClassVar[str | None] = None
    timestamp_fields: ClassVar[str] = "timestamp"
    """Field names that carry the time, named in the missing-timestamp reason."""

    @property
    def dataset(self) -> str:
        """Return `f"{source}.{name}"`, the value of `event.dataset`."""
        return f"{self.source}.{self.name}"

    @abstractmethod
    def sniff(self, head: str) -> bool:
        """Return whether `head` looks like this format."""

    @abstractmethod
    def parse(self, lines: Iterable[InputLine], ctx: ParseContext) -> Iterator[ParseResult]:
        """Yield one event or rejection per record of the input."""

    def build_result(
        self,
        convert: Callable[[], Fields],
        raw: str,
        ctx: ParseContext,
        line_number: int | None,
    ) -> ParseResult:
        """Run `convert` and finish its fields, turning any record error into `Rejected`."""
        try:
            fields = convert()
            return self._finish(fields, raw, ctx)
        except RecordError as exc:
            return Rejected(str(exc), cap_original(raw)[0], line_number)
        except _RECORD_SHAPE_ERRORS as exc:
            reason = f"unexpected record structure ({type(exc).__name__}: {exc})"
            logger.debug(
                "rejected record dataset=%s line=%s: %s", self.dataset, line_number, reason
            )
            return Rejected(reason, cap_original(raw)[0], line_number)

    def _finish(self, fields: Fields, raw: str, ctx: ParseContext) -> Event:
        fields = {key: value for key, value in fields.items() if not _is_empty(value)}
        self._set_timestamp(fields, ctx)
        fields.setdefault("event.kind", "event")
        fields.setdefault("event.category", ["host"])
        fields.setdefault("event.type", ["info"])
        fields.setdefault("event.action", "unknown")
        fields["event.dataset"] = self.dataset
        fields["event.module"] = fields.get("event.module", self.module)
        fields.setdefault("observer.vendor", self.vendor)
        fields.setdefault("observer.product", self.product)
        fields["log.file.path"] = ctx.source_name
        if ctx.host_name:
            fields["host.name"] = ctx.host_name
        original, truncated = cap_original(raw)
        fields["event.original"] = original
        if truncated:
            fields["socwb.event.original_truncated"] = True
            fields["socwb.event.original_length"] = len(raw)
            fields["event.hash"] = hashlib.sha256(raw.encode("utf-8")).hexdigest()
        _add_related(fields)
        _add_geo(fields, ctx)
        return nest_fields({k: v for k, v in fields.items() if not _is_empty(v)})

    def _set_timestamp(self, fields: Fields, ctx: ParseContext) -> None:
        moment = fields.get("@timestamp")
        if isinstance(moment, datetime):
            fields["@timestamp"] = format_time(moment)
            return
        if ctx.fallback_time is None:
            raise RecordError(
                f"missing or invalid timestamp: the record has no valid "
                f"{self.timestamp_fields} field; set a fallback time to ingest it anyway"
            )
        fields["@timestamp"] = format_time(ctx.fallback_time)
        fields["tags"] = [*fields.get("tags", []), "timestamp_from_context"]


class LineNormalizer(BaseNormalizer):
    """A format with one record per line, streamed with bounded memory.

    Blank lines are not records and yield nothing.
    """

    @abstractmethod
    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Convert one line into flat ECS fields, raising `RecordError` to reject it."""

    def parse(self, lines: Iterable[InputLine], ctx: ParseContext) -> Iterator[ParseResult]:
        """Yield one event or rejection per non-blank line."""
        for number, line in enumerate(lines, start=1):
            text = decode_line(line)
            if not text.strip():
                continue
            convert = functools.partial(self.convert_line, text, ctx)
            yield self.build_result(convert, text, ctx, number)


class JsonLinesNormalizer(LineNormalizer):
    """A format with one JSON object per line (NDJSON)."""

    @abstractmethod
    def matches(self, record: Record) -> bool:
        """Return whether one parsed record belongs to this format."""

    @abstractmethod
    def convert(self, record: Record, ctx: ParseContext) -> Fields:
        """Convert one JSON object into flat ECS fields."""

    def sniff(self, head: str) -> bool:
        """Return whether the first JSON line of `head` matches this format."""
        record = first_json_line(head)
        return record is not None and self.matches(record)

    def convert_line(self, text: str, ctx: ParseContext) -> Fields:
        """Parse the line as a JSON object and convert it."""
        return self.convert(load_json_object(text), ctx)


class DocumentNormalizer(BaseNormalizer):
    """A format read as one document that contains many records (XML, JSON reports)."""

    @abstractmethod
    def split_records(self, text: str) -> Iterator[tuple[str, Any]]:
        """Yield `(raw, payload)` per record, raising `RecordError` for a bad document."""

    @abstractmethod
    def convert(self, payload: Any, ctx: ParseContext) -> Fields:
        """Convert one record payload into flat ECS fields."""

    def parse(self, lines: Iterable[InputLine], ctx: ParseContext) -> Iterator[ParseResult]:
        """Read the whole document and yield one result per record in it."""
        text = "\n".join(decode_line(line) for line in lines)
        yield from self.parse_document(text, ctx)

    def parse_document(self, text: str, ctx: ParseContext) -> Iterator[ParseResult]:
        """Yield one result per record of `text`, or one rejection for a bad document."""
        try:
            records = list(self.split_records(text))
        except RecordError as exc:
            yield Rejected(str(exc), cap_original(text)[0], None)
            return
        for raw, payload in records:
            convert = functools.partial(self.convert, payload, ctx)
            yield self.build_result(convert, raw, ctx, None)


class JsonEnvelopeNormalizer(JsonLinesNormalizer):
    """A JSON format stored either as NDJSON or as one document with a record list.

    The first non-blank line decides: a complete JSON object without the envelope
    key means NDJSON, streamed line by line. Otherwise the whole input is read as
    one document and each element of `envelope_key` becomes a record.
    """

    envelope_key: ClassVar[str]

    def parse(self, lines: Iterable[InputLine], ctx: ParseContext) -> Iterator[ParseResult]:
        """Yield one result per record, streaming when the input is NDJSON."""
        iterator = iter(lines)
        head: list[str] = []
        for line in iterator:
            head.append(decode_line(line))
            if head[-1].strip():
                break
        if head and self._is_single_record(head[-1]):
            yield from super().parse(itertools.chain(head, iterator), ctx)
            return
        text = "\n".join(itertools.chain(head, (decode_line(line) for line in iterator)))
        yield from self._parse_envelope(text, ctx)

    def _is_single_record(self, line: str) -> bool:
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            return False
        return isinstance(record, dict) and self.envelope_key not in record

    def _parse_envelope(self, text: str, ctx: ParseContext) -> Iterator[ParseResult]:
        if not text.strip():
            return
        try:
            document = load_json_object(text, MAX_DOCUMENT_CHARS)
            records = document.get(self.envelope_key)
            if not isinstance(records, list):
                raise RecordError(f"missing {self.envelope_key!r} list in the JSON document")
        except RecordError as exc:
            yield Rejected(str(exc), cap_original(text)[0], None)
            return
        for record in records:
            raw = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
            convert = functools.partial(self._convert_any, record, ctx)
            yield self.build_result(convert, raw, ctx, None)

    def _convert_any(self, record: Any, ctx: ParseContext) -> Fields:
        if not isinstance(record, dict):
            raise RecordError(f"expected a JSON object, found {type(record).__name__}")
        return self.convert(record, ctx)


def first_json_line(head: str) -> dict[str, Any] | None:
    """Return the first non-blank line of `head` parsed as a JSON object, or None."""
    for line in head.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            return None
        return value if isinstance(value, dict) else None
    return None
