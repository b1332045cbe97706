"""Fixtures for normalizer tests: sample files, parse helpers and a fixed context."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from socwb.ingest.model import Event, ParseContext, ParseResult, Rejected
from socwb.ingest.registry import get_normalizer

REPO_ROOT = Path(__file__).resolve().parents[3]
TEST_DATA = REPO_ROOT / "tests" / "data" / "ingest"
FALLBACK_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def datasets_dir() -> Path:
    """Return the shared sample folder: `SOCWB_DATASETS`, else `<repo>/../shared/datasets`."""
    configured = os.environ.get("SOCWB_DATASETS")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "datasets"


def require_sample(relative: str) -> Path:
    """Return a sample file path, skipping the test when the samples are absent."""
    path = datasets_dir() / relative
    if not path.is_file():
        pytest.skip(f"sample file {path} not found; set SOCWB_DATASETS to the datasets folder")
    return path


def parse_file(format_name: str, path: Path, **context: Any) -> list[ParseResult]:
    """Parse a whole file with one normalizer and return every result."""
    ctx = ParseContext(source_name=path.name, **context)
    with path.open("rb") as stream:
        return list(get_normalizer(format_name).parse(stream, ctx))


def events_of(results: list[ParseResult]) -> list[Event]:
    """Return the events among `results`."""
    return [result for result in results if not isinstance(result, Rejected)]


def field(event: Event, dotted: str) -> Any:
    """Return a nested field by dotted name, or None."""
    value: Any = event
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@pytest.fixture
def sample_event() -> Callable[..., Event]:
    """Return a function that finds the first event whose raw record contains `needle`.

    Records without a timestamp get `FALLBACK_TIME` unless `fallback_time=None`.
    """

    def find(format_name: str, relative: str, needle: str, **context: Any) -> Event:
        context.setdefault("default_year", 2024)
        context.setdefault("fallback_time", FALLBACK_TIME)
        results = parse_file(format_name, require_sample(relative), **context)
        for event in events_of(results):
            if needle in event["event"]["original"]:
                return event
        raise AssertionError(f"no event in {relative} contains {needle!r}")

    return find


@pytest.fixture
def parse_lines() -> Callable[..., list[ParseResult]]:
    """Return a function that parses given lines with one normalizer."""

    def parse(format_name: str, lines: list[str], **context: Any) -> list[ParseResult]:
        return list(get_normalizer(format_name).parse(lines, ParseContext(**context)))

    return parse
