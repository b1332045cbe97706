"""The log source catalogue: sources, data streams, required log types and retention.

`sources.json` next to this module is the one place where the monitoring policy's
log sources are declared. Index templates, lifecycle policies, coverage reports
and silence detectors read it through `load_catalogue`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    field_validator,
    model_validator,
)

from socwb.errors import ConfigurationError

logger = logging.getLogger(__name__)

DEFAULT_CATALOGUE_PATH = Path(__file__).with_name("sources.json")

QueryBody: TypeAlias = dict[str, Any]
"""A query DSL clause, as sent to OpenSearch or Elasticsearch."""

NAMESPACE_PATTERN = re.compile(r"^[a-z0-9_]{1,100}$")
"""Allowed data stream namespaces.

The data stream naming scheme `logs-<dataset>-<namespace>` forbids `-` in the
namespace, and index names must be lowercase.
"""

_KEY_PATTERN = r"^[a-z][a-z0-9_]*$"

# Allowed values of the ECS categorization fields (ECS 8.11 reference,
# "ECS Categorization Fields"). A typo in a condition would otherwise make a
# log type impossible to satisfy without any error.
ECS_ALLOWED_VALUES: Mapping[str, frozenset[str]] = {
    "event.kind": frozenset(
        {"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"}
    ),
    "event.category": frozenset(
        {
            "api",
            "authentication",
            "configuration",
            "database",
            "driver",
            "email",
            "file",
            "host",
            "iam",
            "intrusion_detection",
            "library",
            "malware",
            "network",
            "package",
            "process",
            "registry",
            "session",
            "threat",
            "vulnerability",
            "web",
        }
    ),
    "event.type": frozenset(
        {
            "access",
            "admin",
            "allowed",
            "change",
            "connection",
            "creation",
            "deletion",
            "denied",
            "device",
            "end",
            "error",
            "group",
            "indicator",
            "info",
            "installation",
            "protocol",
            "start",
            "user",
        }
    ),
    "event.outcome": frozenset({"failure", "success", "unknown"}),
}

MATCHABLE_FIELDS: frozenset[str] = frozenset(
    {
        *ECS_ALLOWED_VALUES,
        "event.action",
        "event.dataset",
        "event.module",
        "event.provider",
        "observer.type",
        "threat.tactic.id",
        "threat.tactic.name",
        "threat.technique.id",
        "threat.technique.name",
    }
)
"""Keyword fields that a log type condition may test."""


class CatalogueError(ConfigurationError):
    """The source catalogue file is missing, not valid JSON, or fails validation."""


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContainsMatcher(_StrictModel):
    """A field condition met when the value contains any of the substrings.

    Matching ignores case, so `mfa` matches `user.MFA.factor.activate`.
    """

    contains: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)


FieldCondition: TypeAlias = list[Annotated[str, Field(min_length=1)]] | ContainsMatcher
"""Either a list of exact values (any one matches) or a `ContainsMatcher`."""


class EventMatch(RootModel[dict[str, FieldCondition]]):
    """An ECS condition set that one event meets when every field condition holds.

    Keys are ECS field names from `MATCHABLE_FIELDS`. A field with several values
    in the event (such as `event.category`) meets its condition when any value does.
    """

    model_config = ConfigDict(frozen=True)

    @field_validator("root")
    @classmethod
    def _check_fields(cls, fields: dict[str, FieldCondition]) -> dict[str, FieldCondition]:
        if not fields:
            raise ValueError("empty condition set: name at least one field")
        for name, condition in fields.items():
            if name not in MATCHABLE_FIELDS:
                allowed = ", ".join(sorted(MATCHABLE_FIELDS))
                raise ValueError(f"unknown field {name!r}: use one of {allowed}")
            _check_ecs_values(name, condition)
        return fields

    def matches(self, document: Mapping[str, Any]) -> bool:
        """Return whether a nested or dotted ECS document meets every field condition."""
        return all(
            _condition_holds(condition, field_values(document, name))
            for name, condition in self.root.items()
        )

    def to_query(self) -> QueryBody:
        """Build a bool query that selects the events this condition set matches."""
        clauses: list[QueryBody] = []
        for name, condition in self.root.items():
            if isinstance(condition, ContainsMatcher):
                wildcards = [
                    {"wildcard": {name: {"value": f"*{part}*", "case_insensitive": True}}}
                    for part in condition.contains
                ]
                clauses.append({"bool": {"should": wildcards, "minimum_should_match": 1}})
            else:
                clauses.append({"terms": {name: list(condition)}})
        return {"bool": {"filter": clauses}}


def _check_ecs_values(name: str, condition: FieldCondition) -> None:
    allowed = ECS_ALLOWED_VALUES.get(name)
    if allowed is None:
        return
    if isinstance(condition, ContainsMatcher):
        raise ValueError(f"field {name!r} has a fixed set of ECS values: list them exactly")
    unknown = sorted(set(condition) - allowed)
    if unknown:
        raise ValueError(
            f"field {name!r} has values {unknown} that ECS does not define: "
            f"use one of {sorted(allowed)}"
        )


def _condition_holds(condition: FieldCondition, values: Sequence[str]) -> bool:
    if isinstance(condition, ContainsMatcher):
        parts = [part.lower() for part in condition.contains]
        return any(part in value.lower() for value in values for part in parts)
    return any(value in condition for value in values)


def field_values(document: Mapping[str, Any], name: str) -> list[str]:
    """Return the string values of an ECS field from a nested or dotted document.

    Both `{"event": {"category": [...]}}` and `{"event.category": [...]}` work.
    Scalars become a one-item list. Missing fields give an empty list.
    """
    if name in document:
        found: Any = document[name]
    else:
        found = document
        for part in name.split("."):
            if not isinstance(found, Mapping) or part not in found:
                return []
            found = found[part]
    items = found if isinstance(found, list) else [found]
    return [str(item) for item in items if item is not None]


class LogType(_StrictModel):
    """A log type that the policy requires from a source.

    Attributes:
        key: Identifier, unique within the source.
        title: The policy's own wording, for reports.
        all_of: Condition sets that must each be met by at least one event before
            the log type counts as covered. "Login success and failure" needs two.
    """

    key: str = Field(pattern=_KEY_PATTERN)
    title: str = Field(min_length=1)
    all_of: list[EventMatch] = Field(min_length=1)

    def is_covered_by(self, documents: Sequence[Mapping[str, Any]]) -> bool:
        """Return whether every condition set is met by at least one of the documents."""
        return all(any(match.matches(doc) for doc in documents) for match in self.all_of)


class Source(_StrictModel):
    """One log source of the monitoring policy and the data streams it writes.

    Attributes:
        key: Short name, the first part of every dataset (`<key>.<format>`).
        title: Name of the source as the policy states it.
        criteria: SOC 2 trust services criteria that this source serves.
        formats: Log formats, the second part of each dataset.
        log_types: Log types the policy requires from this source.
        retention_days: Minimum time in days that every event must be kept.
        max_silence_seconds: Maximum allowed gap in delivery, in seconds, before an alert.
        host_max_silence_seconds: Per-host overrides of `max_silence_seconds`,
            keyed by `host.name`.
    """

    key: str = Field(pattern=_KEY_PATTERN)
    title: str = Field(min_length=1)
    criteria: list[Annotated[str, Field(pattern=r"^(CC|A|C|PI|P)\d+\.\d+$")]] = Field(min_length=1)
    formats: list[Annotated[str, Field(pattern=_KEY_PATTERN)]] = Field(min_length=1)
    log_types: list[LogType] = Field(min_length=1)
    retention_days: int = Field(gt=0)
    max_silence_seconds: int = Field(default=3600, gt=0)
    host_max_silence_seconds: dict[str, Annotated[int, Field(gt=0)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_unique_keys(self) -> Source:
        _reject_duplicates("format", self.formats)
        _reject_duplicates("log type key", [log_type.key for log_type in self.log_types])
        return self

    @property
    def retention(self) -> timedelta:
        """Minimum retention of this source's events."""
        return timedelta(days=self.retention_days)

    @property
    def datasets(self) -> list[str]:
        """Values of `event.dataset` for this source, one per format."""
        return [f"{self.key}.{name}" for name in self.formats]

    def data_streams(self, namespace: str = "default") -> list[str]:
        """Return the data stream names `logs-<key>.<format>-<namespace>`, one per format."""
        validate_namespace(namespace)
        return [f"logs-{dataset}-{namespace}" for dataset in self.datasets]

    def data_stream_pattern(self, namespace: str = "*") -> str:
        """Return the index pattern that matches every data stream of this source.

        The default `*` matches all namespaces.
        """
        if namespace != "*":
            validate_namespace(namespace)
        return f"logs-{self.key}.*-{namespace}"

    def max_silence(self, host: str | None = None) -> timedelta:
        """Return the maximum allowed delivery gap, for one host when it has an override."""
        seconds = self.max_silence_seconds
        if host is not None:
            seconds = self.host_max_silence_seconds.get(host, seconds)
        return timedelta(seconds=seconds)


