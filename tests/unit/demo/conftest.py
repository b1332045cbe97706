"""A small generated data set, normalized once per test session."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from socwb.demo import Manifest, generate
from socwb.ingest.geo import create_geo_lookup
from socwb.ingest.model import Event, ParseContext, Rejected
from socwb.ingest.registry import get_normalizer

START = datetime(2025, 3, 3, tzinfo=UTC)
SMALL = {"start": START, "days": 21, "scale": 0.2}


@dataclass
class NormalizedRun:
    """A generated data set and its records after normalization."""

    root: Path
    manifest: Manifest
    events: dict[str, list[Event]]
    rejects: dict[str, list[Rejected]]
    metrics: dict[str, list[dict[str, Any]]]


def field(event: Event, dotted: str) -> Any:
    """Return a nested field by dotted name, or None."""
    value: Any = event
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def timestamp(event: Event) -> datetime:
    """Return the event's `@timestamp` as an aware datetime."""
    return datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00"))


def normalize(root: Path, manifest: Manifest) -> NormalizedRun:
    """Parse every file of the manifest with the normalizer of its format."""
    import json

    geo = create_geo_lookup()
    events: dict[str, list[Event]] = defaultdict(list)
    rejects: dict[str, list[Rejected]] = defaultdict(list)
    metrics: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in manifest.files:
        path = root / entry.path
        if entry.source == "metrics":
            with path.open(encoding="utf-8") as stream:
                metrics[entry.format].extend(json.loads(line) for line in stream)
            continue
        context = ParseContext(
            source_name=entry.path,
            default_year=entry.syslog_year,
            default_timezone=manifest.timezone,
            geo=geo,
        )
        with path.open("rb") as stream:
            for result in get_normalizer(entry.format).parse(stream, context):
                if isinstance(result, Rejected):
                    rejects[entry.path].append(result)
                else:
                    events[entry.format].append(result)
    return NormalizedRun(root, manifest, dict(events), dict(rejects), dict(metrics))


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> NormalizedRun:
    """Generate 21 days at scale 0.2 with the default seed and normalize everything."""
    root = tmp_path_factory.mktemp("demo")
    manifest = generate(root, **SMALL)
    return normalize(root, manifest)
