"""Types shared by every normalizer: events, rejections, the parse context and errors."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, TypeAlias

logger = logging.getLogger(__name__)

Event: TypeAlias = dict[str, Any]
"""A nested ECS document, ready to be indexed."""

Source = Literal[
    "cloud", "app", "waf", "database", "idp", "network", "edr", "cicd", "vulnscan", "metrics"
]
"""Source type of a log, the first part of `event.dataset`."""

SOURCES: tuple[Source, ...] = (
    "cloud",
    "app",
    "waf",
    "database",
    "idp",
    "network",
    "edr",
    "cicd",
    "vulnscan",
    "metrics",
)

InputLine: TypeAlias = str | bytes
"""One line of input. Bytes are decoded as UTF-8 with replacement characters."""


@dataclass(frozen=True)
class Rejected:
    """An input record that could not be normalized.

    Attributes:
        reason: Plain-language explanation of what is wrong with the record.
        raw: The record text, capped like `event.original`.
        line_number: 1-based line of the record in its file, or None for records
            taken from a whole document (CloudTrail `Records`, XML, Trivy JSON).
    """

    reason: str
    raw: str
    line_number: int | None


ParseResult: TypeAlias = Event | Rejected
"""Outcome for one input record: an event, or a rejection explaining why not."""


class GeoLookup(Protocol):
    """Offline country lookup for IP addresses."""

    def country(self, ip: str) -> tuple[str, str | None] | None:
        """Return `(iso_code, name)` for a public address, or None when unknown."""


@dataclass(frozen=True)
class ParseContext:
    """Facts about an input that its records do not carry themselves.

    Attributes:
        source_name: File name or other label of the input, stored in `log.file.path`.
        default_year: Year for syslog timestamps without one (RFC 3164 lines). None
            rejects such lines, because guessing from the local clock mislabels old files.
        default_timezone: IANA zone name for timestamps without a UTC offset.
        geo: Country lookup for `source.geo` and `destination.geo`; None skips it.
        host_name: Value that overrides `host.name` in every event.
        fallback_time: Time used for records that carry no timestamp at all. None
            rejects such records. Events that receive it get the tag
            `timestamp_from_context`.
    """

    source_name: str = "<input>"
    default_year: int | None = None
    default_timezone: str = "UTC"
    geo: GeoLookup | None = None
    host_name: str | None = None
    fallback_time: datetime | None = None


class Normalizer(Protocol):
    """A parser that turns one vendor format into ECS events.

    Attributes:
        name: Format name, unique across the registry (for example `aws_cloudtrail`).
        source: Source type of the format.
        dataset: `f"{source}.{name}"`, stored in `event.dataset`.
    """

    name: str
    source: Source

    @property
    def dataset(self) -> str:
        """Return the value stored in `event.dataset`."""

    def sniff(self, head: str) -> bool:
        """Return whether `head`, the first kilobytes of an input, looks like this format."""

    def parse(self, lines: Iterable[InputLine], ctx: ParseContext) -> Iterator[ParseResult]:
        """Yield one event or rejection per input record; bad records become `Rejected`."""


class FormatDetectionError(ValueError):
    """Raised when no format, or more than one, matches the head of an input."""


class RecordError(ValueError):
    """Raised inside a normalizer to reject one record with a plain reason."""