class DeadLetterSpec(_StrictModel):
    """The data stream that keeps records which failed to parse or index.

    Attributes:
        dataset: Its `event.dataset` and the middle part of the data stream name.
        retention_days: Minimum retention. It must cover the maximum source
            retention, because a dead-letter record is the only copy of that log.
    """

    dataset: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    retention_days: int = Field(gt=0)

    def data_stream(self, namespace: str = "default") -> str:
        """Return the data stream name for a namespace."""
        validate_namespace(namespace)
        return f"logs-{self.dataset}-{namespace}"


class Catalogue(_StrictModel):
    """All log sources of the policy, in the order the policy lists them."""

    sources: list[Source] = Field(min_length=1)
    deadletter: DeadLetterSpec

    @model_validator(mode="after")
    def _check_catalogue(self) -> Catalogue:
        _reject_duplicates("source key", [source.key for source in self.sources])
        max_retention = max(source.retention_days for source in self.sources)
        if self.deadletter.retention_days < max_retention:
            raise ValueError(
                f"deadletter.retention_days is {self.deadletter.retention_days}, shorter "
                f"than the maximum source retention ({max_retention}): "
                f"raise it to at least {max_retention}"
            )
        return self

    @property
    def keys(self) -> list[str]:
        """Source keys in catalogue order."""
        return [source.key for source in self.sources]

    def source(self, key: str) -> Source:
        """Return the source with this key.

        Raises:
            KeyError: No source has this key. The message lists the known keys.
        """
        for candidate in self.sources:
            if candidate.key == key:
                return candidate
        raise KeyError(f"unknown log source {key!r}: use one of {', '.join(self.keys)}")

    def source_for_dataset(self, dataset: str) -> Source:
        """Return the source that writes an `event.dataset` value.

        Raises:
            KeyError: No source declares this dataset.
        """
        for candidate in self.sources:
            if dataset in candidate.datasets:
                return candidate
        raise KeyError(f"no log source declares dataset {dataset!r}")

    def data_stream_patterns(self, namespace: str = "*") -> dict[str, str]:
        """Return the data stream pattern of each source, keyed by source key."""
        return {source.key: source.data_stream_pattern(namespace) for source in self.sources}


