"""The fault suite's oracle: generated events with known ids, and a ledger of acknowledgements.

`EventGenerator` writes application events (`socwb.app/1`, one JSON object per
line) whose `event_id` is `<tag>-<n>`, so every event and its engine `_id` are
known before the ingest starts. `Ledger` collects the `_id`s that the engine
acknowledged, from the ingest's DEBUG lines `acknowledged batch=... created_ids=...`
(in-process through a logging handler, or from a subprocess's stderr).

Each test ends with `check_events`, which reads every document of the data
stream and fails on an acknowledged id that is missing, an id stored twice, or
an event that was never generated.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from socwb.ingest.ids import document_id
from socwb.ingest.model import ParseContext, Rejected
from socwb.ingest.registry import get_normalizer
from socwb.rules.model import iso
from socwb.search import SearchBackend

PIPELINE_LOGGER = "socwb.ingest.pipeline"
EVENT_STREAM = "logs-app.app_json-{namespace}"
_ACKNOWLEDGED = re.compile(r"acknowledged batch=\d+ documents=\d+ created_ids=([0-9a-f,]*)")
MAX_READ = 10_000


@dataclass
class EventGenerator:
    """Authentication failures of `users` users, spread over `span` before `end`.

    Every user gets more than 10 failures within 5 minutes, so the rule
    `auth_failure_spike` raises exactly one alert per user for one batch.
    """

    tag: str
    users: int = 5
    end: datetime = field(default_factory=lambda: datetime.now(UTC))
    span: timedelta = timedelta(minutes=3)

    def user(self, number: int) -> str:
        """Return the user name of event `number`."""
        return f"{self.tag}-user-{number % self.users}"

    def record(self, number: int) -> dict[str, Any]:
        """Return event `number` as a `socwb.app/1` record."""
        offset = self.span * (number % 1000) / 1000
        moment = self.end - self.span + offset
        return {
            "schema": "socwb.app/1",
            "timestamp": iso(moment),
            "event_id": f"{self.tag}-{number:06d}",
            "type": "authentication",
            "action": "login",
            "outcome": "failure",
            "actor": {"name": self.user(number)},
            "source": {"ip": "203.0.113.7"},
            "host": "app-1",
        }

    def write(self, path: Path, first: int, count: int) -> dict[str, str]:
        """Write events `first` to `first + count - 1` to `path`; return `_id` to event id."""
        lines, ids = self.lines(first, count)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return ids

    def lines(self, first: int, count: int) -> tuple[list[str], dict[str, str]]:
        """Return events `first` to `first + count - 1` as lines, and `_id` to event id."""
        normalizer = get_normalizer("app_json")
        lines = [json.dumps(self.record(number)) for number in range(first, first + count)]
        ids = {expected_id(normalizer, line): json.loads(line)["event_id"] for line in lines}
        return lines, ids

    def user_names(self) -> set[str]:
        """Return every user name the generator uses."""
        return {self.user(number) for number in range(self.users)}


def expected_id(normalizer: Any, line: str) -> str:
    """Return the `_id` that ingest gives the event on `line`."""
    results = list(normalizer.parse([line], ParseContext(source_name="generator")))
    if len(results) != 1 or isinstance(results[0], Rejected):
        raise ValueError(f"the generated line was rejected by {normalizer.name}: {results}")
    return document_id(results[0])


class Ledger(logging.Handler):
    """Every `_id` that the engine acknowledged as created, across ingest runs."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.created: list[str] = []
        self._lock_ids = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Collect the ids of an `acknowledged batch` record."""
        self.add_text(record.getMessage())

    def add_text(self, text: str) -> None:
        """Collect the ids of every `acknowledged batch` line in `text`."""
        with self._lock_ids:
            for match in _ACKNOWLEDGED.finditer(text):
                self.created.extend(item for item in match.group(1).split(",") if item)

    def attach(self) -> None:
        """Start collecting from the in-process ingest pipeline's DEBUG records."""
        pipeline = logging.getLogger(PIPELINE_LOGGER)
        pipeline.setLevel(logging.DEBUG)
        pipeline.addHandler(self)

    def detach(self) -> None:
        """Stop collecting from the in-process pipeline."""
        pipeline = logging.getLogger(PIPELINE_LOGGER)
        pipeline.removeHandler(self)
        pipeline.setLevel(logging.NOTSET)


def stored_ids(backend: SearchBackend, index: str) -> Counter[str]:
    """Count each `_id` over every backing index of `index` (at most 10,000 documents)."""
    backend.refresh(index)
    response = backend.search(
        index,
        {"size": MAX_READ, "_source": False, "query": {"match_all": {}}, "track_total_hits": True},
        ignore_unavailable="true",
    )
    total = int(response["hits"]["total"]["value"])
    if total > MAX_READ:
        raise ValueError(f"{index} has {total} documents; the oracle reads at most {MAX_READ}")
    return Counter(str(hit["_id"]) for hit in response["hits"]["hits"])


def check_events(
    backend: SearchBackend, index: str, ledger: Ledger, generated: dict[str, str]
) -> Counter[str]:
    """Assert that the stream contains every generated event exactly once; return the counts.

    The ledger's acknowledged ids must each be present, the stream must contain no
    id twice (even across backing indices) and no id that was not generated.
    """
    counts = stored_ids(backend, index)
    created_twice = [item for item, number in Counter(ledger.created).items() if number > 1]
    assert created_twice == [], f"acknowledged as created more than once: {created_twice[:5]}"
    missing_acknowledged = [item for item in set(ledger.created) if counts[item] == 0]
    assert missing_acknowledged == [], f"acknowledged but missing: {missing_acknowledged[:5]}"
    repeated = [item for item, number in counts.items() if number > 1]
    assert repeated == [], f"stored more than once: {repeated[:5]}"
    unknown = set(counts) - set(generated)
    assert unknown == set(), f"stored but never generated: {sorted(unknown)[:5]}"
    missing = set(generated) - set(counts)
    assert missing == set(), f"generated but missing: {len(missing)} events"
    return counts
