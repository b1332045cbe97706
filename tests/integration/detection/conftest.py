"""Fixtures for detector tests: provisioned namespace, detector factory, event indexing.

Events get `event.ingested` from the ingest pipeline, which always writes the
engine's receive time. The tests therefore run the detector on the real clock
(or the real clock shifted forward) with no ingest delay, and refresh after
every bulk write so the events are searchable when the run starts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from socwb.alerts.model import Alert
from socwb.detection import Detector, DetectorSettings
from socwb.ingest.model import ParseContext, Rejected
from socwb.ingest.registry import get_normalizer
from socwb.provisioning import apply_assets
from socwb.rules.model import iso
from socwb.search import SearchBackend

# NOTE: the `detectors` service package is not installed with `socwb` (the
# project installs `socwb*` only), so the tests import it from the checkout.
REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

TEST_SETTINGS = DetectorSettings(
    ingest_delay=timedelta(0),
    first_run_lookback=timedelta(minutes=10),
    catch_up_chunk=timedelta(hours=1),
)


def real_clock(offset: timedelta = timedelta(0)) -> Callable[[], datetime]:
    """Return a clock that reads the real UTC time, shifted by `offset`."""
    return lambda: datetime.now(UTC) + offset


@pytest.fixture
def provisioned(backend: SearchBackend, namespace: str) -> SearchBackend:
    """The engine with this namespace's templates and ingest pipeline applied."""
    apply_assets(backend, namespace)
    return backend


@pytest.fixture
def make_detector(provisioned: SearchBackend, namespace: str) -> Iterator[Callable[..., Detector]]:
    """Build detectors on the test namespace; each call gives a new, stateless object."""

    def build(**overrides: Any) -> Detector:
        options: dict[str, Any] = {"clock": real_clock(), "settings": TEST_SETTINGS}
        options.update(overrides)
        backend = options.pop("backend", provisioned)
        detector = Detector(backend, namespace, **options)
        detector.ensure_indices()
        return detector

    yield build


def index_events(backend: SearchBackend, stream: str, events: Iterable[dict[str, Any]]) -> None:
    """Bulk-create events in a data stream and refresh it."""
    operations: list[dict[str, Any]] = []
    for event in events:
        operations.append({"create": {"_index": stream}})
        operations.append(event)
    result, _ = backend.bulk(operations, refresh=True)
    assert result.errors == []
    assert result.retryable == []


def auth_failure(user: str, moment: datetime, dataset: str = "idp.okta") -> dict[str, Any]:
    """An ECS authentication failure as the identity provider normalizers emit it."""
    return {
        "@timestamp": iso(moment),
        "event": {
            "kind": "event",
            "category": ["authentication"],
            "type": ["start"],
            "action": "user.session.start",
            "outcome": "failure",
            "dataset": dataset,
        },
        "user": {"name": user},
        "source": {"ip": "203.0.113.10"},
    }


def login(user: str, moment: datetime) -> dict[str, Any]:
    """An ECS successful login as the identity provider normalizers emit it."""
    return {
        "@timestamp": iso(moment),
        "event": {
            "kind": "event",
            "category": ["authentication"],
            "type": ["start"],
            "action": "user.session.start",
            "outcome": "success",
            "dataset": "idp.okta",
        },
        "user": {"name": user},
    }


def history_hours(now: datetime, days: int) -> list[datetime]:
    """Return the start of the same UTC hour on each of the `days` days before now."""
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    return [hour - timedelta(days=day) for day in range(1, days + 1)]


def every(start: datetime, step_seconds: float, count: int) -> list[datetime]:
    """Return `count` times from `start`, `step_seconds` apart."""
    return [start + timedelta(seconds=step_seconds * index) for index in range(count)]


def normalize(format_name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Run one vendor record through its normalizer and return the ECS event."""
    normalizer = get_normalizer(format_name)
    results = list(normalizer.parse([json.dumps(record)], ParseContext(source_name="test")))
    assert len(results) == 1
    assert not isinstance(results[0], Rejected), results[0]
    event: dict[str, Any] = results[0]
    return event


def stored_alerts(detector: Detector, rule_id: str | None = None) -> list[Alert]:
    """Return the alerts in the engine, optionally of one rule."""
    detector.alerts.refresh()
    query = {"term": {"rule_id": rule_id}} if rule_id else None
    return detector.alerts.search(query)