def _reject_duplicates(label: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {label} {value!r}: each must appear once")
        seen.add(value)


def validate_namespace(namespace: str) -> None:
    """Raise ValueError unless the namespace is valid in a data stream name."""
    if not NAMESPACE_PATTERN.match(namespace):
        raise ValueError(
            f"invalid data stream namespace {namespace!r}: use 1 to 100 characters "
            "from a-z, 0-9 and _"
        )


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Read and validate the source catalogue.

    Args:
        path: JSON file to read. Defaults to `sources.json` next to this module.

    Raises:
        CatalogueError: The file is missing, is not valid JSON, or fails validation.
            The message names the file, the source key and the fix.
    """
    file = Path(path) if path is not None else DEFAULT_CATALOGUE_PATH
    raw = _read_json(file)
    try:
        catalogue = Catalogue.model_validate(raw)
    except ValidationError as exc:
        raise CatalogueError(_describe_validation_error(file, raw, exc)) from exc
    logger.debug("loaded catalogue path=%s sources=%d", file, len(catalogue.sources))
    return catalogue


def _read_json(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(
            f"{file}: cannot read the source catalogue ({exc.strerror}): "
            "check the path, or pass path=None to use the packaged sources.json"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError(
            f"{file}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg}): fix the syntax there"
        ) from exc


def _describe_validation_error(file: Path, raw: Any, exc: ValidationError) -> str:
    lines = [f"{file}: invalid source catalogue ({exc.error_count()} errors)"]
    for error in exc.errors():
        location = error["loc"]
        where = _source_label(raw, location)
        dotted = ".".join(str(part) for part in location) or "<top level>"
        lines.append(f"  {where}{dotted}: {error['msg']}; fix: {_fix_hint(error['type'])}")
    return "\n".join(lines)


def _source_label(raw: Any, location: tuple[int | str, ...]) -> str:
    if len(location) < 2 or location[0] != "sources" or not isinstance(location[1], int):
        return ""
    try:
        key = raw["sources"][location[1]]["key"]
    except (KeyError, IndexError, TypeError):
        return f"source #{location[1] + 1}: "
    return f"source {key!r}: "


def _fix_hint(error_type: str) -> str:
    hints = {
        "extra_forbidden": "remove the field or correct its spelling",
        "missing": "add the field",
        "string_pattern_mismatch": "use only the characters the pattern allows",
        "greater_than": "use a positive number",
        "too_short": "add at least one item",
    }
    return hints.get(error_type, "correct the value as the message says")
